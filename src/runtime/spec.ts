/**
 * OCI runtime spec (runc's config.json) for a container, built from Docker's create options the way
 * dockerd does (moby daemon/oci_linux.go + oci/defaults.go, Docker 28), plus Docker's create-time
 * validation of HostConfig.
 *
 * Lifecycle: pure functions. containers/ calls validateContainerConfig + validateHostConfig at create (before
 * anything exists) and may store applyHostConfigDefaults' result so inspect shows Docker's defaults; at
 * start, after the rootfs is mounted and the hosts/hostname/resolv.conf files are written, it calls
 * buildSpec and writes serializeSpec(spec) as <bundle>/config.json. buildSpec reads only the container's
 * /etc/passwd and /etc/group (safely, see user.ts) and a few host facts (/proc/self/status, /proc/self/limits,
 * /proc/sys, /sys), each of which can be passed in instead.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { internal, invalidArgument } from '../lib/errors.js';
import { hostCgroupVersion } from './cgroups.js';
import { applySecurity, validateSecurityOpts, type IdMapping, type UsernsSpec } from './security.js';
import type { OciSeccomp } from './seccomp.js';
import { parseSignal } from './signals.js';
import { DEFAULT_MAX_CPUS, DEFAULT_SHM_SIZE, parseCpusetList } from './units.js';
import { resolveUser, type ResolvedUser } from './user.js';

// ---------------------------------------------------------------------------------------------------------
// Engine API input types (names as in the Engine API v1.50 ContainerConfig / HostConfig definitions)
// ---------------------------------------------------------------------------------------------------------

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

export interface RlimitPair {
  /** Infinity (or -1) = unlimited. */
  soft: number;
  hard: number;
}

export interface SpecInput {
  id: string;
  /** Absolute path of the mounted rootfs (overlay merged dir). */
  rootfs: string;
  /** Config after merging with the image config. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** Files the daemon writes; bind-mounted at /etc/hosts, /etc/hostname, /etc/resolv.conf ('' = not mounted). */
  hostsPath: string;
  hostnamePath: string;
  resolvConfPath: string;
  /** Host directory (a sized tmpfs) bind-mounted at /dev/shm; if absent a tmpfs of ShmSize is mounted. */
  shmPath?: string;
  /** Network namespace to join (bridge networking, or the other container's for NetworkMode container:X). */
  netnsPath?: string;
  /** IPC / PID namespace to join for IpcMode / PidMode 'container:X' (e.g. /proc/<pid>/ns/ipc). */
  ipcnsPath?: string;
  pidnsPath?: string;
  /** runc's cgroupfs path form, e.g. '/berth/<id>'. */
  cgroupsPath: string;
  /** Host path of a static init (tini), bind-mounted read-only at /sbin/docker-init when init is on. */
  initPath?: string;
  /** The daemon's --init default, used when HostConfig.Init is null/undefined. */
  defaultInit?: boolean;
  /** The daemon's default-ulimits (merged under HostConfig.Ulimits by name). */
  defaultUlimits?: Ulimit[];
  /** The daemon's own rlimits; every rlimit written is clamped to these hard limits. Default: /proc/self/limits. */
  hostRlimits?: Partial<Record<string, RlimitPair>>;
  /** 1 (default when undetected) or 2; decides the default cgroup namespace (host on v1, private on v2). */
  cgroupVersion?: 1 | 2;
  /** Capabilities available to the daemon (for 'ALL'). Default: CapEff of this process. */
  availableCaps?: string[];
  /** Volumes and binds, already resolved to host paths. */
  mounts?: UserMount[];
  /** Give the container a private time namespace (Docker ≥ 29 on kernels ≥ 5.6; runc 1.1 cannot). Default false. */
  timeNamespace?: boolean;
  /** Use 'rro' (recursively read-only, runc ≥ 1.1 + kernel ≥ 5.12) rather than 'ro' for read-only binds. */
  recursiveReadonly?: boolean;
  /** A user namespace with these mappings (the daemon's --userns-remap, unless UsernsMode is 'host'). */
  userns?: UsernsSpec;
}

// ---------------------------------------------------------------------------------------------------------
// OCI runtime spec types (the subset we write; runtime-spec 1.0.2)
// ---------------------------------------------------------------------------------------------------------

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciRlimit {
  type: string;
  /** bigint only for RLIM_INFINITY (2^64-1); write the spec with serializeSpec. */
  hard: number | bigint;
  soft: number | bigint;
}

export interface OciDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciDevice {
  type: string;
  path: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal?: boolean;
    consoleSize?: { height: number; width: number };
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities?: { bounding?: string[]; effective?: string[]; inheritable?: string[]; permitted?: string[]; ambient?: string[] };
    rlimits?: OciRlimit[];
    noNewPrivileges?: boolean;
    oomScoreAdj?: number;
    apparmorProfile?: string;
    selinuxLabel?: string;
  };
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: {
    resources: {
      devices: OciDeviceCgroup[];
      memory?: {
        limit?: number;
        reservation?: number;
        swap?: number;
        swappiness?: number;
        disableOOMKiller?: boolean;
      };
      cpu?: {
        shares?: number;
        quota?: number;
        period?: number;
        realtimeRuntime?: number;
        realtimePeriod?: number;
        cpus?: string;
        mems?: string;
      };
      pids?: { limit: number };
      blockIO?: {
        weight?: number;
        weightDevice?: Array<{ major: number; minor: number; weight?: number }>;
        throttleReadBpsDevice?: OciThrottleDevice[];
        throttleWriteBpsDevice?: OciThrottleDevice[];
        throttleReadIOPSDevice?: OciThrottleDevice[];
        throttleWriteIOPSDevice?: OciThrottleDevice[];
      };
    };
    cgroupsPath: string;
    sysctl?: Record<string, string>;
    namespaces: Array<{ type: string; path?: string }>;
    devices?: OciDevice[];
    maskedPaths?: string[];
    readonlyPaths?: string[];
    seccomp?: OciSeccomp;
    uidMappings?: IdMapping[];
    gidMappings?: IdMapping[];
  };
}

/** Looks up a user in the container (default: resolveUser on the rootfs's /etc/passwd and /etc/group). */
export type PasswdLookup = (rootfs: string, userSpec: string, groupAdd: readonly string[]) => ResolvedUser;

// ---------------------------------------------------------------------------------------------------------
// Docker's defaults
// ---------------------------------------------------------------------------------------------------------

export const OCI_VERSION = '1.0.2';
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const IN_CONTAINER_INIT_PATH = '/sbin/docker-init';
/** Docker's linuxMinMemory: 6 MiB. */
export const MIN_MEMORY = 6291456;
/** 2^64-1, the kernel's RLIM_INFINITY as runc reads it. */
export const RLIM_INFINITY = 18446744073709551615n;

export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability the kernel defines, indexed by its number (capability.h, up to Linux 6.x). */
export const KNOWN_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** dockerd's default masked paths, in its order (inspect shows them: HostConfig.MaskedPaths). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/**
 * Docker's device cgroup rules. runc appends its own defaults after these (mknod of any device, /dev/full,
 * /dev/pts/* (136:*), /dev/ptmx (5:2), /dev/net/tun (10:200)), so they are not repeated here, as in Docker.
 */
export function defaultDeviceRules(): OciDeviceCgroup[] {
  const allow = (major: number, minor: number): OciDeviceCgroup => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5), // /dev/zero
    allow(1, 3), // /dev/null
    allow(1, 9), // /dev/urandom
    allow(1, 8), // /dev/random
    allow(5, 0), // /dev/tty
    allow(5, 1), // /dev/console
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // /dev/fuse
  ];
}

function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

/** go-units' ulimit names. */
export const ULIMIT_NAMES: readonly string[] = [
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
];

// ---------------------------------------------------------------------------------------------------------
// Host facts (each can be overridden through SpecInput / ValidateOptions)
// ---------------------------------------------------------------------------------------------------------

let cachedCaps: string[] | undefined;

/** Capabilities in this process's effective set (what 'ALL' means; containerd's cap.Current()). */
export function currentCapabilities(): string[] {
  if (cachedCaps) return cachedCaps;
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(status);
    if (m) {
      const bits = BigInt('0x' + m[1]);
      cachedCaps = KNOWN_CAPABILITIES.filter((_, i) => ((bits >> BigInt(i)) & 1n) === 1n);
      return cachedCaps;
    }
  } catch {
    // fall through
  }
  cachedCaps = [...KNOWN_CAPABILITIES];
  return cachedCaps;
}

const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'cpu',
  'Max file size': 'fsize',
  'Max data size': 'data',
  'Max stack size': 'stack',
  'Max core file size': 'core',
  'Max resident set': 'rss',
  'Max processes': 'nproc',
  'Max open files': 'nofile',
  'Max locked memory': 'memlock',
  'Max address space': 'as',
  'Max file locks': 'locks',
  'Max pending signals': 'sigpending',
  'Max msgqueue size': 'msgqueue',
  'Max nice priority': 'nice',
  'Max realtime priority': 'rtprio',
  'Max realtime timeout': 'rttime',
};

/** This process's rlimits by ulimit name, from /proc/self/limits (unlimited = Infinity). */
export function readHostRlimits(limitsText?: string): Record<string, RlimitPair> {
  const out: Record<string, RlimitPair> = {};
  let text = limitsText;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return out;
    }
  }
  const val = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
  for (const line of text.split('\n')) {
    for (const [label, name] of Object.entries(LIMIT_NAMES)) {
      if (!line.startsWith(label + ' ')) continue;
      const f = line.slice(label.length).trim().split(/\s+/);
      if (f.length >= 2) out[name] = { soft: val(f[0]!), hard: val(f[1]!) };
    }
  }
  return out;
}

let cachedThermal: string[] | undefined;

/** /sys/devices/system/cpu/cpuN/thermal_throttle paths that exist (Docker masks them too). */
function thermalThrottlePaths(): string[] {
  if (cachedThermal) return cachedThermal;
  const out: string[] = [];
  try {
    const possible = parseCpusetList(fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim(), 0);
    for (const cpu of [...possible].sort((a, b) => a - b)) {
      const p = `/sys/devices/system/cpu/cpu${cpu}/thermal_throttle`;
      if (fs.existsSync(p)) out.push(p);
    }
  } catch {
    // none
  }
  cachedThermal = out;
  return out;
}

function sysctlExists(name: string): boolean {
  return fs.existsSync(path.join('/proc/sys', name.replaceAll('.', '/')));
}

function readFirst(paths: string[]): string | undefined {
  for (const p of paths) {
    try {
      return fs.readFileSync(p, 'utf8').trim();
    } catch {
      // next
    }
  }
  return undefined;
}

export interface ValidateOptions {
  /** CPUs usable by the daemon (Docker: NumCPU, the affinity mask). Default os.availableParallelism(). */
  ncpu?: number;
  /** The daemon cgroup's cpuset.cpus / cpuset.mems lists. Default: read from /sys/fs/cgroup. */
  cpusetCpus?: string;
  cpusetMems?: string;
  /** Capabilities available (see currentCapabilities). */
  availableCaps?: string[];
  /** Whether the kernel supports a swap limit (memory.memsw.* / memory.swap.max). Default: detected. */
  swapLimit?: boolean;
  /** Whether this is `docker update` (only changes the memoryswap-without-memory rule). */
  update?: boolean;
  /** Whether the daemon runs with --userns-remap (privileged, host network and host PID then need --userns=host). */
  usernsRemap?: boolean;
}

function hostCpuset(kind: 'cpus' | 'mems'): string | undefined {
  return readFirst([
    `/sys/fs/cgroup/cpuset/cpuset.${kind}`,
    `/sys/fs/cgroup/cpuset.${kind}.effective`,
    `/sys/devices/system/${kind === 'cpus' ? 'cpu/online' : 'node/online'}`,
  ]);
}

function hostSwapLimit(): boolean {
  return (
    fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ||
    fs.existsSync('/sys/fs/cgroup/memory.swap.max') ||
    !fs.existsSync('/sys/fs/cgroup/memory')
  );
}

// ---------------------------------------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------------------------------------

const isContainerMode = (m: string | undefined) => (m ?? '').startsWith('container:');
const containerOf = (m: string) => m.slice('container:'.length);

function ipcModeValid(m: string): boolean {
  if (['', 'host', 'private', 'shareable', 'none'].includes(m)) return true;
  return isContainerMode(m) && containerOf(m) !== '';
}
function pidModeValid(m: string): boolean {
  if (m === '' || m === 'host') return true;
  return isContainerMode(m) && containerOf(m) !== '';
}

/** Docker's NetworkMode.IsPrivate(): a network namespace of its own (none, bridge, user networks). */
export function isPrivateNetwork(mode: string | undefined): boolean {
  return mode !== 'host' && !isContainerMode(mode);
}

// ---------------------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------------------

/** Upper-cases, adds CAP_, and checks each name; keeps 'ALL'. Docker's NormalizeLegacyCapabilities. */
export function normalizeCapabilities(caps: readonly string[], available: readonly string[] = currentCapabilities()): string[] {
  const out: string[] = [];
  for (const raw of caps) {
    let c = raw.toUpperCase();
    if (c === 'ALL') {
      out.push(c);
      continue;
    }
    if (!c.startsWith('CAP_')) c = 'CAP_' + c;
    if (!KNOWN_CAPABILITIES.includes(c)) throw invalidArgument(`unknown capability: ${JSON.stringify(c)}`);
    if (!available.includes(c)) {
      throw invalidArgument(`capability not supported by your kernel or not available in the current environment: ${JSON.stringify(c)}`);
    }
    out.push(c);
  }
  return out;
}

/** Docker's default set with CapAdd / CapDrop applied (TweakCapabilities; duplicates removed). */
export function tweakCapabilities(
  adds: readonly string[] = [],
  drops: readonly string[] = [],
  available: readonly string[] = currentCapabilities(),
): string[] {
  if (adds.length === 0 && drops.length === 0) return [...DEFAULT_CAPABILITIES];
  const capDrop = normalizeCapabilities(drops, available);
  const capAdd = normalizeCapabilities(adds, available);
  let caps: string[];
  if (capAdd.includes('ALL')) caps = available.filter((c) => !capDrop.includes(c));
  else if (capDrop.includes('ALL')) caps = capAdd;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !capDrop.includes(c)), ...capAdd];
  return [...new Set(caps)];
}

// ---------------------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------------------

const envKey = (e: string) => {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
};

/**
 * Docker's ReplaceOrAppendEnvValues: each override replaces the default with the same key or is appended;
 * an override without '=' removes that key.
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const env: Array<string | undefined> = [...defaults];
  const index = new Map<string, number>();
  env.forEach((e, i) => index.set(envKey(e!), i));
  for (const v of overrides) {
    if (!v.includes('=')) {
      const i = index.get(v);
      if (i !== undefined) env[i] = undefined;
      continue;
    }
    const i = index.get(envKey(v));
    if (i !== undefined) env[i] = v;
    else env.push(v);
  }
  return env.filter((e): e is string => e !== undefined);
}

/**
 * Create-time merge of the image's Env under the user's (Docker's merge(): the user's entries first, then
 * the image's entries whose keys the user did not set).
 */
export function mergeEnv(imageEnv: readonly string[] | null | undefined, userEnv: readonly string[] | null | undefined): string[] {
  const user = [...(userEnv ?? [])];
  if (user.length === 0) return [...(imageEnv ?? [])];
  const keys = new Set(user.map(envKey));
  for (const e of imageEnv ?? []) if (!keys.has(envKey(e))) user.push(e);
  return user;
}

/** The process environment: PATH default, HOSTNAME, TERM=xterm (tty), then Config.Env on top. */
export function containerEnv(config: ContainerConfig): string[] {
  const defaults = [DEFAULT_PATH_ENV, `HOSTNAME=${config.Hostname ?? ''}`];
  if (config.Tty) defaults.push('TERM=xterm');
  return replaceOrAppendEnv(defaults, config.Env ?? []);
}

/** Entrypoint + Cmd; Entrypoint [""] counts as none. Throws `no command specified`. */
export function containerArgs(config: ContainerConfig): string[] {
  let entrypoint = config.Entrypoint ?? [];
  if (entrypoint.length === 1 && entrypoint[0] === '') entrypoint = [];
  const args = [...entrypoint, ...(config.Cmd ?? [])];
  if (args.length === 0) throw invalidArgument('no command specified');
  return args;
}

// ---------------------------------------------------------------------------------------------------------
// Validation (create time)
// ---------------------------------------------------------------------------------------------------------

const MAX_HOSTNAME_LEN = 64;

/** Docker's validateContainerConfig (+ the hostname length check). */
export function validateContainerConfig(config: ContainerConfig): void {
  const wd = config.WorkingDir ?? '';
  if (wd !== '' && !wd.startsWith('/')) {
    throw invalidArgument(`the working directory '${wd}' is invalid, it needs to be an absolute path`);
  }
  if (config.StopSignal) parseSignal(config.StopSignal);
  for (const e of config.Env ?? []) {
    if (envKey(e) === '') throw invalidArgument(`invalid environment variable: ${e}`);
  }
  const hostname = config.Hostname ?? '';
  if (Buffer.byteLength(hostname) > MAX_HOSTNAME_LEN) {
    throw invalidArgument(`hostname ${JSON.stringify(hostname)} is too long (maximum ${MAX_HOSTNAME_LEN} bytes)`);
  }
}

const TMPFS_FLAGS = new Map<string, number>([
  ['ro', 1],
  ['rw', 1],
  ['suid', 2],
  ['nosuid', 2],
  ['dev', 4],
  ['nodev', 4],
  ['exec', 8],
  ['noexec', 8],
  ['sync', 16],
  ['async', 16],
  ['dirsync', 128],
  ['remount', 32],
  ['mand', 64],
  ['nomand', 64],
  ['atime', 1024],
  ['noatime', 1024],
  ['diratime', 2048],
  ['nodiratime', 2048],
  ['bind', -1],
  ['rbind', -1],
  ['unbindable', -1],
  ['runbindable', -1],
  ['private', -1],
  ['rprivate', -1],
  ['shared', -1],
  ['rshared', -1],
  ['slave', -1],
  ['rslave', -1],
  ['relatime', 2097152],
  ['norelatime', 2097152],
  ['strictatime', 16777216],
  ['nostrictatime', 16777216],
]);
const TMPFS_DATA = new Set(['', 'size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** Docker's MergeTmpfsOptions: the last of conflicting flags or data keys wins; unknown options are refused. */
export function mergeTmpfsOptions(options: readonly string[]): string[] {
  const flagSeen = new Set<number>();
  const dataSeen = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults') continue;
    const flag = TMPFS_FLAGS.get(o);
    if (flag !== undefined) {
      if (!flagSeen.has(flag)) {
        out.unshift(o);
        flagSeen.add(flag);
      }
      continue;
    }
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    if (eq < 0 || !TMPFS_DATA.has(key)) throw invalidArgument(`invalid tmpfs option ${JSON.stringify(key)}`);
    if (!dataSeen.has(key)) {
      out.unshift(o);
      dataSeen.add(key);
    }
  }
  return out;
}

function tmpfsOptions(data: string): string[] {
  const opts = ['noexec', 'nosuid', 'nodev', 'rprivate'];
  if (data !== '') opts.push(...data.split(','));
  return mergeTmpfsOptions(opts);
}

function validateTmpfsDestination(dest: string): void {
  if (path.posix.normalize(dest.replaceAll('\\', '/')) === '/' || /^\/+$/.test(dest)) {
    throw invalidArgument("invalid specification: destination can't be '/'");
  }
  if (!dest.replaceAll('\\', '/').startsWith('/')) {
    throw invalidArgument(`invalid mount path: '${dest}' mount path must be absolute`);
  }
}

const DEVICE_RULE_RE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

function parseDeviceCgroupRule(rule: string): OciDeviceCgroup {
  const m = DEVICE_RULE_RE.exec(rule);
  if (!m) throw invalidArgument(`invalid device cgroup format '${rule}'`);
  const r: OciDeviceCgroup = { allow: true, type: m[1]!, access: m[4]! };
  if (m[2] !== '*') r.major = Number(m[2]);
  if (m[3] !== '*') r.minor = Number(m[3]);
  return r;
}

function validateUlimits(ulimits: readonly Ulimit[]): void {
  for (const u of ulimits) {
    if (!ULIMIT_NAMES.includes(u.Name)) throw invalidArgument(`invalid ulimit type: ${u.Name}`);
    const soft = u.Soft === -1 ? Infinity : u.Soft;
    const hard = u.Hard === -1 ? Infinity : u.Hard;
    if (soft > hard) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
}

const n0 = (v: number | null | undefined) => v ?? 0;

/**
 * Docker's create-time checks of HostConfig (validateHostConfig + verifyPlatformContainerSettings, for what
 * Berth supports). Throws InvalidArgument with Docker's message; returns Docker's warnings.
 */
export function validateHostConfig(hc: HostConfig, opts: ValidateOptions = {}): string[] {
  const warnings: string[] = [];
  const available = opts.availableCaps ?? currentCapabilities();

  // --security-opt (parseSecurityOpt at create), a custom seccomp profile included.
  validateSecurityOpts(hc.SecurityOpt);
  // User namespaces (verifyPlatformContainerSettings).
  const userns = typeof hc.UsernsMode === 'string' ? hc.UsernsMode : '';
  if (userns !== '' && userns.split(':')[0] !== 'host') throw invalidArgument(`invalid USER mode: ${userns}`);
  if (opts.usernsRemap && userns === '') {
    if (hc.Privileged) {
      throw invalidArgument('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
    }
    if (hc.NetworkMode === 'host') throw invalidArgument("cannot share the host's network namespace when user namespaces are enabled");
    if (hc.PidMode === 'host') throw invalidArgument('cannot share the host PID namespace when user namespaces are enabled');
  }

  // validateHostConfig (daemon/container.go)
  try {
    normalizeCapabilities(hc.CapAdd ?? [], available);
  } catch (e) {
    throw invalidArgument(`invalid CapAdd: ${(e as Error).message}`);
  }
  try {
    normalizeCapabilities(hc.CapDrop ?? [], available);
  } catch (e) {
    throw invalidArgument(`invalid CapDrop: ${(e as Error).message}`);
  }
  for (const k of Object.keys(hc.Annotations ?? {})) {
    if (k === '') throw invalidArgument('invalid Annotations: the empty string is not permitted as an annotation key');
  }

  // verifyPlatformContainerResources: memory
  const memory = n0(hc.Memory);
  let memorySwap = n0(hc.MemorySwap);
  const reservation = n0(hc.MemoryReservation);
  if (memory !== 0 && memory < MIN_MEMORY) throw invalidArgument('Minimum memory limit allowed is 6MB');
  const swapLimit = opts.swapLimit ?? hostSwapLimit();
  if (memory > 0 && memorySwap !== -1 && !swapLimit) {
    warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    memorySwap = -1;
  }
  if (memory > 0 && memorySwap > 0 && memorySwap < memory) {
    throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (memory === 0 && memorySwap > 0 && !opts.update) {
    throw invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  const swappiness = hc.MemorySwappiness;
  if (swappiness !== null && swappiness !== undefined && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw invalidArgument(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  if (reservation > 0 && reservation < MIN_MEMORY) throw invalidArgument('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if (hc.OomKillDisable && memory === 0) {
    warnings.push(
      'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
    );
  }

  // cpu
  const nano = n0(hc.NanoCpus);
  const period = n0(hc.CpuPeriod);
  const quota = n0(hc.CpuQuota);
  if (nano > 0 && period > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano !== 0) {
    const nc = opts.ncpu ?? os.availableParallelism();
    if (nano < 0 || nano > nc * 1e9) {
      throw invalidArgument(`range of CPUs is from 0.01 to ${nc}.00, as there are only ${nc} CPUs available`);
    }
  }
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw invalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (quota > 0 && quota < 1000) throw invalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const shares = n0(hc.CpuShares);
  if (shares < 0) throw invalidArgument(`invalid CPU shares (${shares}): value must be a positive integer`);

  // cpuset
  checkCpuset('cpus', hc.CpusetCpus ?? '', opts.cpusetCpus ?? hostCpuset('cpus'));
  checkCpuset('mems', hc.CpusetMems ?? '', opts.cpusetMems ?? hostCpuset('mems'));

  // blkio
  const bw = n0(hc.BlkioWeight);
  if (bw > 0 && (bw < 10 || bw > 1000)) throw invalidArgument('Range of blkio weight is from 10 to 1000');
  if (n0(hc.IOMaximumBandwidth) !== 0 || n0(hc.IOMaximumIOps) !== 0) {
    throw invalidArgument('Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps');
  }

  // verifyPlatformContainerSettings
  const ipc = hc.IpcMode ?? '';
  if (!ipcModeValid(ipc)) throw invalidArgument(`invalid IPC mode: ${ipc}`);
  const pid = hc.PidMode ?? '';
  if (!pidModeValid(pid)) throw invalidArgument(`invalid PID mode: ${pid}`);
  if (n0(hc.ShmSize) < 0) throw invalidArgument('SHM size can not be less than 0');
  const uts = hc.UTSMode ?? '';
  if (uts !== '' && uts !== 'host') throw invalidArgument(`invalid UTS mode: ${uts}`);
  const oom = n0(hc.OomScoreAdj);
  if (oom < -1000 || oom > 1000) throw invalidArgument(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) {
    validateTmpfsDestination(dest);
    tmpfsOptions(data ?? '');
  }
  const cgns = hc.CgroupnsMode ?? '';
  if (cgns !== '' && cgns !== 'host' && cgns !== 'private') throw invalidArgument(`invalid cgroup namespace mode: ${cgns}`);

  // Checks Docker leaves to the CLI or to runc, made here so create fails instead of start.
  validateUlimits(hc.Ulimits ?? []);
  for (const r of hc.DeviceCgroupRules ?? []) parseDeviceCgroupRule(r);

  return warnings;
}

function checkCpuset(kind: 'cpus' | 'mems', requested: string, available: string | undefined): void {
  if (requested === '') return;
  let avail: Set<number> | undefined;
  if (available !== undefined) {
    try {
      avail = parseCpusetList(available, 0);
    } catch {
      avail = undefined;
    }
  }
  const max = Math.max(DEFAULT_MAX_CPUS, ...(avail ? [...avail] : []));
  let req: Set<number>;
  try {
    req = parseCpusetList(requested, max);
  } catch (e) {
    throw invalidArgument(`Invalid value ${requested} for cpuset ${kind}: ${(e as Error).message}`);
  }
  if (!avail) return;
  for (const c of req) {
    if (!avail.has(c)) {
      throw invalidArgument(
        kind === 'cpus'
          ? `Requested CPUs are not available - requested ${requested}, available: ${available}`
          : `Requested memory nodes are not available - requested ${requested}, available: ${available}`,
      );
    }
  }
}

/**
 * Docker's adaptContainerSettings: the defaults it stores in HostConfig at create (so inspect shows them):
 * MemorySwap = 2 × Memory when only Memory is set, ShmSize 64 MiB, IpcMode 'private', CgroupnsMode per cgroup
 * version ('host' on v1, 'private' on v2), OomKillDisable false. Returns a new object.
 */
export function applyHostConfigDefaults(
  hc: HostConfig,
  defaults: { cgroupVersion?: 1 | 2; shmSize?: number; ipcMode?: string; cgroupnsMode?: string } = {},
): HostConfig {
  const out: HostConfig = { ...hc };
  if (n0(out.Memory) > 0 && n0(out.MemorySwap) === 0) out.MemorySwap = n0(out.Memory) * 2;
  if (n0(out.ShmSize) === 0) out.ShmSize = defaults.shmSize ?? DEFAULT_SHM_SIZE;
  if (!out.IpcMode) out.IpcMode = defaults.ipcMode ?? 'private';
  if (!out.CgroupnsMode) {
    out.CgroupnsMode = defaults.cgroupnsMode ?? ((defaults.cgroupVersion ?? hostCgroupVersion()) === 2 ? 'private' : 'host');
  }
  if (out.OomKillDisable === null || out.OomKillDisable === undefined) out.OomKillDisable = false;
  // As dockerd at create: the defaults are recorded unless privileged (which masks nothing).
  if (!out.Privileged) {
    if (!out.MaskedPaths) out.MaskedPaths = [...DEFAULT_MASKED_PATHS, ...thermalThrottlePaths()];
    if (!out.ReadonlyPaths) out.ReadonlyPaths = [...DEFAULT_READONLY_PATHS];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------------------

function devMajorMinor(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

function deviceAt(hostPath: string, containerPath: string): OciDevice | undefined {
  const st = fs.statSync(hostPath, { bigint: true });
  const mode = Number(st.mode);
  let type: string;
  if ((mode & fs.constants.S_IFMT) === fs.constants.S_IFCHR) type = 'c';
  else if ((mode & fs.constants.S_IFMT) === fs.constants.S_IFBLK) type = 'b';
  else return undefined;
  const { major, minor } = devMajorMinor(st.rdev);
  return { type, path: containerPath, major, minor, fileMode: mode & 0o777, uid: Number(st.uid), gid: Number(st.gid) };
}

/** Docker's DevicesFromPath: one device node, or every device node under a directory. */
function devicesFromPath(pathOnHost: string, pathInContainer: string, permissions: string): { devs: OciDevice[]; rules: OciDeviceCgroup[] } {
  const devs: OciDevice[] = [];
  let st: fs.Stats;
  try {
    st = fs.statSync(pathOnHost);
  } catch (e) {
    throw invalidArgument(`error gathering device information while adding custom device ${JSON.stringify(pathOnHost)}: ${(e as Error).message}`);
  }
  if (st.isDirectory()) {
    const walk = (dir: string) => {
      for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, ent.name);
        if (ent.isDirectory()) walk(p);
        else if (ent.isCharacterDevice() || ent.isBlockDevice()) {
          const d = deviceAt(p, path.join(pathInContainer, path.relative(pathOnHost, p)));
          if (d) devs.push(d);
        }
      }
    };
    walk(pathOnHost);
  } else {
    const d = deviceAt(pathOnHost, pathInContainer);
    if (!d) throw invalidArgument(`error gathering device information while adding custom device ${JSON.stringify(pathOnHost)}: not a device node`);
    devs.push(d);
  }
  const rules = devs.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: permissions }));
  return { devs, rules };
}

function throttleDevices(list: ThrottleDevice[] | null | undefined): OciThrottleDevice[] | undefined {
  if (!list || list.length === 0) return undefined;
  return list.map((t) => {
    const st = fs.statSync(t.Path ?? '', { bigint: true });
    return { ...devMajorMinor(st.rdev), rate: n0(t.Rate) };
  });
}

// ---------------------------------------------------------------------------------------------------------
// Rlimits
// ---------------------------------------------------------------------------------------------------------

/**
 * HostConfig.Ulimits merged over the daemon's defaults, each clamped to the daemon's own hard limit
 * (without CAP_SYS_RESOURCE runc cannot raise a hard limit and fails with EPERM).
 */
export function buildRlimits(
  ulimits: readonly Ulimit[],
  defaultUlimits: readonly Ulimit[],
  hostRlimits: Partial<Record<string, RlimitPair>>,
): OciRlimit[] | undefined {
  const names = new Set(ulimits.map((u) => u.Name));
  const merged = [...ulimits, ...defaultUlimits.filter((u) => !names.has(u.Name))];
  if (merged.length === 0) return undefined;
  validateUlimits(merged);
  const inf = (v: number) => (v < 0 || v === Infinity ? Infinity : v);
  return merged.map((u) => {
    let hard = inf(u.Hard);
    let soft = inf(u.Soft);
    const host = hostRlimits[u.Name];
    if (host) {
      const hostHard = inf(host.hard);
      if (hard > hostHard) hard = hostHard;
      if (soft > hard) soft = hard;
    }
    const out = (v: number) => (v === Infinity ? RLIM_INFINITY : v);
    return { type: `RLIMIT_${u.Name.toUpperCase()}`, hard: out(hard), soft: out(soft) };
  });
}

// ---------------------------------------------------------------------------------------------------------
// The spec
// ---------------------------------------------------------------------------------------------------------

function depth(p: string): number {
  return path.posix.normalize(p).split('/').filter(Boolean).length;
}

function propagationOf(p: string | undefined): string {
  return p && p !== '' ? p : 'rprivate';
}

/** Memory, CPU and pids limits from a HostConfig: what create writes into the spec and update hands to runc. */
export function resourcesFor(hc: HostConfig): Pick<OciSpec['linux']['resources'], 'memory' | 'cpu' | 'pids'> {
  const memory: NonNullable<OciSpec['linux']['resources']['memory']> = {};
  const mem = n0(hc.Memory);
  if (mem > 0) memory.limit = mem;
  if (n0(hc.MemoryReservation) > 0) memory.reservation = n0(hc.MemoryReservation);
  let swap = n0(hc.MemorySwap);
  if (mem > 0 && swap === 0) swap = mem * 2; // Docker stores this default at create
  // Without swap accounting Docker drops the swap limit (validateHostConfig warns about it).
  if (swap > 0 && hostSwapLimit()) memory.swap = swap;
  const swappiness = hc.MemorySwappiness;
  if (swappiness !== null && swappiness !== undefined && swappiness >= 0) memory.swappiness = swappiness;
  memory.disableOOMKiller = !!hc.OomKillDisable;

  const cpu: NonNullable<OciSpec['linux']['resources']['cpu']> = {};
  const shares = n0(hc.CpuShares);
  if (shares < 0) throw invalidArgument(`invalid CPU shares (${shares}): value must be a positive integer`);
  if (shares > 0) cpu.shares = shares;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  const nano = n0(hc.NanoCpus);
  if (nano > 0) {
    cpu.period = 100000;
    cpu.quota = Math.trunc((nano * 100000) / 1e9);
  }
  if (n0(hc.CpuPeriod) !== 0) cpu.period = n0(hc.CpuPeriod);
  if (n0(hc.CpuQuota) !== 0) cpu.quota = n0(hc.CpuQuota);
  if (n0(hc.CpuRealtimePeriod) !== 0) cpu.realtimePeriod = n0(hc.CpuRealtimePeriod);
  if (n0(hc.CpuRealtimeRuntime) !== 0) cpu.realtimeRuntime = n0(hc.CpuRealtimeRuntime);

  const out: Pick<OciSpec['linux']['resources'], 'memory' | 'cpu' | 'pids'> = { memory };
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (hc.PidsLimit !== null && hc.PidsLimit !== undefined) out.pids = { limit: hc.PidsLimit <= 0 ? -1 : hc.PidsLimit };
  return out;
}

/** Builds the OCI spec of a container as dockerd does. Throws BerthError (InvalidArgument mostly). */
export function buildSpec(input: SpecInput, passwd: PasswdLookup = resolveUser): OciSpec {
  const { config, hostConfig: hc } = input;
  const available = input.availableCaps ?? currentCapabilities();
  const cgroupVersion = input.cgroupVersion ?? hostCgroupVersion();

  const networkMode = hc.NetworkMode ?? '';
  const ipcMode = hc.IpcMode || 'private';
  const pidMode = hc.PidMode ?? '';
  const utsHost = hc.UTSMode === 'host';
  if (!ipcModeValid(ipcMode)) throw invalidArgument(`invalid IPC mode: ${ipcMode}`);
  if (!pidModeValid(pidMode)) throw invalidArgument(`invalid PID mode: ${pidMode}`);
  if ((hc.UTSMode ?? '') !== '' && !utsHost) throw invalidArgument(`invalid UTS mode: ${hc.UTSMode}`);
  const cgnsMode = hc.CgroupnsMode || (cgroupVersion === 2 ? 'private' : 'host');
  if (cgnsMode !== 'host' && cgnsMode !== 'private') throw invalidArgument(`invalid cgroup namespace mode: ${cgnsMode}`);

  // --- process
  let args = containerArgs(config);
  const mounts: OciMount[] = defaultMounts();
  const pidPrivate = pidMode !== 'host' && !isContainerMode(pidMode);
  const init = hc.Init ?? input.defaultInit ?? false;
  if (init && pidPrivate) {
    if (!input.initPath) throw internal('init is enabled but no init binary (docker-init) is configured');
    args = [IN_CONTAINER_INIT_PATH, '--', ...args];
    mounts.push({ destination: IN_CONTAINER_INIT_PATH, type: 'bind', source: input.initPath, options: ['bind', 'ro'] });
  }

  let hostname = config.Hostname ?? '';
  if (networkMode === 'host' && hostname === '') hostname = os.hostname();
  const envConfig = { ...config, Hostname: hostname };
  const user = passwd(input.rootfs, config.User ?? '', hc.GroupAdd ?? []);
  // Privileged containers get every available capability instead (applySecurity, below).
  const caps = tweakCapabilities(hc.CapAdd ?? [], hc.CapDrop ?? [], available);

  const process: OciSpec['process'] = {
    terminal: !!config.Tty,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    args,
    env: containerEnv(envConfig),
    cwd: config.WorkingDir || '/',
    capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
    oomScoreAdj: n0(hc.OomScoreAdj),
  };
  const cs = hc.ConsoleSize;
  if (config.Tty && cs && cs.length === 2 && (cs[0]! > 0 || cs[1]! > 0)) process.consoleSize = { height: cs[0]!, width: cs[1]! };
  const rlimits = buildRlimits(hc.Ulimits ?? [], input.defaultUlimits ?? [], input.hostRlimits ?? readHostRlimits());
  if (rlimits) process.rlimits = rlimits;

  // --- namespaces (Docker's order: mount, network, uts, pid, ipc, then cgroup)
  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'mount' }];
  if (networkMode !== 'host') {
    if (isContainerMode(networkMode)) {
      if (!input.netnsPath) throw internal(`cannot join the network namespace of ${containerOf(networkMode)}: no namespace path`);
      namespaces.push({ type: 'network', path: input.netnsPath });
    } else {
      namespaces.push(input.netnsPath ? { type: 'network', path: input.netnsPath } : { type: 'network' });
    }
  }
  if (input.timeNamespace) namespaces.push({ type: 'time' });
  if (!utsHost) namespaces.push({ type: 'uts' });
  if (pidMode !== 'host') {
    if (isContainerMode(pidMode)) {
      if (!input.pidnsPath) throw internal(`failed to join PID namespace: no namespace path for ${containerOf(pidMode)}`);
      namespaces.push({ type: 'pid', path: input.pidnsPath });
    } else namespaces.push({ type: 'pid' });
  }
  if (ipcMode !== 'host') {
    if (isContainerMode(ipcMode)) {
      if (!input.ipcnsPath) throw internal(`failed to join IPC namespace: no namespace path for ${containerOf(ipcMode)}`);
      namespaces.push({ type: 'ipc', path: input.ipcnsPath });
    } else namespaces.push({ type: 'ipc' });
  }
  if (cgnsMode === 'private') namespaces.push({ type: 'cgroup' });

  // --- mounts: Docker's defaults, then the container's own mounts sorted by depth
  const readonlyOpt = input.recursiveReadonly ? 'rro' : 'ro';
  const rootReadonly = !!hc.ReadonlyRootfs;
  const bindOptions = (m: UserMount): string[] => {
    const o = [m.nonRecursive ? 'bind' : 'rbind'];
    if (!m.writable) o.push(readonlyOpt);
    o.push(propagationOf(m.propagation));
    return o;
  };
  const userMounts: OciMount[] = [];
  for (const m of input.mounts ?? []) {
    userMounts.push({ destination: m.destination, type: 'bind', source: m.source, options: bindOptions(m) });
  }
  const taken = new Set(userMounts.map((m) => path.posix.normalize(m.destination)));
  const tmpfs = Object.entries(hc.Tmpfs ?? {});
  for (const [dest] of tmpfs) taken.add(path.posix.normalize(dest));
  const network: Array<[string, string]> = [
    ['/etc/resolv.conf', input.resolvConfPath],
    ['/etc/hostname', input.hostnamePath],
    ['/etc/hosts', input.hostsPath],
  ];
  for (const [dest, source] of network) {
    if (!source || taken.has(dest)) continue;
    userMounts.push({ destination: dest, type: 'bind', source, options: bindOptions({ source, destination: dest, writable: !rootReadonly }) });
    taken.add(dest);
  }
  if (input.shmPath && ipcMode !== 'none' && !taken.has('/dev/shm')) {
    userMounts.push({
      destination: '/dev/shm',
      type: 'bind',
      source: input.shmPath,
      options: bindOptions({ source: input.shmPath, destination: '/dev/shm', writable: true }),
    });
    taken.add('/dev/shm');
  }
  for (const [dest, data] of tmpfs) {
    validateTmpfsDestination(dest);
    userMounts.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(data ?? '') });
  }
  const userDests = new Set(userMounts.map((m) => path.posix.normalize(m.destination)));
  const userDev = userDests.has('/dev');
  const specMounts: OciMount[] = [];
  for (const m of mounts) {
    if (userDests.has(m.destination)) continue;
    if (userDev && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (ipcMode === 'none') continue;
      const size = n0(hc.ShmSize) > 0 ? n0(hc.ShmSize) : DEFAULT_SHM_SIZE;
      m.options = [...(m.options ?? []), `size=${size}`];
    }
    specMounts.push(m);
  }
  const sortedUser = userMounts
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
    .map((x) => x.m);
  if (rootReadonly) {
    for (const m of specMounts) {
      if (['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination)) continue;
      if (!(m.options ?? []).includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  }
  specMounts.push(...sortedUser);

  // --- resources
  const resources: OciSpec['linux']['resources'] = { devices: defaultDeviceRules(), ...resourcesFor(hc) };
  const blockIO: NonNullable<OciSpec['linux']['resources']['blockIO']> = {};
  if (n0(hc.BlkioWeight) !== 0) blockIO.weight = n0(hc.BlkioWeight);
  if (hc.BlkioWeightDevice && hc.BlkioWeightDevice.length > 0) {
    blockIO.weightDevice = hc.BlkioWeightDevice.map((w) => ({
      ...devMajorMinor(fs.statSync(w.Path ?? '', { bigint: true }).rdev),
      weight: n0(w.Weight),
    }));
  }
  const tr = throttleDevices(hc.BlkioDeviceReadBps);
  if (tr) blockIO.throttleReadBpsDevice = tr;
  const tw = throttleDevices(hc.BlkioDeviceWriteBps);
  if (tw) blockIO.throttleWriteBpsDevice = tw;
  const tri = throttleDevices(hc.BlkioDeviceReadIOps);
  if (tri) blockIO.throttleReadIOPSDevice = tri;
  const twi = throttleDevices(hc.BlkioDeviceWriteIOps);
  if (twi) blockIO.throttleWriteIOPSDevice = twi;
  resources.blockIO = blockIO;

  const devices: OciDevice[] = [];
  for (const d of hc.Devices ?? []) {
    const onHost = d.PathOnHost ?? '';
    const { devs, rules } = devicesFromPath(onHost, d.PathInContainer || onHost, d.CgroupPermissions || 'rwm');
    devices.push(...devs);
    resources.devices.push(...rules);
  }
  for (const r of hc.DeviceCgroupRules ?? []) resources.devices.push(parseDeviceCgroupRule(r));

  // --- sysctls: Docker's network defaults, the NIS domain name, then HostConfig.Sysctls on top
  const sysctl: Record<string, string> = {};
  if (isPrivateNetwork(networkMode)) {
    if (sysctlExists('net.ipv4.ping_group_range')) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (sysctlExists('net.ipv4.ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  if (config.Domainname) sysctl['kernel.domainname'] = config.Domainname;
  Object.assign(sysctl, hc.Sysctls ?? {});

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process,
    root: { path: input.rootfs, readonly: rootReadonly },
    hostname: utsHost ? undefined : hostname,
    mounts: specMounts,
    linux: {
      resources,
      cgroupsPath: input.cgroupsPath,
      namespaces,
      maskedPaths: hc.MaskedPaths ? [...hc.MaskedPaths] : [...DEFAULT_MASKED_PATHS, ...thermalThrottlePaths()],
      readonlyPaths: hc.ReadonlyPaths ? [...hc.ReadonlyPaths] : [...DEFAULT_READONLY_PATHS],
    },
  };
  if (utsHost) delete spec.hostname;
  if (Object.keys(sysctl).length > 0) spec.linux.sysctl = sysctl;
  if (devices.length > 0) spec.linux.devices = devices;
  if (hc.Annotations && Object.keys(hc.Annotations).length > 0) spec.annotations = { ...hc.Annotations };
  // Privileged mode, the user namespace, no-new-privileges, seccomp and AppArmor (security.ts).
  applySecurity(spec, {
    hostConfig: hc,
    available,
    userns: input.userns,
    joinsNetns: networkMode !== 'host' && !!input.netnsPath,
    ipc: ipcMode === 'host' ? 'host' : isContainerMode(ipcMode) ? 'joined' : 'own',
    userSysctls: Object.keys(hc.Sysctls ?? {}),
  });
  return spec;
}

/** JSON for config.json; writes RLIM_INFINITY (a bigint) as the exact integer runc expects. */
export function serializeSpec(spec: OciSpec, space?: number): string {
  const marker = '\u0000u64:';
  const json = JSON.stringify(spec, (_k, v) => (typeof v === 'bigint' ? `${marker}${v.toString()}` : v), space);
  return json.replace(/"\\u0000u64:(\d+)"/g, '$1');
}
