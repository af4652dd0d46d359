import { test } from 'node:test';
import assert from 'node:assert/strict';
import { project, load } from './compose-helpers.js';
import { buildGraph, dependencyOrder, dependentsOf, walkGraph, forEachLimited } from '../../src/compose/engine/graph.js';
import { planService, serviceScale, restartDependents, orphans, mustRecreate } from '../../src/compose/engine/plan.js';
import { LABEL } from '../../src/compose/engine/labels.js';
import { canonicalName, type ContainerSummary } from '../../src/compose/engine/containers.js';
import { plainLine, createProgress } from '../../src/compose/engine/progress.js';
import { ttyLine } from '../../src/compose/engine/progress-tty.js';
import { logName } from '../../src/compose/engine/up.js';

const YAML = `
services:
  db:
    image: busybox
  cache:
    image: busybox
  web:
    image: busybox
    depends_on:
      db: {condition: service_healthy, restart: true}
      cache: {condition: service_started}
  worker:
    image: busybox
    depends_on: [web]
  lone:
    image: busybox
`;

function fixture() {
  return load(project({ 'compose.yaml': YAML }, 'plan')).project;
}

function container(n: number, hash: string, opts: { state?: string; image?: string; service?: string } = {}): ContainerSummary {
  return {
    Id: `id${n}${hash}`.padEnd(64, '0'),
    Names: [`/p-${opts.service ?? 'web'}-${n}`],
    Image: 'busybox',
    State: opts.state ?? 'running',
    Labels: {
      [LABEL.service]: opts.service ?? 'web',
      [LABEL.containerNumber]: String(n),
      [LABEL.configHash]: hash,
      ...(opts.image ? { [LABEL.image]: opts.image } : {}),
    },
  };
}

test('dependency order puts dependencies first; ties by name', () => {
  const order = dependencyOrder(buildGraph(fixture()));
  assert.ok(order.indexOf('db') < order.indexOf('web'));
  assert.ok(order.indexOf('cache') < order.indexOf('web'));
  assert.ok(order.indexOf('web') < order.indexOf('worker'));
  assert.deepEqual(order.slice(0, 3), ['cache', 'db', 'lone']);
});

test('a selection pulls in its dependencies unless --no-deps', () => {
  const p = fixture();
  assert.deepEqual([...buildGraph(p, ['worker']).deps.keys()].sort(), ['cache', 'db', 'web', 'worker']);
  assert.deepEqual([...buildGraph(p, ['worker'], true).deps.keys()], ['worker']);
  assert.deepEqual([...dependentsOf(buildGraph(p), 'db')].sort(), ['web', 'worker']);
});

test('walkGraph runs independent services at once and waits for dependencies', async () => {
  const graph = buildGraph(fixture());
  const started: string[] = [];
  const finished = new Set<string>();
  let concurrent = 0;
  let maxConcurrent = 0;
  await walkGraph(graph, async (s) => {
    for (const d of graph.deps.get(s)!) assert.ok(finished.has(d), `${s} started before ${d} finished`);
    started.push(s);
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    await new Promise((r) => setTimeout(r, 20));
    concurrent--;
    finished.add(s);
  });
  assert.equal(started.length, 5);
  assert.equal(maxConcurrent, 3); // cache, db and lone together
});

test('walkGraph respects --parallel and walks in reverse for stop/down', async () => {
  const graph = buildGraph(fixture());
  let concurrent = 0;
  let maxConcurrent = 0;
  const order: string[] = [];
  await walkGraph(
    graph,
    async (s) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise((r) => setTimeout(r, 5));
      order.push(s);
      concurrent--;
    },
    { parallel: 1, reverse: true },
  );
  assert.equal(maxConcurrent, 1);
  assert.ok(order.indexOf('worker') < order.indexOf('web'));
  assert.ok(order.indexOf('web') < order.indexOf('db'));
});

test('walkGraph stops scheduling after a failure and reports it', async () => {
  const graph = buildGraph(fixture());
  const ran: string[] = [];
  await assert.rejects(
    walkGraph(graph, async (s) => {
      ran.push(s);
      if (s === 'db') throw new Error('db failed');
    }),
    /db failed/,
  );
  assert.ok(!ran.includes('web') && !ran.includes('worker'));
});

test('forEachLimited keeps to its limit and reports the first failure', async () => {
  let concurrent = 0;
  let max = 0;
  await forEachLimited([1, 2, 3, 4, 5], 2, async () => {
    concurrent++;
    max = Math.max(max, concurrent);
    await new Promise((r) => setTimeout(r, 5));
    concurrent--;
  });
  assert.equal(max, 2);
  await assert.rejects(forEachLimited([1, 2], -1, async (n) => { if (n === 2) throw new Error('two'); }), /two/);
});

test('scale: --scale over scale over deploy.replicas over 1', () => {
  const svc = { name: 'x', environment: {}, ports: [], volumes: [], networks: {}, depends_on: {}, labels: {} };
  assert.equal(serviceScale(svc), 1);
  assert.equal(serviceScale({ ...svc, deploy: { replicas: 2 } }), 2);
  assert.equal(serviceScale({ ...svc, scale: 3, deploy: { replicas: 2 } }), 3);
  assert.equal(serviceScale({ ...svc, scale: 3 }, 0), 0);
});

test('plan: up to date containers are kept, missing numbers created', () => {
  const plan = planService([container(1, 'h')], { expected: 3, configHash: 'h', strategy: 'diverged' });
  assert.deepEqual(plan.keep.map((c) => c.Labels[LABEL.containerNumber]), ['1']);
  assert.deepEqual(plan.create, [2, 3]);
  assert.equal(plan.recreate.length + plan.remove.length, 0);
});

test('plan: a changed config hash or image recreates; --no-recreate and --force-recreate override', () => {
  assert.equal(planService([container(1, 'old')], { expected: 1, configHash: 'new', strategy: 'diverged' }).recreate.length, 1);
  assert.equal(planService([container(1, 'old')], { expected: 1, configHash: 'new', strategy: 'never' }).keep.length, 1);
  assert.equal(planService([container(1, 'h')], { expected: 1, configHash: 'h', strategy: 'force' }).recreate.length, 1);
  const img = container(1, 'h', { image: 'sha256:a' });
  assert.equal(mustRecreate(img, { configHash: 'h', imageId: 'sha256:b', strategy: 'diverged' }), true);
  assert.equal(mustRecreate(img, { configHash: 'h', imageId: 'sha256:a', strategy: 'diverged' }), false);
});

test('plan: scaling down removes obsolete containers first, then the highest numbers', () => {
  const plan = planService([container(1, 'h'), container(2, 'old'), container(3, 'h')], { expected: 1, configHash: 'h', strategy: 'diverged' });
  assert.deepEqual(plan.remove.map((c) => c.Labels[LABEL.containerNumber]).sort(), ['2', '3']);
  assert.deepEqual(plan.keep.map((c) => c.Labels[LABEL.containerNumber]), ['1']);
  assert.deepEqual(plan.create, []);
  const down = planService([container(1, 'h'), container(2, 'h'), container(3, 'h')], { expected: 2, configHash: 'h', strategy: 'diverged' });
  assert.deepEqual(down.remove.map((c) => c.Labels[LABEL.containerNumber]), ['3']);
});

test('only dependents whose depends_on says restart: true follow a recreated dependency', () => {
  const p = fixture();
  assert.equal(restartDependents(p, new Set(['db']), 'web'), true);
  assert.equal(restartDependents(p, new Set(['cache']), 'web'), false);
  assert.equal(restartDependents(p, new Set(['web']), 'worker'), false);
});

test('orphans: containers of services not in the file, one-offs excluded', () => {
  const p = fixture();
  const list = [container(1, 'h'), container(1, 'h', { service: 'gone' }), { ...container(2, 'h', { service: 'gone2' }), Labels: { ...container(2, 'h', { service: 'gone2' }).Labels, [LABEL.oneoff]: 'True' } }];
  assert.deepEqual(orphans(p, list).map(canonicalName), ['p-gone-1']);
});

test('canonical names and log prefixes as docker compose', () => {
  assert.equal(canonicalName({ Id: 'x', Names: ['/other/alias', '/p-web-1'] }), 'p-web-1');
  assert.equal(logName('p', 'p-web-1'), 'web-1');
  assert.equal(logName('p', 'custom'), 'custom');
});

test('plain progress lines and the tty line layout', () => {
  assert.equal(plainLine({ id: 'Container p-web-1', status: 'Started' }), ' Container p-web-1  Started');
  assert.equal(plainLine({ id: 'Network p_default', status: 'Error', text: 'boom' }), ' Network p_default  Error boom');
  const line = ttyLine(
    { id: 'Container p-web-1', status: 'Started', state: 'done', start: 0, end: 300 },
    { now: 1000, width: 60, idWidth: 20, timerWidth: 4, frame: 0, color: false },
  );
  assert.equal(line, ' ✔ Container p-web-1    Started' + ' '.repeat(60 - 31 - 4) + '0.3s');
  assert.equal(line.length, 60);
  const failed = ttyLine({ id: 'Container p-db-1', status: 'Error', state: 'error', start: 0, end: 100 }, { now: 0, width: 50, idWidth: 16, timerWidth: 4, frame: 0, color: false });
  assert.match(failed, /^ ✘ Container p-db-1 Error +0\.1s$/);
});

test('progress modes: plain when not a terminal, quiet prints nothing, tty draws a header', () => {
  let out = '';
  const sink = { write: (s: string) => (out += s), isTTY: false };
  createProgress('', sink).event({ id: 'Container a', status: 'Started', done: true });
  assert.equal(out, ' Container a  Started\n');
  out = '';
  createProgress('quiet', sink).event({ id: 'Container a', status: 'Started' });
  assert.equal(out, '');
  const tty = createProgress('tty', { write: (s: string) => (out += s), isTTY: true, columns: 80 }, { ansi: 'never' });
  tty.event({ id: 'Container a', status: 'Starting' });
  tty.event({ id: 'Container a', status: 'Started', done: true });
  tty.close();
  assert.match(out, /\[\+\] Running 1\/1/);
  assert.match(out, / ✔ Container a Started/);
});

test('a recreated container inherits the old anonymous volumes by target', async () => {
  const { inheritAnonymousVolumes } = await import('../../src/compose/engine/converge.js');
  const body = { HostConfig: { Mounts: [{ Type: 'volume', Target: '/anon' }, { Type: 'volume', Source: 'p_data', Target: '/data' }, { Type: 'tmpfs', Target: '/t' }] } };
  inheritAnonymousVolumes(body, [
    { Type: 'volume', Name: 'a'.repeat(64), Destination: '/anon/' },
    { Type: 'volume', Name: 'p_data', Destination: '/data' },
  ]);
  assert.deepEqual(body.HostConfig.Mounts, [
    { Type: 'volume', Target: '/anon', Source: 'a'.repeat(64) },
    { Type: 'volume', Source: 'p_data', Target: '/data' },
    { Type: 'tmpfs', Target: '/t' },
  ]);
});

test('the tty display counts what does not fit the terminal', () => {
  let out = '';
  const tty = createProgress('tty', { write: (s: string) => (out += s), isTTY: true, columns: 80, rows: 5 }, { ansi: 'never' });
  for (let i = 1; i <= 6; i++) tty.event({ id: `Container p-web-${i}`, status: 'Created', done: true });
  tty.close();
  const last = out.slice(out.lastIndexOf('[+]'));
  assert.match(last, /^\[\+\] Running 6\/6/);
  assert.match(last, / \.\.\. 4 more/);
  assert.doesNotMatch(last, /p-web-3/);
});
