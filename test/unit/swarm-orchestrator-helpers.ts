/** A cluster in the in-memory store for the orchestrator's unit tests: nodes, services, a fake allocator, the agent's reports. */
import type { LeaderContext, SwarmStore, TaskAllocator } from '../../src/swarm/contracts.js';
import { Orchestrator, type OrchestratorOptions } from '../../src/swarm/orchestrator/index.js';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import type { NodeState, Service, ServiceSpec, SwarmNode, Task, TaskState } from '../../src/swarm/types.js';

export class FakeAllocator implements TaskAllocator {
  readonly allocated = new Set<string>();
  readonly released: string[] = [];
  async allocateTask(task: Task): Promise<Task> {
    this.allocated.add(task.ID);
    return { ...task, NetworksAttachments: [] };
  }
  async releaseTask(task: Task): Promise<void> {
    this.released.push(task.ID);
    this.allocated.delete(task.ID);
  }
}

export interface NodeOptions {
  role?: 'manager' | 'worker';
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  availability?: 'active' | 'pause' | 'drain';
  cpus?: number;
  memory?: number;
  state?: NodeState;
}

export class TestCluster {
  readonly store: SwarmStore = memorySwarmStore();
  readonly allocator = new FakeAllocator();
  readonly live = new Map<string, NodeState>();
  orchestrator?: Orchestrator;
  /** Tasks the fake agent fails instead of running. */
  failing: (t: Task) => boolean = () => false;
  /** Observed running tasks per service after each agent step (tests of "never below"). */
  readonly runningSamples: Array<Map<string, number>> = [];

  async addNode(id: string, o: NodeOptions = {}): Promise<SwarmNode> {
    this.live.set(id, o.state ?? 'ready');
    return this.store.nodes.create({
      ID: id,
      Version: { Index: 0 },
      CreatedAt: '',
      UpdatedAt: '',
      Spec: { Role: o.role ?? 'worker', Availability: o.availability ?? 'active', Labels: o.labels ?? {} },
      Description: {
        Hostname: `host-${id}`,
        Platform: { Architecture: 'x86_64', OS: 'linux' },
        Resources: { NanoCPUs: o.cpus ?? 4e9, MemoryBytes: o.memory ?? 8 * 2 ** 30 },
        Engine: { EngineVersion: '0', Labels: o.engineLabels ?? {} },
        TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
      },
      Status: { State: o.state ?? 'ready', Addr: `127.0.0.${this.live.size + 10}` },
    });
  }

  async setNode(id: string, change: (n: SwarmNode) => SwarmNode): Promise<void> {
    await this.store.nodes.modify(id, (n) => change(structuredClone(n)));
  }

  async createService(name: string, spec: Partial<ServiceSpec> = {}): Promise<Service> {
    return this.store.services.create({
      ID: `svc${name}`,
      Version: { Index: 0 },
      CreatedAt: '',
      UpdatedAt: '',
      Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 1 } }, ...spec },
      Endpoint: { Spec: {} },
    });
  }

  /** A service update as the API does it: PreviousSpec kept, UpdateStatus cleared. */
  async updateService(id: string, change: (spec: ServiceSpec) => ServiceSpec): Promise<Service> {
    return (await this.store.services.modify(id, (s) => {
      const next: Service = { ...s, PreviousSpec: s.Spec, Spec: change(structuredClone(s.Spec)) };
      delete next.UpdateStatus;
      return next;
    }))!;
  }

  async start(o: OrchestratorOptions = {}): Promise<void> {
    const ctx: LeaderContext = { store: this.store, allocator: this.allocator, nodeStates: () => new Map(this.live) };
    this.orchestrator = new Orchestrator(ctx, { debounceMs: 2, sweepMs: 50, ...o });
    await this.orchestrator.start();
  }

  async stop(): Promise<void> {
    await this.orchestrator?.stop();
  }

  async tasks(serviceId?: string): Promise<Task[]> {
    const all = await this.store.tasks.list();
    return all.filter((t) => !serviceId || t.ServiceID === serviceId).sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0));
  }

  /** What an agent reports: states only move forward. */
  async report(taskId: string, state: TaskState, message: string = state): Promise<void> {
    await this.store.tasks.modify(taskId, (t) => ({ ...t, Status: { ...t.Status, State: state, Message: message, Timestamp: new Date().toISOString() } }));
  }

  /** A perfect agent: every assigned task whose desired state is running runs; every task told to stop stops. */
  async agentStep(): Promise<void> {
    for (const t of await this.store.tasks.list()) {
      if (!t.NodeID || this.live.get(t.NodeID) !== 'ready') continue;
      if (t.Status.State === 'assigned' && t.DesiredState === 'running') {
        const fails = this.failing(t);
        await this.report(t.ID, fails ? 'failed' : 'running', fails ? 'task: non-zero exit (1)' : 'started');
      }
      else if (['shutdown', 'remove'].includes(t.DesiredState) && ['assigned', 'running'].includes(t.Status.State)) await this.report(t.ID, 'shutdown');
    }
    const sample = new Map<string, number>();
    for (const t of await this.store.tasks.list()) if (t.Status.State === 'running') sample.set(t.ServiceID, (sample.get(t.ServiceID) ?? 0) + 1);
    this.runningSamples.push(sample);
  }

  /** Polls `check` (running the fake agent when `agent`) until it holds or `ms` passes. */
  async until(check: () => Promise<boolean> | boolean, o: { ms?: number; agent?: boolean } = {}): Promise<void> {
    const deadline = Date.now() + (o.ms ?? 10000);
    for (;;) {
      if (o.agent) await this.agentStep();
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`condition not met within ${o.ms ?? 10000} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export const wanted = (t: Task) => ['running', 'ready', 'complete'].includes(t.DesiredState);
export const SECOND_NS = 1e9;
