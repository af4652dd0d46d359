/** Swarm services, tasks and cluster networks on the store (docs/swarm.md "Services, tasks and cluster networks"). */
export { ServiceApi, type ServiceApiDeps, type UpdateOptions, serviceStatus } from './service-api.js';
export { TaskApi } from './task-api.js';
export { ClusterNetworkApi, clusterNetworkView, ensureIngressNetwork, isIngress, needsIngress, VXLAN_ID_OPTION, FIRST_VNI } from './networks.js';
export { createTaskAllocator, allocateNodeIngress, type ClusterAllocator } from './allocator.js';
export { normalizeSpec, validateSpec, withDefaults, modeName } from './spec.js';
export { serviceView, taskView, taskName } from './views.js';
export { newSwarmId } from './ids.js';
