/**
 * Deleting tasks (swarmkit's task reaper): tasks of removed services and of removed slots (DesiredState
 * remove) once they stopped, never ran, or their node is down; and per slot (or node, for global
 * services) the oldest dead tasks beyond TaskHistoryRetentionLimit.
 */
import type { Task } from '../types.js';
import type { PassContext } from './pass-context.js';
import { inChunks } from './pass-context.js';
import { slotKeyOf } from './restart.js';
import { ASSIGNED, hasEnded, historyLimit, RUNNING, stateRank } from './task-model.js';

const neverRan = (t: Task) => stateRank(t.Status.State) < ASSIGNED || !t.NodeID;

export async function reap(pc: PassContext): Promise<void> {
  const doomed = new Map<string, Task>();
  // Tasks whose service is gone are removed everywhere.
  const orphans = pc.tasks().filter((t) => !pc.mirror.services.get(t.ServiceID));
  await inChunks(orphans, (t) => pc.setDesired(t, 'remove'));
  for (const t of pc.tasks()) {
    if (t.DesiredState !== 'remove') continue;
    if (hasEnded(t) || neverRan(t) || pc.isNodeDown(t.NodeID)) doomed.set(t.ID, t);
  }
  const bySlot = new Map<string, Task[]>();
  for (const t of pc.tasks()) {
    if (doomed.has(t.ID)) continue;
    const key = slotKeyOf(t);
    bySlot.set(key, [...(bySlot.get(key) ?? []), t]);
  }
  for (const group of bySlot.values()) {
    const service = pc.mirror.services.get(group[0]!.ServiceID);
    if (!service) continue;
    let limit = historyLimit(pc.cluster, service);
    if (limit < 0 || group.length <= limit) continue;
    const oldestFirst = [...group].sort((a, b) => (Date.parse(a.Status.Timestamp) || 0) - (Date.parse(b.Status.Timestamp) || 0));
    for (const t of oldestFirst) {
      if (group.length <= limit) break;
      const dead = hasEnded(t) || (neverRan(t) && stateRank(t.DesiredState) > RUNNING);
      if (dead && stateRank(t.DesiredState) > RUNNING) {
        doomed.set(t.ID, t);
        limit++;
      }
    }
  }
  await inChunks([...doomed.values()], (t) => pc.deleteTask(t));
}
