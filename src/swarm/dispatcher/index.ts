/** The dispatcher part of swarm mode (docs/swarm.md "The dispatcher and nodes"). */
export { Dispatcher, applyStatus, type DispatcherOptions, type TaskUpdate } from './dispatcher.js';
export { NodeWatcher, HEARTBEAT_FAILURE, type NodeWatcherOptions } from './node-watcher.js';
export { etcdLiveness, memoryLiveness, HEARTBEAT_TTL_SECONDS, type Liveness, type LivenessWatch } from './liveness.js';
export { localAgentChannel, remoteAgentChannel, HEARTBEAT_PERIOD_MS, type ChannelOptions, type RemoteChannelOptions } from './channels.js';
export { registerDispatcherRoutes } from './routes.js';
export { NodeApi, nodeView, type NodeApiDeps, type NodeJson } from './node-api.js';
export { buildNodeView, serviceEndpoints, taskMattersToNode, viewSignature, sharedView, sharedSignature, type ClusterSnapshot } from './view.js';
export { taskPayloads, payloadSources, payloadSignature, taskIsLive, type OpenSecret, type PayloadSources } from './payloads.js';
export { SESSION_PATH, STATUS_PATH, HEARTBEAT_PATH, type DispatcherServer, type DispatcherClient, type ControlPeer } from './transport.js';
