/**
 * Docker's create-time validation of ContainerConfig and HostConfig (validateContainerConfig,
 * validateHostConfig + verifyPlatformContainerSettings), with Docker's messages and warnings, and the parsers
 * the builder shares with it (modes, capabilities, tmpfs options, device cgroup rules, ulimits).
 *
 * Lifecycle: pure functions (host facts come from host.ts unless given in ValidateOptions).
 */
import os from 'node:os';
import path from 'node:path';
import { invalidArgument } from '../../lib/errors.js';
import { validateSecurityOpts } from '../security.js';
import { parseSignal } from '../signals.js';
import { DEFAULT_MAX_CPUS, parseCpusetList } from '../units.js';
import type { ContainerConfig, HostConfig, Ulimit } from './api-types.js';
import type { OciDeviceCgroup } from './oci-types.js';
import { DEFAULT_CAPABILITIES, envKey, MIN_MEMORY, ULIMIT_NAMES } from './defaults.js';
import { currentCapabilities, hostCpuset, hostSwapLimit, KNOWN_CAPABILITIES } from './host.js';

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

// Modes

export const isContainerMode = (m: string | undefined) => (m ?? '').startsWith('container:');
export const containerOf = (m: string) => m.slice('container:'.length);

export function ipcModeValid(m: string): boolean {
  if (['', 'host', 'private', 'shareable', 'none'].includes(m)) return true;
  return isContainerMode(m) && containerOf(m) !== '';
}
export function pidModeValid(m: string): boolean {
  if (m === '' || m === 'host') return true;
  return isContainerMode(m) && containerOf(m) !== '';
}

/** Docker's NetworkMode.IsPrivate(): a network namespace of its own (none, bridge, user networks). */
export function isPrivateNetwork(mode: string | undefined): boolean {
  return mode !== 'host' && !isContainerMode(mode);
}

// Capabilities


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

// Validation (create time)

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

export function tmpfsOptions(data: string): string[] {
  const opts = ['noexec', 'nosuid', 'nodev', 'rprivate'];
  if (data !== '') opts.push(...data.split(','));
  return mergeTmpfsOptions(opts);
}

export function validateTmpfsDestination(dest: string): void {
  if (path.posix.normalize(dest.replaceAll('\\', '/')) === '/' || /^\/+$/.test(dest)) {
    throw invalidArgument("invalid specification: destination can't be '/'");
  }
  if (!dest.replaceAll('\\', '/').startsWith('/')) {
    throw invalidArgument(`invalid mount path: '${dest}' mount path must be absolute`);
  }
}

const DEVICE_RULE_RE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

export function parseDeviceCgroupRule(rule: string): OciDeviceCgroup {
  const m = DEVICE_RULE_RE.exec(rule);
  if (!m) throw invalidArgument(`invalid device cgroup format '${rule}'`);
  const r: OciDeviceCgroup = { allow: true, type: m[1]!, access: m[4]! };
  if (m[2] !== '*') r.major = Number(m[2]);
  if (m[3] !== '*') r.minor = Number(m[3]);
  return r;
}

export function validateUlimits(ulimits: readonly Ulimit[]): void {
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
