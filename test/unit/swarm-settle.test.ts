import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { waitNodeSettled } from '../../src/swarm/manager/settle.js';
import type { SwarmNode } from '../../src/swarm/types.js';

const node = (): SwarmNode =>
  ({
    ID: 'n1', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '',
    Spec: { Role: 'manager', Availability: 'active', Labels: {} },
    Status: { State: 'ready', Addr: '127.0.0.1' },
    ManagerStatus: { Reachability: 'reachable', Addr: '127.0.0.1:2377' },
  }) as unknown as SwarmNode;

test('init waits until the leader has marked its node, so the version a client reads next stays current', async () => {
  const store = memorySwarmStore();
  await store.nodes.create(node());
  const started = Date.now();
  setTimeout(() => void store.nodes.modify('n1', (n) => ({ ...n, ManagerStatus: { ...n.ManagerStatus!, Leader: true } })), 150);
  assert.equal(await waitNodeSettled(store, 'n1', { timeoutMs: 3_000 }), true);
  assert.ok(Date.now() - started >= 140, 'it waited for the write');
  const after = await store.nodes.get('n1');
  assert.equal(after!.ManagerStatus!.Leader, true);
});

test('the wait is bounded and never fails: a node never marked (or gone) gives up after the time limit', async () => {
  const store = memorySwarmStore();
  await store.nodes.create(node());
  const started = Date.now();
  assert.equal(await waitNodeSettled(store, 'n1', { timeoutMs: 200 }), false);
  assert.ok(Date.now() - started < 1_000);
  assert.equal(await waitNodeSettled(store, 'gone', { timeoutMs: 100 }), false);
});
