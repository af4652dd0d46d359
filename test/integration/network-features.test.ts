import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { TestDaemon, freeSubnet24, hasDocker } from './harness.js';

/**
 * Network features as in dockerd: legacy links, MAC addresses, forced disconnects, network names,
 * connecting a running container, loopback DNAT, and a default bridge the administrator made (-b).
 * Traffic goes only to loopback and to addresses on the bridges these tests make.
 */

const base = (subnet: string) => subnet.replace(/\.0\/24$/, '');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Host interfaces that are veths (the host ends of containers' interfaces). */
function hostVeths(): string[] {
  const links = JSON.parse(spawnSync('ip', ['-j', '-d', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>;
  return links.filter((l) => l.linkinfo?.info_kind === 'veth').map((l) => l.ifname).sort();
}

describe('network features', { skip: !hasDocker && 'the docker CLI is not installed' }, () => {
  const d = new TestDaemon();
  const docker = async (...args: string[]) => {
    const r = await d.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const inspect = async (name: string) => JSON.parse(await docker('inspect', name))[0];

  before(async () => {
    await d.start();
    await d.seedBusybox();
  });

  after(async () => {
    try {
      for (const c of (await d.request('GET', '/containers/json?all=1')).json()) await d.request('DELETE', `/containers/${c.Id}?force=1`);
      await d.request('POST', '/networks/prune');
    } finally {
      await d.stop();
    }
  });

  test('network names: spaces and unicode as Docker accepts them; white space only is refused', async () => {
    const sub = freeSubnet24();
    const id = await docker('network', 'create', '--subnet', sub, 'my net');
    assert.equal((await d.request('GET', `/networks/${encodeURIComponent('my net')}`)).json().Id, id);
    const uni = await d.request('POST', '/networks/create', { Name: 'réseau-ü' });
    assert.equal(uni.status, 201, uni.text);
    await docker('run', '-d', '--name', 'spaced', '--network', 'my net', 'busybox', 'sleep', '300');
    assert.equal((await inspect('spaced')).NetworkSettings.Networks['my net'].NetworkID, id);
    for (const name of ['', '   ']) {
      const r = await d.request('POST', '/networks/create', { Name: name });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json().message, 'invalid name: name is empty');
    }
    await docker('rm', '-f', 'spaced');
    await docker('network', 'rm', 'my net', 'réseau-ü');
  });

  test('-p 127.0.0.1:HOST:CT installs the DNAT rule Docker installs for that address', async () => {
    const port = await freePort();
    await docker('run', '-d', '--name', 'lodnat', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '300');
    const ip = (await inspect('lodnat')).NetworkSettings.IPAddress as string;
    const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
    const rule = `-d 127.0.0.1/32 ! -i ${d.bridge} -p tcp -m tcp --dport ${port} -j DNAT --to-destination ${ip}:80`;
    assert.ok(nat.split('\n').some((l) => l.endsWith(rule)), `no "${rule}" in:\n${nat}`);
    await docker('rm', '-f', 'lodnat');
    assert.ok(!spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout.includes(`--dport ${port} `));
  });

  test('disconnect: a stopped container, a container not connected, and Force as dockerd', async () => {
    await docker('network', 'create', '--subnet', freeSubnet24(), 'fdnet');
    await docker('create', '--name', 'fdstopped', '--network', 'fdnet', 'busybox', 'true');
    const stopped = await inspect('fdstopped');
    await docker('network', 'disconnect', 'fdnet', 'fdstopped');
    for (const force of [false, true]) {
      const r = await d.request('POST', '/networks/fdnet/disconnect', { Container: 'fdstopped', Force: force });
      assert.equal(r.status, 500, r.text);
      assert.equal(r.json().message, `container ${stopped.Id} is not connected to the network fdnet`);
    }
    await docker('run', '-d', '--name', 'fdrun', 'busybox', 'sleep', '300');
    const running = await inspect('fdrun');
    const r = await d.request('POST', '/networks/fdnet/disconnect', { Container: 'fdrun', Force: true });
    assert.equal(r.status, 500, r.text);
    assert.equal(r.json().message, `container ${running.Id} is not connected to network fdnet`);
    const gone = await d.request('POST', '/networks/nosuchnet/disconnect', { Container: 'fdrun' });
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.json().message, 'network nosuchnet not found');
    const noCtr = await d.request('POST', '/networks/fdnet/disconnect', { Container: 'ghost' });
    assert.equal(noCtr.status, 404);
    assert.equal(noCtr.json().message, 'No such container: ghost');
    const noEp = await d.request('POST', '/networks/fdnet/disconnect', { Container: 'ghost', Force: true });
    assert.equal(noEp.status, 404, noEp.text);
    assert.equal(noEp.json().message, 'endpoint ghost not found');
    await docker('rm', '-f', 'fdrun', 'fdstopped');
  });

  test('force disconnect removes the endpoint of a container that no longer exists', async () => {
    const netId = await docker('network', 'create', '--subnet', freeSubnet24(), 'stalenet');
    // A crash between a container's removal and its network cleanup leaves such an endpoint.
    await d.kill();
    const ghostId = randomBytes(32).toString('hex');
    const db = new Database(path.join(d.dataRoot, 'berth.db'));
    const rec = { containerId: ghostId, containerName: 'ghost', networkId: netId, networkName: 'stalenet', config: {} };
    db.prepare('INSERT INTO network_endpoints (container_id, network_id, data) VALUES (?, ?, ?)').run(ghostId, netId, JSON.stringify(rec));
    db.close();
    await d.start();
    const r = await d.request('POST', '/networks/stalenet/disconnect', { Container: 'ghost', Force: true });
    assert.equal(r.status, 200, r.text);
    const again = await d.request('POST', '/networks/stalenet/disconnect', { Container: 'ghost', Force: true });
    assert.equal(again.status, 404, again.text);
    assert.equal(again.json().message, 'endpoint ghost not found');
    await docker('network', 'rm', 'stalenet');
  });
});

describe('--bridge: a bridge the administrator made', { skip: !hasDocker && 'the docker CLI is not installed' }, () => {
  test('the default network uses it and its subnet; the daemon leaves it in place', async () => {
    const name = `bx${randomBytes(3).toString('hex')}`;
    const sub = freeSubnet24();
    const made = spawnSync('sh', ['-c', `ip link add ${name} type bridge && ip addr add ${base(sub)}.1/24 dev ${name}`], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const d = new TestDaemon(['--bridge', name]);
    try {
      await d.start();
      await d.seedBusybox();
      const bridgeNet = (await d.request('GET', '/networks/bridge')).json();
      assert.deepEqual(bridgeNet.IPAM.Config, [{ Subnet: sub, Gateway: `${base(sub)}.1` }]);
      const r = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', `ip -4 addr show eth0; ping -c1 -W2 ${base(sub)}.1 >/dev/null && echo gw-ok`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`inet ${base(sub).replace(/\./g, '\\.')}\\.\\d+/24`));
      assert.match(r.stdout, /gw-ok/);
      await d.kill();
      const after = JSON.parse(spawnSync('ip', ['-j', '-4', 'addr', 'show', 'dev', name], { encoding: 'utf8' }).stdout || '[]');
      assert.equal(after[0]?.ifname, name, 'the bridge is still there');
      assert.equal(after[0]?.addr_info?.[0]?.local, `${base(sub)}.1`, 'with its address');
      assert.deepEqual(spawnSync('ip', ['-j', 'link', 'show', 'master', name], { encoding: 'utf8' }).stdout.trim() || '[]', '[]', 'no veth left on it');
    } finally {
      await d.stop();
      spawnSync('ip', ['link', 'del', name]);
    }
  });
});
