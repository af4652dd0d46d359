import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EtcdMember } from '../../src/swarm/etcd/member.js';
import { EtcdClient } from '../../src/swarm/etcd/client.js';
import { findExecutable } from '../../src/lib/which.js';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import type { NodeView, SwarmStore } from '../../src/swarm/contracts.js';
import { HEARTBEAT_PREFIX } from '../../src/swarm/contracts.js';
import type { ClusterNetwork, Service, SwarmNode, Task, TaskState } from '../../src/swarm/types.js';
import {
  Dispatcher, NodeWatcher, NodeApi, memoryLiveness, etcdLiveness, localAgentChannel, remoteAgentChannel, registerDispatcherRoutes,
  buildNodeView, type DispatcherServer, type DispatcherClient,
} from '../../src/swarm/dispatcher/index.js';
import { BerthError } from '../../src/lib/errors.js';
import type { ControlServer, ControlClient } from '../../src/swarm/control/index.js';

// The real control plane fits the dispatcher's transport seams as it is (a compile-time check).
export const serverFits = (s: ControlServer): DispatcherServer => s;
export const clientFits = (c: ControlClient): DispatcherClient => c;

const now = '2026-12-03T16:00:00Z';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function node(id: string, o: { role?: 'manager' | 'worker'; hostname?: string; state?: SwarmNode['Status']['State']; labels?: Record<string, string>; engineLabels?: Record<string, string>; addr?: string } = {}): SwarmNode {
  const role = o.role ?? 'worker';
  return {
    ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now,
    Spec: { Labels: o.labels ?? {}, Role: role, Availability: 'active' },
    Description: {
      Hostname: o.hostname ?? id, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 2e9, MemoryBytes: 1 << 30 },
      Engine: { EngineVersion: '28.0.0', Labels: o.engineLabels ?? {} }, TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    },
    Status: { State: o.state ?? 'ready', Addr: o.addr ?? '127.0.0.1' },
    ...(role === 'manager' ? { ManagerStatus: { Reachability: 'reachable' as const, Addr: `${o.addr ?? '127.0.0.1'}:2377` } } : {}),
  };
}

function network(id: string, name: string): ClusterNetwork {
  return {
    ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now,
    Spec: { Name: name, Scope: 'swarm' },
    DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' } },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] },
  };
}

function service(id: string, name: string, o: { networks?: Array<{ Target: string; Aliases?: string[] }> } = {}): Service {
  return {
    ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now,
    Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: o.networks ?? [] }, Mode: { Replicated: { Replicas: 1 } } },
    Endpoint: { Spec: { Mode: 'vip' }, Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }], VirtualIPs: [{ NetworkID: 'net1', Addr: '10.0.1.2/24' }] },
  };
}

function task(id: string, o: { node?: string; service?: string; state?: TaskState; desired?: TaskState; addr?: string; slot?: number }): Task {
  return {
    ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now,
    Spec: { ContainerSpec: { Image: 'busybox' } }, ServiceID: o.service ?? 'svc1', Slot: o.slot ?? 1,
    ...(o.node ? { NodeID: o.node } : {}),
    Status: { Timestamp: now, State: o.state ?? 'assigned', Message: '' },
    DesiredState: o.desired ?? 'running',
    ...(o.addr ? { NetworksAttachments: [{ Network: network('net1', 'backend'), Addresses: [o.addr] }] } : {}),
  };
}

const ids = (ts: Array<{ ID: string }>) => ts.map((t) => t.ID).sort();

// ---------------------------------------------------------------- views

test('a node view has its tasks that matter, every network and node, the services endpoints and its ingress address', () => {
  const n1 = { ...node('n1'), BerthIngress: { NetworkID: 'ing', Address: '10.0.0.5/24' } };
  const snapshot = {
    nodes: [n1, node('n2', { state: 'down', addr: '127.0.0.2' })],
    networks: [network('net1', 'backend')],
    services: [service('svc1', 'web', { networks: [{ Target: 'backend', Aliases: ['www'] }] })],
    tasks: [
      task('run', { node: 'n1', state: 'running', addr: '10.0.1.5/24' }),
      task('assigned', { node: 'n1', state: 'assigned' }),
      task('pending', { node: 'n1', state: 'pending' }), // a global task not yet through allocation
      task('job-done', { node: 'n1', state: 'complete', desired: 'complete' }),
      task('stopping', { node: 'n1', state: 'running', desired: 'shutdown', addr: '10.0.1.6/24' }),
      task('stopped', { node: 'n1', state: 'shutdown', desired: 'shutdown' }),
      task('failed-old', { node: 'n1', state: 'failed', desired: 'shutdown' }),
      task('removing', { node: 'n1', state: 'running', desired: 'remove' }),
      task('elsewhere', { node: 'n2', state: 'running', addr: '10.0.1.7/24', slot: 2 }),
    ],
  };
  const view = buildNodeView('n1', snapshot);
  // Every task that reached the node, until the orchestrator deletes it (the agent keeps ended tasks' containers).
  assert.deepEqual(ids(view.tasks), ['assigned', 'failed-old', 'job-done', 'removing', 'run', 'stopped', 'stopping']);
  assert.deepEqual(ids(view.networks), ['net1']);
  assert.deepEqual(view.nodes, [{ ID: 'n1', Addr: '127.0.0.1', State: 'ready' }, { ID: 'n2', Addr: '127.0.0.2', State: 'down' }]);
  assert.deepEqual(view.ingress, { NetworkID: 'ing', Address: '10.0.0.5/24' });
  assert.equal(view.endpoints.length, 1);
  const ep = view.endpoints[0]!;
  assert.equal(ep.Name, 'web');
  assert.equal(ep.Mode, 'vip');
  assert.deepEqual(ep.VirtualIPs, [{ NetworkID: 'net1', Addr: '10.0.1.2/24' }]);
  assert.equal(ep.Ports[0]!.PublishedPort, 8080);
  assert.deepEqual(ep.Aliases, { net1: ['www'] }, 'aliases keyed by network id, even when the spec names the network');
  // Running and still desired running: a task being stopped is out of the balancing already.
  assert.deepEqual(ep.Tasks, [
    { ID: 'elsewhere', Slot: 2, NodeID: 'n2', Addresses: [{ NetworkID: 'net1', Addr: '10.0.1.7/24' }] },
    { ID: 'run', Slot: 1, NodeID: 'n1', Addresses: [{ NetworkID: 'net1', Addr: '10.0.1.5/24' }] },
  ]);
  assert.equal(buildNodeView('n2', snapshot).ingress, undefined);
});

async function seeded(): Promise<SwarmStore> {
  const store = memorySwarmStore();
  await store.nodes.create(node('n1'));
  await store.nodes.create(node('n2'));
  await store.networks.create(network('net1', 'backend'));
  await store.services.create(service('svc1', 'web'));
  return store;
}

test('the dispatcher pushes a view at once, then only when it changed, coalescing bursts', async () => {
  const store = await seeded();
  const liveness = memoryLiveness();
  const d = new Dispatcher({ store, liveness, debounceMs: 30 });
  await d.start();
  try {
    const views: NodeView[] = [];
    const stop = d.subscribe('n1', (v) => views.push(v));
    assert.equal(views.length, 1, 'the current view right away');
    assert.equal(views[0]!.tasks.length, 0);
    for (let i = 0; i < 10; i++) await store.tasks.create(task(`t${i}`, { node: 'n1' }));
    await until('the burst to be pushed', () => views.length >= 2);
    await sleep(80);
    assert.equal(views.length, 2, 'ten creations within the debounce make one push');
    assert.equal(views[1]!.tasks.length, 10);
    // A change that does not show in n1's view (another node's task, a node label) pushes nothing.
    await store.tasks.create(task('other', { node: 'n2', state: 'assigned' }));
    await store.nodes.modify('n2', (n) => ({ ...n, Spec: { ...n.Spec, Labels: { a: 'b' } } }));
    await sleep(100);
    assert.equal(views.length, 2);
    // n2 going down is in every view (the VXLAN peers).
    await store.nodes.modify('n2', (n) => ({ ...n, Status: { ...n.Status, State: 'down' } }));
    await until('the node change', () => views.length === 3);
    assert.equal(views[2]!.nodes.find((n) => n.ID === 'n2')!.State, 'down');
    stop();
    await store.tasks.create(task('late', { node: 'n1' }));
    await sleep(100);
    assert.equal(views.length, 3, 'nothing after unsubscribing');
  } finally {
    d.stop();
    liveness.close();
  }
});

test('reports move task states forward only, for the node the task is on', async () => {
  const store = await seeded();
  await store.tasks.create(task('a', { node: 'n1', state: 'assigned' }));
  await store.tasks.create(task('b', { node: 'n2', state: 'assigned' }));
  const d = new Dispatcher({ store, liveness: memoryLiveness() });
  await d.start();
  try {
    const st = (State: TaskState, Message: string = State) => ({ Timestamp: new Date().toISOString(), State, Message });
    await d.report('n1', [{ taskId: 'a', status: st('preparing') }, { taskId: 'a', status: st('running', 'started') }]);
    assert.equal((await store.tasks.get('a'))!.Status.State, 'running', 'the last word of a batch');
    await d.report('n1', [{ taskId: 'a', status: st('starting') }]);
    assert.equal((await store.tasks.get('a'))!.Status.State, 'running', 'a late report does not move it back');
    await d.report('n1', [{ taskId: 'a', status: { ...st('running', 'started'), ContainerStatus: { ContainerID: 'c1', PID: 42 } } }]);
    assert.equal((await store.tasks.get('a'))!.Status.ContainerStatus?.PID, 42, 'the same state with more detail is written');
    await d.report('n1', [{ taskId: 'b', status: st('running') }]);
    assert.equal((await store.tasks.get('b'))!.Status.State, 'assigned', "another node's task is left alone");
    await d.report('n1', [{ taskId: 'gone', status: st('running') }]);
    await d.report('n1', [{ taskId: 'a', status: st('failed', 'task: non-zero exit (1)') }]);
    const a = (await store.tasks.get('a'))!;
    assert.equal(a.Status.State, 'failed');
    assert.equal(a.Status.Message, 'task: non-zero exit (1)');
  } finally {
    d.stop();
  }
});

test('what the store watch missed is picked up by the periodic re-read', async () => {
  const store = await seeded();
  // A watch that loses every event of tasks whose ID starts with "lost".
  const watch = store.tasks.watch.bind(store.tasks);
  store.tasks.watch = (cb) => watch((e) => void (e.object.ID.startsWith('lost') ? undefined : cb(e)));
  await store.tasks.create(task('lost-deleted', { node: 'n1' }));
  const d = new Dispatcher({ store, liveness: memoryLiveness(), debounceMs: 5, resync: { firstMs: 100, everyMs: 100 } });
  await d.start();
  try {
    const views: NodeView[] = [];
    d.subscribe('n1', (v) => views.push(v));
    assert.deepEqual(ids(views[0]!.tasks), ['lost-deleted']);
    await store.tasks.create(task('lost-created', { node: 'n1' }));
    await store.tasks.delete('lost-deleted');
    await store.tasks.create(task('seen', { node: 'n1' })); // newer than the deletion: lets the re-read trust the absence
    await until('the missed changes', () => JSON.stringify(ids(views.at(-1)!.tasks)) === JSON.stringify(['lost-created', 'seen']));
  } finally {
    d.stop();
  }
});

// ---------------------------------------------------------------- heartbeats and node states

test('the node watcher marks nodes ready on heartbeats and down when they lapse', async () => {
  const store = memorySwarmStore();
  await store.nodes.create(node('m1', { role: 'manager', state: 'unknown' }));
  await store.nodes.create(node('w1', { state: 'unknown' }));
  await store.nodes.create(node('silent', { state: 'ready' }));
  await store.nodes.create(node('was-down', { state: 'down' }));
  const liveness = memoryLiveness({ ttlMs: 150 });
  const d = new Dispatcher({ store, liveness });
  await d.start();
  await d.heartbeat('m1');
  const watcher = new NodeWatcher({ store, liveness, graceMs: 200 });
  await watcher.start();
  // w1 keeps beating, m1 beat once only.
  const beat = setInterval(() => void d.heartbeat('w1'), 40);
  try {
    await d.heartbeat('w1');
    await until('both ready', async () => (await store.nodes.get('w1'))!.Status.State === 'ready' && (await store.nodes.get('m1'))!.Status.State === 'ready');
    assert.equal(watcher.nodeStates().get('silent'), 'unknown', 'a node not heard from yet gets a grace period');
    assert.equal(watcher.nodeStates().get('was-down'), 'down', 'a node known down gets none');
    await until('the silent node down after the grace', async () => (await store.nodes.get('silent'))!.Status.State === 'down');
    {
      await until('m1 down', async () => (await store.nodes.get('m1'))!.Status.State === 'down', 2000);
      const m1 = (await store.nodes.get('m1'))!;
      assert.equal(m1.Status.Message, 'heartbeat failure');
      assert.equal(m1.ManagerStatus?.Reachability, 'unreachable');
      assert.equal((await store.nodes.get('w1'))!.Status.State, 'ready');
      assert.equal(watcher.nodeStates().get('m1'), 'down');
      assert.equal(watcher.nodeStates().get('w1'), 'ready');
      await d.heartbeat('m1');
      await until('m1 back', async () => (await store.nodes.get('m1'))!.ManagerStatus?.Reachability === 'reachable');
      const back = (await store.nodes.get('m1'))!;
      assert.equal(back.Status.State, 'ready');
      assert.equal(back.Status.Message, undefined);
    }
    // A node joining later without beating is down after its grace too.
    await store.nodes.create(node('late', { state: 'unknown' }));
    await until('the late node down', async () => (await store.nodes.get('late'))?.Status.State === 'down');
    await assert.rejects(d.heartbeat('nobody'), (e: unknown) => e instanceof BerthError && e.kind === 'NotFound');
  } finally {
    clearInterval(beat);
    await watcher.stop();
    d.stop();
    liveness.close();
  }
});

test('two managers\' node watchers agree without flapping, and put back a state someone else wrote wrong', async () => {
  const store = memorySwarmStore();
  await store.nodes.create(node('w1', { state: 'unknown' }));
  const liveness = memoryLiveness({ ttlMs: 150 });
  const watchers = [0, 1].map(() => new NodeWatcher({ store, liveness, graceMs: 1000, settleMs: 100 }));
  for (const w of watchers) await w.start();
  const written: string[] = [];
  const stopWatch = store.nodes.watch((e) => written.push(e.object.Status.State));
  try {
    await liveness.beat('w1');
    await until('ready', async () => (await store.nodes.get('w1'))!.Status.State === 'ready');
    await until('down after the lapse', async () => (await store.nodes.get('w1'))!.Status.State === 'down', 2000);
    await sleep(300);
    assert.equal(written.slice(written.indexOf('down')).every((s) => s === 'down'), true, `no flapping: ${written.join(' ')}`);
    // A stale write (a manager's join code, a late writer): corrected once it stays wrong.
    await store.nodes.modify('w1', (n) => ({ ...n, Status: { ...n.Status, State: 'ready', Message: '' } }));
    await until('put back to down', async () => (await store.nodes.get('w1'))!.Status.State === 'down', 2000);
    assert.equal((await store.nodes.get('w1'))!.Status.Message, 'heartbeat failure');
  } finally {
    stopWatch();
    for (const w of watchers) await w.stop();
    liveness.close();
  }
});

test('etcd liveness: one lease per node, renewed; a new lease and key when it lapsed; the watch reports keys', async () => {
  const calls: string[] = [];
  let ttl = 3;
  const keys = new Map<string, string>();
  let onEvents: ((events: Array<{ type: 'PUT' | 'DELETE'; kv: { key: string } }>, rev: string) => void) | undefined;
  let leases = 0;
  const fake = {
    async leaseGrant(t: number) { calls.push(`grant ${t}`); return { id: String(++leases), ttl: t }; },
    async leaseKeepAlive(id: string) { calls.push(`keepalive ${id}`); return ttl; },
    async leaseRevoke(id: string) { calls.push(`revoke ${id}`); },
    async put(key: string, _v: string, o: { lease?: string }) { calls.push(`put ${key} ${o.lease}`); keys.set(key, o.lease ?? ''); return { revision: '7' }; },
    async delete(key: string) { calls.push(`delete ${key}`); keys.delete(key); return { revision: '8', deleted: 1 }; },
    async range() { return { revision: '5', kvs: [...keys.keys()].map((key) => ({ key, value: '', createRevision: '1', modRevision: '1', version: '1' })), count: keys.size, more: false }; },
    watch(_key: string, o: { startRevision?: string }, cb: typeof onEvents) { calls.push(`watch from ${o.startRevision}`); onEvents = cb; return { created: Promise.resolve('1'), close() {} }; },
  };
  const live = etcdLiveness(fake as never);
  await Promise.all([live.beat('n1'), live.beat('n1')]);
  await live.beat('n1');
  assert.deepEqual(calls, [`grant 3`, `put ${HEARTBEAT_PREFIX}n1 1`, 'keepalive 1', 'keepalive 1'], 'concurrent beats of a node run one after the other');
  calls.length = 0;
  ttl = 0; // the lease lapsed
  await live.beat('n1');
  assert.deepEqual(calls, ['keepalive 1', 'grant 3', `put ${HEARTBEAT_PREFIX}n1 2`]);
  const changes: string[] = [];
  const w = await live.watch((id, alive) => changes.push(`${id} ${alive}`));
  assert.deepEqual([...w.alive], ['n1']);
  assert.ok(calls.includes('watch from 6'), 'watches from just after the read');
  onEvents!([{ type: 'PUT', kv: { key: `${HEARTBEAT_PREFIX}n2` } }, { type: 'PUT', kv: { key: `${HEARTBEAT_PREFIX}n1` } }, { type: 'DELETE', kv: { key: `${HEARTBEAT_PREFIX}n1` } }], '9');
  assert.deepEqual(changes, ['n2 true', 'n1 false'], 'a renewal of a live key is no change');
  await live.forget('n1');
  assert.ok(calls.includes('revoke 2') && calls.includes(`delete ${HEARTBEAT_PREFIX}n1`));
  w.stop();
  live.close();
});

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, address, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('heartbeats on a real etcd member', { skip: findExecutable('etcd') ? false : 'etcd not installed (etcd-server)' }, () => {
  let root = '';
  let member: EtcdMember | undefined;
  const clients: EtcdClient[] = [];

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-dispatcher-'));
    const address = '127.0.0.23';
    const peerPort = await freePort(address);
    const clientPort = await freePort(address);
    member = new EtcdMember({ name: 'd1', root, address, peerPort, clientPort, initialCluster: [{ name: 'd1', peerUrl: `http://${address}:${peerPort}` }], clusterState: 'new' });
    await member.start();
    for (let i = 0; i < 2; i++) clients.push(new EtcdClient({ endpoints: [member.clientUrl], timeoutMs: 2_000 }));
  });

  after(async () => {
    for (const c of clients) c.close();
    await member?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  test('beats through either manager keep a node ready; it is down once they stop for a lease', async () => {
    const store = memorySwarmStore();
    await store.nodes.create(node('w1', { state: 'unknown' }));
    const managerA = etcdLiveness(clients[0]!);
    const managerB = etcdLiveness(clients[1]!);
    const watcher = new NodeWatcher({ store, liveness: managerB, graceMs: 5000 });
    await watcher.start();
    try {
      await managerA.beat('w1');
      await until('w1 ready', async () => (await store.nodes.get('w1'))!.Status.State === 'ready', 3000);
      // The agent fails over to the other manager: its beats keep the node alive past A's lease.
      const started = Date.now();
      while (Date.now() - started < 4000) {
        await managerB.beat('w1');
        await sleep(500);
      }
      assert.equal((await store.nodes.get('w1'))!.Status.State, 'ready');
      const stoppedAt = Date.now();
      await until('w1 down', async () => (await store.nodes.get('w1'))!.Status.State === 'down', 8000);
      const after = Date.now() - stoppedAt;
      assert.ok(after >= 2000, `down only once the lease lapsed (${after} ms)`);
      assert.equal((await store.nodes.get('w1'))!.Status.Message, 'heartbeat failure');
    } finally {
      await watcher.stop();
      managerA.close();
      managerB.close();
    }
  });
});

// ---------------------------------------------------------------- channels

test('the local channel streams the view and heartbeats while watched', async () => {
  const store = await seeded();
  const liveness = memoryLiveness({ ttlMs: 200 });
  const d = new Dispatcher({ store, liveness, debounceMs: 5 });
  await d.start();
  const w = await liveness.watch(() => undefined);
  const alive = new Set(w.alive);
  const stopWatch = await liveness.watch((id, on) => (on ? alive.add(id) : alive.delete(id)));
  try {
    const channel = localAgentChannel(d, 'n1', { heartbeatMs: 50 });
    const views: NodeView[] = [];
    const stop = channel.watch((v) => views.push(v));
    await until('n1 alive', () => alive.has('n1'));
    await store.tasks.create(task('t1', { node: 'n1' }));
    await until('the task in the view', () => views.at(-1)?.tasks.length === 1);
    await channel.report([{ taskId: 't1', status: { Timestamp: now, State: 'running', Message: 'started' } }]);
    assert.equal((await store.tasks.get('t1'))!.Status.State, 'running');
    stop();
    await until('n1 lapsed after the watch stopped', () => !alive.has('n1'));
  } finally {
    w.stop();
    stopWatch.stop();
    d.stop();
    liveness.close();
  }
});

/** An in-process stand-in for ControlServer + ControlClient: the routes as registered, called with a peer. */
function loopback(nodeId: string): { server: DispatcherServer; client: DispatcherClient & { addrs: string[] }; breakSessions(): void; calls: string[] } {
  const handlers = new Map<string, (req: never) => Promise<unknown>>();
  const streams = new Map<string, (req: never, send: (m: unknown) => void, signal: AbortSignal) => Promise<void>>();
  const open = new Set<AbortController>();
  const calls: string[] = [];
  const req = (body: unknown) => ({ body: JSON.parse(JSON.stringify(body ?? {})), query: new URLSearchParams(), params: {}, peer: { nodeId, role: 'worker' } }) as never;
  return {
    calls,
    server: {
      // As the real server: a route registered twice keeps its first handler.
      handle: (method, path, h) => void (handlers.has(`${method} ${path}`) || handlers.set(`${method} ${path}`, h as never)),
      stream: (path, h) => void (streams.has(path) || streams.set(path, h as never)),
    },
    client: {
      addrs: [] as string[],
      setAddrs(addrs: string[]) {
        this.addrs = addrs;
      },
      async call<T>(method: string, path: string, body?: unknown) {
        calls.push(`${method} ${path}`);
        return (await handlers.get(`${method} ${path}`)!(req(body))) as T;
      },
      stream(path, onMessage, onEnd) {
        calls.push(`stream ${path}`);
        const ac = new AbortController();
        open.add(ac);
        streams.get(path)!(req({}), (m) => onMessage(JSON.parse(JSON.stringify(m))), ac.signal).then(
          () => {
            if (ac.signal.reason === 'broken') onEnd(new Error('connection reset'));
            else if (!ac.signal.aborted) onEnd(); // the server ended the stream
          },
          (e: Error) => onEnd(e),
        );
        return { close: () => { open.delete(ac); ac.abort('closed'); } };
      },
    },
    breakSessions() {
      for (const ac of open) ac.abort('broken');
      open.clear();
    },
  };
}

test('the remote channel over the dispatcher routes: views, reports, heartbeats, reconnects', async () => {
  const store = await seeded();
  const liveness = memoryLiveness({ ttlMs: 300 });
  const d = new Dispatcher({ store, liveness, debounceMs: 5 });
  await d.start();
  const net = loopback('n2');
  registerDispatcherRoutes(net.server, d);
  try {
    const channel = remoteAgentChannel(net.client, 'n2', { heartbeatMs: 50, minBackoffMs: 20 });
    const views: NodeView[] = [];
    const stop = channel.watch((v) => views.push(v));
    await until('the first view', () => views.length === 1);
    assert.equal(views[0]!.nodeId, 'n2', 'the node is the one of the certificate');
    await until('a heartbeat', () => net.calls.includes('POST /dispatcher/heartbeat'));
    net.breakSessions();
    await store.tasks.create(task('t2', { node: 'n2' }));
    await until('the view after reconnecting', () => views.at(-1)?.tasks.length === 1);
    assert.equal(net.calls.filter((c) => c === 'stream /dispatcher/session').length, 2);
    await channel.report([{ taskId: 't2', status: { Timestamp: now, State: 'starting', Message: 'starting' } }]);
    assert.equal((await store.tasks.get('t2'))!.Status.State, 'starting');
    await assert.rejects(channel.report([{ taskId: 't2', status: { Timestamp: now, State: 'bogus' as TaskState, Message: '' } }]), /invalid task state/);
    stop();
  } finally {
    d.stop();
    liveness.close();
  }
});

test('a dispatcher that stops ends its sessions; without one the routes answer 503; the agent comes back to the next', async () => {
  const store = await seeded();
  const liveness = memoryLiveness();
  let current: Dispatcher | undefined = new Dispatcher({ store, liveness, debounceMs: 5 });
  await current.start();
  const net = loopback('n1');
  registerDispatcherRoutes(net.server, () => current);
  const managers = ['10.0.0.1:2377', '10.0.0.2:2377', '10.0.0.3:2377'];
  const channel = remoteAgentChannel(net.client, 'n1', { heartbeatMs: 1000, minBackoffMs: 20, maxBackoffMs: 40, reportAttempts: 1, managers: () => managers });
  const views: NodeView[] = [];
  const stop = channel.watch((v) => views.push(v));
  try {
    await until('the first view', () => views.length === 1);
    current.stop();
    current = undefined; // demoted: no dispatcher here for a while
    await assert.rejects(channel.report([{ taskId: 'x', status: { Timestamp: now, State: 'running', Message: '' } }]), (e: unknown) => e instanceof BerthError && e.kind === 'Unavailable');
    await until('the agent retried', () => net.calls.filter((c) => c === 'stream /dispatcher/session').length >= 3);
    assert.deepEqual([...net.client.addrs].sort(), managers, 'a manager that refuses sends the agent on to the others');
    await store.tasks.create(task('t3', { node: 'n1' }));
    current = new Dispatcher({ store, liveness, debounceMs: 5 });
    await current.start();
    await until('a view from the new dispatcher', () => views.at(-1)?.tasks.length === 1, 2000);
    // Registering again on the same server (demoted, then promoted again) swaps the dispatcher behind the routes.
    const net2 = loopback('n1');
    registerDispatcherRoutes(net2.server, current);
    current.stop();
    await assert.rejects(net2.client.call('POST', '/dispatcher/heartbeat', {}), (e: unknown) => e instanceof BerthError && e.kind === 'Unavailable');
    current = new Dispatcher({ store, liveness, debounceMs: 5 });
    await current.start();
    registerDispatcherRoutes(net2.server, current);
    await net2.client.call('POST', '/dispatcher/heartbeat', {});
  } finally {
    stop();
    current?.stop();
    liveness.close();
  }
});

// ---------------------------------------------------------------- /nodes

async function cluster(): Promise<{ store: SwarmStore; api: NodeApi; roleChanges: string[] }> {
  const store = memorySwarmStore();
  await store.nodes.create(node('m1aaaaaaaaaaaaaaaaaaaaaaa', { role: 'manager', hostname: 'alpha', engineLabels: { disk: 'ssd' } }));
  await store.nodes.create(node('w1bbbbbbbbbbbbbbbbbbbbbbb', { hostname: 'beta', labels: { zone: 'a' } }));
  await store.nodes.create(node('w2bccccccccccccccccccccccc', { hostname: 'gamma', labels: { zone: 'b' }, state: 'down' }));
  const roleChanges: string[] = [];
  const api = new NodeApi({ managerStore: () => store, onRoleChange: async (id, role) => void roleChanges.push(`${id} ${role}`) });
  return { store, api, roleChanges };
}

const names = (ns: Array<{ Description: { Hostname: string } }>) => ns.map((n) => n.Description.Hostname).sort();
const f = (o: Record<string, string[]>) => JSON.stringify(o);

test('node ls filters as dockerd', async () => {
  const { api } = await cluster();
  assert.deepEqual(names(await api.list()), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(names(await api.list(f({ role: ['manager'] }))), ['alpha']);
  assert.deepEqual(names(await api.list(f({ role: ['Worker'] }))), ['beta', 'gamma']);
  assert.deepEqual(names(await api.list(f({ name: ['be', 'ga'] }))), ['beta', 'gamma'], 'name is a hostname prefix');
  assert.deepEqual(names(await api.list(f({ id: ['w'] }))), ['beta', 'gamma'], 'id is a prefix');
  assert.deepEqual(names(await api.list(f({ 'node.label': ['zone=b'] }))), ['gamma']);
  assert.deepEqual(names(await api.list(f({ 'node.label': ['zone'] }))), ['beta', 'gamma']);
  assert.deepEqual(names(await api.list(f({ label: ['disk=ssd'] }))), ['alpha'], 'label is an engine label');
  assert.deepEqual(names(await api.list(f({ membership: ['accepted'] }))), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(names(await api.list(f({ membership: ['pending'] }))), []);
  await assert.rejects(api.list(f({ color: ['red'] })), { message: "invalid filter 'color'" });
  await assert.rejects(api.list(f({ role: ['boss'] })), { message: "Invalid role filter: 'boss'" });
  await assert.rejects(api.list(f({ membership: ['maybe'] })), { message: "Invalid membership filter: 'maybe'" });
  const [listed] = await api.list(f({ name: ['alpha'] }));
  assert.equal((listed as Record<string, unknown>).BerthIngress, undefined);
  assert.deepEqual(listed!.Spec, { Labels: {}, Role: 'manager', Availability: 'active' });
});

test('node inspect by id, hostname or unique prefix', async () => {
  const { api } = await cluster();
  assert.equal((await api.inspect('m1aaaaaaaaaaaaaaaaaaaaaaa')).Description.Hostname, 'alpha');
  assert.equal((await api.inspect('beta')).ID, 'w1bbbbbbbbbbbbbbbbbbbbbbb');
  assert.equal((await api.inspect('w2')).Description.Hostname, 'gamma');
  await assert.rejects(api.inspect('w'), (e: unknown) => e instanceof BerthError && e.kind === 'InvalidArgument' && e.message === 'node w is ambiguous (2 matches found)');
  await assert.rejects(api.inspect('nope'), (e: unknown) => e instanceof BerthError && e.kind === 'NotFound' && e.message === 'node nope not found');
});

test('node update: whole spec at a version, dockerd errors, role changes through the hook', async () => {
  const { store, api, roleChanges } = await cluster();
  const beta = await api.inspect('beta');
  const spec = { ...beta.Spec, Availability: 'drain' as const, Labels: { zone: 'a', ssd: 'yes' } };
  await api.update('beta', String(beta.Version.Index), spec);
  const after = (await store.nodes.get(beta.ID))!;
  assert.equal(after.Spec.Availability, 'drain');
  assert.deepEqual(after.Spec.Labels, { zone: 'a', ssd: 'yes' });
  await assert.rejects(api.update('beta', String(beta.Version.Index), spec), (e: unknown) => e instanceof BerthError && e.kind === 'Internal' && e.message === 'rpc error: code = Unknown desc = update out of sequence');
  await assert.rejects(api.update('beta', 'x', spec), { message: `invalid node version 'x': strconv.ParseUint: parsing "x": invalid syntax` });
  await assert.rejects(api.update('beta', null, spec), { message: `invalid node version '': strconv.ParseUint: parsing "": invalid syntax` });
  await assert.rejects(api.update('beta', String(after.Version.Index), { ...spec, Role: 'boss' as never }), { message: 'invalid Role: "boss"' });
  await assert.rejects(api.update('beta', String(after.Version.Index), { ...spec, Availability: '' as never }), { message: 'invalid Availability: ""' });
  const alpha = await api.inspect('alpha');
  await assert.rejects(api.update('alpha', String(alpha.Version.Index), { ...alpha.Spec, Role: 'worker' }), {
    message: 'rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm',
  });
  assert.deepEqual(roleChanges, []);
  await api.update('beta', String(after.Version.Index), { ...spec, Role: 'manager' });
  assert.deepEqual(roleChanges, [`${beta.ID} manager`]);
  await api.update('alpha', String(alpha.Version.Index), { ...alpha.Spec, Role: 'worker' });
  assert.deepEqual(roleChanges, [`${beta.ID} manager`, `${alpha.ID} worker`], 'with another manager, demoting is fine');
  // Three managers, one of them down: demoting one of the two up would leave no quorum.
  for (const [id, state] of [['q1', 'ready'], ['q2', 'ready'], ['q3', 'down']] as const) await store.nodes.create(node(id, { role: 'manager', state }));
  await store.nodes.modify(beta.ID, (n) => ({ ...n, Spec: { ...n.Spec, Role: 'worker' } }));
  const q1 = await api.inspect('q1');
  await assert.rejects(api.update('q1', String(q1.Version.Index), { ...q1.Spec, Role: 'worker' }), {
    message: "rpc error: code = FailedPrecondition desc = can't remove member from the raft: this would result in a loss of quorum",
  });
  const q3 = await api.inspect('q3');
  await api.update('q3', String(q3.Version.Index), { ...q3.Spec, Role: 'worker' }); // the down one may go
});

test('node rm: never a manager, a node still up only with force; its unfinished tasks are orphaned', async () => {
  const { store, api } = await cluster();
  await store.tasks.create(task('t-run', { node: 'w1bbbbbbbbbbbbbbbbbbbbbbb', state: 'running' }));
  await store.tasks.create(task('t-done', { node: 'w1bbbbbbbbbbbbbbbbbbbbbbb', state: 'complete', desired: 'complete' }));
  await assert.rejects(api.remove('alpha', true), {
    message: 'rpc error: code = FailedPrecondition desc = node m1aaaaaaaaaaaaaaaaaaaaaaa is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal',
  });
  await assert.rejects(api.remove('beta', false), (e: unknown) => e instanceof BerthError && e.kind === 'InvalidArgument' && e.message === "rpc error: code = FailedPrecondition desc = node w1bbbbbbbbbbbbbbbbbbbbbbb is not down and can't be removed");
  await api.remove('gamma', false); // down: no force needed
  assert.equal(await store.nodes.get('w2bccccccccccccccccccccccc'), undefined);
  await api.remove('w1', true);
  assert.equal(await store.nodes.get('w1bbbbbbbbbbbbbbbbbbbbbbb'), undefined);
  const orphan = (await store.tasks.get('t-run'))!;
  assert.equal(orphan.Status.State, 'orphaned');
  assert.equal(orphan.Status.Message, 'Task belonged to a node that has been deleted');
  assert.equal((await store.tasks.get('t-done'))!.Status.State, 'complete');
  await assert.rejects(api.remove('beta', true), { message: 'node beta not found' });
});

test('not a manager: the store getter decides (503)', async () => {
  const api = new NodeApi({ managerStore: () => { throw new BerthError('Unavailable', 'This node is not a swarm manager.'); } });
  await assert.rejects(api.list(), (e: unknown) => e instanceof BerthError && e.kind === 'Unavailable');
});
