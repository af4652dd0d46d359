/**
 * The swarm node agent (docs/swarm.md "The agent"): runs this node's tasks as containers and reports
 * their states; task logs for /tasks/{id}/logs and /services/{id}/logs.
 */
import type { NodeAgentFactory } from '../contracts.js';
import type { AgentDeps } from './deps.js';
import { NodeAgent } from './agent.js';
import { localAgentDeps, type LocalServices } from './local.js';
import { ServiceLogs, TaskLogs, serveTaskLogs, type ServiceLogsDeps } from './logs.js';

export type { AgentDeps, AgentContainers, AgentImages, AgentEvents, AgentLogs, NodeInfo, TaskContainer, TaskLogOptions } from './deps.js';
export { NodeAgent } from './agent.js';
export { localAgentDeps, type LocalServices } from './local.js';
export { containerCreateRequest, taskName, taskLabels, TASK_ID_LABEL } from './spec.js';
export { TaskLogs, ServiceLogs, serveTaskLogs, type ServiceLogsDeps } from './logs.js';

/** The factory the swarm manager part starts on every node; `started` sees each agent. */
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

/**
 * Everything the daemon needs of the agent part, on its own services: the factory for the swarm
 * service, the handler of the control-plane route `/logs/task/{id}` (register it on every node's
 * ControlServer with `raw`), and the ServiceLogs behind GET /services/{id}/logs and /tasks/{id}/logs.
 */
export function createDaemonAgent(s: LocalServices, o: Pick<AgentDeps, 'networking' | 'node' | 'manageNetworks'>) {
  const deps = localAgentDeps(s, o);
  const taskLogs = new TaskLogs(deps.containers, deps.logs!);
  let nodeId: string | undefined;
  const factory = createNodeAgentFactory(deps);
  return {
    deps,
    taskLogs,
    factory: {
      async start(id, channel) {
        const running = await factory.start(id, channel);
        nodeId = id;
        return {
          stop: async (opts) => {
            await running.stop(opts);
            if (nodeId === id) nodeId = undefined;
          },
        };
      },
    } satisfies NodeAgentFactory,
    /** For ControlServer.raw('/logs/task/{id}', ..., { roles: ['manager'] }). */
    taskLogRoute: serveTaskLogs(taskLogs),
    /** For swarmLogRoutes' `serviceLogs`: a ServiceLogs while this node runs an agent. */
    serviceLogs: (d: Omit<ServiceLogsDeps, 'local'>) => new ServiceLogs({ ...d, local: () => (nodeId ? { nodeId, taskLogs } : undefined) }),
  };
}
export { planTaskFiles, renderPayload, taskFileMounts, hasTaskFiles, TaskFilesError, SECRETS_MOUNT_PATH, type TaskFile } from './payload-files.js';
export { tmpfsTaskFiles, type TaskFileStore } from './task-files.js';
