import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { ClusterNetworkApi, ensureIngressNetwork } from '../../src/swarm/services/networks.js';
import { createTaskAllocator } from '../../src/swarm/services/allocator.js';
import { allocateAttachment, releaseAttachment } from '../../src/swarm/attachments.js';
import { containerCreateRequest } from '../../src/swarm/agent/spec.js';
import type { ClusterNetwork, SwarmNode, Task } from '../../src/swarm/types.js';

const node = (ID: string) => ({ ID, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { Role: 'worker', Availability: 'active' }, Status: { State: 'ready', Addr: '' } }) as unknown as SwarmNode;

const setup = async () => {
  const store = memorySwarmStore();
  await ensureIngressNetwork(store);
  const api = new ClusterNetworkApi(() => store);
  const open = await api.create({ Name: 'open', Driver: 'overlay', Attachable: true });
  const closed = await api.create({ Name: 'closed', Driver: 'overlay' });
  await store.nodes.create(node('n1'));
  await store.nodes.create(node('n2'));
  return { store, open, closed };
};

test('attachments: one address per container and network, kept, recorded on its node, given back', async () => {
  const { store, open } = await setup();
  const a = await allocateAttachment(store, { networkId: open.ID, containerId: 'c1', nodeId: 'n1' });
  const b = await allocateAttachment(store, { networkId: open.ID, containerId: 'c2', nodeId: 'n2' });
  assert.equal(a, '10.0.1.2/24', '.1 is the gateway');
  assert.equal(b, '10.0.1.3/24');
  assert.equal(await allocateAttachment(store, { networkId: open.ID, containerId: 'c1', nodeId: 'n1' }), a, 'asked again: the same one');
  assert.deepEqual((await store.nodes.get('n1'))!.BerthAttachments, [{ NetworkID: open.ID, ContainerID: 'c1', Address: a }]);
  await releaseAttachment(store, { networkId: open.ID, containerId: 'c1', nodeId: 'n1' });
  assert.equal((await store.nodes.get('n1'))!.BerthAttachments, undefined);
  await releaseAttachment(store, { networkId: open.ID, containerId: 'c1', nodeId: 'n1' }); // twice: nothing to do
  assert.equal(await allocateAttachment(store, { networkId: open.ID, containerId: 'c3', nodeId: 'n1' }), a, 'freed');
});

test('attachments: refused on a network that is not attachable; the task allocator steers clear of them', async () => {
  const { store, open, closed } = await setup();
  await assert.rejects(allocateAttachment(store, { networkId: closed.ID, containerId: 'c1', nodeId: 'n1' }), /network closed not manually attachable/);
  await assert.rejects(allocateAttachment(store, { networkId: 'nope', containerId: 'c1', nodeId: 'n1' }), /not found/);
  const alloc = createTaskAllocator(store);
  try {
    await allocateAttachment(store, { networkId: open.ID, containerId: 'c1', nodeId: 'n1' });
    await new Promise((r) => setTimeout(r, 10));
    const t: Task = {
      ID: 't1', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', ServiceID: 'none', DesiredState: 'running',
      Spec: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: open.ID }] }, Status: { Timestamp: '', State: 'new', Message: '' },
    };
    const out = await alloc.allocateTask(t);
    assert.deepEqual(out.NetworksAttachments?.map((x) => x.Addresses[0]), ['10.0.1.3/24']);
  } finally {
    alloc.close();
  }
});

const overlay = (ID: string, Internal = false): ClusterNetwork => ({
  ID, Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '',
  Spec: { Name: ID, DriverConfiguration: { Name: 'overlay' }, Internal },
  DriverState: { Name: 'overlay', Options: {} },
  IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] },
});

test("a task on overlays also joins the node's default bridge, unless every overlay is internal or it has none", () => {
  const task = (networks: ClusterNetwork[]): Task => ({
    ID: 't1', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', ServiceID: 's1', Slot: 1, NodeID: 'n1', DesiredState: 'running',
    Status: { Timestamp: '', State: 'assigned', Message: '' }, Spec: { ContainerSpec: { Image: 'busybox' } },
    NetworksAttachments: networks.map((Network, i) => ({ Network, Addresses: [`10.0.${i + 1}.5/24`] })),
  });
  const local = (id: string) => id;
  const req = containerCreateRequest(task([overlay('front'), overlay('back', true)]), { Hostname: 'h' }, local, 'bridge');
  assert.equal(req.hostConfig.NetworkMode, 'front', 'the first overlay stays the primary network');
  assert.deepEqual(Object.keys(req.networkingConfig!.EndpointsConfig!), ['front', 'back', 'bridge']);
  assert.deepEqual(req.networkingConfig!.EndpointsConfig!.bridge, {});
  assert.deepEqual(Object.keys(containerCreateRequest(task([overlay('back', true)]), { Hostname: 'h' }, local, 'bridge').networkingConfig!.EndpointsConfig!), ['back']);
  assert.equal(containerCreateRequest(task([]), { Hostname: 'h' }, local, 'bridge').networkingConfig, undefined);
  assert.deepEqual(Object.keys(containerCreateRequest(task([overlay('front')]), { Hostname: 'h' }, local).networkingConfig!.EndpointsConfig!), ['front'], 'a node without a default bridge');
});
