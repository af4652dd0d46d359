/**
 * What one reconcile pass works with: the mirror, the node liveness of this moment, and the writes
 * (each applied to the mirror at once, so later steps of the pass see them).
 */
import { isKind, messageOf } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import type { SwarmStore, TaskAllocator } from '../contracts.js';
import type { Cluster, NodeState, Service, SwarmNode, Task } from '../types.js';
import type { StoreMirror } from './mirror.js';
import { nodeLiveness, nowString, stateRank } from './task-model.js';

/** Writes done side by side, in groups of this many (the store is remote). */
const WRITE_CONCURRENCY = 16;

export async function inChunks<T>(items: T[], f: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += WRITE_CONCURRENCY) {
    await Promise.all(items.slice(i, i + WRITE_CONCURRENCY).map(f));
  }
}

export class PassContext {
  readonly now = Date.now();

  constructor(
    readonly store: SwarmStore,
    readonly allocator: TaskAllocator,
    readonly mirror: StoreMirror,
    readonly live: Map<string, NodeState>,
    /** Asks for another pass no later than `at` (ms since the epoch). */
    readonly wake: (at: number) => void,
    /** True once leadership is lost: no more writes from this pass. */
    readonly stopped: () => boolean = () => false,
  ) {}

  get cluster(): Cluster | undefined {
    return this.mirror.clusterObject();
  }

  services(): Service[] {
    return this.mirror.services.values();
  }

  tasks(): Task[] {
    return this.mirror.tasks.values();
  }

  tasksOf(serviceId: string): Task[] {
    return this.tasks().filter((t) => t.ServiceID === serviceId);
  }

  nodes(): SwarmNode[] {
    return this.mirror.nodes.values();
  }

  node(id: string | undefined): SwarmNode | undefined {
    return id ? this.mirror.nodes.get(id) : undefined;
  }

  liveness(nodeId: string | undefined): NodeState {
    return nodeLiveness(this.node(nodeId), this.live);
  }

  isNodeDown(nodeId: string | undefined): boolean {
    return !!nodeId && this.liveness(nodeId) === 'down';
  }

  /** Allocates, moves to pending and stores a new task. Returns undefined (and logs) when it fails. */
  async createTask(task: Task): Promise<Task | undefined> {
    if (this.stopped()) return undefined;
    let allocated: Task | undefined;
    try {
      allocated = await this.allocator.allocateTask(task);
      allocated.Status = { Timestamp: nowString(), State: 'pending', Message: 'pending task scheduling' };
      const stored = await this.store.tasks.create(allocated);
      this.mirror.tasks.put(stored);
      return stored;
    } catch (err) {
      log.warn('orchestrator: task create failed', { service: task.ServiceID, error: messageOf(err) });
      if (allocated) await this.allocator.releaseTask(allocated).catch(() => undefined);
      return undefined;
    }
  }

  /** Read-modify-write of a task; `change` returns undefined to leave it. A vanished task is dropped quietly. */
  async modifyTask(id: string, change: (t: Task) => Task | undefined): Promise<Task | undefined> {
    if (this.stopped()) return undefined;
    try {
      // The mirror's copy is usually current: try it first, saving the store a read.
      const held = this.mirror.tasks.get(id);
      if (held) {
        const next = change(structuredClone(held));
        if (!next) return held;
        try {
          const stored = await this.store.tasks.update(next);
          this.mirror.tasks.put(stored);
          return stored;
        } catch (err) {
          if (!isKind(err, 'Conflict')) throw err;
        }
      }
      const stored = await this.store.tasks.modify(id, change);
      if (stored) this.mirror.tasks.put(stored);
      return stored;
    } catch (err) {
      if (isKind(err, 'NotFound')) {
        const held = this.mirror.tasks.get(id);
        if (held) this.mirror.tasks.remove(held);
        return undefined;
      }
      log.warn('orchestrator: task update failed', { task: id, error: messageOf(err) });
      return undefined;
    }
  }

  /** Moves the desired state forward only (never back, as swarmkit). */
  async setDesired(task: Task, desired: Task['DesiredState']): Promise<void> {
    if (stateRank(task.DesiredState) >= stateRank(desired)) return;
    await this.modifyTask(task.ID, (t) => (stateRank(t.DesiredState) >= stateRank(desired) ? undefined : { ...t, DesiredState: desired }));
  }

  async deleteTask(task: Task): Promise<void> {
    if (this.stopped()) return;
    try {
      await this.store.tasks.delete(task.ID);
    } catch (err) {
      if (!isKind(err, 'NotFound')) {
        log.warn('orchestrator: task delete failed', { task: task.ID, error: messageOf(err) });
        return;
      }
    }
    this.mirror.tasks.remove(task);
    await this.allocator.releaseTask(task).catch((err) => log.warn('orchestrator: task release failed', { task: task.ID, error: messageOf(err) }));
  }

  async modifyService(id: string, change: (s: Service) => Service | undefined): Promise<Service | undefined> {
    if (this.stopped()) return undefined;
    try {
      const stored = await this.store.services.modify(id, change);
      if (stored) this.mirror.services.put(stored);
      return stored;
    } catch (err) {
      if (!isKind(err, 'NotFound')) log.warn('orchestrator: service update failed', { service: id, error: messageOf(err) });
      return undefined;
    }
  }
}
