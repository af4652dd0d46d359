/**
 * TEMPORARY no-op stand-ins for the parts other helpers build (dispatcher, orchestrator, agent), so
 * the manager runs and is tested alone. The daemon passes the real ones once they are in main.
 */
import type { AgentChannel, LeaderDuties, NodeAgentFactory } from '../../contracts.js';
import type { DispatcherPart } from '../service.js';

const idleChannel: AgentChannel = { watch: () => () => undefined, report: async () => undefined };

export const noopDispatcher: DispatcherPart = {
  start: async () => ({ localChannel: () => idleChannel, nodeStates: () => new Map(), stop: async () => undefined }),
  remoteChannel: () => idleChannel,
};

export const noopLeaderDuties: LeaderDuties = { start: async () => ({ stop: async () => undefined }) };

export const noopAgentFactory: NodeAgentFactory = { start: async () => ({ stop: async () => undefined }) };
