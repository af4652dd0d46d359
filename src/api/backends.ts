import type { ContainerService } from '../containers/service.js';
import type { ExecService } from '../containers/exec.js';
import type { ImageService } from '../images/service.js';
import type { NetworkService } from '../networks/service.js';
import type { VolumeService } from '../volumes/service.js';
import type { SystemService } from '../system/service.js';
import type { EventBus } from '../events/bus.js';
import type { DistributionService } from '../distribution/service.js';
import type { BuildBackendService } from '../build/types.js';
import type { IgnoreCheck } from '../build/context.js';
import type { ClusterNetworkApi, ServiceApi, TaskApi } from '../swarm/services/index.js';
import type { SwarmService } from '../swarm/manager/service.js';

/*
 * What each route module needs from the services, and nothing more. The composition root
 * (daemon/daemon.ts) passes the concrete services, which satisfy these structurally; routes never
 * import daemon/, and services never import api/.
 */

/** /_ping, /version, /info, /system/df, /events. */
export interface SystemBackend {
  system: Pick<SystemService, 'version' | 'info' | 'diskUsage'>;
  events: Pick<EventBus, 'subscribe' | 'recent'>;
  /** The build cache's records for /system/df (absent: an empty BuildCache). */
  buildCache?: Pick<BuildBackendService, 'diskUsage'>;
}

/** /images/*: the image service itself, since load and save (images/archive-*.ts) work on all of it. */
export interface ImageBackend {
  images: ImageService;
  /** Pull and push (distribution/). */
  distribution: Pick<DistributionService, 'pull' | 'push' | 'checkPush'>;
  /** Scratch space for archive loads (<data-root>/tmp, emptied at start). */
  scratchDir: string;
}

/** /containers/*: lifecycle verbs, and the domain helpers (list, top, archive, ...) that take the container service. */
export interface ContainerBackend {
  containers: ContainerService;
  images: Pick<ImageService, 'resolve' | 'store' | 'layers'>;
  networks: Pick<NetworkService, 'containerView'>;
}

/** /exec/*: exec sessions; create is under /containers. */
export interface ExecBackend {
  execs: Pick<ExecService, 'startable' | 'start' | 'resize' | 'inspect'>;
}

/** /volumes/*. */
export interface VolumeBackend {
  volumes: Pick<VolumeService, 'list' | 'create' | 'view' | 'inspect' | 'get' | 'remove' | 'prune'>;
}

/** /networks/*, and the containers that connect and disconnect. */
export interface NetworkBackend {
  networks: Pick<NetworkService, 'list' | 'create' | 'prune' | 'inspect' | 'remove' | 'resolve' | 'connect' | 'disconnect' | 'forceEndpointDelete'>;
  containers: Pick<ContainerService, 'resolve' | 'tryResolve' | 'useEmbeddedDns'>;
  /** Swarm mode: the cluster's networks (absent: no swarm support wired). */
  cluster?: ClusterNetworksHook;
}

/** How /networks reaches the cluster's networks (swarm/services/networks.ts). */
export interface ClusterNetworksHook {
  /** The cluster's network API when this node is a swarm manager, undefined otherwise. */
  manager(): Pick<ClusterNetworkApi, 'create' | 'list' | 'inspect' | 'tryResolve' | 'remove' | 'prune'> | undefined;
}

/** /services/* on a swarm manager. */
export interface ServiceBackend {
  services: Pick<ServiceApi, 'create' | 'list' | 'inspect' | 'update' | 'remove'>;
}

/** /tasks/* on a swarm manager. */
export interface TaskBackend {
  tasks: Pick<TaskApi, 'list' | 'inspect'>;
}

/** cp, export, diff, commit, stats: domain helpers (containers/archive.ts, ...) that take the container service. */
export interface ContainerFileBackend {
  containers: ContainerService;
}

/** /auth and /distribution/{name}/json. */
export interface DistributionBackend {
  distribution: Pick<DistributionService, 'login' | 'inspect'>;
}

/** /build, /build/prune, /build/cancel: the builder, and where request contexts are unpacked. */
export interface BuildBackend {
  build: Pick<BuildBackendService, 'build' | 'prune'>;
  /** Scratch space for build contexts (<data-root>/tmp, emptied at start). */
  scratchDir: string;
  /** Whether a context's .dockerignore excludes a path (for removing the Dockerfile and .dockerignore, as dockerd). */
  dockerignore?: IgnoreCheck;
}

/** /nodes: the swarm's nodes, on a manager. */
export interface NodeBackend {
  /** The cluster store; throws Unavailable (dockerd's "not a swarm manager" 503) when this node is not a manager. */
  managerStore(): import('../swarm/contracts.js').SwarmStore;
  /** Promote/demote: the manager part adds or removes the node's etcd member. */
  onRoleChange?(nodeId: string, role: import('../swarm/types.js').NodeRole): Promise<void>;
}

/** /swarm* (swarm/manager/): membership, and the 503s of cluster routes no part serves yet. */
export interface SwarmBackend {
  swarm: Pick<SwarmService, 'inspect' | 'init' | 'join' | 'leave' | 'update' | 'unlockKey' | 'unlock' | 'managerStore'>;
}
