/**
 * Engine API input types: ContainerConfig / HostConfig as clients send them (names as in the Engine API v1.50
 * definitions), and the mounts the daemon resolves for a container.
 *
 * Lifecycle: types only.
 */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: unknown;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: unknown;
  ArgsEscaped?: unknown;
  Image?: string;
  Volumes?: unknown;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: unknown;
  OnBuild?: unknown;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  Shell?: unknown;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface DeviceMapping {
  PathOnHost?: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

export interface ThrottleDevice {
  Path?: string;
  Rate?: number;
}

export interface WeightDevice {
  Path?: string;
  Weight?: number;
}

/** HostConfig = Resources + the host-side options. */
export interface HostConfig {
  // Resources
  CpuShares?: number;
  Memory?: number;
  CgroupParent?: string;
  BlkioWeight?: number;
  BlkioWeightDevice?: WeightDevice[] | null;
  BlkioDeviceReadBps?: ThrottleDevice[] | null;
  BlkioDeviceWriteBps?: ThrottleDevice[] | null;
  BlkioDeviceReadIOps?: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps?: ThrottleDevice[] | null;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[] | null;
  DeviceCgroupRules?: string[] | null;
  DeviceRequests?: unknown;
  KernelMemoryTCP?: unknown;
  MemoryReservation?: number;
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  NanoCpus?: number;
  OomKillDisable?: boolean | null;
  Init?: boolean | null;
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
  CpuCount?: unknown;
  CpuPercent?: unknown;
  IOMaximumIOps?: number;
  IOMaximumBandwidth?: number;
  // Host options
  Binds?: unknown;
  ContainerIDFile?: unknown;
  LogConfig?: { Type?: string; Config?: Record<string, string> } | null;
  NetworkMode?: string;
  PortBindings?: unknown;
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number } | null;
  AutoRemove?: boolean;
  VolumeDriver?: unknown;
  VolumesFrom?: unknown;
  Mounts?: unknown;
  ConsoleSize?: number[] | null;
  Annotations?: Record<string, string> | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: string;
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  Cgroup?: unknown;
  Links?: unknown;
  OomScoreAdj?: number;
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: unknown;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  StorageOpt?: unknown;
  Tmpfs?: Record<string, string> | null;
  UTSMode?: string;
  UsernsMode?: unknown;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Runtime?: unknown;
  Isolation?: unknown;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
}

/** A mount the daemon adds for the container (volume, bind, ...), as Docker's container.Mount. */
export interface UserMount {
  source: string;
  destination: string;
  /** Default false (read-only). */
  writable?: boolean;
  /** 'rprivate' (default), 'private', 'rshared', 'shared', 'rslave', 'slave'. */
  propagation?: string;
  /** 'bind' instead of 'rbind'. */
  nonRecursive?: boolean;
}
