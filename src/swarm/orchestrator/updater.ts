/**
 * Rolling updates and rollbacks (swarmkit's update.Updater), as steps of the reconcile passes rather than
 * goroutines: a slot whose wanted tasks are all of an older spec is "dirty"; up to Parallelism slots are
 * replaced at a time, each worker waiting Delay after its new task runs. stop-first shuts the old task
 * and starts the new one once it stopped; start-first starts the new one and shuts the old one only once
 * the new one runs (so a rollback never kills healthy tasks first, unlike moby#43081). A new task that
 * fails before it runs, or within Monitor after, is a failure; past MaxFailureRatio the FailureAction
 * pauses, continues or rolls back. UpdateStatus is written as dockerd shows it.
 */
import { createHash } from 'node:crypto';
import type { Service, Task } from '../types.js';
import type { PassContext } from './pass-context.js';
import { inChunks } from './pass-context.js';
import type { Slot } from './slots.js';
import { isTaskDirty } from './spec-diff.js';
import { isJob, makeTask, modeOf, nowString, nsToMs, stateRank, updateConfigOf, DEFAULT_MONITOR_MS, RUNNING } from './task-model.js';

interface Worker {
  taskId?: string;
  freeAt: number;
}

interface Run {
  key: string;
  /** Dirty slots when the run began: the failure ratio's denominator. */
  total: number;
  workers: Worker[];
  /** New tasks -> when they reached running (undefined until then). */
  watched: Map<string, number | undefined>;
  failures: Set<string>;
  stopped: boolean;
}

const FAILED_STATES = new Set(['failed', 'rejected', 'complete', 'orphaned']);

function runKey(service: Service): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([service.Spec.TaskTemplate, service.Spec.EndpointSpec ?? null, service.UpdateStatus?.State === 'rollback_started', service.UpdateStatus?.StartedAt ?? '']));
  return h.digest('hex');
}

export class Updater {
  private readonly runs = new Map<string, Run>();

  forget(serviceId: string): void {
    this.runs.delete(serviceId);
  }

  /** `slots` are the service's occupied slots after scaling. */
  async update(pc: PassContext, service: Service, slots: Slot[]): Promise<void> {
    if (isJob(service)) return;
    const dirtyOf = (t: Task) => isTaskDirty(service, t, pc.node(t.NodeID));
    await this.settle(pc, slots, dirtyOf);

    const state = service.UpdateStatus?.State;
    if (state === 'paused' || state === 'rollback_paused') return;
    const rollback = state === 'rollback_started';
    const config = updateConfigOf(service, rollback);
    const monitorMs = nsToMs(config.Monitor, DEFAULT_MONITOR_MS);
    const delayMs = nsToMs(config.Delay, 0);

    const dirty = slots.filter((s) => s.tasks.every(dirtyOf));
    let run = this.runs.get(service.ID);
    const key = runKey(service);
    if (!run || run.key !== key) {
      if (!dirty.length && !rollback && state !== 'updating') {
        this.runs.delete(service.ID);
        return;
      }
      const parallelism = config.Parallelism === 0 ? Math.max(dirty.length, 1) : config.Parallelism;
      run = { key, total: Math.max(dirty.length, 1), workers: Array.from({ length: parallelism }, () => ({ freeAt: 0 })), watched: new Map(), failures: new Set(), stopped: false };
      this.runs.set(service.ID, run);
    }
    if (run.stopped) return;

    // Follow the new tasks: running frees their worker; an early end is a failure.
    for (const [id, runningAt] of run.watched) {
      const t = pc.mirror.tasks.get(id);
      const worker = run.workers.find((w) => w.taskId === id);
      if (!t) {
        run.watched.delete(id);
        if (worker) Object.assign(worker, { taskId: undefined, freeAt: pc.now + delayMs });
        continue;
      }
      const rank = stateRank(t.Status.State);
      if (rank >= RUNNING && worker) Object.assign(worker, { taskId: undefined, freeAt: pc.now + delayMs });
      if (rank === RUNNING && runningAt === undefined) run.watched.set(id, pc.now);
      if (rank > RUNNING) {
        const inMonitor = runningAt === undefined || pc.now - runningAt <= monitorMs;
        if (inMonitor && FAILED_STATES.has(t.Status.State) && !run.failures.has(id)) {
          run.failures.add(id);
          if (run.failures.size / run.total > config.MaxFailureRatio && (await this.failureAction(pc, service, run, config.FailureAction, id))) return;
        }
        run.watched.delete(id);
      } else if (runningAt !== undefined && pc.now - runningAt > monitorMs) run.watched.delete(id);
    }

    if (!dirty.length) {
      if (state !== 'updating' && state !== 'rollback_started') return;
      if (run.workers.some((w) => w.taskId)) return;
      // Completed once the last new task has been watched for Monitor (or Delay + 1 s when longer).
      const hold = delayMs >= monitorMs ? delayMs + 1000 : monitorMs;
      const pendingUntil = Math.max(0, ...[...run.watched.values()].map((at) => (at === undefined ? Infinity : at + hold)));
      if (pc.now < pendingUntil) {
        if (Number.isFinite(pendingUntil)) pc.wake(pendingUntil);
        return;
      }
      await this.complete(pc, service, rollback);
      // Slots that turn dirty later (a node back with old tasks) make a new update.
      this.runs.delete(service.ID);
      return;
    }

    if (!rollback && (state === undefined || state === 'completed' || state === 'rollback_completed')) {
      await pc.modifyService(service.ID, (s) =>
        sameUpdate(s, service) ? { ...s, UpdateStatus: { State: 'updating', StartedAt: nowString(), Message: 'update in progress' } } : undefined,
      );
      // The status write changes the run key; the next pass picks the work up with the new key.
      this.runs.delete(service.ID);
      pc.wake(pc.now);
      return;
    }

    const starting: Array<{ slot: Slot; worker: Worker }> = [];
    const busySlots = new Set(run.workers.filter((w) => w.taskId).map((w) => pc.mirror.tasks.get(w.taskId!)).map((t) => t && slotKey(t)));
    const queue = dirty.filter((s) => !busySlots.has(s.key)).sort((a, b) => slotOrder(a) - slotOrder(b));
    for (const worker of run.workers) {
      if (worker.taskId) continue;
      if (worker.freeAt > pc.now) {
        pc.wake(worker.freeAt);
        continue;
      }
      const slot = queue.shift();
      if (!slot) break;
      starting.push({ slot, worker });
    }
    await inChunks(starting, async ({ slot, worker }) => {
      const created = await this.replaceSlot(pc, service, slot, config.Order);
      if (created) {
        worker.taskId = created.ID;
        run!.watched.set(created.ID, undefined);
      }
    });
  }

  /**
   * A slot with a task of the current spec running shuts its other wanted tasks (start-first's second
   * half, a rollback landing on a still-running old task, a leader change mid-update).
   */
  private async settle(pc: PassContext, slots: Slot[], dirtyOf: (t: Task) => boolean): Promise<void> {
    for (const slot of slots) {
      if (slot.tasks.length < 2) continue;
      const keeper = slot.tasks.find((t) => !dirtyOf(t) && t.Status.State === 'running' && stateRank(t.DesiredState) <= RUNNING);
      if (!keeper) continue;
      await inChunks(slot.tasks.filter((t) => t.ID !== keeper.ID), (t) => pc.setDesired(t, 'shutdown'));
    }
  }

  private async replaceSlot(pc: PassContext, service: Service, slot: Slot, order: 'stop-first' | 'start-first'): Promise<Task | undefined> {
    const first = slot.tasks[0]!;
    const global = modeOf(service) === 'global';
    const fresh = makeTask(service, global ? { nodeId: first.NodeID, desired: order === 'start-first' ? 'running' : 'ready' } : { slot: first.Slot, desired: order === 'start-first' ? 'running' : 'ready' });
    if (order === 'stop-first') await inChunks(slot.tasks, (t) => pc.setDesired(t, 'shutdown'));
    return pc.createTask(fresh);
  }

  private async failureAction(pc: PassContext, service: Service, run: Run, action: 'pause' | 'continue' | 'rollback', taskId: string): Promise<boolean> {
    const inRollback = service.UpdateStatus?.State === 'rollback_started';
    if (action === 'continue') return false;
    run.stopped = true;
    if (action === 'pause' || inRollback || !service.PreviousSpec) {
      const what = inRollback ? 'rollback' : 'update';
      await pc.modifyService(service.ID, (s) =>
        !sameUpdate(s, service)
          ? undefined
          : { ...s, UpdateStatus: { ...s.UpdateStatus, State: inRollback ? 'rollback_paused' : 'paused', Message: `${what} paused due to failure or early termination of task ${taskId}` } },
      );
      return true;
    }
    await pc.modifyService(service.ID, (s) => {
      if (!s.PreviousSpec || !sameUpdate(s, service)) return undefined;
      const next: Service = {
        ...s,
        Spec: s.PreviousSpec,
        UpdateStatus: { ...s.UpdateStatus, State: 'rollback_started', Message: `update rolled back due to failure or early termination of task ${taskId}` },
      };
      delete next.PreviousSpec;
      return next;
    });
    this.runs.delete(service.ID);
    pc.wake(pc.now);
    return true;
  }

  private async complete(pc: PassContext, service: Service, rollback: boolean): Promise<void> {
    await pc.modifyService(service.ID, (s) => {
      const st = s.UpdateStatus?.State;
      if ((st !== 'updating' && st !== 'rollback_started') || !sameUpdate(s, service)) return undefined;
      return {
        ...s,
        UpdateStatus: { ...s.UpdateStatus, State: rollback ? 'rollback_completed' : 'completed', Message: rollback ? 'rollback completed' : 'update completed', CompletedAt: nowString() },
      };
    });
  }
}

/** The stored service is still in the update this run acts for (the API clears UpdateStatus on a new one). */
const sameUpdate = (stored: Service, seen: Service): boolean =>
  stored.UpdateStatus?.State === seen.UpdateStatus?.State && stored.UpdateStatus?.StartedAt === seen.UpdateStatus?.StartedAt && runKey(stored) === runKey(seen);

const slotKey = (t: Task): string => (t.Slot !== undefined ? String(t.Slot) : t.NodeID ?? '');
const slotOrder = (s: Slot): number => s.tasks[0]?.Slot ?? 0;
