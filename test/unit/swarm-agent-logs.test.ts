import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { ServiceLogs, TaskLogs, detailsPrefix, merge, parseLogQuery, serveTaskLogs, readRemoteTaskLogs } from '../../src/swarm/agent/logs.js';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import type { Service, Task } from '../../src/swarm/types.js';
import type { AgentContainers, AgentLogs, TaskContainer } from '../../src/swarm/agent/deps.js';
import type { LogMessage } from '../../src/containers/logs.js';
import { Router } from '../../src/api/router.js';
import { createApiServer } from '../../src/api/server.js';
import { swarmLogRoutes } from '../../src/api/routes/swarm-logs.js';

const T0 = '2026-12-03T10:00:00.000000001Z';

test('log query checks with dockerd wording', () => {
  assert.throws(() => parseLogQuery(new URLSearchParams('')), /must specify at least one of 'stdout' or 'stderr'/);
  assert.throws(() => parseLogQuery(new URLSearchParams('stdout=1&tail=x')), /tail value must be a positive integer or "all"/);
  assert.throws(() => parseLogQuery(new URLSearchParams('stdout=1&tail=-2')), /negative tail values not supported/);
  assert.throws(() => parseLogQuery(new URLSearchParams('stdout=1&since=yesterday')), /invalid value for "since"/);
  const q = parseLogQuery(new URLSearchParams('stdout=1&tail=5&follow=1&details=1&since=1700000000.5'));
  assert.deepEqual({ ...q }, { stdout: true, stderr: false, since: 1700000000.5e9, tail: 5, follow: true, timestamps: false, details: true });
});

test('details are the context attributes sorted and query-escaped', () => {
  assert.equal(detailsPrefix({ NodeID: 'n1', ServiceID: 's 1', TaskID: 't~1!' }), 'com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s+1,com.docker.swarm.task.id=t~1%21');
});

function fakeLocal(lines: Record<string, string[]>): { containers: AgentContainers; logs: AgentLogs } {
  const list: TaskContainer[] = Object.keys(lines).map((taskId) => ({ id: `c-${taskId}`, name: taskId, labels: { 'com.docker.swarm.task.id': taskId }, status: 'exited', running: false, pid: 0, exitCode: 0, hasHealthcheck: false }));
  return {
    containers: { listTaskContainers: () => list, get: () => undefined, create: async () => ({ Id: '' }), start: async () => {}, stop: async () => {}, remove: async () => {} },
    logs: {
      tty: () => false,
      read: (id, opts) =>
        (async function* (): AsyncGenerator<LogMessage> {
          const all = lines[id.slice(2)]!;
          const some = opts.tail === 'all' || opts.tail === undefined ? all : all.slice(-opts.tail);
          for (const l of some) yield { time: T0, stream: l.startsWith('err') ? 'stderr' : 'stdout', line: Buffer.from(l + '\n') };
        })(),
    },
  };
}

function task(id: string, node: string, svc = 'svc1'): Task {
  return { ID: id, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', ServiceID: svc, NodeID: node, Slot: 1, DesiredState: 'running', Status: { Timestamp: '', State: 'running', Message: 'started' }, Spec: { ContainerSpec: { Image: 'busybox' } } };
}

async function fixture() {
  const store = memorySwarmStore();
  await store.services.create({ ID: 'svc1', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 2 } } }, Endpoint: { Spec: {} } } as Service);
  await store.tasks.create(task('tlocal', 'me'));
  await store.tasks.create(task('tremote', 'other'));
  await store.tasks.create({ ...task('tpending', ''), NodeID: undefined, Status: { Timestamp: '', State: 'pending', Message: '' } });
  await store.tasks.create(task('tother', 'me', 'svc2'));
  const local = fakeLocal({ tlocal: ['one', 'err two', 'three'], tother: ['x'] });
  const taskLogs = new TaskLogs(local.containers, local.logs);
  // The remote node serves its task through serveTaskLogs, as the control server's raw route would.
  const remoteLocal = fakeLocal({ tremote: ['r1', 'r2'] });
  const handler = serveTaskLogs(new TaskLogs(remoteLocal.containers, remoteLocal.logs));
  const remoteServer = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const id = decodeURIComponent(url.pathname.split('/').pop()!);
    handler({ params: { id }, query: url.searchParams }, res).catch((e) => res.destroy(e));
  });
  await new Promise<void>((r) => remoteServer.listen(0, '127.0.0.1', r));
  const port = (remoteServer.address() as AddressInfo).port;
  const remotePaths: string[] = [];
  const logs = new ServiceLogs({
    managerStore: () => store,
    local: () => ({ nodeId: 'me', taskLogs }),
    remote: (nodeId, path) => {
      remotePaths.push(`${nodeId} ${path}`);
      return new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port, path }, resolve).on('error', reject));
    },
  });
  return { store, logs, remotePaths, close: () => new Promise((r) => remoteServer.close(r)) };
}

test('a service\'s logs come from its local and remote tasks, with their context', async () => {
  const f = await fixture();
  try {
    const { tasks, tty } = await f.logs.select({ service: 'web' });
    assert.deepEqual(tasks.map((t) => t.ID).sort(), ['tlocal', 'tremote']);
    assert.equal(tty, false);
    const q = parseLogQuery(new URLSearchParams('stdout=1&stderr=1&tail=2'));
    const got: string[] = [];
    for await (const m of f.logs.gather(tasks, q, new AbortController().signal)) {
      assert.ok(!('error' in m));
      got.push(`${m.context.TaskID}@${m.context.NodeID} ${m.stream} ${m.line.toString().trim()}`);
    }
    assert.deepEqual(got.sort(), ['tlocal@me stderr err two', 'tlocal@me stdout three', 'tremote@other stdout r1', 'tremote@other stdout r2']);
    assert.match(f.remotePaths[0]!, /^other \/logs\/task\/tremote\?stdout=1&stderr=1&follow=0&tail=2$/);
    await assert.rejects(f.logs.select({ service: 'nosuch' }), /service nosuch not found/);
    await assert.rejects(f.logs.select({ task: 'nosuch' }), /task nosuch not found/);
    await assert.rejects(f.logs.select({ task: 't' }), /task t is ambiguous \(4 matches found\)/);
  } finally {
    await f.close();
  }
});

test('a source that fails shows up as an error message; the others go on', async () => {
  const f = await fixture();
  try {
    const broken = new ServiceLogs({ managerStore: () => f.store, local: () => undefined, remote: async () => { throw new Error('node other is unreachable'); } });
    const { tasks } = await broken.select({ task: 'tremote' });
    const out = [];
    for await (const m of broken.gather(tasks, parseLogQuery(new URLSearchParams('stdout=1')), new AbortController().signal)) out.push(m);
    assert.deepEqual(out, [{ error: 'node other is unreachable', context: { NodeID: 'other', ServiceID: 'svc1', TaskID: 'tremote' } }]);
  } finally {
    await f.close();
  }
});

test('merge interleaves and stops on abort', async () => {
  async function* slow() {
    yield 1;
    await new Promise((r) => setTimeout(r, 1000));
    yield 2;
  }
  async function* fast() {
    yield 10;
    yield 11;
  }
  const abort = new AbortController();
  const got: number[] = [];
  const started = Date.now();
  for await (const v of merge([slow(), fast()], abort.signal)) {
    got.push(v);
    if (got.length === 3) setTimeout(() => abort.abort(), 20);
  }
  assert.deepEqual(got.sort(), [1, 10, 11]);
  assert.ok(Date.now() - started < 900, 'ended at the abort, not at the slow source');
});

test('GET /services/{id}/logs: 503 outside a swarm; multiplexed with details and timestamps inside', async () => {
  const f = await fixture();
  let logs: ServiceLogs | undefined;
  const router = new Router();
  swarmLogRoutes(router, { serviceLogs: () => logs });
  const server = createApiServer(router);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const get = (path: string) =>
    new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
      }).on('error', reject),
    );
  try {
    const outside = await get('/v1.47/services/web/logs?stdout=1');
    assert.equal(outside.status, 503);
    assert.match(outside.body.toString(), /This node is not a swarm manager/);
    logs = f.logs;
    assert.equal((await get('/v1.47/services/web/logs')).status, 400);
    assert.equal((await get('/v1.47/services/nosuch/logs?stdout=1')).status, 404);
    const r = await get('/v1.47/tasks/tlocal/logs?stdout=1&stderr=1&details=1&timestamps=1&tail=1');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/vnd.docker.multiplexed-stream');
    assert.equal(r.body[0], 1);
    assert.equal(r.body.subarray(8).toString(), `${T0} com.docker.swarm.node.id=me,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=tlocal three\n`);
    const old = await get('/v1.41/tasks/tlocal/logs?stdout=1&tail=1');
    assert.equal(old.type, 'application/vnd.docker.raw-stream');
    assert.equal(old.body.toString(), 'three\n');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await f.close();
  }
});

test('remote JSON lines decode back to messages', async () => {
  const body = Readable.from([JSON.stringify({ time: T0, stream: 'stderr', line: Buffer.from('x\n').toString('base64') }) + '\n']);
  const out = [];
  for await (const m of readRemoteTaskLogs(body)) out.push(m);
  assert.deepEqual(out, [{ time: T0, stream: 'stderr', line: Buffer.from('x\n') }]);
});

test('over the real control plane: a worker serves /logs/task/{id}, the manager gathers it', async () => {
  const { createKeyAndCsr, createRootCA, issueNodeCert } = await import('../../src/swarm/ca/index.js');
  const { ControlClient, ControlServer } = await import('../../src/swarm/control/index.js');
  const ca = await createRootCA();
  const tlsOf = async (nodeId: string, role: 'manager' | 'worker') => {
    const { key, csr } = await createKeyAndCsr(nodeId);
    return { ca: ca.cert, cert: await issueNodeCert(ca, csr, { nodeId, role, clusterId: 'c1', expirySeconds: 3600, ips: ['127.0.0.1'] }), key };
  };
  const [managerTls, workerTls] = await Promise.all([tlsOf('me', 'manager'), tlsOf('other', 'worker')]);
  const remoteLocal = fakeLocal({ tremote: ['over tls'] });
  const worker = new ControlServer({ host: '127.0.0.1', port: 0, tls: workerTls });
  worker.raw('/logs/task/{id}', serveTaskLogs(new TaskLogs(remoteLocal.containers, remoteLocal.logs)), { roles: ['manager'] });
  await worker.listen();
  const client = new ControlClient({ addrs: [`127.0.0.1:${worker.port}`], tls: managerTls });
  try {
    const f = await fixture();
    await f.close();
    const logs = new ServiceLogs({ managerStore: () => f.store, local: () => undefined, remote: (_node, path) => client.raw(path) });
    const { tasks } = await logs.select({ task: 'tremote' });
    const got: string[] = [];
    for await (const m of logs.gather(tasks, parseLogQuery(new URLSearchParams('stdout=1')), new AbortController().signal)) got.push('error' in m ? `error ${m.error}` : m.line.toString());
    assert.deepEqual(got, ['over tls\n']);
    // A task the worker has no container for: its 404 makes an empty source, not an error line.
    const gone = await logs.select({ task: 'tother' });
    const out: string[] = [];
    for await (const m of logs.gather([{ ...gone.tasks[0]!, NodeID: 'other' }, ...tasks], parseLogQuery(new URLSearchParams('stdout=1')), new AbortController().signal)) out.push('error' in m ? m.error : m.line.toString());
    assert.deepEqual(out, ['over tls\n']);
  } finally {
    await worker.close();
  }
});
