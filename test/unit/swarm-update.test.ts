import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Service, ServiceSpec, Task } from '../../src/swarm/types.js';
import { SECOND_NS, TestCluster, wanted } from './swarm-orchestrator-helpers.js';

let cluster: TestCluster;
afterEach(async () => cluster?.stop());

const imageOf = (t: Task) => t.Spec.ContainerSpec?.Image;
const withImage = (image: string) => (spec: ServiceSpec): ServiceSpec => ({ ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { Image: image } } });

async function service(c: TestCluster, id: string): Promise<Service> {
  return (await c.store.services.get(id))!;
}

async function runningImages(c: TestCluster, serviceId: string): Promise<string[]> {
  return (await c.tasks(serviceId)).filter((t) => wanted(t) && t.Status.State === 'running').map((t) => imageOf(t)!).sort();
}

async function setUp(replicas: number, extra: Partial<ServiceSpec> = {}): Promise<Service> {
  cluster = new TestCluster();
  await cluster.addNode('n1');
  await cluster.addNode('n2');
  const svc = await cluster.createService('web', {
    Mode: { Replicated: { Replicas: replicas } },
    TaskTemplate: { ContainerSpec: { Image: 'v1' }, RestartPolicy: { Delay: 0.05 * SECOND_NS } },
    ...extra,
  });
  await cluster.start();
  await cluster.until(async () => (await runningImages(cluster, svc.ID)).length === replicas, { agent: true });
  return svc;
}

const fast = { Monitor: 0.1 * SECOND_NS };

describe('rolling update', () => {
  it('stop-first, one at a time: UpdateStatus as dockerd shows it, never more than one slot down', async () => {
    const svc = await setUp(4, { UpdateConfig: { ...fast, Parallelism: 1 } });
    cluster.runningSamples.length = 0;
    await cluster.updateService(svc.ID, withImage('v2'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'updating', { agent: true });
    const st = (await service(cluster, svc.ID)).UpdateStatus!;
    assert.equal(st.Message, 'update in progress');
    assert.ok(st.StartedAt);
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    const done = (await service(cluster, svc.ID)).UpdateStatus!;
    assert.equal(done.Message, 'update completed');
    assert.ok(done.CompletedAt);
    assert.deepEqual(await runningImages(cluster, svc.ID), ['v2', 'v2', 'v2', 'v2']);
    assert.ok(cluster.runningSamples.every((s) => (s.get(svc.ID) ?? 0) >= 3), 'parallelism 1 takes down one slot at a time');
    const slots = (await cluster.tasks(svc.ID)).filter((t) => wanted(t)).map((t) => t.Slot).sort();
    assert.deepEqual(slots, [1, 2, 3, 4], 'new tasks take the old tasks\' slots');
  });

  it('start-first never runs fewer tasks than the replicas', async () => {
    const svc = await setUp(3, { UpdateConfig: { ...fast, Parallelism: 2, Order: 'start-first' } });
    cluster.runningSamples.length = 0;
    await cluster.updateService(svc.ID, withImage('v2'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    assert.deepEqual(await runningImages(cluster, svc.ID), ['v2', 'v2', 'v2']);
    assert.ok(cluster.runningSamples.every((s) => (s.get(svc.ID) ?? 0) >= 3));
    assert.ok(cluster.runningSamples.some((s) => (s.get(svc.ID) ?? 0) > 3), 'new tasks ran beside the old ones');
  });

  it('Parallelism 0 replaces every slot at once; ForceUpdate alone replaces every task', async () => {
    const svc = await setUp(3, { UpdateConfig: { ...fast, Parallelism: 0 } });
    cluster.runningSamples.length = 0;
    const before = (await cluster.tasks(svc.ID)).map((t) => t.ID);
    await cluster.updateService(svc.ID, (spec) => ({ ...spec, TaskTemplate: { ...spec.TaskTemplate, ForceUpdate: 1 } }));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    const now = (await cluster.tasks(svc.ID)).filter((t) => wanted(t) && t.Status.State === 'running');
    assert.equal(now.length, 3);
    assert.ok(now.every((t) => !before.includes(t.ID)));
    assert.ok(cluster.runningSamples.some((s) => (s.get(svc.ID) ?? 0) === 0), 'all three were down together');
  });

  it('a change of constraints that the tasks\' nodes still satisfy replaces nothing', async () => {
    const svc = await setUp(2);
    const before = (await cluster.tasks(svc.ID)).map((t) => t.ID).sort();
    await cluster.updateService(svc.ID, (spec) => ({ ...spec, TaskTemplate: { ...spec.TaskTemplate, Placement: { Constraints: ['node.role==worker'] } } }));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await cluster.tasks(svc.ID)).map((t) => t.ID).sort(), before);
  });

  it('FailureAction pause stops at the first failing task and says which', async () => {
    const svc = await setUp(3, { UpdateConfig: { ...fast, FailureAction: 'pause' } });
    cluster.failing = (t) => imageOf(t) === 'bad';
    await cluster.updateService(svc.ID, withImage('bad'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'paused', { agent: true, ms: 15000 });
    const st = (await service(cluster, svc.ID)).UpdateStatus!;
    const failed = (await cluster.tasks(svc.ID)).find((t) => imageOf(t) === 'bad' && t.Status.State === 'failed')!;
    assert.equal(st.Message, `update paused due to failure or early termination of task ${failed.ID}`);
    await new Promise((r) => setTimeout(r, 300));
    await cluster.agentStep();
    assert.equal((await runningImages(cluster, svc.ID)).filter((i) => i === 'v1').length, 2, 'the other slots are left alone');
  });

  it('FailureAction rollback returns to the previous spec with RollbackConfig and says rollback completed', async () => {
    const svc = await setUp(2, { UpdateConfig: { ...fast, FailureAction: 'rollback' }, RollbackConfig: { ...fast, Order: 'start-first' } });
    cluster.failing = (t) => imageOf(t) === 'bad';
    await cluster.updateService(svc.ID, withImage('bad'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'rollback_started', { agent: true, ms: 15000 });
    assert.match((await service(cluster, svc.ID)).UpdateStatus!.Message!, /^update rolled back due to failure or early termination of task [0-9a-z]{25}$/);
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'rollback_completed', { agent: true, ms: 15000 });
    const s = await service(cluster, svc.ID);
    assert.equal(s.UpdateStatus!.Message, 'rollback completed');
    assert.equal(s.Spec.TaskTemplate.ContainerSpec?.Image, 'v1');
    assert.deepEqual(await runningImages(cluster, svc.ID), ['v1', 'v1']);
  });

  it('a rollback that fails too pauses as rollback_paused', async () => {
    const svc = await setUp(2, { UpdateConfig: { ...fast, FailureAction: 'rollback' }, RollbackConfig: { ...fast, FailureAction: 'pause' } });
    cluster.failing = (t) => imageOf(t) === 'bad' || imageOf(t) === 'v1';
    await cluster.updateService(svc.ID, withImage('bad'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'rollback_paused', { agent: true, ms: 15000 });
    assert.match((await service(cluster, svc.ID)).UpdateStatus!.Message!, /^rollback paused due to failure or early termination of task [0-9a-z]{25}$/);
  });

  it('a requested start-first rollback never kills healthy tasks before their replacements run (moby#43081)', async () => {
    const svc = await setUp(3, { UpdateConfig: fast, RollbackConfig: { ...fast, Order: 'start-first', Parallelism: 0 } });
    await cluster.updateService(svc.ID, withImage('v2'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    cluster.runningSamples.length = 0;
    // What the API does for ?rollback=previous.
    await cluster.store.services.modify(svc.ID, (s) => ({
      ...s, Spec: s.PreviousSpec!, PreviousSpec: s.Spec,
      UpdateStatus: { State: 'rollback_started', StartedAt: new Date().toISOString(), Message: 'manually requested rollback' },
    }));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'rollback_completed', { agent: true, ms: 15000 });
    assert.deepEqual(await runningImages(cluster, svc.ID), ['v1', 'v1', 'v1']);
    assert.ok(cluster.runningSamples.every((s) => (s.get(svc.ID) ?? 0) >= 3));
  });

  it('a global service updates node by node', async () => {
    cluster = new TestCluster();
    await cluster.addNode('n1');
    await cluster.addNode('n2');
    const svc = await cluster.createService('g', { Mode: { Global: {} }, TaskTemplate: { ContainerSpec: { Image: 'v1' } }, UpdateConfig: fast });
    await cluster.start();
    await cluster.until(async () => (await runningImages(cluster, svc.ID)).length === 2, { agent: true });
    await cluster.updateService(svc.ID, withImage('v2'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    assert.deepEqual(await runningImages(cluster, svc.ID), ['v2', 'v2']);
    const nodes = (await cluster.tasks(svc.ID)).filter((t) => wanted(t)).map((t) => t.NodeID).sort();
    assert.deepEqual(nodes, ['n1', 'n2']);
  });

  it('waits Delay between slots', async () => {
    const svc = await setUp(3, { UpdateConfig: { ...fast, Delay: 0.2 * SECOND_NS } });
    const started = Date.now();
    await cluster.updateService(svc.ID, withImage('v2'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    assert.ok(Date.now() - started >= 400, 'two delays between three slots');
    assert.deepEqual(await runningImages(cluster, svc.ID), ['v2', 'v2', 'v2']);
  });

  it('FailureAction continue goes on through failures; MaxFailureRatio tolerates some before pausing', async () => {
    const svc = await setUp(2, { UpdateConfig: { ...fast, FailureAction: 'continue' } });
    cluster.failing = (t) => imageOf(t) === 'bad';
    await cluster.updateService(svc.ID, withImage('bad'));
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    assert.ok((await cluster.tasks(svc.ID)).filter((t) => wanted(t)).every((t) => imageOf(t) === 'bad'));
    await cluster.stop();

    const svc2 = await setUp(4, { UpdateConfig: { ...fast, FailureAction: 'pause', MaxFailureRatio: 0.5 } });
    let failures = 0;
    cluster.failing = (t) => imageOf(t) === 'flaky' && t.Slot === 1 && failures++ < 1;
    await cluster.updateService(svc2.ID, withImage('flaky'));
    await cluster.until(async () => (await service(cluster, svc2.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    assert.deepEqual(await runningImages(cluster, svc2.ID), ['flaky', 'flaky', 'flaky', 'flaky']);
  });
});

describe('leader change', () => {
  it('a new leader finishes an update the old one started', async () => {
    const svc = await setUp(4, { UpdateConfig: { ...fast, Delay: 0.1 * SECOND_NS } });
    await cluster.updateService(svc.ID, withImage('v2'));
    await cluster.until(async () => (await runningImages(cluster, svc.ID)).includes('v2'), { agent: true });
    await cluster.stop();
    cluster.runningSamples.length = 0;
    await cluster.start();
    await cluster.until(async () => (await service(cluster, svc.ID)).UpdateStatus?.State === 'completed', { agent: true, ms: 15000 });
    assert.deepEqual(await runningImages(cluster, svc.ID), ['v2', 'v2', 'v2', 'v2']);
    assert.equal((await cluster.tasks(svc.ID)).filter(wanted).length, 4);
    assert.ok(cluster.runningSamples.every((s) => (s.get(svc.ID) ?? 0) >= 3));
  });
});
