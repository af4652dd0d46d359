/**
 * The restart supervisor (swarmkit's restart.Supervisor): a task that ended while it was wanted is shut
 * down and, as its RestartPolicy says (Condition any|on-failure|none, MaxAttempts within Window), replaced
 * in the same slot (replicated) or on the same node (global). The replacement waits with DesiredState
 * ready for Delay (none when its node is drained) and for the old task to stop, then is set running.
 */
import type { Service, SwarmNode, Task } from '../types.js';
import { nodeMatches, tryParseConstraints } from './constraints.js';
import type { PassContext } from './pass-context.js';
import {
  ASSIGNED, COMPLETE, DEFAULT_RESTART_DELAY_MS, hasEnded, isJob, makeTask, modeOf, nsToMs, stateRank,
} from './task-model.js';

/**
 * swarmkit's constraint enforcer: a placed task whose node no longer satisfies its constraints (labels
 * changed, role changed) must move.
 */
function fitsNode(t: Task, node: SwarmNode): boolean {
  const exprs = t.Spec.Placement?.Constraints;
  if (!exprs?.length || stateRank(t.Status.State) < ASSIGNED) return true;
  const constraints = tryParseConstraints(exprs);
  return !constraints || nodeMatches(constraints, node);
}

/** How long a replacement waits for its predecessor to report it stopped before it starts anyway. */
const WAIT_STOP_LIMIT_MS = 60_000;

interface History {
  /** The spec the counted restarts ran (a new spec starts the count over, as swarmkit's SpecVersion). */
  spec: string;
  total: number;
  /** When each restart happened (ms), oldest first. */
  times: number[];
}

/** A replicated task's slot, or a global task's node: where its successors go. */
export const slotKeyOf = (t: Task): string => (t.Slot !== undefined ? `${t.ServiceID}/${t.Slot}` : `${t.ServiceID}/node/${t.NodeID ?? ''}`);

/** The task's spec as a key (service writes that leave the spec alone change its Version, not this). */
const specKey = (t: Task): string => JSON.stringify(t.Spec);

const timestampMs = (t: Task): number => {
  const ms = Date.parse(t.Status.Timestamp);
  return Number.isNaN(ms) ? 0 : ms;
};

export class RestartSupervisor {
  private readonly history = new Map<string, History>();
  /** Replacement task id -> not before (ms). */
  private readonly startAt = new Map<string, number>();

  clearService(serviceId: string): void {
    for (const key of this.history.keys()) if (key.startsWith(`${serviceId}/`)) this.history.delete(key);
  }

  /** Whether an ended task's slot gets a new task (swarmkit's shouldRestart). */
  shouldRestart(task: Task, service: Service | undefined): boolean {
    if (!service) return false;
    const policy = task.Spec.RestartPolicy ?? {};
    const condition = policy.Condition ?? 'any';
    if (condition === 'none') return false;
    if (task.Status.State === 'complete' && (condition === 'on-failure' || isJob(service))) return false;
    const max = policy.MaxAttempts ?? 0;
    if (max === 0) return true;
    const h = this.history.get(slotKeyOf(task));
    if (!h || h.spec !== specKey(task)) return true;
    const window = nsToMs(policy.Window, 0);
    if (window === 0) return h.total < max;
    const at = timestampMs(task);
    const recent = h.times.filter((t) => t > at - window && t < at).length;
    return recent < max;
  }

  private record(replacement: Task): void {
    if (!(replacement.Spec.RestartPolicy?.MaxAttempts ?? 0)) return;
    const key = slotKeyOf(replacement);
    const h = this.history.get(key);
    if (!h || h.spec !== specKey(replacement)) {
      this.history.set(key, { spec: specKey(replacement), total: 1, times: [Date.now()] });
      return;
    }
    h.total++;
    h.times.push(Date.now());
    if (h.times.length > 1000) h.times.shift();
  }

  /**
   * Shuts `task` down and, when the policy says so, makes its replacement. `allowReplacement` false
   * (a global task on a node no longer eligible) only shuts it down.
   */
  async restart(pc: PassContext, service: Service | undefined, task: Task, allowReplacement = true): Promise<void> {
    if (stateRank(task.DesiredState) > COMPLETE) return;
    await pc.setDesired(task, 'shutdown');
    if (!service || !allowReplacement || !this.shouldRestart(task, service)) return;
    const node = pc.node(task.NodeID);
    const mode = modeOf(service);
    const global = mode === 'global' || mode === 'global-job';
    if (global && !task.NodeID) return;
    const replacement = makeTask(service, global ? { nodeId: task.NodeID, desired: 'ready' } : { slot: task.Slot, desired: 'ready' });
    const delay = node?.Spec.Availability === 'drain' ? 0 : nsToMs(task.Spec.RestartPolicy?.Delay, DEFAULT_RESTART_DELAY_MS);
    const created = await pc.createTask(replacement);
    if (!created) return;
    this.record(created);
    this.startAt.set(created.ID, pc.now + delay);
    pc.wake(pc.now + delay);
  }

  /** Tasks waiting with DesiredState ready start once their delay passed and the slot's old tasks stopped. */
  async promoteReady(pc: PassContext): Promise<void> {
    const waiting = pc.tasks().filter((t) => t.DesiredState === 'ready');
    if (!waiting.length) return;
    const bySlot = new Map<string, Task[]>();
    for (const o of pc.tasks()) {
      const key = slotKeyOf(o);
      bySlot.set(key, [...(bySlot.get(key) ?? []), o]);
    }
    for (const t of waiting) {
      const service = pc.mirror.services.get(t.ServiceID);
      if (!service) continue;
      // Without a recorded delay (an update's task, or one made by an earlier leader): from its creation.
      const startAt = this.startAt.get(t.ID) ?? (Date.parse(t.CreatedAt) || pc.now);
      if (pc.now < startAt) {
        pc.wake(startAt);
        continue;
      }
      const key = slotKeyOf(t);
      const predecessorsRunning = (bySlot.get(key) ?? []).some(
        (o) => o.ID !== t.ID && stateRank(o.DesiredState) > COMPLETE &&
          !hasEnded(o) && !!o.NodeID && stateRank(o.Status.State) >= stateRank('assigned') && !pc.isNodeDown(o.NodeID),
      );
      if (predecessorsRunning && pc.now < startAt + WAIT_STOP_LIMIT_MS) {
        pc.wake(startAt + WAIT_STOP_LIMIT_MS);
        continue;
      }
      this.startAt.delete(t.ID);
      const desired = isJob(service) ? 'complete' : 'running';
      await pc.modifyTask(t.ID, (cur) => (cur.DesiredState === 'ready' ? { ...cur, DesiredState: desired } : undefined));
    }
  }

  /** Every task that ended while wanted (or whose node went down or drained) is restarted. */
  async supervise(pc: PassContext): Promise<void> {
    for (const t of pc.tasks()) {
      if (stateRank(t.DesiredState) > COMPLETE) continue;
      const service = pc.mirror.services.get(t.ServiceID);
      if (!service) continue;
      const ended = hasEnded(t) && !(t.Status.State === 'complete' && t.DesiredState === 'complete');
      const nodeGone = !!t.NodeID && (pc.isNodeDown(t.NodeID) || pc.node(t.NodeID)?.Spec.Availability === 'drain' || !fitsNode(t, pc.node(t.NodeID)!));
      if (!ended && !nodeGone) continue;
      const mode = modeOf(service);
      const global = mode === 'global' || mode === 'global-job';
      // A global task is only replaced where its node can still run it.
      await this.restart(pc, service, t, !global || !nodeGone);
    }
  }
}
