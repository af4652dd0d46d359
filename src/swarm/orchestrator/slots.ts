/**
 * A service's tasks grouped by slot (replicated, replicated-job) or node (global): which slots are
 * occupied. A slot is occupied while one of its tasks is wanted, or when its newest task ended and will
 * not be restarted (swarmkit's UpdatableTasksInSlot). Tasks being removed (scale down, service gone)
 * belong to no slot.
 */
import type { Service, Task } from '../types.js';
import type { RestartSupervisor } from './restart.js';
import { COMPLETE, stateRank } from './task-model.js';

export interface Slot {
  key: string;
  /** The slot's tasks that are wanted, or its newest task when that one is held (not restarted). */
  tasks: Task[];
}

const ts = (t: Task) => Date.parse(t.Status.Timestamp) || 0;

export function newest(tasks: Task[]): Task {
  return tasks.reduce((a, b) => (ts(b) > ts(a) || (ts(b) === ts(a) && b.Version.Index > a.Version.Index) ? b : a));
}

export function occupiedSlots(service: Service, tasks: Task[], keyOf: (t: Task) => string, restarts: RestartSupervisor): { occupied: Slot[]; all: Map<string, Task[]> } {
  const all = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.DesiredState === 'remove') continue;
    const key = keyOf(t);
    all.set(key, [...(all.get(key) ?? []), t]);
  }
  const occupied: Slot[] = [];
  for (const [key, group] of all) {
    const wanted = group.filter((t) => stateRank(t.DesiredState) <= COMPLETE);
    if (wanted.length) {
      occupied.push({ key, tasks: wanted });
      continue;
    }
    if (service.UpdateStatus?.State === 'rollback_started') continue;
    const last = newest(group);
    if (!restarts.shouldRestart(last, service)) occupied.push({ key, tasks: [last] });
  }
  return { occupied, all };
}
