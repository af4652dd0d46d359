/**
 * The node agent: follows its NodeView, keeps one TaskRunner per assigned task, removes the containers
 * of tasks that left the view, keeps the cluster networks in line with each view (one sync at a time,
 * the latest view wins) and sends every status change to the managers, resending what they did not take.
 * At start it adopts the task containers it finds (label com.docker.swarm.task.id): after a daemon
 * restart the tasks pick up where their containers are.
 */
import type { AgentChannel, NodeView, TaskPayloads } from '../contracts.js';
import type { TaskStatus } from '../types.js';
import type { AgentDeps, AgentEvent, TaskContainer } from './deps.js';
import { TaskRunner, type TaskHost } from './task.js';
import { TASK_ID_LABEL } from './spec.js';
import { messageOf } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import { Semaphore } from '../../lib/mutex.js';
import os from 'node:os';

const INTERIM_STATES = new Set<TaskStatus['State']>(['accepted', 'preparing', 'ready', 'starting']);
const REPORT_HOLD_MS = 100;

export class NodeAgent implements TaskHost {
  private readonly runners = new Map<string, TaskRunner>();
  private readonly pending = new Map<string, TaskStatus>();
  private flushing?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private retryScheduled = false;
  private holdTimer?: NodeJS.Timeout;
  private stopWatch?: () => void;
  private stopEvents?: () => void;
  private stopped = false;
  /** Containers found at start, by task id, until their task shows up (or the first view says it is gone). */
  private adopted = new Map<string, TaskContainer>();
  private sawView = false;
  // Network sync: one at a time, the latest view wins.
  private syncView?: NodeView;
  private syncing?: Promise<void>;
  /** Views handed to the network sync, and how many of them it has applied (waiters wait for theirs only). */
  private viewsQueued = 0;
  private viewsSynced = 0;
  private syncWaiters: Array<{ upTo: number; resolve: () => void }> = [];
  /** Removals under way, so that stop() can wait for them. */
  private readonly removals = new Set<Promise<void>>();
  /** The secrets and configs of the latest view: in memory only, written nowhere but the tasks' tmpfs. */
  private latestPayloads?: TaskPayloads;

  constructor(
    readonly deps: AgentDeps,
    readonly nodeId: string,
    private readonly channel: AgentChannel,
  ) {}

  start(): void {
    for (const c of this.deps.containers.listTaskContainers()) {
      const taskId = c.labels[TASK_ID_LABEL];
      if (taskId) this.adopted.set(taskId, c);
    }
    this.stopEvents = this.deps.events.subscribe((e) => this.onEvent(e));
    this.stopWatch = this.channel.watch((view) => this.onView(view));
    // Secret directories of tasks whose container is gone (removed while the daemon was down).
    const files = this.deps.taskFiles;
    if (files) {
      this.track(
        files
          .list()
          .then(async (ids) => {
            for (const id of ids) if (!this.adopted.has(id) && !this.runners.has(id)) await files.remove(id);
          })
          .catch((err) => log.warn('cleaning up task secrets directories failed', { error: messageOf(err) })),
      );
    }
  }

  payloads(): TaskPayloads | undefined {
    return this.latestPayloads;
  }

  async stop(opts: { removeTasks: boolean }): Promise<void> {
    this.stopped = true;
    this.stopWatch?.();
    this.stopEvents?.();
    clearTimeout(this.retryTimer);
    clearTimeout(this.holdTimer);
    await Promise.all([...this.runners.values()].map((r) => r.close()));
    await Promise.all([...this.removals]);
    await this.syncing?.catch(() => {});
    if (opts.removeTasks) {
      // Leaving the swarm takes the tasks' containers with it, as dockerd does; then the overlays.
      for (const c of this.deps.containers.listTaskContainers()) {
        await this.deps.containers.remove(c.id).catch((err) => log.warn('removing a task container failed', { id: c.id, error: messageOf(err) }));
      }
      const files = this.deps.taskFiles;
      if (files) {
        for (const id of await files.list().catch(() => [] as string[])) {
          await files.remove(id).catch((err) => log.warn('removing a task secrets directory failed', { task: id, error: messageOf(err) }));
        }
      }
      if (this.deps.manageNetworks !== false) await this.networking().teardown().catch((err) => log.warn('cluster network teardown failed', { error: messageOf(err) }));
    } else {
      // Daemon shutdown: the containers stay (the daemon stops them), and so do the last reports' chances.
      await (this.flushing ?? this.flush());
    }
    this.runners.clear();
  }

  // ------------------------------------------------------------------ the view

  onView(view: NodeView): void {
    if (this.stopped) return;
    this.latestPayloads = view.payloads;
    this.syncNetworks(view);
    const mine = view.tasks.filter((t) => !t.NodeID || t.NodeID === this.nodeId);
    const ids = new Set(mine.map((t) => t.ID));
    for (const task of mine) {
      let runner = this.runners.get(task.ID);
      if (!runner) {
        runner = new TaskRunner(this, task, this.adopted.get(task.ID));
        this.adopted.delete(task.ID);
        this.runners.set(task.ID, runner);
        runner.kick();
      } else {
        runner.update(task);
      }
    }
    // The orchestrator is done with these tasks: their containers go.
    for (const [id, runner] of this.runners) {
      if (ids.has(id)) continue;
      this.runners.delete(id);
      this.track(runner.removeContainer());
    }
    if (!this.sawView) {
      this.sawView = true;
      // Containers of tasks the cluster no longer gives this node (deleted while the daemon was down).
      for (const [id, c] of this.adopted) {
        if (ids.has(id)) continue;
        this.track(
          this.deps.containers
            .remove(c.id)
            .catch((err) => log.warn('removing an orphaned task container failed', { id: c.id, error: messageOf(err) }))
            .then(() => this.deps.taskFiles?.remove(id))
            .catch((err) => log.warn('removing a task secrets directory failed', { task: id, error: messageOf(err) })),
        );
      }
      this.adopted.clear();
    }
  }

  private track(p: Promise<void>): void {
    this.removals.add(p);
    void p.finally(() => this.removals.delete(p));
  }

  /** The runner of a task, for tests and logs. */
  runner(taskId: string): TaskRunner | undefined {
    return this.runners.get(taskId);
  }

  private onEvent(e: AgentEvent): void {
    if (e.Type !== 'container') return;
    const taskId = e.Actor.Attributes[TASK_ID_LABEL];
    if (!taskId) return;
    if (e.Action === 'die' || e.Action === 'destroy' || e.Action === 'start' || e.Action.startsWith('health_status')) this.runners.get(taskId)?.kick();
  }

  // ------------------------------------------------------------------ networks

  private syncNetworks(view: NodeView): void {
    if (this.deps.manageNetworks === false) return;
    this.syncView = view;
    this.viewsQueued++;
    if (this.syncing) return;
    this.syncing = (async () => {
      while (this.syncView && !this.stopped) {
        const next = this.syncView;
        const upTo = this.viewsQueued;
        this.syncView = undefined;
        await this.networking().sync(next).catch((err) => log.warn('cluster network sync failed', { error: messageOf(err) }));
        this.viewsSynced = upTo;
        this.syncWaiters = this.syncWaiters.filter((w) => (w.upTo <= upTo ? (w.resolve(), false) : true));
      }
    })().finally(() => {
      this.syncing = undefined;
      for (const w of this.syncWaiters.splice(0)) w.resolve(); // stopped: nobody waits for a sync that will not come
    });
  }

  private networking() {
    return typeof this.deps.networking === 'function' ? this.deps.networking() : this.deps.networking;
  }

  /**
   * Hundreds of tasks given at once would otherwise all create and start together: runc, conmon and the
   * daemon then fight over the CPUs with etcd, whose answers time out. Twice the CPUs in flight keeps
   * them busy without thrashing.
   */
  private readonly starts = new Semaphore(Math.max(4, os.cpus().length * 2));

  throttle<T>(work: () => Promise<T>): Promise<T> {
    return this.starts.run(work);
  }

  /**
   * Settles once the networks are in line with the views seen so far. Not with every later one: while
   * tasks change state a view comes every few milliseconds, and waiting for a quiet moment held up
   * every task's container.
   */
  networksSettled(): Promise<void> {
    const upTo = this.viewsQueued;
    if (this.deps.manageNetworks === false || this.viewsSynced >= upTo || !this.syncing) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push({ upTo, resolve }));
  }

  // ------------------------------------------------------------------ reports

  /**
   * States on the way to running (accepted, preparing, ready, starting) wait up to REPORT_HOLD_MS: a
   * task that starts quickly reports once, as running, instead of four times, each a store write and
   * a view pushed to every node. A slow step (a pull, a healthcheck) still shows within the hold.
   */
  report(taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, status);
    if (!INTERIM_STATES.has(status.State)) {
      void this.flush();
      return;
    }
    if (this.holdTimer || this.stopped) return;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      void this.flush();
    }, this.deps.reportHoldMs ?? REPORT_HOLD_MS);
    this.holdTimer.unref?.();
  }

  /** Sends what is pending; on failure keeps it (unless a newer status came meanwhile) and tries again later. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (!this.pending.size) return Promise.resolve();
    this.flushing = (async () => {
      while (this.pending.size) {
        const batch = [...this.pending].map(([taskId, status]) => ({ taskId, status }));
        this.pending.clear();
        try {
          await this.channel.report(batch);
        } catch (err) {
          for (const u of batch) if (!this.pending.has(u.taskId)) this.pending.set(u.taskId, u.status);
          log.debug('task status report failed; retrying', { error: messageOf(err) });
          if (!this.stopped) {
            clearTimeout(this.retryTimer);
            this.retryScheduled = true;
            this.retryTimer = setTimeout(() => {
              this.retryScheduled = false;
              void this.flush();
            }, this.deps.reportRetryMs ?? 1000);
            this.retryTimer.unref?.();
          }
          return;
        }
      }
    })().finally(() => {
      this.flushing = undefined;
      // A report that came after the last round's check, before this cleared.
      if (this.pending.size && !this.retryScheduled && !this.stopped) void this.flush();
    });
    return this.flushing;
  }
}
