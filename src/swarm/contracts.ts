/**
 * The seams between the parts of swarm mode (docs/swarm.md "Parts"). Each part is built against these
 * interfaces only, so it can be tested alone (the store has an in-memory twin: store/memory.ts) and the
 * daemon puts the real ones together (daemon/daemon.ts through manager/).
 *
 *   manager/      the node's swarm state (init/join/leave/unlock), its etcd member, leadership, the
 *                 dispatcher that feeds agents, /swarm and /nodes            -> SwarmStore, LeaderDuties, NodeAgentFactory
 *   ca/           root CA, node certificates, join tokens, autolock keys     (pure + openssl)
 *   control/      the node-to-node transport: HTTPS with mutual TLS on --listen-addr (2377)
 *   orchestrator/ leader only: services -> tasks, restarts, rolling updates, scheduling, IP allocation
 *   services/     the /services and /tasks API semantics on the store
 *   agent/        every node: runs its assigned tasks as containers and reports them; task logs
 *   networks/overlay/  every node: VXLAN overlays, service VIPs, the routing mesh, service DNS
 */
import type { ClusterNetwork, NodeState, PortConfig, StoredObject, Task, TaskStatus } from './types.js';
import type { Cluster, Config, Secret, Service, SwarmNode } from './types.js';

// ---------------------------------------------------------------- the store

export interface StoreEvent<T> {
  type: 'put' | 'delete';
  /** For 'delete', the last stored value. */
  object: T;
}

/**
 * One kind of object. Stored in etcd as JSON under `/berth/swarm/<kind>/<ID>`; `Version.Index` is the
 * key's mod_revision, so `update` is a compare-and-swap on it.
 */
export interface Collection<T extends StoredObject> {
  get(id: string): Promise<T | undefined>;
  list(): Promise<T[]>;
  /** Sets Version, CreatedAt and UpdatedAt. Conflict (BerthError) if the ID exists. */
  create(obj: T): Promise<T>;
  /**
   * Stores `obj` if the stored Version.Index still equals `obj.Version.Index`; sets the new Version and
   * UpdatedAt. Conflict "update out of sequence" otherwise; NotFound if gone.
   */
  update(obj: T): Promise<T>;
  /** Read-modify-write with retries on conflict; `change` returns undefined to leave it as is. */
  modify(id: string, change: (current: T) => T | undefined): Promise<T | undefined>;
  /** NotFound if absent. */
  delete(id: string): Promise<void>;
  /** Events after the call; the callback gets them in revision order. Returns a stop function. */
  watch(onEvent: (e: StoreEvent<T>) => void): () => void;
}

export interface SwarmStore {
  cluster: Collection<Cluster>;
  nodes: Collection<SwarmNode>;
  services: Collection<Service>;
  tasks: Collection<Task>;
  networks: Collection<ClusterNetwork>;
  /** Issue 16: secrets are stored sealed (Secret.BerthSealed), never with Spec.Data. */
  secrets: Collection<Secret>;
  configs: Collection<Config>;
}

// ---------------------------------------------------------------- leader and agents

/** Started on the manager that holds leadership, stopped when it loses it (orchestrator/). */
export interface LeaderDuties {
  start(ctx: LeaderContext): Promise<{ stop(): Promise<void> }>;
}

export interface LeaderContext {
  store: SwarmStore;
  allocator: TaskAllocator;
  /** Which nodes are alive right now, from the dispatcher's heartbeats (changes are also written to node Status). */
  nodeStates(): Map<string, NodeState>;
}

/** Everything a node needs to know about the cluster, pushed by a manager's dispatcher. */
export interface NodeView {
  nodeId: string;
  /** Tasks assigned to this node that still matter (DesiredState running/ready/complete, or shutdown not yet observed). */
  tasks: Task[];
  /** Every cluster network (overlays, the ingress network). */
  networks: ClusterNetwork[];
  /** Every node: the VXLAN peers and where task logs are. */
  nodes: Array<{ ID: string; Addr: string; State: NodeState }>;
  /** Every service's endpoints: DNS names, VIPs, published ports and the tasks behind them. */
  endpoints: ServiceEndpoints[];
  /** This node's own address on the ingress network, when the cluster has one. */
  ingress?: { NetworkID: string; Address: string };
  /** The cluster's DataPathPort (Cluster.DataPathPort), the VXLAN UDP port; 4789 when absent. */
  dataPathPort?: number;
  /**
   * Issue 16: the secrets and configs this node's tasks reference (and only those), with their data in
   * clear (base64). Held in memory by the agent; written only to tmpfs.
   */
  payloads?: TaskPayloads;
}

export interface TaskPayloads {
  secrets: Array<{ ID: string; Name: string; Data: string; Templating?: { Name: string } }>;
  configs: Array<{ ID: string; Name: string; Data: string; Templating?: { Name: string } }>;
  /** Labels of the services of this node's live tasks ({{.Service.Labels}} in templates), by service ID; only non-empty ones. */
  serviceLabels?: Record<string, Record<string, string>>;
}

/**
 * Issue 16 (secrets/): encrypts and decrypts secret data with the cluster's secrets key, which every
 * manager holds (given at join or promotion, kept on disk encrypted under the unlock key with autolock).
 */
export interface SecretSealer {
  seal(clear: Buffer): string;
  /** Throws if the sealed text was not made with this cluster's key. */
  open(sealed: string): Buffer;
}

export interface ServiceEndpoints {
  ServiceID: string;
  Name: string;
  Mode: 'vip' | 'dnsrr';
  /** Published ports (after allocation of PublishedPort). */
  Ports: PortConfig[];
  VirtualIPs: Array<{ NetworkID: string; Addr: string }>;
  /** The service's aliases per network (TaskTemplate.Networks[].Aliases). */
  Aliases: Record<string, string[]>;
  /** Running tasks only. */
  Tasks: Array<{ ID: string; Slot?: number; NodeID: string; Addresses: Array<{ NetworkID: string; Addr: string }> }>;
}

/** The agent's line to the managers (dispatcher client over control/, or in-process on a manager). */
export interface AgentChannel {
  /** Calls onView with the whole view now and whenever it changes; reconnects on its own. Returns stop. */
  watch(onView: (view: NodeView) => void): () => void;
  /** What the node saw happen to its tasks; the dispatcher writes it into the tasks (states only move forward). */
  report(updates: Array<{ taskId: string; status: TaskStatus }>): Promise<void>;
}

/** Started on every node of a swarm (agent/). */
export interface NodeAgentFactory {
  start(nodeId: string, channel: AgentChannel): Promise<{ stop(opts: { removeTasks: boolean }): Promise<void> }>;
}

/** Every node: overlays, VXLAN peers, VIP balancing, the routing mesh, service DNS (networks/overlay/). */
export interface ClusterNetworking {
  /** Brings the node in line with the view; idempotent, serialized by the caller. */
  sync(view: NodeView): Promise<void>;
  /** The name or id under which a cluster network is known locally (for container create), after sync made it. */
  localNetwork(clusterNetworkId: string): string | undefined;
  /** Leaving the swarm: removes every overlay, device and rule it made. */
  teardown(): Promise<void>;
}

// ---------------------------------------------------------------- keys

export const ETCD_PREFIX = '/berth/swarm/';
export const etcdKey = (kind: keyof SwarmStore, id = ''): string => `${ETCD_PREFIX}${kind}/${id}`;
/** The leader's lease-bound key; its value is the leader's node ID. */
export const LEADER_KEY = `${ETCD_PREFIX}leader`;
/** `<HEARTBEAT_PREFIX><nodeId>`: bound to a lease of a few heartbeat periods, refreshed by the dispatcher. */
export const HEARTBEAT_PREFIX = `${ETCD_PREFIX}heartbeat/`;

// ---------------------------------------------------------------- allocation (leader side)

/**
 * Network resources of tasks, on the store (services/allocator.ts implements it; orchestrator/ calls it).
 * Service VIPs and published ports are allocated when a service is created or updated (services/).
 */
export interface TaskAllocator {
  /** Fills NetworksAttachments (one address per network of the task's spec, plus ingress when the service publishes ingress ports). */
  allocateTask(task: Task): Promise<Task>;
  /** Frees the task's addresses (the task is being deleted). */
  releaseTask(task: Task): Promise<void>;
}
