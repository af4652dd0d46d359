import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { ClusterNetworkApi, ensureIngressNetwork, VXLAN_ID_OPTION } from '../../src/swarm/services/networks.js';
import { ServiceApi } from '../../src/swarm/services/service-api.js';
import type { Cluster } from '../../src/swarm/types.js';

const setup = () => {
  const store = memorySwarmStore();
  return { store, nets: new ClusterNetworkApi(() => store), services: new ServiceApi({ store: () => store }) };
};

const rejectsWith = (p: Promise<unknown>, kind: string, message: string | RegExp) =>
  assert.rejects(p, (e: { kind?: string; message?: string }) => {
    assert.equal(e.kind, kind, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message ?? '', message);
    return true;
  });

test('the ingress network: 10.0.0.0/24, VNI 4096, made once', async () => {
  const { store } = setup();
  const ingress = await ensureIngressNetwork(store);
  assert.match(ingress.ID, /^[0-9a-z]{25}$/);
  assert.equal(ingress.Spec.Name, 'ingress');
  assert.equal(ingress.Spec.Ingress, true);
  assert.deepEqual(ingress.IPAMOptions.Configs, [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }]);
  assert.equal(ingress.DriverState.Options[VXLAN_ID_OPTION], '4096');
  const again = await ensureIngressNetwork(store);
  assert.equal(again.ID, ingress.ID);
  assert.equal((await store.networks.list()).length, 1);
});

test('overlays get the next subnet of the pool and the next VNI; a given subnet is kept', async () => {
  const { store, nets } = setup();
  await ensureIngressNetwork(store);
  const a = await nets.create({ Name: 'front', Driver: 'overlay', Attachable: true, Labels: { team: 'x' } });
  assert.deepEqual(a.IPAMOptions.Configs, [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }]);
  assert.equal(a.DriverState.Options[VXLAN_ID_OPTION], '4097');
  assert.equal(a.Spec.Attachable, true);
  const b = await nets.create({ Name: 'back', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.0.2.0/24' }] } });
  assert.deepEqual(b.IPAMOptions.Configs, [{ Subnet: '10.0.2.0/24', Gateway: '10.0.2.1' }]);
  const c = await nets.create({ Name: 'third', Driver: 'overlay', Options: { encrypted: '' } });
  assert.deepEqual(c.DriverState.Options, { [VXLAN_ID_OPTION]: '4099', encrypted: '' });
  const d = await nets.create({ Name: 'fixed', Driver: 'overlay', Options: { [VXLAN_ID_OPTION]: '5000' } });
  assert.equal(d.DriverState.Options[VXLAN_ID_OPTION], '5000', 'a VNI asked for is kept');
  await rejectsWith(nets.create({ Name: 'fixed2', Driver: 'overlay', Options: { [VXLAN_ID_OPTION]: '5000' } }), 'Conflict', 'VXLAN id 5000 is already in use');
  await store.networks.delete(d.ID);
  assert.equal(c.IPAMOptions.Configs[0]!.Subnet, '10.0.3.0/24', 'skips the subnet a user took');
  assert.equal(c.DriverState.Options[VXLAN_ID_OPTION], '4099');
  await rejectsWith(nets.create({ Name: 'overlap', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.0.1.0/25' }] } }), 'Forbidden', /Pool overlaps/);
  await rejectsWith(nets.create({ Name: 'front', Driver: 'overlay' }), 'Conflict', 'network with name front already exists');
  await rejectsWith(nets.create({ Name: 'bad name!', Driver: 'overlay' }), 'InvalidArgument', 'rpc error: code = InvalidArgument desc = name must be valid as a DNS name component');
  await rejectsWith(nets.create({ Name: 'host', Driver: 'overlay' }), 'Forbidden', 'host is a pre-defined network and cannot be created');
  await rejectsWith(nets.create({ Name: 'in2', Driver: 'overlay', Ingress: true }), 'Conflict', /ingress network \([0-9a-z]+\) is already present/);
  await rejectsWith(nets.create({ Name: 'in3', Driver: 'overlay', Ingress: true, Attachable: true }), 'InvalidArgument', /ingress network cannot be attachable/);
  await rejectsWith(nets.create({ Name: 'gw', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.8.0.1' }] } }), 'InvalidArgument', /does not contain gateway/);
  assert.equal((await store.networks.list()).length, 4, 'refused creates left nothing');
});

test('the cluster pool and subnet size come from the Cluster object', async () => {
  const { store, nets } = setup();
  await store.cluster.create({ ID: 'c1', DefaultAddrPool: ['172.30.0.0/16'], SubnetSize: 26 } as unknown as Cluster);
  const ingress = await ensureIngressNetwork(store);
  assert.equal(ingress.IPAMOptions.Configs[0]!.Subnet, '172.30.0.0/26');
  const n = await nets.create({ Name: 'x', Driver: 'overlay' });
  assert.equal(n.IPAMOptions.Configs[0]!.Subnet, '172.30.0.64/26');
});

test('list and inspect in the local network API shape; filters', async () => {
  const { store, nets } = setup();
  await ensureIngressNetwork(store);
  const n = await nets.create({ Name: 'front', Driver: 'overlay', Labels: { team: 'x' } });
  const list = await nets.list();
  assert.deepEqual(list.map((x) => x.Name), ['front', 'ingress']);
  const view = list[0]!;
  assert.deepEqual(Object.keys(view), ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv4', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigFrom', 'ConfigOnly', 'Options', 'Labels']);
  assert.equal(view.Scope, 'swarm');
  assert.equal(view.Driver, 'overlay');
  assert.deepEqual(view.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] });
  assert.deepEqual(view.Options, { [VXLAN_ID_OPTION]: '4097' });
  const inspected = await nets.inspect(n.ID.slice(0, 6));
  assert.deepEqual(inspected.Containers, {});
  assert.equal((await nets.inspect('front')).Id, n.ID);
  assert.deepEqual((await nets.list(JSON.stringify({ label: ['team=x'] }))).map((x) => x.Name), ['front']);
  assert.deepEqual((await nets.list(JSON.stringify({ scope: ['local'] }))).length, 0);
  assert.deepEqual((await nets.list(JSON.stringify({ name: ['ingr'] }))).map((x) => x.Name), ['ingress']);
  await assert.rejects(nets.list(JSON.stringify({ bogus: ['x'] })), /invalid filter 'bogus'/);
  await rejectsWith(nets.inspect('nope'), 'NotFound', 'network nope not found');
});

test('remove is refused while a service uses the network, and for ingress while a service publishes', async () => {
  const { store, nets, services } = setup();
  const ingress = await ensureIngressNetwork(store);
  const n = await nets.create({ Name: 'front', Driver: 'overlay' });
  const { ID } = await services.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'front' }] }, EndpointSpec: { Ports: [{ TargetPort: 80 }] } });
  await rejectsWith(nets.remove('front'), 'InvalidArgument', `rpc error: code = FailedPrecondition desc = network ${n.ID} is in use by service ${ID}`);
  await rejectsWith(nets.remove('ingress'), 'InvalidArgument', `rpc error: code = FailedPrecondition desc = ingress network cannot be removed because service ${ID} depends on it`);
  await services.remove('web');
  await nets.remove('front');
  await nets.remove(ingress.ID);
  assert.equal((await store.networks.list()).length, 0);
});

test('prune removes unused cluster networks, never ingress nor one in use; label filters', async () => {
  const { store, nets, services } = setup();
  await ensureIngressNetwork(store);
  await nets.create({ Name: 'used', Driver: 'overlay' });
  await nets.create({ Name: 'idle', Driver: 'overlay', Labels: { keep: 'no' } });
  await nets.create({ Name: 'kept', Driver: 'overlay', Labels: { keep: 'yes' } });
  await services.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'used' }] } });
  assert.deepEqual(await nets.prune(JSON.stringify({ 'label!': ['keep=yes'] })), ['idle']);
  assert.deepEqual((await store.networks.list()).map((n) => n.Spec.Name).sort(), ['ingress', 'kept', 'used']);
  assert.deepEqual(await nets.prune(JSON.stringify({ until: ['1h'] })), [], 'all made just now');
  assert.deepEqual(await nets.prune(), ['kept']);
});

test('a running task holds its network while its service exists; once the service is removed it does not', async () => {
  const { store, nets, services } = setup();
  await ensureIngressNetwork(store);
  const n = await nets.create({ Name: 'back', Driver: 'overlay' });
  const { ID: serviceId } = await services.create({ Name: 'db', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } });
  const live = { Timestamp: '', State: 'running' as const, Message: 'started' };
  const task = await store.tasks.create({
    ID: 'task1', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: {}, ServiceID: serviceId, Slot: 1, NodeID: 'node1',
    Status: live, DesiredState: 'running', NetworksAttachments: [{ Network: n, Addresses: ['10.0.1.5/24'] }],
  });
  await rejectsWith(nets.remove('back'), 'InvalidArgument', `rpc error: code = FailedPrecondition desc = network ${n.ID} is in use by task ${task.ID}`);
  // stack rm removes the services then the networks at once: the orchestrator has not yet marked the tasks.
  await services.remove('db');
  await nets.remove('back');
  assert.deepEqual((await store.networks.list()).map((x) => x.Spec.Name), ['ingress']);
});
