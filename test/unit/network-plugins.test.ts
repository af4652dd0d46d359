/**
 * Remote network driver and IPAM plugins (networks/remote.ts) through the network registry, against the
 * sample plugins of test/fixtures/plugins (real unix sockets, real links; run as root).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { openDb, type Db } from '../../src/store/db.js';
import { EventBus } from '../../src/events/bus.js';
import { NetworkStore } from '../../src/networks/store.js';
import { NetworkRegistry } from '../../src/networks/registry.js';
import { Ipam } from '../../src/networks/ipam.js';
import { Ipam6 } from '../../src/networks/ipv6.js';
import { adoptInterface, releaseAdopted } from '../../src/networks/sandbox.js';
import { freeSubnet24 } from '../integration/harness.js';
import { SocketPluginRegistry, startIpamPlugin, startNetworkPlugin } from '../fixtures/plugins/network-plugins.js';

let dir: string;
let db: Db;
let registry: NetworkRegistry;
let store: NetworkStore;
let net: Awaited<ReturnType<typeof startNetworkPlugin>>;
let ipamPlugin: Awaited<ReturnType<typeof startIpamPlugin>>;
let ipamSubnet: string;
const events = new EventBus();

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-netplug-'));
  db = openDb(path.join(dir, 'berth.db'));
  store = new NetworkStore(db);
  net = await startNetworkPlugin(path.join(dir, 'samplenet.sock'), 'tpn');
  ipamSubnet = freeSubnet24();
  ipamPlugin = await startIpamPlugin(path.join(dir, 'sampleipam.sock'), ipamSubnet);
  const plugins = new SocketPluginRegistry({ samplenet: net.socket, sampleipam: ipamPlugin.socket });
  const config = { bridge: 'tpn0', iptables: false, ipForward: false, userlandProxy: true };
  registry = new NetworkRegistry(store, 'tpn0', config, events, new Ipam(), new Ipam6(), { apply: async () => {} }, { get: () => undefined }, plugins);
});

after(async () => {
  net?.cleanup();
  await net?.close();
  await ipamPlugin?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('network create -d <plugin> goes through the plugin with Berth\'s pool; rm deletes it there', async () => {
  net.calls.length = 0;
  net.bodies.length = 0;
  const { Id } = await registry.create({ Name: 'pn1', Driver: 'samplenet', Options: { color: 'blue' } });
  assert.deepEqual(net.calls, ['NetworkDriver.GetCapabilities', 'NetworkDriver.CreateNetwork']);
  const created = net.bodies.find((b) => b.method === 'NetworkDriver.CreateNetwork')!.body;
  assert.equal(created.NetworkID, Id);
  assert.deepEqual(created.Options['com.docker.network.generic'], { color: 'blue' });
  const view = registry.inspect('pn1') as any;
  assert.equal(view.Driver, 'samplenet');
  assert.equal(view.IPAM.Config[0].Subnet, created.IPv4Data[0].Pool);
  assert.equal(`${view.IPAM.Config[0].Gateway}/${view.IPAM.Config[0].Subnet.split('/')[1]}`, created.IPv4Data[0].Gateway);
  assert.ok(net.state.bridges.has(Id), 'the plugin made its bridge');
  await registry.remove('pn1');
  assert.equal(net.calls.at(-1), 'NetworkDriver.DeleteNetwork');
  assert.equal(store.networkByName('pn1'), undefined);
  assert.ok(!net.state.bridges.has(Id));
});

test('a plugin that refuses CreateNetwork: its message, no network record, the IPAM pool given back', async () => {
  net.failing.add('NetworkDriver.CreateNetwork');
  ipamPlugin.calls.length = 0;
  ipamPlugin.bodies.length = 0;
  try {
    await assert.rejects(registry.create({ Name: 'pn2', Driver: 'samplenet', IPAM: { Driver: 'sampleipam' } }), /NetworkDriver\.CreateNetwork refused by the test/);
  } finally {
    net.failing.clear();
  }
  assert.equal(store.networkByName('pn2'), undefined);
  assert.equal(ipamPlugin.calls.at(-1), 'IpamDriver.ReleasePool');
  assert.equal(ipamPlugin.given.size, 0);
});

test('--ipam-driver <plugin>: the pool and gateway are the plugin\'s; rm releases them', async () => {
  ipamPlugin.calls.length = 0;
  ipamPlugin.bodies.length = 0;
  await registry.create({ Name: 'pn3', Driver: 'samplenet', IPAM: { Driver: 'sampleipam', Options: { zone: 'a' } } });
  assert.deepEqual(ipamPlugin.calls, ['IpamDriver.GetCapabilities', 'IpamDriver.GetDefaultAddressSpaces', 'IpamDriver.RequestPool', 'IpamDriver.RequestAddress']);
  const pool = ipamPlugin.bodies.find((b) => b.method === 'IpamDriver.RequestPool')!.body;
  assert.equal(pool.AddressSpace, 'sample-local');
  assert.deepEqual(pool.Options, { zone: 'a' });
  const view = registry.inspect('pn3') as any;
  assert.equal(view.IPAM.Driver, 'sampleipam');
  assert.equal(view.IPAM.Config[0].Subnet, ipamSubnet);
  assert.equal(view.IPAM.Config[0].Gateway, ipamSubnet.replace(/0\/24$/, '1'));
  await registry.remove('pn3');
  assert.deepEqual(ipamPlugin.calls.slice(-2), ['IpamDriver.ReleaseAddress', 'IpamDriver.ReleasePool']);
});

test('an unknown driver or IPAM driver: dockerd\'s "plugin not found", nothing recorded', async () => {
  await assert.rejects(registry.create({ Name: 'pn4', Driver: 'nosuch' }), /plugin "nosuch" not found/);
  await assert.rejects(registry.create({ Name: 'pn4', IPAM: { Driver: 'nosuchipam' } }), /plugin "nosuchipam" not found/);
  assert.equal(store.networkByName('pn4'), undefined);
});

test('a plugin\'s interface is moved into the namespace, renamed and addressed; it goes back under its name', async () => {
  const ns = `tpn-${randomBytes(3).toString('hex')}`;
  const host = `tpnh${randomBytes(3).toString('hex')}`;
  const src = `tpns${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', src]);
    await adoptInterface({ netns: ns, src, ifname: 'eth3', mac: '02:42:0a:00:00:07', address: '10.254.77.7/24', defaultGateway: '10.254.77.1', routes: [{ Destination: '10.254.78.0/24', RouteType: 0, NextHop: '10.254.77.2' }] });
    const inside = execFileSync('ip', ['-n', ns, 'addr', 'show', 'eth3'], { encoding: 'utf8' });
    assert.match(inside, /inet 10\.254\.77\.7\/24/);
    assert.match(inside, /02:42:0a:00:00:07/);
    const routes = execFileSync('ip', ['-n', ns, 'route'], { encoding: 'utf8' });
    assert.match(routes, /default via 10\.254\.77\.1 dev eth3/);
    assert.match(routes, /10\.254\.78\.0\/24 via 10\.254\.77\.2 dev eth3/);
    await releaseAdopted(ns, 'eth3', src);
    assert.match(execFileSync('ip', ['link', 'show', src], { encoding: 'utf8' }), new RegExp(src));
  } finally {
    execFileSync('ip', ['link', 'del', host], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

test('a plugin that is not there for an interface: the error, and nothing left in the namespace', async () => {
  const ns = `tpn-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    await assert.rejects(adoptInterface({ netns: ns, src: 'tpnmissing0', ifname: 'eth0', mac: '02:42:0a:00:00:08', address: '10.254.77.8/24', routes: [] }), /tpnmissing0|Cannot find device/);
    assert.doesNotMatch(execFileSync('ip', ['-n', ns, 'link'], { encoding: 'utf8' }), /eth0/);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});
