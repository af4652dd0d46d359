/**
 * Container cgroups, read directly from cgroupfs: stats as Docker's API reports them, the OOM-kill
 * counter, and removal after failures. runc creates the cgroups (from the spec's linux.cgroupsPath)
 * and removes them on `runc delete`; nothing here creates one.
 *
 * Version: v2 when /sys/fs/cgroup/cgroup.controllers exists (one unified hierarchy mounted there);
 * otherwise v1, one hierarchy per controller (or group of controllers), found in /proc/self/mountinfo.
 * A "hybrid" host (v1 hierarchies plus a cgroup2 mount at /sys/fs/cgroup/unified, as on the machines
 * this was written on) counts as v1, as runc treats it.
 *
 * cgroupsPath is the OCI spec's linux.cgroupsPath in cgroupfs form: an absolute path ("/berth/<id>")
 * is taken from each hierarchy's root; a relative one from the daemon's own cgroup in that hierarchy
 * (runc's rule, runc being conmon's child and so in the daemon's cgroups). The systemd form
 * ("slice:prefix:name") is not supported.
 *
 * Lifetime: the cgroup outlives the container's processes until `runc delete`, so the OOM counter
 * and final stats can be read after the exit and before the delete.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { sleep } from '../lib/sleep.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
const NS_PER_SEC = 1e9;
/** USER_HZ, the unit of /proc/stat and cpuacct.stat: 100 on every Linux architecture Berth runs on. */
const CLOCK_TICKS = 100;

interface Mount {
  mountpoint: string;
  /** The cgroup path at the mountpoint (not "/" inside some namespaces or bind mounts). */
  root: string;
}

interface Layout {
  version: 1 | 2;
  /** v1: controller name (also "name=systemd") -> its hierarchy's mount. v2: "unified" -> mount. */
  mounts: Map<string, Mount>;
}

let layoutPromise: Promise<Layout> | undefined;

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/**
 * 2 when /sys/fs/cgroup itself is the unified (v2) hierarchy, else 1: per-controller hierarchies,
 * hybrid hosts included. The one place that decides the host's cgroup version.
 */
export function hostCgroupVersion(): 1 | 2 {
  return existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers')) ? 2 : 1;
}

async function detectLayout(): Promise<Layout> {
  const v2 = hostCgroupVersion() === 2;
  const mounts = new Map<string, Mount>();
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const [fstype, , superOpts = ''] = post.split(' ');
    const root = unescapeMountinfo(f[3] ?? '/');
    const mountpoint = unescapeMountinfo(f[4] ?? '');
    if (v2) {
      if (fstype === 'cgroup2' && mountpoint === CGROUP_ROOT) mounts.set('unified', { mountpoint, root });
    } else if (fstype === 'cgroup2') {
      // Hybrid host: runc also makes the container's cgroup in this cgroup2 mount.
      if (!mounts.has('unified')) mounts.set('unified', { mountpoint, root });
    } else if (fstype === 'cgroup') {
      for (const opt of superOpts.split(',')) {
        if (opt === 'rw' || opt === 'ro' || opt.startsWith('release_agent=') || ['clone_children', 'noprefix', 'xattr', 'nsdelegate'].includes(opt)) continue;
        if (!mounts.has(opt)) mounts.set(opt, { mountpoint, root });
      }
    }
  }
  if (v2 && !mounts.has('unified')) mounts.set('unified', { mountpoint: CGROUP_ROOT, root: '/' });
  return { version: v2 ? 2 : 1, mounts };
}

function layout(): Promise<Layout> {
  layoutPromise ??= detectLayout().catch((err: unknown) => {
    layoutPromise = undefined;
    throw err;
  });
  return layoutPromise;
}

/** 2 for a unified (cgroup v2) host, 1 for per-controller hierarchies (including hybrid hosts). */
export async function cgroupVersion(): Promise<1 | 2> {
  return (await layout()).version;
}

/** The daemon's own cgroup per hierarchy, from /proc/self/cgroup ("" key for the v2 line). */
async function ownCgroups(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const text = await fsp.readFile('/proc/self/cgroup', 'utf8');
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '') out.set('unified', m[2]!);
    else for (const c of m[1]!.split(',')) out.set(c, m[2]!);
  }
  return out;
}

export interface CgroupPaths {
  version: 1 | 2;
  /**
   * Directory per controller. v1: keys are controller names (cpu, cpuacct, cpuset, memory, pids,
   * blkio, devices, freezer, ...; controllers mounted together share a directory), plus named
   * hierarchies ("name=systemd") and, on a hybrid host, "unified" for the cgroup2 mount: runc makes
   * the container's cgroup in those too. v2: one key, "unified".
   */
  paths: Record<string, string>;
}

/** Where the cgroup named by an OCI cgroupsPath lives in every hierarchy (whether or not it exists). */
export async function cgroupPaths(cgroupsPath: string): Promise<CgroupPaths> {
  if (/^[^/]*:[^/]*:/.test(cgroupsPath)) throw new Error(`systemd cgroupsPath is not supported: ${cgroupsPath}`);
  const lay = await layout();
  const relative = !cgroupsPath.startsWith('/');
  const own = relative ? await ownCgroups() : undefined;
  const paths: Record<string, string> = {};
  for (const [controller, mount] of lay.mounts) {
    const inner = relative ? path.posix.join(own!.get(controller) ?? '/', cgroupsPath) : path.posix.normalize(cgroupsPath);
    // The cgroup path seen from the mount's root.
    const rel = path.posix.relative(mount.root, inner);
    if (rel.startsWith('..')) throw new Error(`cgroup ${inner} is outside the ${controller} hierarchy mounted at ${mount.mountpoint}`);
    paths[controller] = path.join(mount.mountpoint, rel);
  }
  return { version: lay.version, paths };
}

// ---------------------------------------------------------------------------------------------
// Small readers

async function readText(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP' || code === 'EINVAL') return undefined;
    throw err;
  }
}

/** A file holding one number; 'max' (v2's unlimited) gives Infinity. */
async function readNumber(file: string | undefined): Promise<number | undefined> {
  const t = (await readText(file))?.trim();
  if (t === undefined || t === '') return undefined;
  if (t === 'max') return Infinity;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control) to a record. */
async function readKeyValues(file: string | undefined): Promise<Record<string, number> | undefined> {
  const t = await readText(file);
  if (t === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const line of t.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined) continue;
    const n = Number(v);
    if (Number.isFinite(n)) out[k] = n;
  }
  return out;
}

const join = (dir: string | undefined, file: string) => (dir ? path.join(dir, file) : undefined);

async function exists(dir: string | undefined): Promise<boolean> {
  if (!dir) return false;
  return fsp
    .stat(dir)
    .then((s) => s.isDirectory())
    .catch(() => false); // missing or unreadable: does not exist
}

function notFound(cgroupsPath: string): Error {
  const err = new Error(`cgroup ${cgroupsPath} does not exist`) as NodeJS.ErrnoException;
  err.code = 'ENOENT';
  return err;
}

// ---------------------------------------------------------------------------------------------
// OOM

/**
 * How many processes the kernel OOM killer has killed in the cgroup (v1: memory.oom_control's
 * oom_kill, kernel 4.13 and later; v2: memory.events' oom_kill, which counts the subtree). The
 * service compares it with the value at start (or just checks > 0 for a fresh cgroup) to report
 * State.OOMKilled. Throws (code ENOENT) when the cgroup does not exist.
 */
export async function readMemoryEvents(cgroupsPath: string): Promise<{ oomKill: number; oom: number }> {
  const { version, paths } = await cgroupPaths(cgroupsPath);
  if (version === 2) {
    const ev = await readKeyValues(join(paths.unified, 'memory.events'));
    if (!ev) {
      if (!(await exists(paths.unified))) throw notFound(cgroupsPath);
      return { oomKill: 0, oom: 0 };
    }
    return { oomKill: ev.oom_kill ?? 0, oom: ev.oom ?? 0 };
  }
  const ctl = await readKeyValues(join(paths.memory, 'memory.oom_control'));
  if (!ctl) throw notFound(cgroupsPath);
  const oomKill = ctl.oom_kill ?? 0;
  // v1 has no count of OOM events as such; under_oom says one is going on right now.
  return { oomKill, oom: Math.max(oomKill, ctl.under_oom ?? 0) };
}

// ---------------------------------------------------------------------------------------------
// Stats

export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** The cgroup parts of Docker's GET /containers/{id}/stats answer (field names as Docker's JSON). */
export interface CgroupStats {
  cpu_stats: {
    cpu_usage: {
      total_usage: number;
      usage_in_kernelmode: number;
      usage_in_usermode: number;
      /** Per-CPU nanoseconds: v1 only (Docker leaves it out on v2). */
      percpu_usage?: number[];
    };
    system_cpu_usage: number;
    online_cpus: number;
    throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
  };
  memory_stats: {
    usage?: number;
    /** v1 only. */
    max_usage?: number;
    /** v1 only. */
    failcnt?: number;
    /** The limit, or the host's memory when unlimited (as dockerd reports it). */
    limit?: number;
    stats?: Record<string, number>;
  };
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioStatEntry[] | null;
    io_serviced_recursive: BlkioStatEntry[] | null;
    io_queue_recursive: BlkioStatEntry[] | null;
    io_service_time_recursive: BlkioStatEntry[] | null;
    io_wait_time_recursive: BlkioStatEntry[] | null;
    io_merged_recursive: BlkioStatEntry[] | null;
    io_time_recursive: BlkioStatEntry[] | null;
    sectors_recursive: BlkioStatEntry[] | null;
  };
}

/**
 * Host CPU time in nanoseconds as dockerd computes system_cpu_usage (the first 7 fields of /proc/stat's
 * "cpu" line: user, nice, system, idle, iowait, irq, softirq, in USER_HZ ticks) and the number of
 * "cpuN" lines (online_cpus).
 */
export async function readSystemCpu(): Promise<{ systemCpuUsage: number; onlineCpus: number }> {
  const text = await fsp.readFile('/proc/stat', 'utf8');
  let ticks = 0;
  let cpus = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu ')) {
      const parts = line.trim().split(/\s+/).slice(1, 8);
      for (const p of parts) ticks += Number(p) || 0;
    } else if (/^cpu\d+ /.test(line)) cpus++;
  }
  return { systemCpuUsage: (ticks * NS_PER_SEC) / CLOCK_TICKS, onlineCpus: cpus };
}

let memTotal: number | undefined;
async function hostMemory(): Promise<number> {
  if (memTotal === undefined) {
    const m = /^MemTotal:\s+(\d+) kB/m.exec(await fsp.readFile('/proc/meminfo', 'utf8'));
    memTotal = m ? Number(m[1]) * 1024 : 0;
  }
  return memTotal;
}

/** "8:0 Read 123" lines (v1 blkio files). The per-cgroup "Total N" line is skipped, as dockerd does. */
async function readBlkioV1(file: string | undefined): Promise<BlkioStatEntry[] | null> {
  const t = await readText(file);
  if (t === undefined) return null;
  const out: BlkioStatEntry[] = [];
  for (const line of t.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    const dev = /^(\d+):(\d+)$/.exec(f[0]!);
    if (!dev) continue;
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), op: f[1]!, value: Number(f[2]) });
  }
  return out;
}

/** v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") as dockerd maps it: bytes read/written. */
async function readIoStatV2(file: string | undefined): Promise<BlkioStatEntry[] | null> {
  const t = await readText(file);
  if (t === undefined) return null;
  const out: BlkioStatEntry[] = [];
  for (const line of t.split('\n')) {
    const [devText, ...kvs] = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(devText ?? '');
    if (!dev) continue;
    const kv: Record<string, number> = {};
    for (const p of kvs) {
      const [k, v] = p.split('=');
      if (k && v !== undefined) kv[k] = Number(v);
    }
    const major = Number(dev[1]);
    const minor = Number(dev[2]);
    out.push({ major, minor, op: 'read', value: kv.rbytes ?? 0 }, { major, minor, op: 'write', value: kv.wbytes ?? 0 });
  }
  return out;
}

function emptyBlkio(): CgroupStats['blkio_stats'] {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

const finiteOr = (n: number | undefined, dflt: number | undefined) => (n === undefined || !Number.isFinite(n) ? dflt : n);

/**
 * Stats for the cgroup in the shape of Docker's stats JSON (cpu_stats, memory_stats, pids_stats,
 * blkio_stats). Counters a host lacks are left out. Throws (code ENOENT) when the cgroup does not
 * exist (e.g. after runc delete).
 */
export async function readStats(cgroupsPath: string): Promise<CgroupStats> {
  const { version, paths } = await cgroupPaths(cgroupsPath);
  const [sys, hostMem] = await Promise.all([readSystemCpu(), hostMemory()]);
  const capLimit = (limit: number | undefined) =>
    limit === undefined ? undefined : !Number.isFinite(limit) || (hostMem > 0 && limit > hostMem) ? hostMem : limit;

  if (version === 2) {
    const dir = paths.unified!;
    if (!(await exists(dir))) throw notFound(cgroupsPath);
    const [cpu, memCurrent, memMax, memStat, pidsCurrent, pidsMax, io] = await Promise.all([
      readKeyValues(join(dir, 'cpu.stat')),
      readNumber(join(dir, 'memory.current')),
      readNumber(join(dir, 'memory.max')),
      readKeyValues(join(dir, 'memory.stat')),
      readNumber(join(dir, 'pids.current')),
      readNumber(join(dir, 'pids.max')),
      readIoStatV2(join(dir, 'io.stat')),
    ]);
    return {
      cpu_stats: {
        cpu_usage: {
          total_usage: (cpu?.usage_usec ?? 0) * 1000,
          usage_in_kernelmode: (cpu?.system_usec ?? 0) * 1000,
          usage_in_usermode: (cpu?.user_usec ?? 0) * 1000,
        },
        system_cpu_usage: sys.systemCpuUsage,
        online_cpus: sys.onlineCpus,
        throttling_data: {
          periods: cpu?.nr_periods ?? 0,
          throttled_periods: cpu?.nr_throttled ?? 0,
          throttled_time: (cpu?.throttled_usec ?? 0) * 1000,
        },
      },
      memory_stats: { usage: memCurrent, limit: capLimit(memMax), stats: memStat },
      pids_stats: { current: pidsCurrent, limit: finiteOr(pidsMax, undefined) },
      blkio_stats: { ...emptyBlkio(), io_service_bytes_recursive: io },
    };
  }

  if (!(await exists(paths.memory ?? paths.cpuacct ?? paths.pids))) throw notFound(cgroupsPath);
  const [usage, percpuText, acctStat, cpuStat, memUsage, memMaxUsage, memFailcnt, memLimit, memStat, pidsCurrent, pidsMax, ioBytes, ioServiced] =
    await Promise.all([
      readNumber(join(paths.cpuacct, 'cpuacct.usage')),
      readText(join(paths.cpuacct, 'cpuacct.usage_percpu')),
      readKeyValues(join(paths.cpuacct, 'cpuacct.stat')),
      readKeyValues(join(paths.cpu, 'cpu.stat')),
      readNumber(join(paths.memory, 'memory.usage_in_bytes')),
      readNumber(join(paths.memory, 'memory.max_usage_in_bytes')),
      readNumber(join(paths.memory, 'memory.failcnt')),
      readNumber(join(paths.memory, 'memory.limit_in_bytes')),
      readKeyValues(join(paths.memory, 'memory.stat')),
      readNumber(join(paths.pids, 'pids.current')),
      readNumber(join(paths.pids, 'pids.max')),
      readBlkioV1(join(paths.blkio, 'blkio.throttle.io_service_bytes_recursive')),
      readBlkioV1(join(paths.blkio, 'blkio.throttle.io_serviced_recursive')),
    ]);
  const percpu = percpuText
    ?.trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  return {
    cpu_stats: {
      cpu_usage: {
        total_usage: usage ?? 0,
        usage_in_kernelmode: ((acctStat?.system ?? 0) * NS_PER_SEC) / CLOCK_TICKS,
        usage_in_usermode: ((acctStat?.user ?? 0) * NS_PER_SEC) / CLOCK_TICKS,
        ...(percpu && percpu.length ? { percpu_usage: percpu } : {}),
      },
      system_cpu_usage: sys.systemCpuUsage,
      online_cpus: sys.onlineCpus,
      throttling_data: {
        periods: cpuStat?.nr_periods ?? 0,
        throttled_periods: cpuStat?.nr_throttled ?? 0,
        throttled_time: cpuStat?.throttled_time ?? 0,
      },
    },
    memory_stats: { usage: memUsage, max_usage: memMaxUsage, failcnt: memFailcnt, limit: capLimit(memLimit), stats: memStat },
    pids_stats: { current: pidsCurrent, limit: finiteOr(pidsMax, undefined) },
    blkio_stats: { ...emptyBlkio(), io_service_bytes_recursive: ioBytes, io_serviced_recursive: ioServiced },
  };
}

// ---------------------------------------------------------------------------------------------
// Removal


/** rmdir dir after its child cgroups (deepest first). ENOENT is fine; EBUSY is retried briefly. */
async function rmdirTree(dir: string): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) if (e.isDirectory()) await rmdirTree(path.join(dir, e.name));
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // EBUSY: processes still in it (or just exiting and not yet reaped).
      if (code === 'EBUSY' && attempt < 10) {
        await sleep(10 + attempt * 5);
        continue;
      }
      throw new Error(`removing cgroup ${dir}: ${(err as Error).message}`);
    }
  }
}

/**
 * Removes the cgroup (and any child cgroups) in every hierarchy. For cleanup after a failure:
 * `runc delete` normally does this. Missing directories are fine; a cgroup that still has
 * processes fails with an error naming it.
 */
export async function removeCgroup(cgroupsPath: string): Promise<void> {
  if (path.posix.normalize('/' + cgroupsPath) === '/') throw new Error('refusing to remove a root cgroup');
  const { paths } = await cgroupPaths(cgroupsPath);
  const dirs = [...new Set(Object.values(paths))];
  const errors: string[] = [];
  for (const d of dirs) {
    try {
      await rmdirTree(d);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length) throw new Error(errors.join('; '));
}
