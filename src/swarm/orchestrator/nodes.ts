/**
 * What a node going down means for the tasks it held, beyond their replacement (restart.ts): once the
 * node has stayed down for a while, its tasks that were told to stop are marked orphaned, since the node
 * cannot report them any more.
 */
import type { PassContext } from './pass-context.js';
import { inChunks } from './pass-context.js';
import { ASSIGNED, COMPLETE, hasEnded, nowString, stateRank } from './task-model.js';

export class NodeWatch {
  private readonly downSince = new Map<string, number>();

  constructor(private readonly orphanAfterMs: number) {}

  async react(pc: PassContext): Promise<void> {
    const downNow = new Set<string>();
    for (const node of pc.nodes()) if (pc.liveness(node.ID) === 'down') downNow.add(node.ID);
    for (const id of [...this.downSince.keys()]) if (!downNow.has(id)) this.downSince.delete(id);
    for (const id of downNow) if (!this.downSince.has(id)) this.downSince.set(id, pc.now);
    const orphans = pc.tasks().filter((t) => {
      // Only tasks that could have moved on since the node went quiet (assigned to running).
      if (!t.NodeID || hasEnded(t) || stateRank(t.Status.State) < ASSIGNED || stateRank(t.DesiredState) <= COMPLETE) return false;
      const node = pc.node(t.NodeID);
      const since = node ? this.downSince.get(t.NodeID) : 0;
      if (since === undefined) return false;
      if (pc.now - since < this.orphanAfterMs) {
        pc.wake(since + this.orphanAfterMs);
        return false;
      }
      return true;
    });
    await inChunks(orphans, async (t) => {
      await pc.modifyTask(t.ID, (cur) =>
        // As swarmkit's dispatcher: only the state changes (the last message the node sent stays).
        hasEnded(cur) ? undefined : { ...cur, Status: { ...cur.Status, State: 'orphaned', Timestamp: nowString() } },
      );
    });
  }
}
