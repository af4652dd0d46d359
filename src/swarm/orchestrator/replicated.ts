/**
 * Replicated services: slots 1..Replicas. Scaling up fills the lowest free slots; scaling down removes
 * the slots not running first, then those on the nodes holding most of the service's tasks, highest
 * slots first (swarmkit's ordering).
 */
import type { Service, Task } from '../types.js';
import type { PassContext } from './pass-context.js';
import { inChunks } from './pass-context.js';
import type { RestartSupervisor } from './restart.js';
import { occupiedSlots, type Slot } from './slots.js';
import { makeTask } from './task-model.js';
import type { Updater } from './updater.js';

const slotNumber = (s: Slot): number => s.tasks[0]!.Slot ?? 0;

/** The slots to keep first: running ones, then spread (the k-th slot on its node), then low numbers. */
export function orderForScaleDown(slots: Slot[]): Slot[] {
  const running = (s: Slot) => s.tasks.some((t) => t.Status.State === 'running');
  const byRunning = [...slots].sort((a, b) => Number(running(b)) - Number(running(a)) || slotNumber(a) - slotNumber(b));
  const perNode = new Map<string, number>();
  const indexed = byRunning.map((slot) => {
    const node = slot.tasks.length === 1 ? slot.tasks[0]!.NodeID : undefined;
    if (!node) return { slot, index: -1 };
    const index = (perNode.get(node) ?? 0) + 1;
    perNode.set(node, index);
    return { slot, index };
  });
  // Stable sort: unplaced slots last, then by index on their node.
  indexed.sort((a, b) => (a.index < 0 ? (b.index < 0 ? 0 : 1) : b.index < 0 ? -1 : a.index - b.index));
  return indexed.map((x) => x.slot);
}

export async function reconcileReplicated(pc: PassContext, service: Service, restarts: RestartSupervisor, updater: Updater): Promise<void> {
  const replicas = service.Spec.Mode.Replicated?.Replicas ?? 1;
  const tasks = pc.tasksOf(service.ID);
  const { occupied } = occupiedSlots(service, tasks, (t) => String(t.Slot ?? 0), restarts);
  if (occupied.length < replicas) {
    const used = new Set(occupied.map(slotNumber));
    const fresh: Task[] = [];
    for (let slot = 1; fresh.length < replicas - occupied.length; slot++) {
      if (!used.has(slot)) fresh.push(makeTask(service, { slot }));
    }
    await inChunks(fresh, async (t) => void (await pc.createTask(t)));
    await updater.update(pc, service, occupied);
    return;
  }
  if (occupied.length > replicas) {
    const ordered = orderForScaleDown(occupied);
    const removed = ordered.slice(replicas).flatMap((s) => s.tasks);
    await inChunks(removed, (t) => pc.setDesired(t, 'remove'));
    await updater.update(pc, service, ordered.slice(0, replicas));
    return;
  }
  await updater.update(pc, service, occupied);
}
