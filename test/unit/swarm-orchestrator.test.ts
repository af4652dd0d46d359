import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { TestCluster, wanted } from './swarm-orchestrator-helpers.js';

let cluster: TestCluster;
afterEach(async () => cluster?.stop());

describe('replicated services', () => {
  it('makes Replicas tasks in slots 1..N, allocated, and spreads them over the ready nodes', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.addNode('n2');
    const svc = await cluster.createService('web', { Mode: { Replicated: { Replicas: 4 } } });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'assigned').length === 4);
    const tasks = await cluster.tasks(svc.ID);
    assert.deepEqual(tasks.map((t) => t.Slot), [1, 2, 3, 4]);
    assert.equal(tasks.filter((t) => t.NodeID === 'n1').length, 2);
    assert.equal(tasks.filter((t) => t.NodeID === 'n2').length, 2);
    for (const t of tasks) {
      assert.equal(t.ID.length, 25);
      assert.match(t.ID, /^[0-9a-z]{25}$/);
      assert.equal(t.DesiredState, 'running');
      assert.equal(t.Status.Message, 'scheduler assigned task to node');
      assert.deepEqual(t.Spec, svc.Spec.TaskTemplate);
      assert.equal(t.BerthService?.Name, 'web');
      assert.ok(cluster.allocator.allocated.has(t.ID));
    }
  });

  it('scales up into free slots and down from the highest, busiest ones', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    const svc = await cluster.createService('web', { Mode: { Replicated: { Replicas: 3 } } });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'running').length === 3, { agent: true });
    await cluster.store.services.modify(svc.ID, (s) => ({ ...s, Spec: { ...s.Spec, Mode: { Replicated: { Replicas: 1 } } } }));
    await cluster.until(async () => (await cluster.tasks(svc.ID)).length === 1, { agent: true });
    assert.deepEqual((await cluster.tasks(svc.ID)).map((t) => t.Slot), [1]);
    await cluster.store.services.modify(svc.ID, (s) => ({ ...s, Spec: { ...s.Spec, Mode: { Replicated: { Replicas: 2 } } } }));
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'running').length === 2, { agent: true });
    assert.deepEqual((await cluster.tasks(svc.ID)).map((t) => t.Slot), [1, 2]);
  });

  it('leaves tasks pending with swarmkit\'s reason when no node fits', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.addNode('n2');
    await cluster.addNode('n3', { state: 'down' });
    const svc = await cluster.createService('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Placement: { Constraints: ['node.labels.zone==east'] } } });
    await cluster.start();
    await cluster.until(async () => !!(await cluster.tasks(svc.ID))[0]?.Status.Err);
    const [t] = await cluster.tasks(svc.ID);
    assert.equal(t!.Status.State, 'pending');
    assert.equal(t!.Status.Message, 'pending task scheduling');
    assert.equal(t!.Status.Err, 'no suitable node (scheduling constraints not satisfied on 2 nodes; 1 node not available for new tasks)');
    await cluster.setNode('n2', (n) => ({ ...n, Spec: { ...n.Spec, Labels: { zone: 'east' } } }));
    await cluster.until(async () => (await cluster.tasks(svc.ID))[0]?.NodeID === 'n2');
  });

  it('removes every task of a removed service once they stopped', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    const svc = await cluster.createService('web', { Mode: { Replicated: { Replicas: 2 } } });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'running').length === 2, { agent: true });
    const ids = (await cluster.tasks(svc.ID)).map((t) => t.ID);
    await cluster.store.services.delete(svc.ID);
    await cluster.until(async () => (await cluster.tasks()).every((t) => t.DesiredState === 'remove'));
    assert.equal((await cluster.tasks()).length, 2, 'running tasks are kept until they stop');
    await cluster.until(async () => (await cluster.tasks()).length === 0, { agent: true });
    assert.deepEqual([...cluster.allocator.released].sort(), ids.sort());
  });

  it('a new leader picks up an existing service without making extra tasks', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    const svc = await cluster.createService('web', { Mode: { Replicated: { Replicas: 2 } } });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'running').length === 2, { agent: true });
    await cluster.stop();
    await cluster.start();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await cluster.tasks(svc.ID)).filter(wanted).length, 2);
  });
});
