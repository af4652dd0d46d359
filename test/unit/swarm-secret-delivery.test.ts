import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import type { AgentChannel, NodeView, SecretSealer, TaskPayloads } from '../../src/swarm/contracts.js';
import type { Config, Secret, Service, Task, TaskState, TaskStatus } from '../../src/swarm/types.js';
import { Dispatcher, buildNodeView, memoryLiveness, payloadSources, taskPayloads, viewSignature, sharedView, sharedSignature } from '../../src/swarm/dispatcher/index.js';
import { planTaskFiles, renderPayload, taskFileMounts, tmpfsTaskFiles, type TaskFile, type TaskFileStore } from '../../src/swarm/agent/index.js';
import { NodeAgent } from '../../src/swarm/agent/agent.js';
import type { AgentDeps, TaskContainer } from '../../src/swarm/agent/deps.js';
import type { CreateRequest } from '../../src/containers/service.js';
import { parseConfigRef, parseGoUint32, parseSecretRef, resolveRefs, updatedRefs, type ListByName } from '../../src/cli/commands/service/file-refs.js';
import { isMounted } from '../../src/layers/mount.js';

const now = '2026-12-03T19:00:00Z';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A stand-in for the secrets helper's AES sealer: reversible, and tells its own output apart. */
const testSealer: SecretSealer = {
  seal: (clear) => `test:${clear.toString('base64')}`,
  open: (sealed) => {
    if (!sealed.startsWith('test:')) throw new Error('not sealed with this key');
    return Buffer.from(sealed.slice(5), 'base64');
  },
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

function secret(id: string, name: string, data: string, o: { templated?: boolean; sealed?: string } = {}): Secret {
  return { ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: { Name: name, ...(o.templated ? { Templating: { Name: 'golang' } } : {}) }, BerthSealed: o.sealed ?? testSealer.seal(Buffer.from(data)) };
}
function config(id: string, name: string, data: string, templated = false): Config {
  return { ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: { Name: name, Data: b64(data), ...(templated ? { Templating: { Name: 'golang' } } : {}) } };
}
function service(id: string, labels?: Record<string, string>): Service {
  return {
    ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now,
    Spec: { Name: 'web', ...(labels ? { Labels: labels } : {}), TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 1 } } },
    Endpoint: { Spec: {} },
  };
}
function task(id: string, o: { node?: string; state?: TaskState; secrets?: string[]; configs?: Array<[string, string?]>; env?: string[]; service?: string } = {}): Task {
  return {
    ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, ServiceID: o.service ?? 'svc1', Slot: 3, NodeID: o.node ?? 'n1', DesiredState: 'running',
    Status: { Timestamp: now, State: o.state ?? 'assigned', Message: '' },
    Spec: {
      ContainerSpec: {
        Image: 'busybox', Env: o.env ?? [],
        Secrets: (o.secrets ?? []).map((s) => ({ SecretID: s, SecretName: `name-${s}`, File: { Name: `name-${s}`, UID: '0', GID: '0', Mode: 0o444 } })),
        Configs: (o.configs ?? []).map(([c, target]) => ({ ConfigID: c, ConfigName: `name-${c}`, File: { Name: target ?? `name-${c}`, UID: '0', GID: '0', Mode: 0o444 } })),
      },
    },
    BerthService: { Name: 'web', EndpointMode: 'vip' },
  };
}

// ---------------------------------------------------------------- the dispatcher's payloads

test("a node's view carries the secrets and configs its live tasks reference, opened, and nothing else", () => {
  const open = (s: Secret) => testSealer.open(s.BerthSealed!).toString('base64');
  const snapshot = {
    nodes: [], networks: [], services: [service('svc1', { tier: 'front' }), service('svc2')],
    tasks: [
      task('t1', { secrets: ['s1'], configs: [['c1']] }),
      task('t2', { node: 'n2', secrets: ['s2'], configs: [['c2']] }), // another node's
      task('t3', { state: 'failed', secrets: ['s3'] }), // ended: its dependencies are released
      task('t4', { state: 'running', secrets: ['s1', 'bad'] }),
    ],
    secrets: [secret('s1', 'one', 'hunter2'), secret('s2', 'two', 'x'), secret('s3', 'three', 'y'), secret('bad', 'bad', '', { sealed: 'garbage' })],
    configs: [config('c1', 'conf', 'a=1', true), config('c2', 'conf2', 'b')],
  };
  const view = buildNodeView('n1', snapshot, sharedView(snapshot), (s) => {
    try {
      return open(s);
    } catch {
      return undefined;
    }
  });
  assert.deepEqual(view.payloads, {
    secrets: [{ ID: 's1', Name: 'one', Data: b64('hunter2') }],
    configs: [{ ID: 'c1', Name: 'conf', Data: b64('a=1'), Templating: { Name: 'golang' } }],
    serviceLabels: { svc1: { tier: 'front' } },
  });
  // Without a sealer no secret is opened; a node without such tasks gets no payloads at all.
  assert.deepEqual(buildNodeView('n1', snapshot).payloads!.secrets, []);
  assert.equal(buildNodeView('n3', snapshot).payloads, undefined);
  assert.equal(taskPayloads([task('x')], payloadSources({ services: [service('svc1')] }), () => undefined), undefined);
});

test('the view signature changes with the payloads, and holds none of their data', () => {
  const snapshot = { nodes: [], networks: [], services: [], tasks: [task('t1', { secrets: ['s1'] })], secrets: [secret('s1', 'one', 'hunter2')], configs: [] };
  const sig = (s: typeof snapshot) => {
    const shared = sharedView(s);
    return viewSignature(buildNodeView('n1', s, shared, (x) => testSealer.open(x.BerthSealed!).toString('base64')), sharedSignature(shared));
  };
  const before = sig(snapshot);
  assert.ok(!before.includes(b64('hunter2')) && !before.includes('hunter2'));
  assert.equal(sig({ ...snapshot }), before);
  assert.notEqual(sig({ ...snapshot, secrets: [secret('s1', 'one', 'changed')] }), before);
  assert.notEqual(sig({ ...snapshot, secrets: [] }), before);
});

test('the dispatcher pushes a new view when a referenced secret or config appears or changes', async () => {
  const store = memorySwarmStore();
  const liveness = memoryLiveness();
  const d = new Dispatcher({ store, liveness, debounceMs: 5, sealer: testSealer });
  await d.start();
  try {
    const views: NodeView[] = [];
    d.subscribe('n1', (v) => views.push(v));
    await store.tasks.create(task('t1', { secrets: ['s1'], configs: [['c1']] }));
    await until('the task', () => views.some((v) => v.tasks.length === 1));
    const pushed = views.length;
    await store.secrets.create(secret('s1', 'one', 'hunter2'));
    await until('the secret', () => views.length > pushed && Boolean(views.at(-1)!.payloads?.secrets.length));
    assert.equal(Buffer.from(views.at(-1)!.payloads!.secrets[0]!.Data, 'base64').toString(), 'hunter2');
    await store.configs.create(config('c1', 'conf', 'v1'));
    await until('the config', () => Boolean(views.at(-1)!.payloads?.configs.length));
    const n = views.length;
    await store.configs.modify('c1', (c) => ({ ...c, Spec: { ...c.Spec, Data: b64('v2') } }));
    await until('the changed config', () => views.length > n);
    assert.equal(Buffer.from(views.at(-1)!.payloads!.configs[0]!.Data, 'base64').toString(), 'v2');
    // A secret no task references changes nothing for the node.
    const m = views.length;
    await store.secrets.create(secret('s9', 'unused', 'zzz'));
    await sleep(60);
    assert.equal(views.length, m);
  } finally {
    d.stop();
    liveness.close();
  }
});

// ---------------------------------------------------------------- the files of a task

const NODE = { Hostname: 'node-host', Platform: { OS: 'linux', Architecture: 'x86_64' } };

test('targets, owners and modes of secret and config files (defaults as dockerd)', () => {
  const t = task('t1', { secrets: ['s1'], configs: [['c1'], ['c2', '/etc/app.conf']] });
  const refs = t.Spec.ContainerSpec!.Secrets as Array<{ File: Record<string, unknown> }>;
  refs.push({ SecretID: 's1', File: { Name: '/abs/key', UID: '1000', GID: '50', Mode: 0o400 } } as never);
  const payloads: TaskPayloads = {
    secrets: [{ ID: 's1', Name: 'one', Data: b64('hunter2') }],
    configs: [{ ID: 'c1', Name: 'conf', Data: b64('a') }, { ID: 'c2', Name: 'app', Data: b64('b') }],
  };
  const files = planTaskFiles(t, NODE, payloads);
  const brief = files.map((f) => ({ target: f.target, uid: f.uid, gid: f.gid, mode: f.mode.toString(8), data: f.data.toString() }));
  assert.deepEqual(brief, [
    { target: '/run/secrets/name-s1', uid: 0, gid: 0, mode: '444', data: 'hunter2' },
    { target: '/abs/key', uid: 1000, gid: 50, mode: '400', data: 'hunter2' },
    { target: '/name-c1', uid: 0, gid: 0, mode: '444', data: 'a' },
    { target: '/etc/app.conf', uid: 0, gid: 0, mode: '444', data: 'b' },
  ]);
  assert.equal(new Set(files.map((f) => f.name)).size, 4, 'one file per reference');
  assert.deepEqual(taskFileMounts(files.slice(0, 1), '/run/berth/swarm-secrets/t1'), [
    { Type: 'bind', Source: `/run/berth/swarm-secrets/t1/${files[0]!.name}`, Target: '/run/secrets/name-s1', ReadOnly: true },
  ]);
  assert.throws(() => planTaskFiles(t, NODE, { ...payloads, secrets: [] }), { message: 'unable to get secret from secret store: secret s1 not found' });
  assert.throws(() => planTaskFiles(t, NODE, undefined), /secret s1 not found/);
  assert.throws(() => planTaskFiles(t, NODE, { ...payloads, configs: payloads.configs.slice(1) }), { message: 'unable to get config from config store: config c1 not found' });
});

test('templated configs and secrets are rendered per task with the swarmkit context and functions', () => {
  const text = [
    '{{.Service.Name}} {{.Service.ID}} {{index .Service.Labels "tier"}}',
    '{{.Node.ID}} {{.Node.Hostname}} {{.Node.Platform.OS}} {{.Node.Platform.Architecture}}',
    '{{.Task.ID}} {{.Task.Name}} {{.Task.Slot}}',
    '{{env "MODE"}}|{{env "MISSING"}}|{{secret "name-s1"}}|{{config "plain"}}|{{join "," "a" "b"}}',
  ].join('\n');
  const t = task('t1', { secrets: ['s1'], configs: [['c1', '/app.conf'], ['c2', 'plain']], env: ['MODE=prod'] });
  const payloads: TaskPayloads = {
    secrets: [{ ID: 's1', Name: 'one', Data: b64('hunter2') }],
    configs: [{ ID: 'c1', Name: 'tmpl', Data: b64(text), Templating: { Name: 'golang' } }, { ID: 'c2', Name: 'plain', Data: b64('{{.Task.ID}} stays') }],
    serviceLabels: { svc1: { tier: 'front' } },
  };
  const files = planTaskFiles(t, NODE, payloads);
  assert.equal(files[1]!.data.toString(), [
    'web svc1 front',
    'n1 node-host linux x86_64',
    't1 web.3.t1 3',
    'prod||hunter2|{{.Task.ID}} stays|a,b',
  ].join('\n'));
  assert.equal(files[2]!.data.toString(), '{{.Task.ID}} stays', 'a config without Templating is taken as it is');
  // A templated secret, too.
  const st = task('t2', { secrets: ['s2'] });
  assert.equal(planTaskFiles(st, NODE, { secrets: [{ ID: 's2', Name: 'x', Data: b64('pw-{{.Task.Slot}}'), Templating: { Name: 'golang' } }], configs: [] })[0]!.data.toString(), 'pw-3');
  assert.throws(() => renderPayload('{{secret "nope"}}', t, NODE, payloads), /secret target nope not found/);
  assert.throws(() => planTaskFiles(st, NODE, { secrets: [{ ID: 's2', Name: 'x', Data: b64('{{.Task.Slot'), Templating: { Name: 'golang' } }], configs: [] }), { message: 'failed to expand templated secret s2: template: expansion:1: unclosed action' });
  assert.throws(() => planTaskFiles(task('t5', { secrets: ['s2'] }), NODE, { secrets: [{ ID: 's2', Name: 'x', Data: b64('{{secret "zz"}}'), Templating: { Name: 'golang' } }], configs: [] }), {
    message: 'failed to expand templated secret s2: template: expansion:1:2: executing "expansion" at <secret "zz">: error calling secret: secret target zz not found',
  });
  assert.throws(() => planTaskFiles(st, NODE, { secrets: [{ ID: 's2', Name: 'x', Data: b64('x'), Templating: { Name: 'jinja' } }], configs: [] }), { message: 'failed to expand templated secret s2: unrecognized template type' });
});

// ---------------------------------------------------------------- the agent

class MemoryTaskFiles implements TaskFileStore {
  dirs = new Map<string, TaskFile[]>();
  async write(taskId: string, files: TaskFile[]) {
    this.dirs.set(taskId, files);
    return `/secrets/${taskId}`;
  }
  async remove(taskId: string) {
    this.dirs.delete(taskId);
  }
  async list() {
    return [...this.dirs.keys()];
  }
}

function fakeAgent() {
  const containers = new Map<string, TaskContainer & { req: CreateRequest }>();
  const files = new MemoryTaskFiles();
  const listeners = new Set<(e: { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }) => void>();
  let n = 0;
  const deps: AgentDeps = {
    node: () => NODE,
    networking: { sync: async () => {}, localNetwork: () => undefined, teardown: async () => {} },
    reportRetryMs: 20,
    taskFiles: files,
    events: { subscribe: (l) => (listeners.add(l), () => listeners.delete(l)) },
    images: { exists: () => true, pull: async () => {} },
    containers: {
      listTaskContainers: () => [...containers.values()],
      get: (ref) => containers.get(ref) ?? [...containers.values()].find((c) => c.name === ref),
      create: async (req) => {
        const id = `c${++n}`;
        containers.set(id, { id, name: req.name!, labels: req.config.Labels ?? {}, status: 'created', running: false, pid: 0, exitCode: 0, hasHealthcheck: false, req });
        return { Id: id };
      },
      start: async (id) => void Object.assign(containers.get(id)!, { running: true, status: 'running', pid: 1 }),
      stop: async (id) => void Object.assign(containers.get(id)!, { running: false, status: 'exited', exitCode: 143 }),
      remove: async (id) => void containers.delete(id),
    },
  };
  const reports: Array<{ taskId: string; status: TaskStatus }> = [];
  let onView: ((v: NodeView) => void) | undefined;
  const channel: AgentChannel = { watch: (cb) => ((onView = cb), () => (onView = undefined)), report: async (u) => void reports.push(...u) };
  const agent = new NodeAgent(deps, 'n1', channel);
  const exit = (taskId: string, code: number) => {
    const c = [...containers.values()].find((x) => x.labels['com.docker.swarm.task.id'] === taskId)!;
    Object.assign(c, { running: false, status: 'exited', exitCode: code });
    for (const l of listeners) l({ Type: 'container', Action: 'die', Actor: { ID: c.id, Attributes: c.labels } });
  };
  return { agent, containers, files, reports, exit, push: (tasks: Task[], payloads?: TaskPayloads) => onView!({ nodeId: 'n1', tasks, networks: [], nodes: [], endpoints: [], ...(payloads ? { payloads } : {}) }) };
}

test('the agent mounts a task its secrets, removes them with its container, and rejects a task whose secret is missing', async () => {
  const a = fakeAgent();
  // Left over from before a restart: no container of it remains.
  await a.files.write('stale', []);
  a.agent.start();
  await until('the stale directory to go', () => !a.files.dirs.has('stale'));
  const t = task('t1', { secrets: ['s1'] });
  a.push([t], { secrets: [{ ID: 's1', Name: 'one', Data: b64('hunter2') }], configs: [] });
  await until('running', () => a.reports.some((r) => r.taskId === 't1' && r.status.State === 'running'));
  const c = [...a.containers.values()][0]!;
  const mounts = c.req.hostConfig.Mounts as Array<{ Type: string; Source: string; Target: string; ReadOnly: boolean }>;
  assert.deepEqual(mounts.map((m) => [m.Type, m.Target, m.ReadOnly, m.Source.startsWith('/secrets/t1/')]), [['bind', '/run/secrets/name-s1', true, true]]);
  assert.equal(a.files.dirs.get('t1')![0]!.data.toString(), 'hunter2');
  assert.ok(!JSON.stringify(c.req).includes('hunter2') && !JSON.stringify(c.req).includes(b64('hunter2')), 'no secret data in the container config');
  // The task leaves the view: container and files go.
  a.push([]);
  await until('the files to go', () => !a.files.dirs.has('t1') && a.containers.size === 0);
  // A task whose secret the view does not carry is rejected with dockerd's words.
  a.push([task('t2', { secrets: ['s9'] })], { secrets: [], configs: [] });
  await until('rejected', () => a.reports.some((r) => r.taskId === 't2' && r.status.State === 'rejected'));
  const rejected = a.reports.find((r) => r.taskId === 't2' && r.status.State === 'rejected')!.status;
  assert.equal(rejected.Err, 'unable to get secret from secret store: secret s9 not found');
  assert.equal(a.containers.size, 0);
  assert.ok(!a.files.dirs.has('t2'));
  // A task that ends loses its files at once, though its container stays until the task is reaped (as dockerd unmounts them at stop).
  a.push([task('t4', { secrets: ['s1'] })], { secrets: [{ ID: 's1', Name: 'one', Data: b64('hunter2') }], configs: [] });
  await until('t4 running', () => a.reports.some((r) => r.taskId === 't4' && r.status.State === 'running'));
  assert.ok(a.files.dirs.has('t4'));
  a.exit('t4', 1);
  await until('t4 failed', () => a.reports.some((r) => r.taskId === 't4' && r.status.State === 'failed'));
  await until('the files of t4 to go', () => !a.files.dirs.has('t4'));
  assert.equal(a.containers.size, 1, 'the ended task keeps its container');
  // Leaving the swarm removes every task's files.
  a.push([task('t3', { configs: [['c1']] })], { secrets: [], configs: [{ ID: 'c1', Name: 'conf', Data: b64('x') }] });
  await until('t3 running', () => a.reports.some((r) => r.taskId === 't3' && r.status.State === 'running'));
  assert.ok(a.files.dirs.has('t3'));
  await a.agent.stop({ removeTasks: true });
  assert.equal(a.files.dirs.size, 0);
});

// ---------------------------------------------------------------- the tmpfs

test('task files live on a read-only tmpfs of their own with their owner and mode, and leave nothing behind', { skip: process.getuid?.() !== 0 ? 'needs root (mount)' : false }, async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-task-files-'));
  const store = tmpfsTaskFiles(path.join(root, 'swarm-secrets'));
  try {
    const files: TaskFile[] = [
      { name: 'secret-0-s1', data: Buffer.from('hunter2'), uid: 1000, gid: 50, mode: 0o400, target: '/run/secrets/one' },
      { name: 'config-0-c1', data: Buffer.from('a=1'), uid: 0, gid: 0, mode: 0o444, target: '/conf' },
    ];
    const dir = await store.write('task1', files);
    assert.equal(dir, path.join(root, 'swarm-secrets', 'task1'));
    const line = readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === dir)!;
    assert.ok(line, 'mounted');
    const [, , type, options] = line.split(' ');
    assert.equal(type, 'tmpfs');
    for (const o of ['ro', 'nosuid', 'nodev', 'noexec', 'mode=700']) assert.ok(options!.split(',').includes(o), `${o} in ${options}`);
    const st = await fs.stat(path.join(dir, 'secret-0-s1'));
    assert.equal(st.mode & 0o7777, 0o400);
    assert.equal(st.uid, 1000);
    assert.equal(st.gid, 50);
    assert.equal(await fs.readFile(path.join(dir, 'secret-0-s1'), 'utf8'), 'hunter2');
    await assert.rejects(fs.writeFile(path.join(dir, 'x'), 'y'), /EROFS/);
    assert.deepEqual(await store.list(), ['task1']);
    // Writing again starts afresh.
    await store.write('task1', files.slice(1));
    assert.deepEqual((await fs.readdir(dir)).sort(), ['config-0-c1']);
    await store.remove('task1');
    assert.equal(isMounted(dir), false);
    await assert.rejects(fs.stat(dir), /ENOENT/);
    await store.remove('task1'); // nothing left: no error
    await assert.rejects(store.write('../escape', files), /invalid task id/);
    await assert.rejects(store.write('task2', [{ ...files[0]!, name: '../x' }]), /invalid task file name/);
    assert.equal(isMounted(path.join(root, 'swarm-secrets', 'task2')), false, 'a failed write leaves no mount');
  } finally {
    await store.remove('task1').catch(() => undefined);
    await fs.rm(root, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- the CLI

test('--secret and --config values as the docker CLI parses them', () => {
  assert.deepEqual(parseSecretRef('db'), { SecretName: 'db', File: { Name: 'db', UID: '0', GID: '0', Mode: 0o444 } });
  assert.deepEqual(parseSecretRef('source=db,target=/etc/pw,uid=1000,gid=10,mode=0400'), { SecretName: 'db', File: { Name: '/etc/pw', UID: '1000', GID: '10', Mode: 0o400 } });
  assert.deepEqual(parseSecretRef('src=db'), { SecretName: 'db', File: { Name: 'db', UID: '0', GID: '0', Mode: 0o444 } });
  assert.deepEqual(parseConfigRef('source=app,target=/etc/app.conf,mode=292'), { ConfigName: 'app', File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 292 } });
  assert.throws(() => parseSecretRef('target=x'), { message: 'source is required' });
  assert.throws(() => parseSecretRef('source=db,foo=1'), { message: 'invalid field in secret request: foo' });
  assert.throws(() => parseConfigRef('source=db,foo=1'), { message: 'invalid field in config request: foo' });
  assert.throws(() => parseSecretRef('source=db,x'), { message: "invalid field 'x' must be a key=value pair" });
  assert.throws(() => parseSecretRef('source=db,mode=abc'), { message: 'invalid mode specified: strconv.ParseUint: parsing "abc": invalid syntax' });
  assert.equal(parseGoUint32('0x1ff'), 0o777);
  assert.equal(parseGoUint32('0o755'), 0o755);
  assert.equal(parseGoUint32('0'), 0);
  assert.throws(() => parseGoUint32('09'), /invalid syntax/);
  assert.throws(() => parseGoUint32('4294967296'), /value out of range/);
});

test('names resolve to IDs as ParseSecrets does; update adds and removes by name', async () => {
  const objects = { secret: [{ ID: 'sid1', Spec: { Name: 'db' } }, { ID: 'sid2', Spec: { Name: 'api' } }], config: [{ ID: 'cid1', Spec: { Name: 'app' } }] };
  const asked: string[][] = [];
  const list: ListByName = async (kind, names) => {
    asked.push(names);
    return objects[kind].filter((o) => names.includes(o.Spec.Name));
  };
  const refs = await resolveRefs('secret', [parseSecretRef('db'), parseSecretRef('source=db,target=db2')], list);
  assert.deepEqual(refs.map((r) => [r.SecretID, r.File!.Name]), [['sid1', 'db'], ['sid1', 'db2']]);
  assert.deepEqual(asked.at(-1), ['db']);
  await assert.rejects(resolveRefs('secret', [parseSecretRef('db'), parseSecretRef('source=api,target=db')], list), { message: 'duplicate secret target for api not allowed' });
  await assert.rejects(resolveRefs('secret', [parseSecretRef('nope')], list), { message: 'secret not found: nope' });
  await assert.rejects(resolveRefs('config', [parseConfigRef('nope')], list), { message: 'config not found: nope' });
  assert.deepEqual(await resolveRefs('secret', [], list), []);
  const current = await resolveRefs('secret', [parseSecretRef('db')], list);
  const next = await updatedRefs('secret', current, [parseSecretRef('api')], ['db'], list);
  assert.deepEqual(next.map((r) => r.SecretName), ['api']);
  const cfg = await updatedRefs('config', [{ ConfigID: 'cred', ConfigName: 'cred', Runtime: {} }], [parseConfigRef('app')], ['cred'], list);
  assert.deepEqual(cfg.map((r) => r.ConfigID), ['cred', 'cid1'], 'runtime targets stay');
});
