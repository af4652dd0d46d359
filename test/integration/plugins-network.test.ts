/**
 * Network driver and IPAM plugins (issue 17) with the official docker CLI: legacy plugins found as
 * sockets in the daemon's --plugin-dir, served by this test (test/fixtures/plugins/network-plugins.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, freeSubnet24, hasDocker } from './harness.js';
import { startIpamPlugin, startNetworkPlugin } from '../fixtures/plugins/network-plugins.js';

const skip = hasDocker ? false : 'the official docker CLI is not installed';

test('network and IPAM plugins through the docker CLI', { skip, timeout: 120_000 }, async (t) => {
  const pluginDir = mkdtempSync(path.join(os.tmpdir(), 'berth-netplugins-'));
  const netPlugin = await startNetworkPlugin(path.join(pluginDir, 'samplenet.sock'), 'tpi');
  const ipamSubnet = freeSubnet24();
  const ipamPlugin = await startIpamPlugin(path.join(pluginDir, 'sampleipam.sock'), ipamSubnet);
  const d = new TestDaemon(['--plugin-dir', pluginDir]);
  const docker = async (...args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  t.after(async () => {
    try {
      for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
      await d.request('POST', '/networks/prune');
    } finally {
      await d.stop();
      netPlugin.cleanup();
      await netPlugin.close();
      await ipamPlugin.close();
      rmSync(pluginDir, { recursive: true, force: true });
    }
  });
  await d.start();
  await d.seedBusybox();

  await t.test('-d <plugin>: the plugin makes the network and the interface; Berth moves it in as eth0', async () => {
    netPlugin.calls.length = 0;
    const id = await docker('network', 'create', '-d', 'samplenet', 'plugnet');
    const inspected = JSON.parse(await docker('network', 'inspect', 'plugnet'))[0];
    assert.equal(inspected.Driver, 'samplenet');
    const subnet: string = inspected.IPAM.Config[0].Subnet;
    await docker('run', '-d', '--name', 'pc1', '--network', 'plugnet', 'busybox', 'sleep', '300');
    const addr = await docker('exec', 'pc1', 'ip', '-o', '-4', 'addr', 'show', 'eth0');
    const ipInside = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(addr)?.[1];
    assert.ok(ipInside, addr);
    const c = JSON.parse(await docker('inspect', 'pc1'))[0];
    assert.equal(c.NetworkSettings.Networks.plugnet.IPAddress, ipInside);
    assert.equal(c.NetworkSettings.Networks.plugnet.Gateway, inspected.IPAM.Config[0].Gateway);
    assert.equal(subnet.split('.').slice(0, 2).join('.'), ipInside!.split('.').slice(0, 2).join('.'));
    const route = await docker('exec', 'pc1', 'ip', 'route');
    assert.match(route, new RegExp(`default via ${inspected.IPAM.Config[0].Gateway.replace(/\./g, '\\.')} dev eth0`));
    await docker('rm', '-f', 'pc1');
    await docker('network', 'rm', 'plugnet');
    assert.deepEqual(netPlugin.calls, [
      'NetworkDriver.GetCapabilities',
      'NetworkDriver.CreateNetwork',
      'NetworkDriver.CreateEndpoint',
      'NetworkDriver.Join',
      'NetworkDriver.Leave',
      'NetworkDriver.DeleteEndpoint',
      'NetworkDriver.DeleteNetwork',
    ]);
    assert.equal(netPlugin.bodies.find((b) => b.method === 'NetworkDriver.CreateNetwork')!.body.NetworkID, id);
    assert.equal(netPlugin.state.veths.size, 0);
    assert.equal(netPlugin.state.bridges.size, 0);
  });

  await t.test('connect and disconnect while running: eth1 from the plugin, Leave and DeleteEndpoint at disconnect', async () => {
    await docker('network', 'create', '-d', 'samplenet', 'plugnet2');
    await docker('run', '-d', '--name', 'pc3', 'busybox', 'sleep', '300');
    netPlugin.calls.length = 0;
    await docker('network', 'connect', 'plugnet2', 'pc3');
    const subnet: string = JSON.parse(await docker('network', 'inspect', 'plugnet2'))[0].IPAM.Config[0].Subnet;
    const addr = await docker('exec', 'pc3', 'ip', '-o', '-4', 'addr', 'show', 'eth1');
    assert.match(addr, new RegExp(`inet ${subnet.split('.').slice(0, 2).join('\\.')}\\.`));
    // The default route stays the default bridge's (the container's first network).
    assert.match(await docker('exec', 'pc3', 'ip', 'route'), /default via \S+ dev eth0/);
    await docker('network', 'disconnect', 'plugnet2', 'pc3');
    assert.doesNotMatch(await docker('exec', 'pc3', 'ip', '-o', 'link'), /eth1/);
    assert.deepEqual(netPlugin.calls, ['NetworkDriver.CreateEndpoint', 'NetworkDriver.Join', 'NetworkDriver.Leave', 'NetworkDriver.DeleteEndpoint']);
    assert.equal(netPlugin.state.veths.size, 0);
    await docker('rm', '-f', 'pc3');
    await docker('network', 'rm', 'plugnet2');
  });

  await t.test('--ipam-driver <plugin>: the container\'s address is the plugin\'s, given back at rm', async () => {
    ipamPlugin.calls.length = 0;
    await docker('network', 'create', '--ipam-driver', 'sampleipam', 'ipamnet');
    const inspected = JSON.parse(await docker('network', 'inspect', 'ipamnet'))[0];
    assert.equal(inspected.IPAM.Driver, 'sampleipam');
    assert.equal(inspected.IPAM.Config[0].Subnet, ipamSubnet);
    const out = await docker('run', '--rm', '--network', 'ipamnet', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0');
    assert.match(out, new RegExp(`inet ${ipamSubnet.replace(/0\/24$/, '10').replace(/\./g, '\\.')}/24`));
    await docker('network', 'rm', 'ipamnet');
    assert.deepEqual(ipamPlugin.calls, [
      'IpamDriver.GetCapabilities',
      'IpamDriver.GetDefaultAddressSpaces',
      'IpamDriver.RequestPool',
      'IpamDriver.RequestAddress',
      'IpamDriver.RequestAddress',
      'IpamDriver.ReleaseAddress',
      'IpamDriver.ReleaseAddress',
      'IpamDriver.ReleasePool',
    ]);
    assert.equal(ipamPlugin.given.size, 0);
  });

  await t.test('a plugin error: its message, no network record; a failed Join leaves no endpoint', async () => {
    netPlugin.failing.add('NetworkDriver.CreateNetwork');
    const r = await d.docker(['network', 'create', '-d', 'samplenet', 'badnet']);
    netPlugin.failing.clear();
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Error response from daemon: .*NetworkDriver\.CreateNetwork refused by the test/);
    assert.notEqual((await d.docker(['network', 'inspect', 'badnet'])).code, 0);

    await docker('network', 'create', '-d', 'samplenet', 'joinnet');
    netPlugin.failing.add('NetworkDriver.Join');
    netPlugin.calls.length = 0;
    const run = await d.docker(['run', '--name', 'pc2', '--network', 'joinnet', 'busybox', 'true']);
    netPlugin.failing.clear();
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /NetworkDriver\.Join refused by the test/);
    assert.deepEqual(netPlugin.calls, ['NetworkDriver.CreateEndpoint', 'NetworkDriver.Join', 'NetworkDriver.DeleteEndpoint']);
    await docker('rm', '-f', 'pc2');
    await docker('network', 'rm', 'joinnet');
    assert.equal(netPlugin.state.bridges.size, 0);
  });

  await t.test('an unknown driver: dockerd\'s words', async () => {
    const r = await d.docker(['network', 'create', '-d', 'nosuchplugin', 'n0']);
    assert.match(r.stderr, /plugin "nosuchplugin" not found/);
  });
});
