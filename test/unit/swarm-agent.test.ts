import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerCreateRequest, taskLabels, taskName } from '../../src/swarm/agent/spec.js';
import { NodeAgent } from '../../src/swarm/agent/agent.js';
import type { AgentDeps, AgentEvent, TaskContainer } from '../../src/swarm/agent/deps.js';
import type { AgentChannel, ClusterNetworking, NodeView } from '../../src/swarm/contracts.js';
import type { ClusterNetwork, Task, TaskState, TaskStatus } from '../../src/swarm/types.js';
import type { CreateRequest } from '../../src/containers/service.js';
import { conflict } from '../../src/lib/errors.js';

const NODE = { Hostname: 'node-host', Platform: { OS: 'linux', Architecture: 'x86_64' } };

function overlay(id: string, name: string): ClusterNetwork {
  return {
    ID: id, Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '',
    Spec: { Name: name, DriverConfiguration: { Name: 'overlay' } },
    DriverState: { Name: 'overlay', Options: {} },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] },
  };
}

function task(over: Partial<Task> = {}): Task {
  return {
    ID: 'task1aaaaaaaaaaaaaaaaaaaaa', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '',
    ServiceID: 'svc1bbbbbbbbbbbbbbbbbbbbbb', Slot: 2, NodeID: 'node1', DesiredState: 'running',
    Status: { Timestamp: '', State: 'assigned', Message: 'scheduler assigned task to node' },
    Spec: { ContainerSpec: { Image: 'busybox', Command: ['sleep'], Args: ['100'] } },
    BerthService: { Name: 'web', EndpointMode: 'vip' },
    ...over,
  };
}

test('names, labels and templates as dockerd makes them', () => {
  const t = task({ Spec: { ContainerSpec: { Image: 'busybox', Labels: { a: 'b', 'com.docker.swarm.task.id': 'spoof', 'com.docker.stack.namespace': 'st' }, Hostname: '{{.Service.Name}}-{{.Task.Slot}}-{{.Node.Hostname}}', Env: ['X={{.Task.Name}}', 'PLAIN'], Mounts: [{ Type: 'volume', Source: 'v-{{.Task.Slot}}', Target: '/data' }] } } });
  assert.equal(taskName(t), 'web.2.task1aaaaaaaaaaaaaaaaaaaaa');
  assert.equal(taskName(task({ Slot: undefined })), 'web.node1.task1aaaaaaaaaaaaaaaaaaaaa');
  const labels = taskLabels(t);
  assert.equal(labels['com.docker.swarm.task.id'], t.ID);
  assert.equal(labels['com.docker.swarm.task'], '');
  assert.equal(labels['com.docker.swarm.task.name'], 'web.2.task1aaaaaaaaaaaaaaaaaaaaa');
  assert.equal(labels['com.docker.swarm.service.name'], 'web');
  assert.equal(labels['com.docker.swarm.service.id'], t.ServiceID);
  assert.equal(labels['com.docker.swarm.node.id'], 'node1');
  assert.equal(labels['com.docker.stack.namespace'], 'st');
  assert.equal(labels.a, 'b');
  const req = containerCreateRequest(t, NODE, () => undefined);
  assert.equal(req.config.Hostname, 'web-2-node-host');
  assert.deepEqual(req.config.Env, ['X=web.2.task1aaaaaaaaaaaaaaaaaaaaa', 'PLAIN']);
  assert.deepEqual((req.hostConfig.Mounts as Array<{ Source: string }>)[0]!.Source, 'v-2');
  assert.equal(req.config.Image, 'busybox:latest');
  assert.equal(req.hostConfig.NetworkMode, undefined);
  assert.deepEqual(req.hostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
});

test('Command replaces the entrypoint (Args its Cmd); Args alone are the Cmd', () => {
  const both = containerCreateRequest(task(), NODE, () => undefined);
  assert.deepEqual(both.config.Entrypoint, ['sleep']);
  assert.deepEqual(both.config.Cmd, ['100']);
  const args = containerCreateRequest(task({ Spec: { ContainerSpec: { Image: 'x', Args: ['-v'] } } }), NODE, () => undefined);
  assert.equal(args.config.Entrypoint, undefined);
  assert.deepEqual(args.config.Cmd, ['-v']);
});

test('spec options, limits, host ports and network attachments map onto the create body', () => {
  const net = overlay('net1', 'backend');
  const t = task({
    Spec: {
      ContainerSpec: {
        Image: 'reg.example:5000/app@sha256:' + 'a'.repeat(64), Dir: '/w', User: 'nobody', Groups: ['wheel'], TTY: true, OpenStdin: true, ReadOnly: true,
        StopSignal: 'SIGUSR1', Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 }, Hosts: ['10.1.1.1 db alias', 'bad'],
        DNSConfig: { Nameservers: ['9.9.9.9'], Search: ['x.y'], Options: ['ndots:1'] }, Init: true, Sysctls: { 'net.core.somaxconn': '1024' },
        CapabilityAdd: ['NET_ADMIN'], CapabilityDrop: ['MKNOD'], Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }],
        OomScoreAdj: 300, Privileges: { Seccomp: { Mode: 'unconfined' }, AppArmor: { Mode: 'disabled' }, NoNewPrivileges: true },
      },
      Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 << 20, Pids: 50 } },
      LogDriver: { Name: 'json-file', Options: { 'max-size': '1m' } },
      Networks: [{ Target: 'net1', Aliases: ['api'] }],
    },
    NetworksAttachments: [{ Network: net, Addresses: ['10.0.1.5/24'] }],
    BerthService: { Name: 'web', EndpointMode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }, { Protocol: 'tcp', TargetPort: 81, PublishedPort: 30001, PublishMode: 'ingress' }] },
  });
  const req = containerCreateRequest(t, NODE, (id) => (id === 'net1' ? 'backend' : undefined));
  const { config: c, hostConfig: h } = req;
  assert.equal(c.Image, 'reg.example:5000/app@sha256:' + 'a'.repeat(64));
  assert.equal(c.WorkingDir, '/w');
  assert.equal(c.User, 'nobody');
  assert.equal(c.Tty, true);
  assert.equal(c.OpenStdin, true);
  assert.equal(c.StopSignal, 'SIGUSR1');
  assert.deepEqual(c.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9 });
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {} });
  assert.deepEqual(h.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
  assert.deepEqual(h.GroupAdd, ['wheel']);
  assert.equal(h.ReadonlyRootfs, true);
  assert.deepEqual(h.ExtraHosts, ['db:10.1.1.1']);
  assert.deepEqual(h.Dns, ['9.9.9.9']);
  assert.deepEqual(h.DnsSearch, ['x.y']);
  assert.deepEqual(h.DnsOptions, ['ndots:1']);
  assert.equal(h.Init, true);
  assert.deepEqual(h.Sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(h.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(h.CapDrop, ['MKNOD']);
  assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 10, Hard: 20 }]);
  assert.equal(h.NanoCpus, 5e8);
  assert.equal(h.Memory, 64 << 20);
  assert.equal(h.PidsLimit, 50);
  assert.deepEqual(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
  assert.equal(h.OomScoreAdj, 300);
  assert.deepEqual(h.SecurityOpt, ['seccomp=unconfined', 'apparmor=unconfined', 'no-new-privileges=true']);
  assert.equal(h.NetworkMode, 'backend');
  assert.deepEqual(req.networkingConfig, { EndpointsConfig: { backend: { IPAMConfig: { IPv4Address: '10.0.1.5' }, Aliases: ['web', 'api'] } } });
  // A network this node does not know (yet) rejects the task.
  assert.throws(() => containerCreateRequest(t, NODE, () => undefined), /network backend not found/);
});

// ------------------------------------------------------------------ the agent with fakes

class FakeEngine {
  readonly containers = new Map<string, TaskContainer & { req: CreateRequest }>();
  readonly listeners = new Set<(e: AgentEvent) => void>();
  readonly images = new Set<string>(['busybox:latest']);
  pulls: string[] = [];
  stops: Array<{ id: string; timeout?: number }> = [];
  removed: string[] = [];
  startFails = false;
  private n = 0;

  emit(c: TaskContainer, action: string) {
    for (const l of this.listeners) l({ Type: 'container', Action: action, Actor: { ID: c.id, Attributes: c.labels } });
  }
  exit(id: string, code: number) {
    const c = this.containers.get(id)!;
    Object.assign(c, { running: false, status: 'exited', exitCode: code, pid: 0 });
    this.emit(c, 'die');
  }
  health(id: string, status: 'healthy' | 'unhealthy') {
    const c = this.containers.get(id)!;
    c.health = status;
    this.emit(c, `health_status: ${status}`);
  }
  byTask(taskId: string) {
    return [...this.containers.values()].find((c) => c.labels['com.docker.swarm.task.id'] === taskId);
  }

  deps(networking: ClusterNetworking): AgentDeps {
    return {
      node: () => NODE,
      networking,
      reportRetryMs: 20,
      events: { subscribe: (l) => (this.listeners.add(l), () => this.listeners.delete(l)) },
      images: {
        exists: (ref) => this.images.has(ref),
        pull: async (ref, signal) => {
          this.pulls.push(ref);
          if (ref.startsWith('slow')) {
            await new Promise((resolve, reject) => {
              const timer = setTimeout(resolve, 5000);
              signal?.addEventListener('abort', () => (clearTimeout(timer), reject(new Error('pull aborted'))));
            });
          }
          if (ref.startsWith('nosuch')) throw new Error('pull access denied');
          this.images.add(ref);
        },
      },
      containers: {
        listTaskContainers: () => [...this.containers.values()],
        get: (ref) => this.containers.get(ref) ?? [...this.containers.values()].find((c) => c.name === ref),
        create: async (req) => {
          if ([...this.containers.values()].some((c) => c.name === req.name)) throw conflict('name in use');
          const id = `c${++this.n}`;
          const hc = req.config.Healthcheck as { Test?: string[] } | undefined;
          this.containers.set(id, { id, name: req.name!, labels: req.config.Labels ?? {}, status: 'created', running: false, pid: 0, exitCode: 0, hasHealthcheck: Boolean(hc?.Test?.length), req });
          return { Id: id };
        },
        start: async (id) => {
          if (this.startFails) throw new Error('exec: "nope": executable file not found in $PATH');
          const c = this.containers.get(id)!;
          Object.assign(c, { running: true, status: 'running', pid: 4242, ...(c.hasHealthcheck ? { health: 'starting' } : {}) });
          this.emit(c, 'start');
        },
        stop: async (id, timeout) => {
          this.stops.push({ id, timeout });
          const c = this.containers.get(id)!;
          if (c.running) this.exit(id, 143);
        },
        remove: async (id) => {
          this.removed.push(id);
          this.containers.delete(id);
        },
      },
    };
  }
}

class FakeChannel implements AgentChannel {
  onView?: (v: NodeView) => void;
  reports: Array<{ taskId: string; status: TaskStatus }> = [];
  failReports = 0;
  watch(onView: (v: NodeView) => void) {
    this.onView = onView;
    return () => (this.onView = undefined);
  }
  async report(updates: Array<{ taskId: string; status: TaskStatus }>) {
    if (this.failReports > 0) {
      this.failReports--;
      throw new Error('manager unreachable');
    }
    this.reports.push(...updates);
  }
  states(taskId: string): string[] {
    return this.reports.filter((r) => r.taskId === taskId).map((r) => r.status.State);
  }
  last(taskId: string): TaskStatus | undefined {
    return this.reports.filter((r) => r.taskId === taskId).at(-1)?.status;
  }
}

class FakeNetworking implements ClusterNetworking {
  syncs: NodeView[] = [];
  tornDown = false;
  async sync(view: NodeView) {
    this.syncs.push(view);
    await new Promise((r) => setTimeout(r, 5));
  }
  localNetwork(id: string) {
    return this.syncs.some((v) => v.networks.some((n) => n.ID === id)) ? `local-${id}` : undefined;
  }
  async teardown() {
    this.tornDown = true;
  }
}

function view(tasks: Task[], networks: ClusterNetwork[] = []): NodeView {
  return { nodeId: 'node1', tasks, networks, nodes: [], endpoints: [] };
}

let debugReports: unknown = null;
async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(debugReports)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(opts: { reportHoldMs?: number } = {}) {
  const engine = new FakeEngine();
  const net = new FakeNetworking();
  const channel = new FakeChannel();
  const agent = new NodeAgent({ ...engine.deps(net), ...opts }, 'node1', channel);
  debugReports = channel.reports;
  agent.start();
  return { engine, net, channel, agent };
}

test('a task goes accepted -> preparing -> ready -> starting -> running, then complete on exit 0', async () => {
  const { engine, channel, agent, net } = setup({ reportHoldMs: 10_000 });
  const t = task();
  channel.onView!(view([t]));
  await until(() => channel.last(t.ID)?.State === 'running', 'running');
  // States on the way to running are held up to 100 ms: a task that starts at once reports once, as running.
  const order = ['accepted', 'preparing', 'ready', 'starting', 'running'];
  const seen = channel.states(t.ID);
  assert.deepEqual(seen, order.filter((s) => seen.includes(s)));
  assert.deepEqual(seen, ['running'], 'a quick start is one report');
  const messages: Record<string, string> = { accepted: 'accepted', preparing: 'preparing', ready: 'prepared', starting: 'starting', running: 'started' };
  for (const r of channel.reports.filter((r) => r.taskId === t.ID)) assert.equal(r.status.Message, messages[r.status.State]);
  const c = engine.byTask(t.ID)!;
  assert.equal(c.name, 'web.2.task1aaaaaaaaaaaaaaaaaaaaa');
  assert.deepEqual(channel.last(t.ID)!.ContainerStatus, { ContainerID: c.id, PID: 4242, ExitCode: 0 });
  assert.ok(net.syncs.length >= 1);
  assert.deepEqual(engine.pulls, [], 'an image that is there is not pulled');
  engine.exit(c.id, 0);
  await until(() => channel.last(t.ID)?.State === 'complete', 'complete');
  assert.equal(channel.last(t.ID)!.Message, 'finished');
  assert.equal(channel.last(t.ID)!.Err, undefined);
  await agent.stop({ removeTasks: false });
  assert.ok(engine.containers.has(c.id), 'daemon shutdown leaves task containers');
});

test('a non-zero exit fails the task with dockerd\'s error and the exit code', async () => {
  const { engine, channel, agent } = setup();
  const t = task();
  channel.onView!(view([t]));
  await until(() => channel.last(t.ID)?.State === 'running', 'running');
  engine.exit(engine.byTask(t.ID)!.id, 3);
  await until(() => channel.last(t.ID)?.State === 'failed', 'failed');
  const st = channel.last(t.ID)!;
  assert.equal(st.Err, 'task: non-zero exit (3)');
  assert.equal(st.Message, 'started');
  assert.equal(st.ContainerStatus!.ExitCode, 3);
  await agent.stop({ removeTasks: true });
  assert.equal(engine.containers.size, 0, 'leaving removes task containers');
});

test('a missing image rejects the task; a failed start fails it', async () => {
  const { engine, channel, agent } = setup();
  const bad = task({ ID: 'badimage', Spec: { ContainerSpec: { Image: 'nosuch/img' } } });
  channel.onView!(view([bad]));
  await until(() => channel.last(bad.ID)?.State === 'rejected', 'rejected');
  assert.equal(channel.last(bad.ID)!.Err, 'No such image: nosuch/img:latest');
  assert.equal(channel.last(bad.ID)!.Message, 'preparing');
  const pulled = task({ ID: 'pulled', Spec: { ContainerSpec: { Image: 'alpine:3' } } });
  channel.onView!(view([bad, pulled]));
  await until(() => channel.last(pulled.ID)?.State === 'running', 'pulled image running');
  assert.deepEqual(engine.pulls, ['nosuch/img:latest', 'alpine:3']);
  engine.startFails = true;
  const t = task({ ID: 'nostart' });
  channel.onView!(view([bad, pulled, t]));
  await until(() => channel.last(t.ID)?.State === 'failed', 'failed');
  assert.match(channel.last(t.ID)!.Err!, /^starting container failed: exec: "nope"/);
  await agent.stop({ removeTasks: false });
});

test('desired shutdown stops the container with the grace period; leaving the view removes it', async () => {
  const { engine, channel, agent } = setup();
  const t = task({ Spec: { ContainerSpec: { Image: 'busybox', StopGracePeriod: 3e9 } } });
  channel.onView!(view([t]));
  await until(() => channel.last(t.ID)?.State === 'running', 'running');
  const id = engine.byTask(t.ID)!.id;
  channel.onView!(view([{ ...t, DesiredState: 'shutdown', Status: channel.last(t.ID)! }]));
  await until(() => channel.last(t.ID)?.State === 'shutdown', 'shutdown');
  assert.deepEqual(engine.stops, [{ id, timeout: 3 }]);
  assert.equal(channel.last(t.ID)!.Message, 'shutdown');
  assert.ok(!channel.states(t.ID).includes('failed'), 'the exit of a stop is no failure');
  assert.ok(engine.containers.has(id), 'kept while the task is in the view');
  channel.onView!(view([]));
  await until(() => !engine.containers.has(id), 'removal');
  await agent.stop({ removeTasks: false });
});

test('a state held on the way to running is reported within the hold while a slow step runs', async () => {
  const { engine, channel, agent } = setup({ reportHoldMs: 300 });
  const t = task({ Spec: { ContainerSpec: { Image: 'slow/image' } } });
  channel.onView!(view([t]));
  await until(() => engine.pulls.length === 1, 'the pull');
  assert.equal(channel.last(t.ID), undefined, 'nothing reported before the hold ends');
  await until(() => channel.last(t.ID)?.State === 'preparing', 'preparing during the pull', 2000);
  await agent.stop({ removeTasks: true });
});

test('a shutdown during a pull calls the pull off and reports shutdown', async () => {
  const { engine, channel, agent } = setup();
  const t = task({ Spec: { ContainerSpec: { Image: 'slow/image' } } });
  channel.onView!(view([t]));
  await until(() => engine.pulls.length === 1, 'the pull');
  const started = Date.now();
  channel.onView!(view([{ ...t, DesiredState: 'shutdown' }]));
  await until(() => channel.last(t.ID)?.State === 'shutdown', 'shutdown');
  assert.ok(Date.now() - started < 1000);
  assert.ok(!channel.states(t.ID).includes('rejected'));
  assert.equal(engine.containers.size, 0);
  await agent.stop({ removeTasks: false });
});

test('desired ready stops at ready (prepared, not started) until desired running', async () => {
  const { engine, channel, agent } = setup();
  const t = task({ DesiredState: 'ready' });
  channel.onView!(view([t]));
  await until(() => channel.last(t.ID)?.State === 'ready', 'ready');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(channel.last(t.ID)!.State, 'ready');
  assert.equal(engine.byTask(t.ID)!.status, 'created');
  channel.onView!(view([{ ...t, DesiredState: 'running' }]));
  await until(() => channel.last(t.ID)?.State === 'running', 'running');
  await agent.stop({ removeTasks: false });
});

test('with a healthcheck the task runs once healthy; unhealthy stops and fails it', async () => {
  const { engine, channel, agent } = setup();
  const t = task({ Spec: { ContainerSpec: { Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'] } } } });
  channel.onView!(view([t]));
  await until(() => channel.last(t.ID)?.State === 'starting', 'starting');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(channel.last(t.ID)!.State, 'starting');
  const id = engine.byTask(t.ID)!.id;
  engine.health(id, 'healthy');
  await until(() => channel.last(t.ID)?.State === 'running', 'running');
  engine.health(id, 'unhealthy');
  await until(() => channel.last(t.ID)?.State === 'failed', 'failed');
  assert.equal(channel.last(t.ID)!.Err, 'task: non-zero exit (143): dockerexec: unhealthy container');
  await agent.stop({ removeTasks: false });
});

test('reports the managers did not take are sent again', async () => {
  const { channel, agent } = setup();
  channel.failReports = 3;
  const t = task();
  channel.onView!(view([t]));
  await until(() => channel.last(t.ID)?.State === 'running', 'running after retries');
  await agent.stop({ removeTasks: false });
});

test('networks: synced before the task is created; the task attaches to the local network', async () => {
  const { engine, channel, agent, net } = setup();
  const n = overlay('net1', 'backend');
  const t = task({ NetworksAttachments: [{ Network: n, Addresses: ['10.0.1.7/24'] }] });
  channel.onView!(view([t], [n]));
  await until(() => channel.last(t.ID)?.State === 'running', 'running');
  assert.equal(engine.byTask(t.ID)!.req.hostConfig.NetworkMode, 'local-net1');
  assert.equal(net.syncs.length, 1);
  await agent.stop({ removeTasks: true });
  assert.ok(net.tornDown);
});

test('adoption: containers found at start continue their tasks; orphans are removed', async () => {
  const engine = new FakeEngine();
  const net = new FakeNetworking();
  const first = new FakeChannel();
  const a1 = new NodeAgent(engine.deps(net), 'node1', first);
  a1.start();
  const t = task();
  const gone = task({ ID: 'gonetask', Slot: 3 });
  first.onView!(view([t, gone]));
  await until(() => first.last(t.ID)?.State === 'running' && first.last(gone.ID)?.State === 'running', 'both running');
  await a1.stop({ removeTasks: false });
  const cid = engine.byTask(t.ID)!.id;
  const goneId = engine.byTask(gone.ID)!.id;
  // "Daemon restart": the container of t exited meanwhile; gone's task was deleted.
  Object.assign(engine.containers.get(cid)!, { running: false, status: 'exited', exitCode: 137 });
  const second = new FakeChannel();
  const a2 = new NodeAgent(engine.deps(net), 'node1', second);
  a2.start();
  second.onView!(view([{ ...t, Status: first.last(t.ID)! }]));
  await until(() => second.last(t.ID)?.State === 'failed', 'failed after adoption');
  assert.equal(second.last(t.ID)!.Err, 'task: non-zero exit (137)');
  assert.equal(second.last(t.ID)!.ContainerStatus!.ContainerID, cid);
  await until(() => !engine.containers.has(goneId), 'orphan removed');
  assert.ok(engine.containers.has(cid));
  assert.equal([...engine.containers.values()].length, 1, 'no second container made');
  await a2.stop({ removeTasks: false });
});

test('with the real dispatcher on a store: statuses land in the tasks; a deleted task loses its container', async () => {
  const { memorySwarmStore } = await import('../../src/swarm/store/memory.js');
  const { Dispatcher, memoryLiveness, localAgentChannel } = await import('../../src/swarm/dispatcher/index.js');
  const store = memorySwarmStore();
  await store.nodes.create({
    ID: 'node1', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '',
    Spec: { Role: 'worker', Availability: 'active' },
    Description: { Hostname: 'node-host', Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 1e9, MemoryBytes: 1 << 30 }, Engine: { EngineVersion: '28' }, TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' } },
    Status: { State: 'ready', Addr: '127.0.0.1' },
  });
  const liveness = memoryLiveness();
  const dispatcher = new Dispatcher({ store, liveness, debounceMs: 5 });
  await dispatcher.start();
  const engine = new FakeEngine();
  const agent = new NodeAgent(engine.deps(new FakeNetworking()), 'node1', localAgentChannel(dispatcher, 'node1', { heartbeatMs: 50 }));
  agent.start();
  const stateOf = async (id: string) => (await store.tasks.get(id))?.Status.State;
  const waitState = async (id: string, s: TaskState) => {
    const end = Date.now() + 3000;
    while ((await stateOf(id)) !== s) {
      if (Date.now() > end) assert.fail(`task ${id} is ${await stateOf(id)}, not ${s}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    const t = task();
    await store.tasks.create(t);
    await waitState(t.ID, 'running');
    const stored = (await store.tasks.get(t.ID))!;
    assert.equal(stored.Status.Message, 'started');
    const cid = engine.byTask(t.ID)!.id;
    assert.equal(stored.Status.ContainerStatus?.ContainerID, cid);
    engine.exit(cid, 1);
    await waitState(t.ID, 'failed');
    assert.equal((await store.tasks.get(t.ID))!.Status.Err, 'task: non-zero exit (1)');
    await store.tasks.modify(t.ID, (cur) => ({ ...cur, DesiredState: 'shutdown' }));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(engine.containers.has(cid), 'an ended task keeps its container until the task is deleted');
    await store.tasks.delete(t.ID);
    await until(() => !engine.containers.has(cid), 'the container of a deleted task to go');
  } finally {
    await agent.stop({ removeTasks: false });
    dispatcher.stop();
    liveness.close();
  }
});
