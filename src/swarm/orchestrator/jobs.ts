/**
 * Jobs (swarmkit's jobs orchestrator): tasks run to completion (DesiredState complete) and completed
 * tasks stay. A replicated job runs TotalCompletions tasks in slots 0..TotalCompletions-1, at most
 * MaxConcurrent at a time; a global job one task per eligible node. Each JobIteration (bumped by
 * `service update`) starts over; tasks of older iterations still running are shut down.
 */
import type { Service, Task } from '../types.js';
import { eligibleNodes } from './eligibility.js';
import type { PassContext } from './pass-context.js';
import { inChunks } from './pass-context.js';
import { COMPLETE, isActive, makeTask, stateRank } from './task-model.js';

function currentIteration(service: Service, tasks: Task[]): { current: Task[]; old: Task[] } {
  const iteration = service.JobStatus?.JobIteration.Index;
  const current: Task[] = [];
  const old: Task[] = [];
  for (const t of tasks) {
    if (t.DesiredState === 'remove') continue;
    (iteration === undefined || t.JobIteration?.Index === iteration ? current : old).push(t);
  }
  return { current, old };
}

async function shutOld(pc: PassContext, old: Task[]): Promise<void> {
  await inChunks(old.filter((t) => stateRank(t.DesiredState) <= COMPLETE), (t) => pc.setDesired(t, 'shutdown'));
}

export async function reconcileReplicatedJob(pc: PassContext, service: Service): Promise<void> {
  const { current, old } = currentIteration(service, pc.tasksOf(service.ID));
  await shutOld(pc, old);
  const mode = service.Spec.Mode.ReplicatedJob ?? {};
  const maxConcurrent = mode.MaxConcurrent ?? 1;
  const total = mode.TotalCompletions ?? maxConcurrent;
  // A slot with any task of this iteration is taken: done, running, waiting to restart, or given up on.
  const used = new Set(current.map((t) => t.Slot ?? 0));
  const active = current.filter(isActive).length;
  const room = Math.min(maxConcurrent - active, total - used.size);
  const fresh: Task[] = [];
  for (let slot = 0; fresh.length < room && slot < total; slot++) if (!used.has(slot)) fresh.push(makeTask(service, { slot }));
  await inChunks(fresh, async (t) => void (await pc.createTask(t)));
}

export async function reconcileGlobalJob(pc: PassContext, service: Service): Promise<void> {
  const { current, old } = currentIteration(service, pc.tasksOf(service.ID));
  await shutOld(pc, old);
  const eligible = eligibleNodes(pc, service);
  const covered = new Set(current.map((t) => t.NodeID));
  const fresh = [...eligible.keys()].filter((id) => !covered.has(id)).map((nodeId) => makeTask(service, { nodeId }));
  await inChunks(fresh, async (t) => void (await pc.createTask(t)));
}
