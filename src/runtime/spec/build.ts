/**
 * The builder: the OCI runtime spec (runc's config.json) of a container, from Docker's create options, the
 * way dockerd builds it (moby daemon/oci_linux.go, Docker 28).
 *
 * Lifecycle: at start, after the rootfs is mounted and the hosts/hostname/resolv.conf files are written,
 * containers/ calls buildSpec and writes serializeSpec(spec) as <bundle>/config.json. buildSpec reads only the
 * container's /etc/passwd and /etc/group (safely, see user.ts) and the host facts of host.ts, each of which can
 * be passed in instead.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { internal, invalidArgument } from '../../lib/errors.js';
import { hostCgroupVersion } from '../cgroups.js';
import { applySecurity, type UsernsSpec } from '../security.js';
import { DEFAULT_SHM_SIZE } from '../units.js';
import { resolveUser, type ResolvedUser } from '../user.js';
import type { ContainerConfig, HostConfig, Ulimit, UserMount } from './api-types.js';
import type { OciDevice, OciMount, OciRlimit, OciSpec } from './oci-types.js';
import {
  containerArgs,
  containerEnv,
  defaultDeviceRules,
  defaultMounts,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  IN_CONTAINER_INIT_PATH,
  OCI_VERSION,
  RLIM_INFINITY,
} from './defaults.js';
import {
  currentCapabilities,
  devMajorMinor,
  devicesFromPath,
  hostSwapLimit,
  readHostRlimits,
  sysctlExists,
  thermalThrottlePaths,
  throttleDevices,
  type RlimitPair,
} from './host.js';
import {
  containerOf,
  ipcModeValid,
  isContainerMode,
  isPrivateNetwork,
  parseDeviceCgroupRule,
  pidModeValid,
  tmpfsOptions,
  tweakCapabilities,
  validateTmpfsDestination,
  validateUlimits,
} from './validate.js';

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

/** Looks up a user in the container (default: resolveUser on the rootfs's /etc/passwd and /etc/group). */
export type PasswdLookup = (rootfs: string, userSpec: string, groupAdd: readonly string[]) => ResolvedUser;

const n0 = (v: number | null | undefined) => v ?? 0;

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
