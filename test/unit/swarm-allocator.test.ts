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
  const { store, front, services } = await setup();
  const { ID } = await services.create({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'front' }] } });
  const alloc = createTaskAllocator(store);
  try {
    const [a, b] = await Promise.all([alloc.allocateTask(newTask('t1', ID, [front.ID])), alloc.allocateTask(newTask('t2', ID, [front.ID]))]);
    assert.deepEqual(addrs(a), ['front=10.0.1.3/24'], '.1 is the gateway, .2 the VIP');
    assert.deepEqual(addrs(b), ['front=10.0.1.4/24']);
    assert.equal(a.NetworksAttachments![0]!.Network.ID, front.ID);
    await store.tasks.create(a);
    await store.tasks.create(b);
    const c = await alloc.allocateTask(newTask('t3', ID, [front.ID]));
    assert.deepEqual(addrs(c), ['front=10.0.1.5/24']);
    // Allocating again keeps the address a task has.
    assert.deepEqual(addrs(await alloc.allocateTask(a)), ['front=10.0.1.3/24']);
    // A released (deleted) task frees its address.
    const storedA = (await store.tasks.get('t1'))!;
    await alloc.releaseTask(storedA);
    await store.tasks.delete('t1');
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(addrs(await alloc.allocateTask(newTask('t4', ID, [front.ID]))), ['front=10.0.1.3/24']);
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
  assert.deepEqual(addrs(t1), ['ingress=10.0.0.3/24', 'front=10.0.1.3/24']);
  await store.tasks.create(t1);
  const second = createTaskAllocator(store);
  try {
    assert.deepEqual(addrs(await second.allocateTask(newTask('t2', ID, [front.ID]))), ['ingress=10.0.0.4/24', 'front=10.0.1.4/24']);
    // A task of a service with no networks and no ports gets none.
    const { ID: plain } = await services.create({ Name: 'plain', TaskTemplate: { ContainerSpec: { Image: 'nginx' } } });
    assert.equal((await second.allocateTask(newTask('t3', plain, []))).NetworksAttachments, undefined);
  } finally {
    second.close();
  }
});

test('VIPs made after the allocator started are seen through its watch', async () => {
  const { store, front, services } = await setup();
  const alloc = createTaskAllocator(store);
  try {
    await alloc.allocateTask(newTask('warm', 'none', []));
    const { ID } = await services.create({ Name: 'late', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'front' }] } });
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(addrs(await alloc.allocateTask(newTask('t1', ID, [front.ID]))), ['front=10.0.1.3/24']);
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
    assert.equal(s.Endpoint.VirtualIPs![0]!.Addr, '10.0.0.4/24');
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(addrs(await alloc.allocateTask(newTask('t1', ID, []))), ['ingress=10.0.0.5/24']);
  } finally {
    alloc.close();
  }
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
