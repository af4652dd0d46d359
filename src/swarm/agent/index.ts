/**
 * The swarm node agent (docs/swarm.md "The agent"): runs this node's tasks as containers and reports
 * their states; task logs for /tasks/{id}/logs and /services/{id}/logs.
 */
import type { NodeAgentFactory } from '../contracts.js';
import type { AgentDeps } from './deps.js';
import { NodeAgent } from './agent.js';

export type { AgentDeps, AgentContainers, AgentImages, AgentEvents, AgentLogs, NodeInfo, TaskContainer, TaskLogOptions } from './deps.js';
export { NodeAgent } from './agent.js';
export { localAgentDeps, type LocalServices } from './local.js';
export { containerCreateRequest, taskName, taskLabels, TASK_ID_LABEL } from './spec.js';

/** The factory the swarm manager part starts on every node; `started` sees each agent (for task logs). */
export function createNodeAgentFactory(deps: AgentDeps, started?: (agent: NodeAgent) => void): NodeAgentFactory {
  return {
    async start(nodeId, channel) {
      const agent = new NodeAgent(deps, nodeId, channel);
      agent.start();
      started?.(agent);
      return { stop: (opts) => agent.stop(opts) };
    },
  };
}
