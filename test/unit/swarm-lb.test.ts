import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeView, ServiceEndpoints } from '../../src/swarm/contracts.js';
import type { ClusterNetwork } from '../../src/swarm/types.js';
import { meshChains, meshPlanOf, renderMesh, renderVipTables, vipChain, vipTargetsFor, meshJumps, replyRouteCommands, replyRouteRemoval } from '../../src/networks/overlay/lb/rules.js';
import { ServiceRecords, buildRecords } from '../../src/networks/overlay/lb/records.js';
import * as dnsPacket from 'dns-packet';
import { openDb } from '../../src/store/db.js';
import { NetworkStore } from '../../src/networks/store.js';
import { DnsService } from '../../src/networks/dns-service.js';
import type { DnsServer } from '../../src/networks/dns.js';
import type { NetworkRecord } from '../../src/networks/model.js';
import type { ServiceBalancer as OverlaySeam } from '../../src/networks/overlay/index.js';
import { createServiceBalancer } from '../../src/networks/overlay/lb/index.js';

const INGRESS = 'ingressnetid';
const APP = 'appnetid';
const OTHER = 'othernetid';

function net(id: string, name: string, subnet: string): ClusterNetwork {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: name, Ingress: id === INGRESS },
    DriverState: { Name: 'overlay', Options: {} },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: subnet, Gateway: subnet.replace(/0\/24$/, '1') }] },
  };
}

function task(id: string, nodeId: string, addrs: Record<string, string>): ServiceEndpoints['Tasks'][number] {
  return { ID: id, NodeID: nodeId, Addresses: Object.entries(addrs).map(([NetworkID, Addr]) => ({ NetworkID, Addr })) };
}

function view(endpoints: ServiceEndpoints[]): NodeView {
  return {
    nodeId: 'node1',
    tasks: [],
    networks: [net(INGRESS, 'ingress', '10.0.0.0/24'), net(APP, 'app', '10.0.1.0/24'), net(OTHER, 'other', '10.0.2.0/24')],
    nodes: [],
    endpoints,
    ingress: { NetworkID: INGRESS, Address: '10.0.0.2/24' },
  };
}

const web: ServiceEndpoints = {
  ServiceID: 'websvc',
  Name: 'web',
  Mode: 'vip',
  Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }],
  VirtualIPs: [
    { NetworkID: INGRESS, Addr: '10.0.0.5/24' },
    { NetworkID: APP, Addr: '10.0.1.2/24' },
  ],
  Aliases: { [APP]: ['www'] },
  Tasks: [
    task('t1', 'node1', { [INGRESS]: '10.0.0.7/24', [APP]: '10.0.1.7/24' }),
    task('t2', 'node2', { [INGRESS]: '10.0.0.8/24', [APP]: '10.0.1.8/24' }),
    task('t3', 'node1', { [INGRESS]: '10.0.0.10/24', [APP]: '10.0.1.10/24' }),
  ],
};

const db: ServiceEndpoints = {
  ServiceID: 'dbsvc',
  Name: 'db',
  Mode: 'dnsrr',
  Ports: [],
  VirtualIPs: [],
  Aliases: {},
  Tasks: [task('d1', 'node2', { [APP]: '10.0.1.20/24' }), task('d2', 'node1', { [APP]: '10.0.1.21/24' })],
};

const idle: ServiceEndpoints = {
  ServiceID: 'idlesvc',
  Name: 'idle',
  Mode: 'vip',
  Ports: [{ Protocol: 'udp', TargetPort: 53, PublishedPort: 30053, PublishMode: 'ingress' }],
  VirtualIPs: [{ NetworkID: APP, Addr: '10.0.1.3/24' }],
  Aliases: {},
  Tasks: [],
};

const EMPTY_TABLES = [
  '*nat',
  ':PREROUTING ACCEPT [0:0]',
  ':INPUT ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
  'COMMIT',
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  'COMMIT',
  '',
].join('\n');

test('VIP chain names carry the VIP in hex', () => {
  assert.equal(vipChain('10.0.1.2'), 'BERTH-VIP-0A000102');
  assert.equal(vipChain('192.168.255.254'), 'BERTH-VIP-C0A8FFFE');
});

test('a container on the app network balances every port of the VIPs there, spread evenly', () => {
  const targets = vipTargetsFor(view([web, db]), new Set([APP]));
  assert.deepEqual(targets, [{ vip: '10.0.1.2', backends: ['10.0.1.7', '10.0.1.8', '10.0.1.10'] }]);
  assert.equal(
    renderVipTables(targets),
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':BERTH-VIP - [0:0]',
      ':BERTH-VIP-0A000102 - [0:0]',
      '-A OUTPUT -j BERTH-VIP',
      '-A BERTH-VIP -d 10.0.1.2/32 -j BERTH-VIP-0A000102',
      '-A BERTH-VIP-0A000102 -m statistic --mode random --probability 0.33333333333 -j DNAT --to-destination 10.0.1.7',
      '-A BERTH-VIP-0A000102 -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.0.1.8',
      '-A BERTH-VIP-0A000102 -j DNAT --to-destination 10.0.1.10',
      'COMMIT',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('a dnsrr service has no VIP rules; a container on no VIP network gets empty tables', () => {
  assert.deepEqual(vipTargetsFor(view([db]), new Set([APP])), []);
  assert.deepEqual(vipTargetsFor(view([web]), new Set([OTHER])), []);
  assert.deepEqual(vipTargetsFor(view([web]), new Set([INGRESS])), [], 'no rules for the ingress VIPs in containers');
  assert.equal(renderVipTables([]), EMPTY_TABLES);
});

test('a VIP without running tasks is refused (TCP reset, ICMP otherwise), next to a balanced one', () => {
  const targets = vipTargetsFor(view([web, idle]), new Set([APP]));
  assert.deepEqual(targets.map((t) => t.vip), ['10.0.1.2', '10.0.1.3']);
  assert.equal(
    renderVipTables(targets),
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':BERTH-VIP - [0:0]',
      ':BERTH-VIP-0A000102 - [0:0]',
      '-A OUTPUT -j BERTH-VIP',
      '-A BERTH-VIP -d 10.0.1.2/32 -j BERTH-VIP-0A000102',
      '-A BERTH-VIP-0A000102 -m statistic --mode random --probability 0.33333333333 -j DNAT --to-destination 10.0.1.7',
      '-A BERTH-VIP-0A000102 -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.0.1.8',
      '-A BERTH-VIP-0A000102 -j DNAT --to-destination 10.0.1.10',
      'COMMIT',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':BERTH-VIP - [0:0]',
      '-A OUTPUT -j BERTH-VIP',
      '-A BERTH-VIP -d 10.0.1.3/32 -p tcp -j REJECT --reject-with tcp-reset',
      '-A BERTH-VIP -d 10.0.1.3/32 -j REJECT --reject-with icmp-port-unreachable',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('the mesh DNATs a published port to every task, SNATs only the remote ones, and lets the connections through', () => {
  const plan = meshPlanOf(view([web, db, idle]))!;
  assert.deepEqual(plan.ports.map((p) => [p.proto, p.published, p.target, p.backends.length]), [
    ['tcp', 8080, 80, 3],
    ['udp', 30053, 53, 0],
  ]);
  assert.equal(
    renderMesh(meshChains(), plan),
    [
      '*nat',
      ':BERTH-MESH - [0:0]',
      ':BERTH-MESH-POST - [0:0]',
      ':BERTH-MESH-t8080 - [0:0]',
      '-A BERTH-MESH -p tcp -m tcp --dport 8080 -j BERTH-MESH-t8080',
      '-A BERTH-MESH-t8080 -p tcp -m statistic --mode random --probability 0.33333333333 -j DNAT --to-destination 10.0.0.7:80',
      '-A BERTH-MESH-t8080 -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.0.0.8:80',
      '-A BERTH-MESH-t8080 -p tcp -j DNAT --to-destination 10.0.0.10:80',
      '-A BERTH-MESH-POST -s 127.0.0.0/8 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -j SNAT --to-source 10.0.0.2',
      '-A BERTH-MESH-POST -s 10.0.0.0/24 -d 10.0.0.7/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -j SNAT --to-source 10.0.0.2',
      '-A BERTH-MESH-POST -d 10.0.0.8/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -j SNAT --to-source 10.0.0.2',
      '-A BERTH-MESH-POST -s 10.0.0.0/24 -d 10.0.0.10/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT --ctorigdstport 8080 -j SNAT --to-source 10.0.0.2',
      'COMMIT',
      '*filter',
      ':BERTH-MESH-FWD - [0:0]',
      '-A BERTH-MESH-FWD -d 10.0.0.0/24 -m conntrack --ctstate DNAT -j ACCEPT',
      '-A BERTH-MESH-FWD -s 10.0.0.0/24 -m conntrack --ctstate DNAT -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('the mesh of a UDP port with one remote task, in a tagged daemon', () => {
  const dns: ServiceEndpoints = { ...idle, Tasks: [task('u1', 'node3', { [INGRESS]: '10.0.0.9/24' })] };
  const c = meshChains('bt42');
  assert.deepEqual(c, { dnat: 'BERTH-MESH-bt42', post: 'BERTH-MESH-POST-bt42', fwd: 'BERTH-MESH-FWD-bt42', portPrefix: 'BERTH-MESH-bt42-' });
  const long = meshChains('a-very-long-bridge-tag');
  assert.match(long.dnat, /^BERTH-MESH-[0-9a-f]{10}$/);
  assert.ok(`${long.portPrefix}u65535`.length <= 28 && long.post.length <= 28);
  assert.equal(
    renderMesh(c, meshPlanOf(view([dns]))!),
    [
      '*nat',
      ':BERTH-MESH-bt42 - [0:0]',
      ':BERTH-MESH-POST-bt42 - [0:0]',
      ':BERTH-MESH-bt42-u30053 - [0:0]',
      '-A BERTH-MESH-bt42 -p udp -m udp --dport 30053 -j BERTH-MESH-bt42-u30053',
      '-A BERTH-MESH-bt42-u30053 -p udp -j DNAT --to-destination 10.0.0.9:53',
      '-A BERTH-MESH-POST-bt42 -s 127.0.0.0/8 -p udp -m udp --dport 53 -m conntrack --ctstate DNAT --ctorigdstport 30053 -j SNAT --to-source 10.0.0.2',
      '-A BERTH-MESH-POST-bt42 -d 10.0.0.9/32 -p udp -m udp --dport 53 -m conntrack --ctstate DNAT --ctorigdstport 30053 -j SNAT --to-source 10.0.0.2',
      'COMMIT',
      '*filter',
      ':BERTH-MESH-FWD-bt42 - [0:0]',
      '-A BERTH-MESH-FWD-bt42 -d 10.0.0.0/24 -m conntrack --ctstate DNAT -j ACCEPT',
      '-A BERTH-MESH-FWD-bt42 -s 10.0.0.0/24 -m conntrack --ctstate DNAT -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('UDP to a local task is SNATed too (an unbound UDP server answers from the address its routes pick)', () => {
  const dns: ServiceEndpoints = { ...idle, Tasks: [task('u1', 'node1', { [INGRESS]: '10.0.0.9/24' })] };
  const text = renderMesh(meshChains(), meshPlanOf(view([dns]))!);
  assert.match(text, /^-A BERTH-MESH-POST -d 10\.0\.0\.9\/32 -p udp -m udp --dport 53 -m conntrack --ctstate DNAT --ctorigdstport 30053 -j SNAT --to-source 10\.0\.0\.2$/m);
});

test('no backends anywhere: the mesh chains are empty (the node refuses the port itself)', () => {
  assert.equal(
    renderMesh(meshChains(), meshPlanOf(view([idle]))!),
    ['*nat', ':BERTH-MESH - [0:0]', ':BERTH-MESH-POST - [0:0]', 'COMMIT', '*filter', ':BERTH-MESH-FWD - [0:0]', 'COMMIT', ''].join('\n'),
  );
});

test('host-mode ports and nodes without an ingress address have no mesh', () => {
  const hostMode: ServiceEndpoints = { ...web, Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 80, PublishMode: 'host' }] };
  assert.deepEqual(meshPlanOf(view([hostMode]))!.ports, []);
  assert.equal(meshPlanOf({ ...view([web]), ingress: undefined }), undefined);
});

test('the jumps into the mesh chains', () => {
  assert.deepEqual(
    meshJumps(meshChains()).map((j) => `${j.table} ${j.chain} ${j.rule.join(' ')}`),
    [
      'nat PREROUTING -m addrtype --dst-type LOCAL -j BERTH-MESH',
      'nat OUTPUT -m addrtype --dst-type LOCAL -j BERTH-MESH',
      'nat POSTROUTING -j BERTH-MESH-POST',
      'filter FORWARD -j BERTH-MESH-FWD',
    ],
  );
});

test('a task on the ingress network answers from its ingress address through the node', () => {
  assert.deepEqual(replyRouteCommands({ from: '10.0.0.7', via: '10.0.0.2', dev: 'eth1', subnet: '10.0.0.0/24' }), [
    'route replace 10.0.0.0/24 dev eth1 table 4411',
    'route replace default via 10.0.0.2 dev eth1 table 4411',
    'rule add from 10.0.0.7 lookup 4411 pref 4411',
  ]);
  assert.deepEqual(replyRouteRemoval(), ['rule del pref 4411', 'route flush table 4411']);
});

test('DNS: service name and aliases -> VIP, tasks.<name> -> task addresses, dnsrr -> task addresses', () => {
  const records = new ServiceRecords((id) => (id === APP ? 'app' : undefined));
  records.update(view([web, db, idle]));
  const onApp = [{ id: 'local-app-id', name: 'app' }];
  assert.deepEqual(records.lookup(onApp, 'web'), ['10.0.1.2']);
  assert.deepEqual(records.lookup(onApp, 'WWW'), ['10.0.1.2']);
  assert.deepEqual(records.lookup(onApp, 'tasks.web'), ['10.0.1.7', '10.0.1.8', '10.0.1.10']);
  assert.deepEqual(records.lookup(onApp, 'tasks.www'), ['10.0.1.7', '10.0.1.8', '10.0.1.10']);
  assert.deepEqual(records.lookup(onApp, 'db'), ['10.0.1.20', '10.0.1.21']);
  assert.deepEqual(records.lookup(onApp, 'tasks.db'), ['10.0.1.20', '10.0.1.21']);
  // A VIP service with no running task still has its VIP; tasks.<name> is then unknown.
  assert.deepEqual(records.lookup(onApp, 'idle'), ['10.0.1.3']);
  assert.equal(records.lookup(onApp, 'tasks.idle'), undefined);
  assert.equal(records.lookup(onApp, 'nosuch'), undefined);
  assert.deepEqual(records.lookup(onApp, 'web.node2.t2'), ['10.0.1.8'], 'a task on another node by its container name');
  // Only services on a network the container is on; the local network may also be known by the cluster ID.
  assert.equal(records.lookup([{ id: 'x', name: 'other' }], 'web'), undefined);
  assert.deepEqual(records.lookup([{ id: APP, name: 'whatever' }], 'web'), ['10.0.1.2']);
  // The ingress network is not for service discovery.
  assert.equal(records.lookup([{ id: INGRESS, name: 'ingress' }], 'web'), undefined);
  assert.equal(buildRecords(view([web])).has(INGRESS), false);
  records.clear();
  assert.equal(records.lookup(onApp, 'web'), undefined);
});

test('the embedded DNS asks the service records before the containers, only for the container\'s networks', async () => {
  const database = openDb(':memory:');
  const store = new NetworkStore(database);
  const network = (id: string, name: string, subnet: string): NetworkRecord => ({
    id, name, created: '', driver: 'bridge', internal: false, attachable: true, enableIPv6: false,
    ipam: { Driver: 'default', Options: null, Config: [{ Subnet: subnet }] }, userSubnet: true, options: {}, labels: {}, predefined: false,
  });
  store.saveNetwork(network('local-app-id', 'app', '10.0.1.0/24'));
  store.saveNetwork(network('local-other-id', 'other', '10.0.2.0/24'));
  const endpoint = (containerId: string, networkId: string, ip: string) => ({ networkId, endpointId: `${containerId}-${networkId}`, ip, prefix: 24, gateway: '', mac: '', veth: '', ifname: 'eth0' });
  store.saveSandbox({ containerId: 'caller', id: 's1', netns: 'x', endpoints: [endpoint('caller', 'local-app-id', '10.0.1.50')], ports: [], dns: true });
  // A local task container whose endpoint carries the service's name as an alias: the VIP still wins.
  store.saveSandbox({ containerId: 'task1', id: 's3', netns: 'z', endpoints: [endpoint('task1', 'local-app-id', '10.0.1.7')], ports: [], dns: true });
  store.saveEndpoint({ containerId: 'task1', networkId: 'local-app-id', networkName: 'app', config: { Aliases: ['web'] } });
  const containers = new Map(['caller', 'task1'].map((id) => [id, { id, name: id, config: {}, hostConfig: {}, state: { Running: true } }]));
  const svc = new DnsService(store, { get: (id) => containers.get(id) });
  const server = (svc as unknown as { dns: DnsServer }).dns;
  const ask = async (containerId: string, name: string) => {
    const reply = await server.answer(containerId, dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name }] }), 'udp');
    return dnsPacket.decode(reply!).answers!.map((a) => (a as { data: string }).data).sort();
  };
  assert.deepEqual(await ask('caller', 'web'), ['10.0.1.7'], 'before the hook: the local container alias');
  const records = new ServiceRecords((id) => (id === APP ? 'app' : id === OTHER ? 'other' : undefined));
  records.update(view([web, db]));
  const remove = svc.addRecords(records);
  assert.deepEqual(await ask('caller', 'web'), ['10.0.1.2']);
  assert.deepEqual(await ask('caller', 'tasks.web'), ['10.0.1.10', '10.0.1.7', '10.0.1.8']);
  assert.deepEqual(await ask('caller', 'db'), ['10.0.1.20', '10.0.1.21']);
  assert.deepEqual(await ask('caller', 'task1'), ['10.0.1.7'], 'container names still answer');
  // (A container on another network does not see them: the records test above; here it would be forwarded upstream.)
  remove();
  assert.deepEqual(await ask('caller', 'web'), ['10.0.1.7']);
  database.close();
});

test('the balancer fits the overlay part\'s seam and serves DNS records even without iptables', async () => {
  const balancer = createServiceBalancer({ iptables: false });
  const seam: OverlaySeam = balancer; // compile-time: the overlay part can take it as it is
  await seam.sync(view([web]), []);
  assert.deepEqual(balancer.dnsRecords.lookup([{ id: APP, name: 'app' }], 'web'), ['10.0.1.2']);
  await seam.teardown();
  assert.equal(balancer.dnsRecords.lookup([{ id: APP, name: 'app' }], 'web'), undefined);
});
