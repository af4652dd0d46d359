/** The resolved Compose model: what the loader hands to the commands (and what `config` prints). */

export interface ComposeProject {
  name: string;
  workingDir: string;
  /** Absolute paths of the files read, in `-f` order. */
  composeFiles: string[];
  /** Interpolation environment: process environment over the env files. */
  environment: Record<string, string>;
  services: Record<string, ServiceConfig>;
  /** Services left out because none of their profiles is active. */
  disabledServices: Record<string, ServiceConfig>;
  networks: Record<string, NetworkConfig>;
  volumes: Record<string, VolumeConfig>;
  secrets: Record<string, FileObjectConfig>;
  configs: Record<string, FileObjectConfig>;
  /** `x-` keys of the top level, kept and otherwise ignored. */
  extensions: Record<string, unknown>;
}

export interface ServiceConfig {
  name: string;
  profiles?: string[];
  image?: string;
  build?: BuildConfig;
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment: Record<string, string | null>;
  env_file?: EnvFileConfig[];
  ports: PortConfig[];
  expose?: string[];
  volumes: VolumeMount[];
  networks: Record<string, ServiceNetworkConfig | null>;
  network_mode?: string;
  depends_on: Record<string, DependsOnConfig>;
  links?: string[];
  healthcheck?: HealthcheckConfig;
  deploy?: DeployConfig;
  labels: Record<string, string>;
  ulimits?: Record<string, UlimitConfig>;
  extra_hosts?: string[];
  secrets?: ServiceFileRef[];
  configs?: ServiceFileRef[];
  restart?: string;
  scale?: number;
  container_name?: string;
  hostname?: string;
  domainname?: string;
  user?: string;
  working_dir?: string;
  init?: boolean;
  stop_signal?: string;
  /** A Go duration string once normalised ("1m30s"). */
  stop_grace_period?: string;
  cap_add?: string[];
  cap_drop?: string[];
  privileged?: boolean;
  read_only?: boolean;
  /** `path[:options]` entries (a string in the file becomes a list of one). */
  tmpfs?: string | string[];
  sysctls?: Record<string, string | null>;
  dns?: string | string[];
  dns_search?: string | string[];
  dns_opt?: string[];
  logging?: { driver?: string; options?: Record<string, string | number | null> };
  pid?: string;
  ipc?: string;
  /** Bytes as a number, or a size with a unit ("64m", "1gb"). */
  shm_size?: number | string;
  mem_limit?: number | string;
  memswap_limit?: number | string;
  mem_reservation?: number | string;
  cpus?: number | string;
  security_opt?: string[];
  /** `host[:container[:permissions]]` or the long form. */
  devices?: Array<string | { source: string; target?: string; permissions?: string }>;
  group_add?: Array<string | number>;
  tty?: boolean;
  stdin_open?: boolean;
  mac_address?: string;
  platform?: string;
  pull_policy?: string;
  volumes_from?: string[];
  external_links?: string[];
  annotations?: Record<string, string | null>;
  /** Keys passed through unchanged (x-..., less common keys). */
  [key: string]: unknown;
}

export interface BuildConfig {
  context: string;
  dockerfile?: string;
  dockerfile_inline?: string;
  args?: Record<string, string | null>;
  target?: string;
  cache_from?: string[];
  labels?: Record<string, string>;
  [key: string]: unknown;
}

export interface EnvFileConfig {
  path: string;
  required: boolean;
  format?: string;
}

export interface PortConfig {
  mode: string;
  host_ip?: string;
  target: number;
  /** A port or a range, a string as in docker compose's output. */
  published?: string;
  protocol: string;
  app_protocol?: string;
  name?: string;
}

export interface VolumeMount {
  type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  source?: string;
  target: string;
  read_only?: boolean;
  consistency?: string;
  bind?: { propagation?: string; create_host_path?: boolean; selinux?: string; [key: string]: unknown };
  volume?: { nocopy?: boolean; subpath?: string; [key: string]: unknown };
  tmpfs?: { size?: number | string; mode?: number; [key: string]: unknown };
}

export interface ServiceNetworkConfig {
  aliases?: string[];
  ipv4_address?: string;
  ipv6_address?: string;
  link_local_ips?: string[];
  mac_address?: string;
  driver_opts?: Record<string, string>;
  gw_priority?: number;
  priority?: number;
  [key: string]: unknown;
}

export type DependsOnCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface DependsOnConfig {
  condition: DependsOnCondition;
  restart?: boolean;
  required: boolean;
}

export interface HealthcheckConfig {
  test?: string[];
  disable?: boolean;
  /** Go duration strings as docker compose prints them ("1m30s"). */
  interval?: string;
  timeout?: string;
  start_period?: string;
  start_interval?: string;
  retries?: number;
}

export interface DeployConfig {
  replicas?: number;
  resources?: {
    limits?: { cpus?: string | number; memory?: string | number; pids?: number };
    reservations?: { cpus?: string | number; memory?: string | number; devices?: unknown[]; generic_resources?: unknown[] };
  };
  restart_policy?: { condition?: string; delay?: string; max_attempts?: number; window?: string };
  [key: string]: unknown;
}

export interface UlimitConfig {
  single?: number;
  soft?: number;
  hard?: number;
}

export interface ServiceFileRef {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface NetworkConfig {
  name: string;
  driver?: string;
  external?: boolean;
  [key: string]: unknown;
}

export interface VolumeConfig {
  name: string;
  driver?: string;
  external?: boolean;
  [key: string]: unknown;
}

/** A secret or a config: from a file, an environment variable, or inline content. */
export interface FileObjectConfig {
  name: string;
  file?: string;
  environment?: string;
  content?: string;
  external?: boolean;
  [key: string]: unknown;
}
