import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLOOD_MAC, fdbCommands, planNode, twinRecord, vxlanAddCommand, vxlanMatches } from '../../src/networks/overlay/plan.js';
import { bridgeName, overlayMac, underlayAddress, vniOf, vxlanName } from '../../src/networks/overlay/names.js';
import { render } from '../../src/networks/firewall.js';
import { mtuOf } from '../../src/networks/contracts.js';
import { networkView } from '../../src/networks/views.js';
import type { NodeView } from '../../src/swarm/contracts.js';
import type { ClusterNetwork } from '../../src/swarm/types.js';

const ID = 'k3j2h1g0f9e8d7c6b5a4z3y2x'; // 25 characters, as swarm IDs
const ING = 'ingress0000000000000000id';

function net(id: string, name: string, o: { vni?: string; subnet?: string; ingress?: boolean; attachable?: boolean; internal?: boolean } = {}): ClusterNetwork {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '2026-12-03T16:00:00.000000000Z',
    UpdatedAt: '2026-12-03T16:00:00.000000000Z',
    Spec: { Name: name, Ingress: o.ingress, Attachable: o.attachable, Internal: o.internal, Labels: { a: 'b' }, DriverConfiguration: { Name: 'overlay' } },
    DriverState: { Name: 'overlay', Options: o.vni === undefined ? { 'com.docker.network.driver.overlay.vxlanid_list': '4097' } : o.vni ? { 'com.docker.network.driver.overlay.vxlanid_list': o.vni } : {} },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: o.subnet ?? '10.0.1.0/24', Gateway: (o.subnet ?? '10.0.1.0/24').replace(/0\/24$/, '1') }] },
  };
}

function view(over: Partial<NodeView> = {}): NodeView {
  return {
    nodeId: 'n1',
    tasks: [],
    networks: [net(ID, 'appnet'), net(ING, 'ingress', { vni: '4096', subnet: '10.0.0.0/24', ingress: true })],
    nodes: [
      { ID: 'n1', Addr: '192.168.5.10', State: 'ready' },
      { ID: 'n2', Addr: '192.168.5.11', State: 'ready' },
      { ID: 'n3', Addr: '192.168.5.12:2377', State: 'down' },
      { ID: 'n4', Addr: '', State: 'unknown' },
    ],
    endpoints: [
      {
        ServiceID: 's1',
        Name: 'web',
        Mode: 'vip',
        Ports: [],
        VirtualIPs: [{ NetworkID: ID, Addr: '10.0.1.2/24' }],
        Aliases: {},
        Tasks: [
          { ID: 't1', NodeID: 'n1', Addresses: [{ NetworkID: ID, Addr: '10.0.1.3/24' }] },
          { ID: 't2', NodeID: 'n2', Addresses: [{ NetworkID: ID, Addr: '10.0.1.4/24' }, { NetworkID: ING, Addr: '10.0.0.7/24' }] },
          { ID: 't3', NodeID: 'n3', Addresses: [{ NetworkID: ID, Addr: '10.0.1.5/24' }] },
          { ID: 't4', NodeID: 'gone', Addresses: [{ NetworkID: ID, Addr: '10.0.1.6/24' }] },
        ],
      },
    ],
    ingress: { NetworkID: ING, Address: '10.0.0.2' },
    ...over,
  };
}

test('names: bridge and VXLAN device fit in 15 characters and come from the ID and VNI', () => {
  assert.equal(bridgeName(ID), 'ov-k3j2h1g0f9e8');
  assert.equal(vxlanName(4097, ID), 'vx-001001-k3j2h');
  assert.equal(vxlanName(0xffffff, ID).length, 15);
  assert.ok(bridgeName(ID).length <= 15);
  assert.equal(overlayMac('10.0.1.5'), '02:42:0a:00:01:05');
  assert.equal(vniOf(net(ID, 'x', { vni: '4100,4101' })), 4100);
  assert.equal(vniOf(net(ID, 'x', { vni: '' })), undefined);
  assert.equal(vniOf(net(ID, 'x', { vni: '99999999' })), undefined);
  assert.equal(underlayAddress('10.1.2.3:2377'), '10.1.2.3');
  assert.equal(underlayAddress('0.0.0.0'), undefined);
  assert.equal(underlayAddress(''), undefined);
});

test('twin: same ID and name, driver overlay, scope swarm, the cluster subnet, VNI in the options, no NAT', () => {
  const t = twinRecord(net(ID, 'appnet', { attachable: true }));
  assert.ok(!('error' in t));
  assert.equal(t.id, ID);
  assert.equal(t.name, 'appnet');
  assert.equal(t.driver, 'overlay');
  assert.equal(t.scope, 'swarm');
  assert.equal(t.attachable, true);
  assert.equal(t.ingress, false);
  assert.equal(t.userSubnet, true);
  assert.deepEqual(t.ipam.Config, [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }]);
  assert.equal(t.options['com.docker.network.driver.overlay.vxlanid_list'], '4097');
  assert.equal(t.bridge, 'ov-k3j2h1g0f9e8');
  assert.equal(mtuOf(t), 1450);
  const v = networkView(t);
  assert.equal(v.Scope, 'swarm');
  assert.equal(v.Driver, 'overlay');
  assert.deepEqual((v.IPAM as { Config: unknown }).Config, [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }]);
  assert.equal(v.Attachable, true);
  assert.deepEqual(twinRecord(net(ID, 'x', { vni: '' })), { error: 'no VXLAN ID allocated' });
});

test('plan: flood entries to every other node, static entries for remote tasks only, ingress address on the ingress bridge only', () => {
  const p = planNode(view());
  assert.equal(p.local, '192.168.5.10');
  assert.deepEqual(p.skipped, []);
  const app = p.overlays.find((o) => o.networkId === ID)!;
  assert.equal(app.vni, 4097);
  assert.equal(app.bridgeAddress, undefined);
  assert.deepEqual(app.fdb, [
    { mac: FLOOD_MAC, dst: '192.168.5.11' },
    { mac: FLOOD_MAC, dst: '192.168.5.12' },
    { mac: '02:42:0a:00:01:04', dst: '192.168.5.11' },
    { mac: '02:42:0a:00:01:05', dst: '192.168.5.12' },
  ]);
  const ing = p.overlays.find((o) => o.networkId === ING)!;
  assert.equal(ing.bridgeAddress, '10.0.0.2/24');
  assert.deepEqual(ing.fdb.filter((e) => e.mac !== FLOOD_MAC), [{ mac: '02:42:0a:00:00:07', dst: '192.168.5.11' }]);
  const bad = planNode(view({ networks: [net(ID, 'x', { vni: '' })] }));
  assert.deepEqual(bad.overlays, []);
  assert.equal(bad.skipped.length, 1);
});

test('fdb commands: add what is missing, replace moved MACs, delete what went, leave learned entries', () => {
  const dev = 'vx-001001-k3j2h';
  const current = [
    { mac: 'aa:bb:cc:dd:ee:ff', master: 'ov-x', state: 'permanent' }, // the device's own, no dst
    { mac: FLOOD_MAC, dst: '192.168.5.11', state: 'permanent' },
    { mac: FLOOD_MAC, dst: '192.168.5.99', state: 'permanent' },
    { mac: '02:42:0a:00:01:04', dst: '192.168.5.12', state: 'permanent' },
    { mac: '02:42:0a:00:01:09', dst: '192.168.5.11', state: 'permanent' },
    { mac: '02:42:0a:00:01:0a', dst: '192.168.5.11' }, // learned
  ];
  const desired = [
    { mac: FLOOD_MAC, dst: '192.168.5.11' },
    { mac: FLOOD_MAC, dst: '192.168.5.12' },
    { mac: '02:42:0a:00:01:04', dst: '192.168.5.11' },
  ];
  assert.deepEqual(fdbCommands(dev, current, desired), [
    `fdb append ${FLOOD_MAC} dev ${dev} dst 192.168.5.12`,
    `fdb replace 02:42:0a:00:01:04 dev ${dev} dst 192.168.5.11 self permanent`,
    `fdb del ${FLOOD_MAC} dev ${dev} dst 192.168.5.99`,
    `fdb del 02:42:0a:00:01:09 dev ${dev} dst 192.168.5.11`,
  ]);
  assert.deepEqual(fdbCommands(dev, desired.map((e) => ({ ...e, state: 'permanent' })), desired), []);
});

test('vxlan: the device command and the check of an existing one', () => {
  const o = { name: 'vx-001001-k3j2h', vni: 4097, port: 4789, local: '192.168.5.10' };
  assert.equal(vxlanAddCommand(o), 'link add vx-001001-k3j2h mtu 1450 type vxlan id 4097 dstport 4789 local 192.168.5.10 learning');
  assert.equal(vxlanMatches({ id: 4097, port: 4789, local: '192.168.5.10', learning: true }, o), true);
  assert.equal(vxlanMatches({ id: 4097, port: 4790, local: '192.168.5.10', learning: true }, o), false);
  assert.equal(vxlanMatches({ id: 4097, port: 4789, local: '192.168.5.11', learning: true }, o), false);
  assert.equal(vxlanMatches(undefined, o), false);
});

test('firewall: overlays are not masqueraded; the ingress bridge lets DNATed connections in', () => {
  const text = render('t', { networks: [{ bridge: 'ov-ing', subnet: '10.0.0.0/24', internal: false, masquerade: false, icc: true, ingress: true }, { bridge: 'ov-app', subnet: '10.0.1.0/24', internal: false, masquerade: false, icc: true }], ports: [] }, { userlandProxy: true });
  assert.doesNotMatch(text, /MASQUERADE/);
  assert.match(text, /-A BERTH-FWD-t -o ov-ing -m conntrack --ctstate DNAT -j ACCEPT/);
  assert.doesNotMatch(text, /-o ov-app -m conntrack --ctstate DNAT/);
  // Before the final drop of everything else routed into it.
  assert.ok(text.indexOf('-o ov-ing -m conntrack --ctstate DNAT') < text.indexOf('-A BERTH-FWD-t -o ov-ing -j DROP'));
});
