/**
 * The cluster's objects, in the Engine API's shapes (docker-engine-api-v1.50.yaml: Swarm, Node, Service,
 * Task; swarmkit's Network for the networks the cluster owns). They are stored as they are served, so the
 * routes hand them out unchanged; `Version.Index` is the store's modification revision, the number a
 * client sends back with `?version=` to update. Fields the API does not show start with `Berth`
 * (stripped by the views). Shapes are open (`[k: string]: unknown`) where the API has many rarely used
 * fields: a spec is kept as the client sent it, after defaults.
 */

export interface Version {
  Index: number;
}

/** What every stored object has. */
export interface StoredObject {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
}

// ---------------------------------------------------------------- swarm

export interface SwarmSpec {
  Name?: string;
  Labels?: Record<string, string>;
  Orchestration?: { TaskHistoryRetentionLimit?: number };
  Raft?: { SnapshotInterval?: number; KeepOldSnapshots?: number; LogEntriesForSlowFollowers?: number; ElectionTick?: number; HeartbeatTick?: number };
  Dispatcher?: { HeartbeatPeriod?: number };
  CAConfig?: { NodeCertExpiry?: number; ExternalCAs?: unknown[]; SigningCACert?: string; SigningCAKey?: string; ForceRotate?: number };
  EncryptionConfig?: { AutoLockManagers?: boolean };
  TaskDefaults?: { LogDriver?: { Name?: string; Options?: Record<string, string> } };
  [k: string]: unknown;
}

export interface TLSInfo {
  TrustRoot: string;
  CertIssuerSubject: string;
  CertIssuerPublicKey: string;
}

/** GET /swarm (JoinTokens only for managers' views). */
export interface Cluster extends StoredObject {
  Spec: SwarmSpec;
  TLSInfo: TLSInfo;
  RootRotationInProgress: boolean;
  DataPathPort: number;
  DefaultAddrPool: string[];
  SubnetSize: number;
  JoinTokens: { Worker: string; Manager: string };
  /** Internal: the CA's key (PEM, encrypted with the unlock key when autolock is on) and the secrets behind the tokens. */
  BerthCA?: { Cert: string; Key: string; KeyEncrypted?: boolean };
  /** Internal: the managers' unlock key while autolock is on (GET /swarm/unlockkey on any manager; see docs/swarm.md). Clusters made before issue 16 only. */
  BerthUnlockKey?: string;
  /** Internal (issue 16): the unlock key sealed with the cluster's secrets key, so etcd's data never holds it clear. */
  BerthUnlockKeySealed?: string;
  /** Internal: during `ca --rotate`, the root being replaced (still trusted until every node has a certificate of the new one). */
  BerthRotatingFrom?: string;
  /** Internal: the current root cross-signed by the previous one; nodes present it after their certificate (peers that trust only the old root). */
  BerthCrossSigned?: string;
}

// ---------------------------------------------------------------- nodes

export type NodeRole = 'worker' | 'manager';
export type NodeAvailability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';

export interface NodeSpec {
  Name?: string;
  Labels?: Record<string, string>;
  Role: NodeRole;
  Availability: NodeAvailability;
}

export interface NodeDescription {
  Hostname: string;
  Platform: { Architecture: string; OS: string };
  Resources: { NanoCPUs: number; MemoryBytes: number; GenericResources?: unknown[] };
  Engine: { EngineVersion: string; Labels?: Record<string, string>; Plugins?: Array<{ Type: string; Name: string }> };
  TLSInfo: TLSInfo;
}

export interface SwarmNode extends StoredObject {
  Spec: NodeSpec;
  Description: NodeDescription;
  Status: { State: NodeState; Message?: string; Addr: string };
  ManagerStatus?: { Leader?: boolean; Reachability: 'unknown' | 'unreachable' | 'reachable'; Addr: string };
  /** Internal: host:port of the node's control server (its advertise address), for manager-to-node calls. */
  BerthControlAddr?: string;
  /** Internal: this node's address on the ingress network (the routing mesh's source address on it). */
  BerthIngress?: { NetworkID: string; Address: string };
  /**
   * Internal: addresses on attachable overlays held by plain containers on this node (`run --network`
   * outside services; swarmkit's network attachment tasks), so no task or other node is given them.
   */
  BerthAttachments?: Array<{ NetworkID: string; ContainerID: string; Address: string }>;
}

// ---------------------------------------------------------------- services

export interface Mount {
  Type?: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster';
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  [k: string]: unknown;
}

export interface ContainerSpec {
  Image: string;
  Labels?: Record<string, string>;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  Mounts?: Mount[];
  StopSignal?: string;
  StopGracePeriod?: number;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number; StartInterval?: number };
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Secrets?: unknown[];
  Configs?: unknown[];
  Init?: boolean;
  Sysctls?: Record<string, string>;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
  Isolation?: string;
  [k: string]: unknown;
}

export interface Resources {
  NanoCPUs?: number;
  MemoryBytes?: number;
  Pids?: number;
  GenericResources?: unknown[];
}

export interface RestartPolicy {
  Condition?: 'none' | 'on-failure' | 'any';
  Delay?: number;
  MaxAttempts?: number;
  Window?: number;
}

export interface Placement {
  Constraints?: string[];
  Preferences?: Array<{ Spread?: { SpreadDescriptor: string } }>;
  MaxReplicas?: number;
  Platforms?: Array<{ Architecture?: string; OS?: string }>;
}

export interface NetworkAttachmentConfig {
  Target: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
}

export interface TaskSpec {
  ContainerSpec?: ContainerSpec;
  Resources?: { Limits?: Resources; Reservations?: Resources };
  RestartPolicy?: RestartPolicy;
  Placement?: Placement;
  ForceUpdate?: number;
  Runtime?: string;
  Networks?: NetworkAttachmentConfig[];
  LogDriver?: { Name?: string; Options?: Record<string, string> };
  [k: string]: unknown;
}

export interface ServiceMode {
  Replicated?: { Replicas?: number };
  Global?: Record<string, never>;
  ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number };
  GlobalJob?: Record<string, never>;
}

export interface UpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: 'continue' | 'pause' | 'rollback';
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface PortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp' | 'sctp';
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

export interface EndpointSpec {
  Mode?: 'vip' | 'dnsrr';
  Ports?: PortConfig[];
}

export interface ServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: TaskSpec;
  Mode: ServiceMode;
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  /** Deprecated in the API; normalized into TaskTemplate.Networks. */
  Networks?: NetworkAttachmentConfig[];
  EndpointSpec?: EndpointSpec;
}

export interface Service extends StoredObject {
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint: { Spec: EndpointSpec; Ports?: PortConfig[]; VirtualIPs?: Array<{ NetworkID: string; Addr: string }> };
  UpdateStatus?: { State: 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed'; StartedAt?: string; CompletedAt?: string; Message?: string };
  JobStatus?: { JobIteration: Version; LastExecution?: string };
}

// ---------------------------------------------------------------- tasks

export type TaskState =
  | 'new' | 'allocated' | 'pending' | 'assigned' | 'accepted' | 'preparing' | 'ready' | 'starting'
  | 'running' | 'complete' | 'shutdown' | 'failed' | 'rejected' | 'remove' | 'orphaned';

/** Task states in their order: a task only moves forward (swarmkit's TaskState numbers). */
export const TASK_STATE_ORDER: readonly TaskState[] = [
  'new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running',
  'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned',
];

export interface TaskStatus {
  Timestamp: string;
  State: TaskState;
  Message: string;
  Err?: string;
  ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
  PortStatus?: { Ports?: PortConfig[] };
}

/** A network the cluster owns (swarmkit's api.Network, as task attachments show it). */
export interface ClusterNetwork extends StoredObject {
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    DriverConfiguration?: { Name: string; Options?: Record<string, string> };
    IPAMOptions?: { Driver?: { Name: string; Options?: Record<string, string> }; Configs?: Array<{ Subnet?: string; Gateway?: string; Range?: string }> };
    Internal?: boolean;
    Attachable?: boolean;
    Ingress?: boolean;
    Scope?: 'swarm';
  };
  /** The VNI: `{ Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' } }`. */
  DriverState: { Name: string; Options: Record<string, string> };
  /** The subnets and gateways actually allocated. */
  IPAMOptions: { Driver: { Name: string }; Configs: Array<{ Subnet: string; Gateway: string }> };
}

export interface NetworkAttachment {
  Network: ClusterNetwork;
  /** CIDR form, e.g. "10.0.1.5/24". */
  Addresses: string[];
}

export interface Task extends StoredObject {
  Name?: string;
  Labels?: Record<string, string>;
  Spec: TaskSpec;
  ServiceID: string;
  /** Replicated services and jobs; global tasks have none. */
  Slot?: number;
  NodeID?: string;
  Status: TaskStatus;
  DesiredState: TaskState;
  NetworksAttachments?: NetworkAttachment[];
  JobIteration?: Version;
  /** Internal: the service spec version this task was made from (rolling updates compare it). */
  BerthSpecVersion?: number;
  /** Internal: the service name and endpoint mode, so an agent needs no service lookup. */
  BerthService?: { Name: string; EndpointMode: 'vip' | 'dnsrr'; Ports?: PortConfig[] };
}

// ---------------------------------------------------------------- secrets and configs (issue 16)

/** Driver names as the API has them (`Driver`, `Templating`). */
export interface NamedDriver {
  Name: string;
  Options?: Record<string, string>;
}

export interface SecretSpec {
  Name: string;
  Labels?: Record<string, string>;
  /** Base64 in the API. Never stored clear and never served: the store keeps `BerthSealed` instead. */
  Data?: string;
  Driver?: NamedDriver;
  Templating?: NamedDriver;
}

export interface Secret extends StoredObject {
  Spec: SecretSpec;
  /** Internal: the data encrypted with the cluster's secrets key (secrets/sealer.ts), base64. */
  BerthSealed?: string;
}

export interface ConfigSpec {
  Name: string;
  Labels?: Record<string, string>;
  /** Base64; configs are not secret (inspect shows them, as dockerd does). */
  Data?: string;
  Templating?: NamedDriver;
}

export interface Config extends StoredObject {
  Spec: ConfigSpec;
}

/** Where a secret or config goes in a task's container (the API's SecretReference/ConfigReference File). */
export interface FileTarget {
  Name?: string;
  UID?: string;
  GID?: string;
  /** File mode bits, a number in the API (0o444 = 292). */
  Mode?: number;
}

/** An entry of ContainerSpec.Secrets. */
export interface SecretReference {
  File?: FileTarget;
  SecretID?: string;
  SecretName?: string;
}

/** An entry of ContainerSpec.Configs (Runtime: a config the container does not see as a file, e.g. a credential spec). */
export interface ConfigReference {
  File?: FileTarget;
  Runtime?: Record<string, never>;
  ConfigID?: string;
  ConfigName?: string;
}

/** ContainerSpec.Secrets and .Configs, typed (the spec keeps them as the client sent them). */
export const secretRefs = (t: { Spec: TaskSpec }): SecretReference[] => (t.Spec.ContainerSpec?.Secrets ?? []) as SecretReference[];
export const configRefs = (t: { Spec: TaskSpec }): ConfigReference[] => (t.Spec.ContainerSpec?.Configs ?? []) as ConfigReference[];
