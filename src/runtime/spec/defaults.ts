/**
 * Docker's defaults for a container (moby oci/defaults.go + daemon/oci_linux.go): capabilities, masked and
 * read-only paths, device rules, mounts, the process environment and arguments, and the HostConfig defaults
 * dockerd records at create (applyHostConfigDefaults).
 *
 * Lifecycle: constants and pure functions; applyHostConfigDefaults reads the host's cgroup version and
 * thermal-throttle paths unless given.
 */
import { invalidArgument } from '../../lib/errors.js';
import { hostCgroupVersion } from '../cgroups.js';
import { DEFAULT_SHM_SIZE } from '../units.js';
import type { ContainerConfig, HostConfig } from './api-types.js';
import type { OciDeviceCgroup, OciMount } from './oci-types.js';
import { thermalThrottlePaths } from './host.js';

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

export function defaultMounts(): OciMount[] {
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

// Environment

export const envKey = (e: string) => {
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

const n0 = (v: number | null | undefined) => v ?? 0;

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
