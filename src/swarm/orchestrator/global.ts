/**
 * Global services: one task per eligible node. A node that joins (or becomes eligible) gets a task with
 * its NodeID set (the scheduler only confirms it); a node that is drained, goes down, leaves, or stops
 * satisfying the constraints has its task shut down.
 */
import type { Service, Task } from '../types.js';
import { eligibleNodes } from './eligibility.js';
import type { PassContext } from './pass-context.js';
import { inChunks } from './pass-context.js';
import type { RestartSupervisor } from './restart.js';
import { occupiedSlots } from './slots.js';
import { COMPLETE, makeTask, stateRank } from './task-model.js';
import type { Updater } from './updater.js';

export async function reconcileGlobal(pc: PassContext, service: Service, restarts: RestartSupervisor, updater: Updater): Promise<void> {
  const eligible = eligibleNodes(pc, service);
  const tasks = pc.tasksOf(service.ID).filter((t) => t.NodeID);
  const stray = tasks.filter((t) => !eligible.has(t.NodeID!) && stateRank(t.DesiredState) <= COMPLETE);
  await inChunks(stray, (t) => pc.setDesired(t, 'shutdown'));
  const { occupied } = occupiedSlots(service, tasks.filter((t) => eligible.has(t.NodeID!)), (t) => t.NodeID!, restarts);
  const covered = new Set(occupied.map((s) => s.key));
  const fresh: Task[] = [...eligible.keys()].filter((id) => !covered.has(id)).map((nodeId) => makeTask(service, { nodeId }));
  await inChunks(fresh, async (t) => void (await pc.createTask(t)));
  await updater.update(pc, service, occupied);
}
