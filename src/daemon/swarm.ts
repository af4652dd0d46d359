/**
 * Puts the node's SwarmService together with the parts it drives. TODO(integration): the dispatcher,
 * orchestrator (LeaderDuties), agent, overlay networking and allocator replace the no-op stand-ins as
 * they land in main.
 */
import os from 'node:os';
import type { DaemonConfig } from './config.js';
import { BERTH_VERSION } from '../api/version.js';
import { SwarmService } from '../swarm/manager/service.js';
import { noopAgentFactory, noopDispatcher, noopLeaderDuties } from '../swarm/manager/standin/parts.js';

export function createSwarmService(c: DaemonConfig): SwarmService {
  return new SwarmService({
    dataRoot: c.dataRoot,
    runRoot: c.execRoot,
    engine: () => ({
      hostname: os.hostname(),
      os: 'linux',
      architecture: os.machine(),
      ncpu: os.cpus().length,
      memoryBytes: os.totalmem(),
      engineVersion: BERTH_VERSION,
      labels: Object.fromEntries(c.labels.map((l) => [l.split('=')[0]!, l.slice(l.indexOf('=') + 1)])),
    }),
    leaderDuties: noopLeaderDuties,
    agentFactory: noopAgentFactory,
    dispatcher: noopDispatcher,
  });
}
