/**
 * The leader's duties (contracts.ts LeaderDuties): the orchestrator (replicated, global and job
 * services, restarts, node failures, rolling updates) and the scheduler, on the store.
 */
import type { LeaderContext, LeaderDuties } from '../contracts.js';
import { Orchestrator, type OrchestratorOptions } from './orchestrator.js';

export { parseConstraints, nodeMatches } from './constraints.js';
export type { Constraint } from './constraints.js';
export { schedule } from './scheduler.js';
export { isTaskDirty } from './spec-diff.js';
export { Orchestrator } from './orchestrator.js';
export type { OrchestratorOptions } from './orchestrator.js';

export function createLeaderDuties(options: OrchestratorOptions = {}): LeaderDuties {
  return {
    async start(ctx: LeaderContext) {
      const orchestrator = new Orchestrator(ctx, options);
      await orchestrator.start();
      return { stop: () => orchestrator.stop() };
    },
  };
}
