/**
 * What the orchestrator needs to know about tasks and nodes: state order, liveness, defaults, and what
 * a new task looks like (swarmkit's orchestrator.NewTask).
 */
import type { Cluster, NodeState, Service, SwarmNode, Task, TaskSpec, TaskState, UpdateConfig } from '../types.js';
import { TASK_STATE_ORDER } from '../types.js';
import { newSwarmId } from '../ids.js';

export const stateRank = (s: TaskState): number => {
  const i = TASK_STATE_ORDER.indexOf(s);
  return i < 0 ? 0 : i;
};
export const RUNNING = stateRank('running');
export const COMPLETE = stateRank('complete');
export const SHUTDOWN = stateRank('shutdown');
export const ASSIGNED = stateRank('assigned');

/** Observed state past running: the task will not run (again). */
export const hasEnded = (t: Task): boolean => stateRank(t.Status.State) > RUNNING;
/** Desired to run (or, for jobs, to run to completion). */
export const isWanted = (t: Task): boolean => stateRank(t.DesiredState) <= COMPLETE;
/** DesiredState running or ready (services) or complete (jobs), observed not yet ended. */
export const isActive = (t: Task): boolean => isWanted(t) && !hasEnded(t);

export type ModeKind = 'replicated' | 'global' | 'replicated-job' | 'global-job';
export function modeOf(s: Service): ModeKind {
  const m = s.Spec.Mode ?? {};
  if (m.Global) return 'global';
  if (m.ReplicatedJob) return 'replicated-job';
  if (m.GlobalJob) return 'global-job';
  return 'replicated';
}
export const isJob = (s: Service): boolean => modeOf(s).endsWith('job');

/** Go durations travel as nanoseconds. */
export const nsToMs = (ns: number | undefined, fallbackMs: number): number => (typeof ns === 'number' && ns >= 0 ? ns / 1e6 : fallbackMs);

export const DEFAULT_RESTART_DELAY_MS = 5000;
export const DEFAULT_MONITOR_MS = 5000;
export const DEFAULT_HISTORY = 5;

export function updateConfigOf(s: Service, rollback: boolean): Required<UpdateConfig> {
  const c = (rollback ? s.Spec.RollbackConfig : s.Spec.UpdateConfig) ?? {};
  return {
    Parallelism: c.Parallelism ?? 1,
    Delay: c.Delay ?? 0,
    FailureAction: c.FailureAction ?? 'pause',
    Monitor: c.Monitor ?? DEFAULT_MONITOR_MS * 1e6,
    MaxFailureRatio: c.MaxFailureRatio ?? 0,
    Order: c.Order ?? 'stop-first',
  };
}

export function historyLimit(cluster: Cluster | undefined, service: Service | undefined): number {
  const max = service?.Spec.TaskTemplate.RestartPolicy?.MaxAttempts;
  if (max && max > 0) return max + 1; // swarmkit keeps every attempt when attempts are counted
  return cluster?.Spec.Orchestration?.TaskHistoryRetentionLimit ?? DEFAULT_HISTORY;
}

/** Liveness as the leader sees it: the dispatcher's heartbeats first, the stored node status otherwise. */
export function nodeLiveness(node: SwarmNode | undefined, live: Map<string, NodeState>): NodeState {
  if (!node) return 'down';
  return live.get(node.ID) ?? node.Status?.State ?? 'unknown';
}

export const nowString = (): string => new Date().toISOString();

export interface NewTaskOptions {
  slot?: number;
  nodeId?: string;
  desired?: TaskState;
}

/** A task of the service's current spec, State new (the allocator moves it to pending). */
export function makeTask(service: Service, o: NewTaskOptions = {}): Task {
  const spec = service.Spec;
  const task: Task = {
    ID: newSwarmId(),
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: structuredClone(spec.TaskTemplate) as TaskSpec,
    ServiceID: service.ID,
    Status: { Timestamp: nowString(), State: 'new', Message: 'created' },
    DesiredState: o.desired ?? (isJob(service) ? 'complete' : 'running'),
    BerthSpecVersion: service.Version.Index,
    BerthService: {
      Name: spec.Name,
      EndpointMode: spec.EndpointSpec?.Mode ?? 'vip',
      Ports: structuredClone(service.Endpoint?.Ports ?? spec.EndpointSpec?.Ports ?? []),
    },
  };
  if (o.slot !== undefined) task.Slot = o.slot;
  if (o.nodeId) task.NodeID = o.nodeId;
  if (isJob(service) && service.JobStatus) task.JobIteration = { Index: service.JobStatus.JobIteration.Index };
  return task;
}

/** Structural equality of JSON values, ignoring key order and undefined members. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!jsonEqual(ao[k], bo[k])) return false;
  return true;
}
