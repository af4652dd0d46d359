/**
 * Host probes: facts about this machine and process that the spec and the validation depend on
 * (capabilities, rlimits, cpusets, swap accounting, sysctls, device nodes). Each can be overridden through
 * SpecInput / ValidateOptions.
 *
 * Lifecycle: read on demand; capabilities and thermal-throttle paths are cached for the process's life.
 */
import fs from 'node:fs';
import path from 'node:path';
import { invalidArgument } from '../../lib/errors.js';
import { parseCpusetList } from '../units.js';
import type { ThrottleDevice } from './api-types.js';
import type { OciDevice, OciDeviceCgroup, OciThrottleDevice } from './oci-types.js';

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

export interface RlimitPair {
  /** Infinity (or -1) = unlimited. */
  soft: number;
  hard: number;
}

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
      return out; // no /proc/self/limits: no host limits to inherit
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
export function thermalThrottlePaths(): string[] {
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

export function sysctlExists(name: string): boolean {
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

export function hostCpuset(kind: 'cpus' | 'mems'): string | undefined {
  return readFirst([
    `/sys/fs/cgroup/cpuset/cpuset.${kind}`,
    `/sys/fs/cgroup/cpuset.${kind}.effective`,
    `/sys/devices/system/${kind === 'cpus' ? 'cpu/online' : 'node/online'}`,
  ]);
}

export function hostSwapLimit(): boolean {
  return (
    fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ||
    fs.existsSync('/sys/fs/cgroup/memory.swap.max') ||
    !fs.existsSync('/sys/fs/cgroup/memory')
  );
}

// Devices

const n0 = (v: number | null | undefined) => v ?? 0;

export function devMajorMinor(rdev: bigint): { major: number; minor: number } {
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
export function devicesFromPath(pathOnHost: string, pathInContainer: string, permissions: string): { devs: OciDevice[]; rules: OciDeviceCgroup[] } {
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

export function throttleDevices(list: ThrottleDevice[] | null | undefined): OciThrottleDevice[] | undefined {
  if (!list || list.length === 0) return undefined;
  return list.map((t) => {
    const st = fs.statSync(t.Path ?? '', { bigint: true });
    return { ...devMajorMinor(st.rdev), rate: n0(t.Rate) };
  });
}
