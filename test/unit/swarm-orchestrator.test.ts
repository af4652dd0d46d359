import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MirrorTable } from '../../src/swarm/orchestrator/mirror.js';
import { SECOND_NS, TestCluster, wanted } from './swarm-orchestrator-helpers.js';

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

const fastRestart = (extra: Record<string, unknown> = {}) => ({ ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Delay: 0.05 * SECOND_NS, ...extra } });

describe('restart policy', () => {
  it('replaces a failed task in the same slot after Delay, the old one shut down', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    const svc = await cluster.createService('web', { TaskTemplate: fastRestart({ Delay: 0.3 * SECOND_NS }) });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID))[0]?.Status.State === 'running', { agent: true });
    const [first] = await cluster.tasks(svc.ID);
    await cluster.report(first!.ID, 'failed', 'task: non-zero exit (1)');
    await cluster.until(async () => (await cluster.tasks(svc.ID)).length === 2);
    const failedAt = Date.now();
    const replacement = (await cluster.tasks(svc.ID)).find((t) => t.ID !== first!.ID)!;
    assert.equal(replacement.Slot, 1);
    assert.equal(replacement.DesiredState, 'ready', 'waits out the restart delay');
    assert.equal((await cluster.store.tasks.get(first!.ID))!.DesiredState, 'shutdown');
    await cluster.until(async () => (await cluster.store.tasks.get(replacement.ID))!.DesiredState === 'running');
    assert.ok(Date.now() - failedAt >= 200, 'the delay was kept');
  });

  it('on-failure restarts failures but not completions; none never restarts', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    const onFailure = await cluster.createService('a', { TaskTemplate: fastRestart({ Condition: 'on-failure' }) });
    const none = await cluster.createService('b', { TaskTemplate: fastRestart({ Condition: 'none' }) });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks()).filter((t) => t.Status.State === 'running').length === 2, { agent: true });
    const [a] = await cluster.tasks(onFailure.ID);
    const [b] = await cluster.tasks(none.ID);
    await cluster.report(a!.ID, 'complete');
    await cluster.report(b!.ID, 'failed');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await cluster.tasks(onFailure.ID)).length, 1, 'a completed task is not restarted on-failure');
    assert.equal((await cluster.tasks(none.ID)).length, 1, 'condition none: no new task, and the slot is not refilled');
    const svc2 = await cluster.createService('c', { TaskTemplate: fastRestart({ Condition: 'on-failure' }) });
    await cluster.until(async () => (await cluster.tasks(svc2.ID))[0]?.Status.State === 'running', { agent: true });
    await cluster.report((await cluster.tasks(svc2.ID))[0]!.ID, 'failed');
    await cluster.until(async () => (await cluster.tasks(svc2.ID)).length === 2);
  });

  it('stops after MaxAttempts restarts', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    const svc = await cluster.createService('web', { TaskTemplate: fastRestart({ MaxAttempts: 2, Delay: 0 }) });
    await cluster.start();
    for (let i = 0; i < 3; i++) {
      await cluster.until(async () => (await cluster.tasks(svc.ID)).some((t) => t.Status.State === 'running'), { agent: true });
      const running = (await cluster.tasks(svc.ID)).find((t) => t.Status.State === 'running')!;
      // A service write that leaves the task spec alone does not start the count over.
      await cluster.store.services.modify(svc.ID, (s) => ({ ...s, Spec: { ...s.Spec, Labels: { round: String(i) } } }));
      await cluster.report(running.ID, 'failed');
    }
    await new Promise((r) => setTimeout(r, 300));
    const tasks = await cluster.tasks(svc.ID);
    assert.equal(tasks.length, 3, 'the first task and two restarts');
    assert.ok(tasks.every((t) => t.Status.State === 'failed'));
  });

  it('keeps TaskHistoryRetentionLimit tasks per slot, deleting the oldest dead ones', async () => {
    cluster = new TestCluster();
    await cluster.store.cluster.create({ ID: 'c1', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { Orchestration: { TaskHistoryRetentionLimit: 2 } } } as never);
    await cluster.addNode('n1');
    const svc = await cluster.createService('web', { TaskTemplate: fastRestart({ Delay: 0 }) });
    await cluster.start();
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      await cluster.until(async () => (await cluster.tasks(svc.ID)).some((t) => t.Status.State === 'running'), { agent: true });
      const running = (await cluster.tasks(svc.ID)).find((t) => t.Status.State === 'running')!;
      seen.push(running.ID);
      await cluster.report(running.ID, 'failed');
    }
    await cluster.until(async () => {
      const tasks = await cluster.tasks(svc.ID);
      return tasks.length === 2 && tasks.some((t) => t.Status.State === 'running');
    }, { agent: true });
    const left = (await cluster.tasks(svc.ID)).map((t) => t.ID);
    assert.ok(!left.includes(seen[0]!) && !left.includes(seen[1]!) && !left.includes(seen[2]!));
    assert.ok(cluster.allocator.released.includes(seen[0]!));
  });
});

describe('node failures and availability', () => {
  it('moves the tasks of a node that goes down to the other nodes, and marks them orphaned later', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.addNode('n2');
    const svc = await cluster.createService('web', { Mode: { Replicated: { Replicas: 4 } }, TaskTemplate: fastRestart() });
    await cluster.start({ orphanAfterMs: 300 });
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'running').length === 4, { agent: true });
    cluster.live.set('n2', 'down');
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => wanted(t) && t.Status.State === 'running' && t.NodeID === 'n1').length === 4, { agent: true });
    const onN2 = (await cluster.tasks(svc.ID)).filter((t) => t.NodeID === 'n2');
    assert.equal(onN2.length, 2);
    assert.ok(onN2.every((t) => t.DesiredState === 'shutdown'));
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.NodeID === 'n2').every((t) => t.Status.State === 'orphaned'));
  });

  it('drain moves tasks off at once; pause only stops new ones', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.addNode('n2');
    const svc = await cluster.createService('web', { Mode: { Replicated: { Replicas: 2 } }, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'running').length === 2, { agent: true });
    await cluster.setNode('n2', (n) => ({ ...n, Spec: { ...n.Spec, Availability: 'pause' } }));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await cluster.tasks(svc.ID)).filter((t) => t.NodeID === 'n2' && wanted(t)).length, 1, 'pause keeps running tasks');
    await cluster.setNode('n2', (n) => ({ ...n, Spec: { ...n.Spec, Availability: 'drain' } }));
    // The default restart delay (5 s) does not apply to a drain.
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => wanted(t) && t.NodeID === 'n1' && t.Status.State === 'running').length === 2, { agent: true, ms: 2000 });
  });
});

describe('global services', () => {
  it('runs one task per eligible node and follows nodes joining, draining, going down and constraints', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.addNode('n2', { labels: { disk: 'ssd' } });
    const svc = await cluster.createService('agent', { Mode: { Global: {} } });
    await cluster.start();
    const runningOn = async () => (await cluster.tasks(svc.ID)).filter((t) => wanted(t) && t.Status.State === 'running').map((t) => t.NodeID).sort();
    await cluster.until(async () => (await runningOn()).join() === 'n1,n2', { agent: true });
    const t1 = (await cluster.tasks(svc.ID)).find((t) => t.NodeID === 'n1')!;
    assert.equal(t1.Slot, undefined);
    await cluster.addNode('n3');
    await cluster.until(async () => (await runningOn()).join() === 'n1,n2,n3', { agent: true });
    await cluster.setNode('n3', (n) => ({ ...n, Spec: { ...n.Spec, Availability: 'drain' } }));
    await cluster.until(async () => (await runningOn()).join() === 'n1,n2', { agent: true });
    cluster.live.set('n1', 'down');
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.NodeID === 'n1').every((t) => t.DesiredState === 'shutdown'));
    cluster.live.set('n1', 'ready');
    await cluster.until(async () => (await runningOn()).join() === 'n1,n2', { agent: true });
    await cluster.store.services.modify(svc.ID, (s) => ({ ...s, Spec: { ...s.Spec, TaskTemplate: { ...s.Spec.TaskTemplate, Placement: { Constraints: ['node.labels.disk==ssd'] } } } }));
    await cluster.until(async () => (await runningOn()).join() === 'n2', { agent: true });
  });

  it('a paused node gets a pending task that waits', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1', { availability: 'pause' });
    const svc = await cluster.createService('agent', { Mode: { Global: {} } });
    await cluster.start();
    await cluster.until(async () => !!(await cluster.tasks(svc.ID))[0]?.Status.Err);
    const [t] = await cluster.tasks(svc.ID);
    assert.equal(t!.Status.State, 'pending');
    assert.equal(t!.Status.Err, 'no suitable node (1 node not available for new tasks)');
    await cluster.setNode('n1', (n) => ({ ...n, Spec: { ...n.Spec, Availability: 'active' } }));
    await cluster.until(async () => (await cluster.tasks(svc.ID))[0]?.Status.State === 'assigned');
    assert.equal((await cluster.tasks(svc.ID))[0]!.Status.Message, 'scheduler confirmed task can run on preassigned node');
  });
});

describe('jobs', () => {
  it('a replicated job runs TotalCompletions tasks, MaxConcurrent at a time, and completed tasks stay', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    const svc = await cluster.createService('job', { Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } }, TaskTemplate: fastRestart() });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'assigned').length === 2);
    const first = await cluster.tasks(svc.ID);
    assert.equal(first.length, 2);
    assert.ok(first.every((t) => t.DesiredState === 'complete'));
    for (let done = 0; done < 5;) {
      const active = (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'assigned');
      assert.ok(active.length <= 2);
      for (const t of active) {
        await cluster.report(t.ID, 'complete');
        done++;
      }
      if (done < 5) await cluster.until(async () => (await cluster.tasks(svc.ID)).some((t) => t.Status.State === 'assigned'));
    }
    await new Promise((r) => setTimeout(r, 200));
    const tasks = await cluster.tasks(svc.ID);
    assert.equal(tasks.length, 5);
    assert.ok(tasks.every((t) => t.Status.State === 'complete'));
    assert.deepEqual(tasks.map((t) => t.Slot), [0, 1, 2, 3, 4]);
  });

  it('a failed job task is retried; a global job runs once per node', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.addNode('n2');
    const job = await cluster.createService('job', { Mode: { ReplicatedJob: {} }, TaskTemplate: fastRestart() });
    const gjob = await cluster.createService('gjob', { Mode: { GlobalJob: {} }, TaskTemplate: fastRestart() });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks()).filter((t) => t.Status.State === 'assigned').length === 3);
    const [j] = await cluster.tasks(job.ID);
    await cluster.report(j!.ID, 'failed');
    await cluster.until(async () => (await cluster.tasks(job.ID)).some((t) => t.Status.State === 'assigned' && t.DesiredState === 'complete'));
    for (const t of await cluster.tasks(gjob.ID)) await cluster.report(t.ID, 'complete');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await cluster.tasks(gjob.ID)).length, 2);
  });
});

describe('job iterations', () => {
  it('a new JobIteration (service update) runs the job again; the old completed tasks stay', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    const svc = await cluster.createService('job', { Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } } });
    await cluster.store.services.modify(svc.ID, (s) => ({ ...s, JobStatus: { JobIteration: { Index: 0 } } }));
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID))[0]?.Status.State === 'assigned');
    await cluster.report((await cluster.tasks(svc.ID))[0]!.ID, 'complete');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await cluster.tasks(svc.ID)).length, 1);
    await cluster.store.services.modify(svc.ID, (s) => ({ ...s, JobStatus: { JobIteration: { Index: 1 } } }));
    await cluster.until(async () => (await cluster.tasks(svc.ID)).some((t) => t.Status.State === 'assigned' && t.JobIteration?.Index === 1));
    const tasks = await cluster.tasks(svc.ID);
    assert.equal(tasks.length, 2);
    assert.equal(tasks.filter((t) => t.Status.State === 'complete').length, 1);
  });
});

describe('constraint enforcement', () => {
  it('moves a task off a node whose labels no longer satisfy its constraints', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1', { labels: { tier: 'web' } });
    await cluster.addNode('n2', { labels: { tier: 'web' } });
    const svc = await cluster.createService('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Placement: { Constraints: ['node.labels.tier==web'] }, RestartPolicy: { Delay: 0 } } });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID))[0]?.Status.State === 'running', { agent: true });
    const [first] = await cluster.tasks(svc.ID);
    const other = first!.NodeID === 'n1' ? 'n2' : 'n1';
    await cluster.setNode(first!.NodeID!, (n) => ({ ...n, Spec: { ...n.Spec, Labels: {} } }));
    await cluster.until(async () => (await cluster.tasks(svc.ID)).some((t) => wanted(t) && t.NodeID === other && t.Status.State === 'running'), { agent: true });
    assert.equal((await cluster.store.tasks.get(first!.ID))!.DesiredState, 'shutdown');
  });
});

describe('the leader\'s mirror of the store', () => {
  const obj = (ID: string, Index: number) => ({ ID, Version: { Index }, CreatedAt: '', UpdatedAt: '' });

  it('ignores stale events and never brings a deleted object back', () => {
    const table = new MirrorTable<ReturnType<typeof obj>>();
    table.put(obj('a', 5));
    table.apply({ type: 'put', object: obj('a', 3) });
    assert.equal(table.get('a')!.Version.Index, 5);
    table.remove(obj('a', 5));
    table.put(obj('a', 7));
    assert.equal(table.get('a'), undefined);
  });

  it('a full listing adds what a watch missed and drops what it deleted, but keeps newer objects', () => {
    const table = new MirrorTable<ReturnType<typeof obj>>();
    table.put(obj('gone', 2));
    table.put(obj('newer', 9));
    assert.equal(table.resync([obj('missed', 4), obj('kept', 6)]), true);
    assert.deepEqual(table.values().map((o) => o.ID).sort(), ['kept', 'missed', 'newer']);
    assert.equal(table.resync([obj('missed', 4), obj('kept', 6), obj('newer', 9)]), false);
  });
});

describe('leadership', () => {
  it('stop() ends the loops: no more writes after it resolves', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.start();
    await cluster.stop();
    const svc = await cluster.createService('late', { Mode: { Replicated: { Replicas: 2 } } });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await cluster.tasks(svc.ID)).length, 0);
  });
});

describe('node liveness sources', () => {
  it('a node the dispatcher has no state for counts by its stored status', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.addNode('n2');
    const svc = await cluster.createService('web', { Mode: { Replicated: { Replicas: 2 } }, TaskTemplate: { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Delay: 0 } } });
    await cluster.start();
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => t.Status.State === 'running').length === 2, { agent: true });
    cluster.live.delete('n2');
    await cluster.setNode('n2', (n) => ({ ...n, Status: { ...n.Status, State: 'down' } }));
    await cluster.until(async () => (await cluster.tasks(svc.ID)).filter((t) => wanted(t) && t.NodeID === 'n1' && t.Status.State === 'running').length === 2, { agent: true });
  });
});
