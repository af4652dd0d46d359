/**
 * Puts the node's swarm mode together (docs/swarm.md "Parts"): the SwarmService (membership, etcd,
 * leadership) driving the dispatcher (every manager), the orchestrator with the allocator (the leader),
 * the agent (every node) with the overlay networking, the VIP/mesh balancer and its DNS records, and
 * the routes of the cluster's objects (services, tasks, nodes, secrets, configs).
 */
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DaemonConfig } from './config.js';
import { BERTH_VERSION } from '../api/version.js';
import type { Router } from '../api/router.js';
import { SwarmService, type DispatcherPart } from '../swarm/manager/service.js';
import type { LeaderDuties, SwarmStore } from '../swarm/contracts.js';
import { Dispatcher, NodeWatcher, etcdLiveness, localAgentChannel, registerDispatcherRoutes, remoteAgentChannel, NodeApi } from '../swarm/dispatcher/index.js';
import { createLeaderDuties } from '../swarm/orchestrator/index.js';
import { createNodeAgentFactory, localAgentDeps, type LocalServices } from '../swarm/agent/index.js';
import { ServiceLogs, TaskLogs, serveTaskLogs } from '../swarm/agent/logs.js';
import { tmpfsTaskFiles } from '../swarm/agent/task-files.js';
import { ClusterNetworkApi, ServiceApi, TaskApi, allocateNodeIngress, createTaskAllocator, ensureIngressNetwork } from '../swarm/services/index.js';
import { createClusterNetworking } from '../networks/overlay/index.js';
import { createServiceBalancer } from '../networks/overlay/lb/index.js';
import type { NetworkService } from '../networks/service.js';
import { serviceRoutes } from '../api/routes/services.js';
import { taskRoutes } from '../api/routes/tasks.js';
import { nodeRoutes } from '../api/routes/nodes.js';
import { swarmLogRoutes } from '../api/routes/swarm-logs.js';
import { secretRoutes } from '../api/routes/secrets.js';
import { configRoutes } from '../api/routes/configs.js';
import { ConfigApi } from '../swarm/secrets/config-api.js';
import { SecretApi } from '../swarm/secrets/secret-api.js';
import { ServiceReferenceCheck } from '../swarm/secrets/references.js';
import { log } from '../lib/log.js';
import { messageOf, unavailable } from '../lib/errors.js';
import { allocateAttachment, attachmentRoutes, releaseAttachment } from '../swarm/attachments.js';

export interface SwarmParts {
  swarm: SwarmService;
  /** /services, /tasks, /nodes and the service/task logs, registered before /swarm's catch-all. */
  routes(router: Router): void;
  /** What /networks needs to reach the cluster's networks. */
  clusterNetworks: { manager(): ClusterNetworkApi | undefined };
}

/** The dispatcher part: one Dispatcher and NodeWatcher per manager, over the manager's etcd. */
const dispatcherPart: DispatcherPart = {
  async start({ store, control, etcd, sealer }) {
    const liveness = etcdLiveness(etcd);
    const dispatcher = new Dispatcher({ store, liveness, ...(sealer ? { sealer } : {}) });
    await dispatcher.start();
    registerDispatcherRoutes(control, dispatcher);
    // Every manager watches the heartbeats (the writes are the same whichever does), so nodeStates()
    // is current on the manager that becomes leader without waiting for a first lapse.
    const watcher = new NodeWatcher({ store, liveness });
    await watcher.start();
    return {
      localChannel: (nodeId) => localAgentChannel(dispatcher, nodeId),
      nodeStates: () => watcher.nodeStates(),
      stop: async () => {
        watcher.stop();
        dispatcher.stop();
      },
    };
  },
  remoteChannel: (client, nodeId) => remoteAgentChannel(client, nodeId),
};

/** The leader's duties: the ingress network and the nodes' ingress addresses, then the orchestrator. */
function leaderDuties(): LeaderDuties {
  const orchestrator = createLeaderDuties();
  return {
    async start(ctx) {
      const store = ctx.store;
      await ensureIngressNetwork(store).catch((err) => log.warn('swarm: could not make the ingress network', { error: messageOf(err) }));
      const allocate = (nodeId: string) => allocateNodeIngress(store, nodeId).catch((err) => log.warn('swarm: node ingress address', { node: nodeId, error: messageOf(err) }));
      for (const n of await store.nodes.list()) await allocate(n.ID);
      const stopNodes = store.nodes.watch((e) => {
        if (e.type === 'put' && !e.object.BerthIngress) void allocate(e.object.ID);
      });
      const running = await orchestrator.start(ctx);
      return {
        stop: async () => {
          stopNodes();
          await running.stop();
          // The allocator keeps an address index fed by store watches: a former leader lets it go.
          (ctx.allocator as { close?: () => void }).close?.();
        },
      };
    },
  };
}

export function createSwarmParts(c: DaemonConfig, local: LocalServices & { networks: NetworkService }): SwarmParts {
  const networks = local.networks;
  // The balancer needs the local names of cluster networks, which the networking part knows: a late lookup.
  let localNetwork: (id: string) => string | undefined = () => undefined;
  const balancer = createServiceBalancer({ tag: networks.tag, iptables: c.iptables, localNetwork: (id) => localNetwork(id) });
  networks.addDnsRecords(balancer.dnsRecords);
  const networking = createClusterNetworking({ networks, balancer, events: local.events });
  localNetwork = (id) => networking.localNetwork(id);
  const node = () => ({ Hostname: os.hostname(), Platform: { OS: 'linux', Architecture: os.machine() } });
  const agentDeps = {
    ...localAgentDeps(local, { networking, node }),
    gatewayNetwork: () => networks.tryResolve('bridge')?.name,
    // Tasks' secrets and configs, each task on a tmpfs of its own (never under the data-root). Not under
    // <exec-root>/swarm: the swarm service clears that directory when it stops, while task containers stay.
    taskFiles: tmpfsTaskFiles(path.join(c.execRoot, 'swarm-secrets')),
  };
  const taskLogs = agentDeps.logs ? new TaskLogs(agentDeps.containers, agentDeps.logs) : undefined;

  const swarm: SwarmService = new SwarmService({
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
    leaderDuties: leaderDuties(),
    agentFactory: createNodeAgentFactory(agentDeps),
    dispatcher: dispatcherPart,
    allocator: (store) => createTaskAllocator(store),
    controlRoutes: (control) => {
      if (taskLogs) control.raw('/logs/task/{id}', serveTaskLogs(taskLogs));
      attachmentRoutes(control, () => swarm.managerStore());
    },
  });

  const store = (): SwarmStore => swarm.managerStore();
  const isManager = (): boolean => {
    try {
      swarm.managerStore();
      return true;
    } catch {
      return false;
    }
  };
  const clusterNetworkApi = new ClusterNetworkApi(store);
  // Plain containers on attachable overlays get their addresses from the managers (swarm/attachments.ts).
  const askManagers = async <T>(path: string, body: { networkId: string; containerId: string }): Promise<T> => {
    const client = swarm.managersClient();
    if (!client) throw unavailable('This node is not part of a swarm');
    return client.call<T>('POST', path, body);
  };
  networks.setSwarmAttachments({
    allocate: async (networkId, containerId) =>
      isManager() ? allocateAttachment(store(), { networkId, containerId, nodeId: swarm.nodeId }) : (await askManagers<{ Address: string }>('/attachments', { networkId, containerId })).Address,
    release: async (networkId, containerId) => {
      if (isManager()) await releaseAttachment(store(), { networkId, containerId, nodeId: swarm.nodeId });
      else await askManagers('/attachments/release', { networkId, containerId });
    },
  });
  const serviceLogs = taskLogs
    ? new ServiceLogs({
      managerStore: store,
      local: () => (swarm.nodeId ? { nodeId: swarm.nodeId, taskLogs } : undefined),
      remote: async (nodeId, path) => (await swarm.nodeClient(nodeId)).raw(path) as Promise<Readable>,
    })
    : undefined;

  return {
    swarm,
    clusterNetworks: { manager: () => (isManager() ? clusterNetworkApi : undefined) },
    routes(router) {
      serviceRoutes(router, { services: new ServiceApi({ store, localNetworkName: (ref) => networks.tryResolve(ref)?.name, references: new ServiceReferenceCheck(store) }) });
      secretRoutes(router, { secrets: new SecretApi({ store, sealer: () => swarm.secretSealer() }) });
      configRoutes(router, { configs: new ConfigApi(store) });
      taskRoutes(router, { tasks: new TaskApi(store) });
      nodeRoutes(router, { managerStore: store, onRoleChange: (id, role) => swarm.onRoleChange(id, role) });
      swarmLogRoutes(router, { serviceLogs: () => (isManager() ? serviceLogs : undefined) });
    },
  };
}
