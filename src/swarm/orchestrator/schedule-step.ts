/** Runs the scheduler over the pending tasks and writes its decisions (assigned, or why not). */
import type { PassContext } from './pass-context.js';
import { inChunks } from './pass-context.js';
import { schedule } from './scheduler.js';
import { COMPLETE, nowString, stateRank } from './task-model.js';

export async function scheduleStep(pc: PassContext): Promise<void> {
  const pendingAll = pc.tasks().filter((t) => t.Status.State === 'pending');
  // A task told to stop before it was placed never will be (swarmkit marks it shutdown).
  const abandoned = pendingAll.filter((t) => stateRank(t.DesiredState) > COMPLETE);
  await inChunks(abandoned, async (t) => {
    await pc.modifyTask(t.ID, (cur) => (cur.Status.State !== 'pending' ? undefined : { ...cur, Status: { Timestamp: nowString(), State: 'shutdown', Message: cur.Status.Message } }));
  });
  const pending = pendingAll.filter((t) => stateRank(t.DesiredState) <= COMPLETE && pc.mirror.services.get(t.ServiceID));
  if (!pending.length) return;
  const decisions = schedule({ pending, nodes: pc.nodes(), liveness: (n) => pc.liveness(n.ID), tasks: pc.tasks() });
  await inChunks(decisions, async (d) => {
    if (d.nodeId) {
      const message = d.preassigned ? 'scheduler confirmed task can run on preassigned node' : 'scheduler assigned task to node';
      await pc.modifyTask(d.task.ID, (cur) => {
        if (cur.Status.State !== 'pending' || (cur.NodeID && cur.NodeID !== d.nodeId)) return undefined;
        return { ...cur, NodeID: d.nodeId, Status: { Timestamp: nowString(), State: 'assigned', Message: message } };
      });
    } else if (d.err && d.task.Status.Err !== d.err) {
      await pc.modifyTask(d.task.ID, (cur) => (cur.Status.State !== 'pending' ? undefined : { ...cur, Status: { ...cur.Status, Timestamp: nowString(), Err: d.err } }));
    }
  });
}
