import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { ClusterNetworkApi, ensureIngressNetwork } from '../../src/swarm/services/networks.js';
import { ServiceApi } from '../../src/swarm/services/service-api.js';
import { allocateNodeIngress, createTaskAllocator } from '../../src/swarm/services/allocator.js';
import type { SwarmNode, Task } from '../../src/swarm/types.js';

const setup = async () => {
  const store = memorySwarmStore();
  const ingress = await ensureIngressNetwork(store);
  const front = await new ClusterNetworkApi(() => store).create({ Name: 'front', Driver: 'overlay' });
  const services = new ServiceApi({ store: () => store });
  return { store, ingress, front, services };
};

const newTask = (ID: string, ServiceID: string, networks: string[]): Task => ({
  ID,
  Version: { Index: 0 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { ContainerSpec: { Image: 'nginx' }, Networks: networks.map((Target) => ({ Target })) },
  ServiceID,
  Status: { Timestamp: '', State: 'new', Message: 'created' },
  DesiredState: 'running',
});

const addrs = (t: Task) => (t.NetworksAttachments ?? []).map((a) => `${a.Network.Spec.Name}=${a.Addresses.join(',')}`);

test('task addresses avoid the gateway, the VIPs and each other, also before the tasks are stored', async () => {
  const { store, services } = await setup();
  // A /29: .1 the gateway, .6 the service's VIP, .2-.5 for tasks.
  const small = await new ClusterNetworkApi(() => store).create({ Name: 'small', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.0.9.0/29' }] } });
  const { ID } = await services.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'small' }] } });
  assert.equal((await store.services.get(ID))!.Endpoint.VirtualIPs![0]!.Addr, '10.0.9.6/29');
  const alloc = createTaskAllocator(store);
  try {
    const [a, b] = await Promise.all([alloc.allocateTask(newTask('t1', ID, [small.ID])), alloc.allocateTask(newTask('t2', ID, [small.ID]))]);
    assert.deepEqual(addrs(a), ['small=10.0.9.2/29']);
    assert.deepEqual(addrs(b), ['small=10.0.9.3/29'], 'not the address given to a task not stored yet');
    assert.equal(a.NetworksAttachments![0]!.Network.ID, small.ID);
    await store.tasks.create(a);
    await store.tasks.create(b);
    const c = await alloc.allocateTask(newTask('t3', ID, [small.ID]));
    assert.deepEqual(addrs(c), ['small=10.0.9.4/29']);
    // Allocating again keeps the address a task has.
    assert.deepEqual(addrs(await alloc.allocateTask(a)), ['small=10.0.9.2/29']);
    assert.deepEqual(addrs(await alloc.allocateTask(newTask('t4', ID, [small.ID]))), ['small=10.0.9.5/29']);
    await assert.rejects(alloc.allocateTask(newTask('t5', ID, [small.ID])), /no available IPv4 addresses on network small/, 'the VIP is never given to a task');
    // A released (deleted) task frees its address.
    const storedA = (await store.tasks.get('t1'))!;
    await alloc.releaseTask(storedA);
    await store.tasks.delete('t1');
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(addrs(await alloc.allocateTask(newTask('t6', ID, [small.ID]))), ['small=10.0.9.2/29']);
  } finally {
    alloc.close();
  }
});

test('an allocator started after tasks exist sees their addresses; a service publishing ingress ports gets ingress attachments first', async () => {
  const { store, front, services } = await setup();
  const { ID } = await services.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: front.ID }] }, EndpointSpec: { Ports: [{ TargetPort: 80 }] } });
  const first = createTaskAllocator(store);
  const t1 = await first.allocateTask(newTask('t1', ID, [front.ID]));
  first.close();
  assert.deepEqual(addrs(t1), ['ingress=10.0.0.2/24', 'front=10.0.1.2/24']);
  await store.tasks.create(t1);
  const second = createTaskAllocator(store);
  try {
    assert.deepEqual(addrs(await second.allocateTask(newTask('t2', ID, [front.ID]))), ['ingress=10.0.0.3/24', 'front=10.0.1.3/24']);
    // A task of a service with no networks and no ports gets none.
    const { ID: plain } = await services.create({ Name: 'plain', TaskTemplate: { ContainerSpec: { Image: 'nginx' } } });
    assert.equal((await second.allocateTask(newTask('t3', plain, []))).NetworksAttachments, undefined);
    // The ports the orchestrator copied into the task decide, not a service copy that may lag behind.
    const withPorts = { ...newTask('t4', plain, []), BerthService: { Name: 'plain', EndpointMode: 'vip' as const, Ports: [{ Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 30005, PublishMode: 'ingress' as const }] } };
    assert.deepEqual(addrs(await second.allocateTask(withPorts)), ['ingress=10.0.0.4/24']);
  } finally {
    second.close();
  }
});

test('VIPs made after the allocator started are seen through its watch', async () => {
  const { store, services } = await setup();
  const small = await new ClusterNetworkApi(() => store).create({ Name: 'small', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.0.9.0/29' }] } });
  const alloc = createTaskAllocator(store);
  try {
    await alloc.allocateTask(newTask('warm', 'none', []));
    const { ID } = await services.create({ Name: 'late', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'small' }] } });
    await new Promise((r) => setTimeout(r, 10));
    for (const n of [2, 3, 4, 5]) assert.deepEqual(addrs(await alloc.allocateTask(newTask(`t${n}`, ID, [small.ID]))), [`small=10.0.9.${n}/29`]);
    await assert.rejects(alloc.allocateTask(newTask('t6', ID, [small.ID])), /no available IPv4 addresses/, '.6 is the VIP');
  } finally {
    alloc.close();
  }
});

test('node ingress addresses: one per node, kept, and not given to tasks', async () => {
  const { store, ingress, services } = await setup();
  const node = (ID: string) => ({ ID, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { Role: 'worker', Availability: 'active' }, Status: { State: 'ready', Addr: '' } }) as unknown as SwarmNode;
  await store.nodes.create(node('n1'));
  await store.nodes.create(node('n2'));
  const alloc = createTaskAllocator(store);
  try {
    const n1 = await alloc.allocateNode('n1');
    assert.deepEqual(n1!.BerthIngress, { NetworkID: ingress.ID, Address: '10.0.0.2/24' });
    assert.deepEqual((await alloc.allocateNode('n1'))!.BerthIngress, n1!.BerthIngress, 'kept');
    const n2 = await allocateNodeIngress(store, 'n2');
    assert.equal(n2!.BerthIngress!.Address, '10.0.0.3/24');
    await new Promise((r) => setTimeout(r, 10));
    const { ID } = await services.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, EndpointSpec: { Ports: [{ TargetPort: 80 }] } });
    const s = (await store.services.get(ID))!;
    assert.equal(s.Endpoint.VirtualIPs![0]!.Addr, '10.0.0.254/24');
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(addrs(await alloc.allocateTask(newTask('t1', ID, []))), ['ingress=10.0.0.4/24']);
    await store.nodes.create(node('n3'));
    await alloc.allocateNodes();
    assert.equal((await store.nodes.get('n3'))!.BerthIngress!.Address, '10.0.0.5/24', 'allocateNodes covers new nodes, skipping held task addresses');
  } finally {
    alloc.close();
  }
  // Without an open allocator, a scan of the store (t1 was never stored, so its address is free again).
  await store.nodes.create(node('n4'));
  assert.equal((await allocateNodeIngress(store, 'n4'))!.BerthIngress!.Address, '10.0.0.4/24');
});

test('a full network refuses further tasks without holding anything', async () => {
  const store = memorySwarmStore();
  await ensureIngressNetwork(store);
  const tiny = await new ClusterNetworkApi(() => store).create({ Name: 'tiny', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.5.0.0/30' }] } });
  const alloc = createTaskAllocator(store);
  try {
    assert.deepEqual(addrs(await alloc.allocateTask(newTask('t1', 's', [tiny.ID]))), ['tiny=10.5.0.2/30']);
    await assert.rejects(alloc.allocateTask(newTask('t2', 's', [tiny.ID])), /no available IPv4 addresses on network tiny/);
  } finally {
    alloc.close();
  }
});

test('a new allocator on the same store stops the previous one', async () => {
  const { store } = await setup();
  let watching = 0;
  const watchTasks = store.tasks.watch.bind(store.tasks);
  store.tasks.watch = (cb) => {
    watching++;
    const stop = watchTasks(cb);
    return () => {
      watching--;
      stop();
    };
  };
  const first = createTaskAllocator(store);
  assert.equal(watching, 1);
  const second = createTaskAllocator(store);
  assert.equal(watching, 1, 'the first one stopped watching');
  second.close();
  assert.equal(watching, 0);
  first.close();
});

test('a store that fails at first is read again: the allocator comes up once it answers', async () => {
  const { store, front, services } = await setup();
  const { ID } = await services.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'front' }] } });
  const list = store.tasks.list.bind(store.tasks);
  let failures = 2;
  store.tasks.list = async () => {
    if (failures-- > 0) throw new Error('etcdserver: no leader');
    return list();
  };
  const alloc = createTaskAllocator(store);
  try {
    assert.deepEqual(addrs(await alloc.allocateTask(newTask('t1', ID, [front.ID]))), ['front=10.0.1.2/24']);
    assert.equal(failures, -1);
  } finally {
    alloc.close();
  }
});
