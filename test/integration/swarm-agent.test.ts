/**
 * The swarm agent on a real container service: a berthd made in this process (the daemon's own
 * services, so the agent runs against them exactly as the daemon wires it), driven by a hand-made
 * AgentChannel in place of a manager's dispatcher.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, demux } from './harness.js';
import { loadConfig, type DaemonConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import type { ContainerService } from '../../src/containers/service.js';
import type { EventBus } from '../../src/events/bus.js';
import { NodeAgent } from '../../src/swarm/agent/agent.js';
import { localContainers, localEvents, localLogs } from '../../src/swarm/agent/local.js';
import { TaskLogs } from '../../src/swarm/agent/logs.js';
import type { AgentDeps } from '../../src/swarm/agent/deps.js';
import type { AgentChannel, ClusterNetworking, NodeView } from '../../src/swarm/contracts.js';
import type { Task, TaskStatus } from '../../src/swarm/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Channel implements AgentChannel {
  onView?: (v: NodeView) => void;
  reports: Array<{ taskId: string; status: TaskStatus }> = [];
  watch(onView: (v: NodeView) => void) {
    this.onView = onView;
    return () => (this.onView = undefined);
  }
  async report(updates: Array<{ taskId: string; status: TaskStatus }>) {
    this.reports.push(...updates);
  }
  last(taskId: string) {
    return this.reports.filter((r) => r.taskId === taskId).at(-1)?.status;
  }
  async until(taskId: string, state: string, ms = 20_000): Promise<TaskStatus> {
    const end = Date.now() + ms;
    for (;;) {
      const st = this.last(taskId);
      if (st?.State === state) return st;
      if (Date.now() > end) assert.fail(`task ${taskId} did not reach ${state}: ${JSON.stringify(st)}`);
      await sleep(25);
    }
  }
}

const noNetworking: ClusterNetworking = { sync: async () => {}, localNetwork: () => undefined, teardown: async () => {} };

let n = 0;
function task(over: Partial<Task> & { cmd?: string[] } = {}): Task {
  const { cmd, ...rest } = over;
  const id = `itask${++n}`.padEnd(25, 'x');
  return {
    ID: id, Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', ServiceID: 'isvc'.padEnd(25, 'y'), Slot: n, NodeID: 'inode',
    DesiredState: 'running', Status: { Timestamp: '', State: 'assigned', Message: 'scheduler assigned task to node' },
    Spec: { ContainerSpec: { Image: 'busybox', Command: cmd ?? ['sh', '-c', 'echo hello from $SLOT; exec sleep 300'], Hostname: '{{.Service.Name}}-{{.Task.Slot}}-{{.Node.Hostname}}', Env: ['SLOT={{.Task.Slot}}'], StopGracePeriod: 1e9 } },
    BerthService: { Name: 'isvc', EndpointMode: 'vip' },
    ...rest,
  };
}

describe('swarm agent on a real container service', () => {
  const td = new TestDaemon();
  let daemon: Daemon;
  let containers: ContainerService;

  async function startDaemon() {
    daemon = new Daemon(loadConfig(td.args()) as DaemonConfig);
    await daemon.start();
    // The composition root keeps its services private; the test reaches the same objects daemon.ts would hand the agent.
    containers = (daemon as unknown as { containers: ContainerService }).containers;
  }

  function deps(): AgentDeps {
    const events = (containers as unknown as { events: EventBus }).events;
    return {
      containers: localContainers({ containers }),
      // No registry on this machine: a missing image fails its pull.
      images: { exists: (ref) => Boolean(containers.images.tryResolve(ref)), pull: async (ref) => { if (!containers.images.tryResolve(ref)) throw new Error(`pull access denied for ${ref}`); } },
      events: localEvents(events),
      logs: localLogs(containers),
      networking: noNetworking,
      node: () => ({ Hostname: 'testnode', Platform: { OS: 'linux', Architecture: 'x86_64' } }),
    };
  }

  const inspect = async (ref: string) => (await td.request('GET', `/containers/${ref}/json`)).json();

  before(async () => {
    await startDaemon();
    await td.seedBusybox();
  });
  after(async () => {
    await daemon?.stop().catch(() => {});
    await td.stop();
  });

  test('a task runs as dockerd would run it, exits, is shut down and removed; logs by task id', async () => {
    const channel = new Channel();
    const agent = new NodeAgent(deps(), 'inode', channel);
    agent.start();
    try {
      const run = task();
      const ok = task({ cmd: ['true'] });
      const bad = task({ cmd: ['sh', '-c', 'exit 3'] });
      const missing = task({ Spec: { ContainerSpec: { Image: 'nosuchimage' } } });
      const healthy = task({ Spec: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '300'], Healthcheck: { Test: ['CMD', 'true'], Interval: 100e6, StartInterval: 100e6, StartPeriod: 0 } } } });
      channel.onView!({ nodeId: 'inode', tasks: [run, ok, bad, missing, healthy], networks: [], nodes: [], endpoints: [] });

      const running = await channel.until(run.ID, 'running');
      const c = await inspect(running.ContainerStatus!.ContainerID!);
      assert.equal(c.Name, `/isvc.${run.Slot}.${run.ID}`);
      assert.equal(c.Config.Hostname, `isvc-${run.Slot}-testnode`);
      assert.ok(c.Config.Env.includes(`SLOT=${run.Slot}`));
      assert.equal(c.Config.Labels['com.docker.swarm.task.id'], run.ID);
      assert.equal(c.Config.Labels['com.docker.swarm.task.name'], `isvc.${run.Slot}.${run.ID}`);
      assert.equal(c.Config.Labels['com.docker.swarm.service.name'], 'isvc');
      assert.equal(c.Config.Labels['com.docker.swarm.node.id'], 'inode');
      assert.equal(c.HostConfig.RestartPolicy.Name, 'no');
      assert.ok(running.ContainerStatus!.PID! > 0);

      assert.equal((await channel.until(ok.ID, 'complete')).Message, 'finished');
      const failed = await channel.until(bad.ID, 'failed');
      assert.equal(failed.Err, 'task: non-zero exit (3)');
      assert.equal(failed.ContainerStatus!.ExitCode, 3);
      const rejected = await channel.until(missing.ID, 'rejected');
      assert.equal(rejected.Err, 'No such image: nosuchimage:latest');
      await channel.until(healthy.ID, 'running');
      assert.equal((await inspect(`isvc.${healthy.Slot}.${healthy.ID}`)).State.Health.Status, 'healthy');

      // The task's log, by task id.
      const taskLogs = new TaskLogs(deps().containers, deps().logs!);
      const lines: string[] = [];
      for await (const m of taskLogs.read(run.ID, { stdout: true, stderr: true, follow: false, signal: new AbortController().signal })) lines.push(m.line.toString());
      assert.deepEqual(lines, [`hello from ${run.Slot}\n`]);

      // Desired shutdown: stopped within the grace period, kept while the task is in the view.
      const stopAt = Date.now();
      channel.onView!({ nodeId: 'inode', tasks: [{ ...run, DesiredState: 'shutdown', Status: running }, ok, bad, missing, healthy], networks: [], nodes: [], endpoints: [] });
      assert.equal((await channel.until(run.ID, 'shutdown')).Message, 'shutdown');
      assert.ok(Date.now() - stopAt < 8000);
      assert.equal((await inspect(running.ContainerStatus!.ContainerID!)).State.Running, false);
      // Out of the view: removed.
      channel.onView!({ nodeId: 'inode', tasks: [ok, bad, missing, healthy], networks: [], nodes: [], endpoints: [] });
      const end = Date.now() + 10_000;
      while ((await td.request('GET', `/containers/${running.ContainerStatus!.ContainerID}/json`)).status !== 404) {
        if (Date.now() > end) assert.fail('the container of a task that left the view is still there');
        await sleep(50);
      }
    } finally {
      await agent.stop({ removeTasks: true });
    }
    const left = (await td.request('GET', '/containers/json?all=1')).json<Array<{ Labels: Record<string, string> }>>();
    assert.equal(left.filter((c) => c.Labels['com.docker.swarm.task.id']).length, 0, 'leaving removes every task container');
  });

  test('adoption: a new agent picks up its running task; after a daemon restart the stopped one is reported', async () => {
    const first = new Channel();
    const a1 = new NodeAgent(deps(), 'inode', first);
    a1.start();
    const t = task();
    first.onView!({ nodeId: 'inode', tasks: [t], networks: [], nodes: [], endpoints: [] });
    const running = await first.until(t.ID, 'running');
    await a1.stop({ removeTasks: false });

    // Same daemon, new agent: the container still runs, nothing new is made or reported.
    const second = new Channel();
    const a2 = new NodeAgent(deps(), 'inode', second);
    a2.start();
    second.onView!({ nodeId: 'inode', tasks: [{ ...t, Status: running }], networks: [], nodes: [], endpoints: [] });
    await sleep(300);
    assert.equal(second.reports.length, 0);
    await a2.stop({ removeTasks: false });

    // Daemon restart (it stops its containers without live-restore): the new agent reports the exit.
    await daemon.stop();
    await startDaemon();
    const third = new Channel();
    const a3 = new NodeAgent(deps(), 'inode', third);
    a3.start();
    try {
      third.onView!({ nodeId: 'inode', tasks: [{ ...t, Status: running }], networks: [], nodes: [], endpoints: [] });
      const after = await third.until(t.ID, 'failed');
      assert.match(after.Err!, /^task: non-zero exit \(\d+\)$/);
      assert.equal(after.ContainerStatus!.ContainerID, running.ContainerStatus!.ContainerID);
      const all = (await td.request('GET', '/containers/json?all=1')).json<Array<{ Id: string }>>();
      assert.deepEqual(all.map((c) => c.Id), [running.ContainerStatus!.ContainerID]);
    } finally {
      await a3.stop({ removeTasks: true });
    }
  });
});

describe('swarm agent in a berthd in swarm mode (one node)', () => {
  const d = new TestDaemon();
  // Ports chosen at run time on 127.0.0.1 (the control plane, etcd at +2/+3) and a VXLAN port of its own.
  const port = 21000 + Math.floor(Math.random() * 15000);
  // dockerd takes data path ports 1024-49151 only.
  const dataPathPort = 40000 + Math.floor(Math.random() * 9000);
  before(async () => {
    await d.start();
    await d.seedBusybox();
    const init = await d.request('POST', '/swarm/init', { ListenAddr: `127.0.0.1:${port}`, AdvertiseAddr: `127.0.0.1:${port}`, DataPathPort: dataPathPort });
    assert.equal(init.status, 200, init.text);
  });
  after(async () => {
    await d.request('POST', '/swarm/leave?force=1').catch(() => undefined);
    await d.stop();
  });

  test('a service\'s tasks run as named, templated containers; service logs; rm removes them', async () => {
    const create = await d.request('POST', '/services/create', {
      Name: 'agentweb',
      TaskTemplate: { ContainerSpec: { Image: 'busybox', Hostname: '{{.Service.Name}}-{{.Task.Slot}}', Command: ['sh', '-c', 'echo hi from $(hostname); exec sleep 1000'] } },
      Mode: { Replicated: { Replicas: 2 } },
    });
    assert.equal(create.status, 201, create.text);
    const serviceId = create.json().ID as string;
    const filters = encodeURIComponent(JSON.stringify({ service: ['agentweb'] }));
    const end = Date.now() + 30_000;
    let tasks: Task[] = [];
    for (;;) {
      tasks = (await d.request('GET', `/tasks?filters=${filters}`)).json<Task[]>();
      if (tasks.filter((t) => t.Status.State === 'running').length === 2) break;
      if (Date.now() > end) assert.fail(`tasks not running: ${JSON.stringify(tasks.map((t) => t.Status))}`);
      await sleep(200);
    }
    for (const t of tasks) {
      const c = await inspect(t.Status.ContainerStatus!.ContainerID!);
      assert.equal(c.Name, `/agentweb.${t.Slot}.${t.ID}`);
      assert.equal(c.Config.Hostname, `agentweb-${t.Slot}`);
      assert.equal(c.Config.Labels['com.docker.swarm.service.id'], serviceId);
      assert.equal(t.Status.Message, 'started');
    }
    // Logs of both tasks with their context (the docker CLI turns it into "agentweb.1.<id>@<node> | ...").
    let text = '';
    for (const until = Date.now() + 10_000; Date.now() < until; await sleep(200)) {
      const r = await d.request('GET', `/v1.47/services/agentweb/logs?stdout=1&stderr=1&details=1`);
      assert.equal(r.status, 200, r.text);
      text = demux(r.body).stdout;
      if (text.split('\n').filter(Boolean).length === 2) break;
    }
    for (const t of tasks) assert.ok(text.includes(`com.docker.swarm.task.id=${t.ID} hi from agentweb-${t.Slot}\n`), text);
    assert.equal((await d.request('DELETE', '/services/agentweb')).status, 200);
    const gone = Date.now() + 30_000;
    for (;;) {
      const left = (await d.request('GET', '/containers/json?all=1')).json<Array<{ Labels: Record<string, string> }>>();
      if (!left.some((c) => c.Labels['com.docker.swarm.task.id'])) break;
      if (Date.now() > gone) assert.fail('task containers left after service rm');
      await sleep(200);
    }
  });

  const inspect = async (ref: string) => (await d.request('GET', `/containers/${ref}/json`)).json();
});
