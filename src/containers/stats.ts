/**
 * `docker stats`: samples of a container's cgroup in the shape of Docker's stats JSON (types.StatsJSON,
 * fields in Go's order, Go's omitempty where Docker has it). `networks` holds the counters of the
 * container's own interfaces (eth0, ...) from its network namespace's /proc/<pid>/net/dev; absent for
 * --network none, host and container:X, as dockerd (whose sandbox has no interface of its own then).
 *
 * As dockerd: a stream sends one sample a second, each with the previous one's CPU figures as precpu; a
 * single sample (stream=false) primes the CPU figures with a first sample and answers with a second one a
 * second later, so the CLI can compute a CPU percentage; one-shot answers at once without precpu. A
 * container that does not run gets samples holding only its name and id (zeros elsewhere).
 */
import type { Container } from './model.js';
import type { ContainerService } from './service.js';
import { cgroupsPathOf } from './runner.js';
import { cgroupVersion, readStats, type BlkioStatEntry, type CgroupStats } from '../runtime/cgroups.js';
import { rfc3339Nano } from '../lib/timestamps.js';
import { invalidArgument, messageOf } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { ZERO_TIME } from './model.js';
import { promises as fsp } from 'node:fs';
import { sleep } from '../lib/sleep.js';

export const STATS_INTERVAL_MS = 1000;

/** The memory.stat keys dockerd reports, per cgroup version (daemon/stats_unix.go). */
const MEMORY_KEYS_V1 = [
  'active_anon', 'active_file', 'cache', 'dirty', 'hierarchical_memory_limit', 'hierarchical_memsw_limit', 'inactive_anon',
  'inactive_file', 'mapped_file', 'pgfault', 'pgmajfault', 'pgpgin', 'pgpgout', 'rss', 'rss_huge', 'total_active_anon',
  'total_active_file', 'total_cache', 'total_dirty', 'total_inactive_anon', 'total_inactive_file', 'total_mapped_file',
  'total_pgfault', 'total_pgmajfault', 'total_pgpgin', 'total_pgpgout', 'total_rss', 'total_rss_huge', 'total_unevictable',
  'total_writeback', 'unevictable', 'writeback',
];
const MEMORY_KEYS_V2 = [
  'active_anon', 'active_file', 'anon', 'anon_thp', 'file', 'file_dirty', 'file_mapped', 'file_writeback', 'inactive_anon',
  'inactive_file', 'kernel_stack', 'pgactivate', 'pgdeactivate', 'pgfault', 'pglazyfree', 'pglazyfreed', 'pgmajfault',
  'pgrefill', 'pgscan', 'pgsteal', 'shmem', 'slab', 'slab_reclaimable', 'slab_unreclaimable', 'sock', 'thp_collapse_alloc',
  'thp_fault_alloc', 'unevictable', 'workingset_activate', 'workingset_nodereclaim', 'workingset_refault',
];

interface Sample {
  read: string;
  version: 1 | 2;
  stats: CgroupStats;
  networks?: Record<string, NetworkStats>;
}

/** Docker's NetworkStats, in its field order. */
export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/**
 * /proc/net/dev as Docker's networks map, loopback left out. Columns after "name:": rx bytes packets
 * errs drop fifo frame compressed multicast, tx bytes packets errs drop fifo colls carrier compressed.
 */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (!name || name === 'lo' || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out[name] = {
      rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!,
      tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]!,
    };
  }
  return out;
}

/** The counters of the container's own interfaces; undefined when it has none (none, host, container:X). */
async function sampleNetworks(c: Container): Promise<Record<string, NetworkStats> | undefined> {
  const mode = c.hostConfig.NetworkMode ?? 'bridge';
  if (mode === 'none' || mode === 'host' || mode.startsWith('container:') || !c.state.Pid) return undefined;
  try {
    const nets = parseNetDev(await fsp.readFile(`/proc/${c.state.Pid}/net/dev`, 'utf8'));
    return Object.keys(nets).length ? nets : undefined;
  } catch {
    return undefined; // process gone meanwhile: no network stats
  }
}

/** Reads the container's cgroup now; null when it does not run (or its cgroup is gone). */
export async function sampleStats(c: Container): Promise<Sample | null> {
  if (!c.state.Running || c.state.Restarting) return null;
  try {
    const [stats, version, networks] = await Promise.all([readStats(cgroupsPathOf(c.id)), cgroupVersion(), sampleNetworks(c)]);
    return { read: rfc3339Nano(Date.now()), version, stats, ...(networks ? { networks } : {}) };
  } catch (err) {
    log.debug('sampling container stats failed', { id: c.id, error: messageOf(err) });
    return null;
  }
}

/** One stats document; `pre` gives precpu_stats and preread. */
export function statsJson(c: Container, cur: Sample | null, pre: Sample | null): Record<string, unknown> {
  return {
    read: cur?.read ?? ZERO_TIME,
    preread: pre?.read ?? ZERO_TIME,
    pids_stats: pidsJson(cur),
    blkio_stats: blkioJson(cur),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuJson(cur),
    precpu_stats: cpuJson(pre),
    memory_stats: memoryJson(cur),
    name: `/${c.name}`,
    id: c.id,
    ...(cur?.networks ? { networks: cur.networks } : {}),
  };
}

const nonZero = (n: number | undefined): number | undefined => (n ? n : undefined);

function pidsJson(s: Sample | null): Record<string, number | undefined> {
  if (!s) return {};
  return { current: nonZero(s.stats.pids_stats.current), limit: nonZero(s.stats.pids_stats.limit) };
}

function blkioJson(s: Sample | null): Record<string, BlkioStatEntry[] | null> {
  const b = s?.stats.blkio_stats;
  // dockerd fills every list on cgroup v1 (empty when the kernel has no figures), two of them on v2.
  const list = (v: BlkioStatEntry[] | null | undefined): BlkioStatEntry[] | null => (s?.version === 1 ? (v ?? []) : (v ?? null));
  return {
    io_service_bytes_recursive: list(b?.io_service_bytes_recursive),
    io_serviced_recursive: list(b?.io_serviced_recursive),
    io_queue_recursive: list(b?.io_queue_recursive),
    io_service_time_recursive: list(b?.io_service_time_recursive),
    io_wait_time_recursive: list(b?.io_wait_time_recursive),
    io_merged_recursive: list(b?.io_merged_recursive),
    io_time_recursive: list(b?.io_time_recursive),
    sectors_recursive: list(b?.sectors_recursive),
  };
}

function cpuJson(s: Sample | null): Record<string, unknown> {
  const cpu = s?.stats.cpu_stats;
  const usage = cpu?.cpu_usage;
  return {
    cpu_usage: {
      total_usage: usage?.total_usage ?? 0,
      ...(usage?.percpu_usage?.length ? { percpu_usage: usage.percpu_usage } : {}),
      usage_in_kernelmode: usage?.usage_in_kernelmode ?? 0,
      usage_in_usermode: usage?.usage_in_usermode ?? 0,
    },
    system_cpu_usage: nonZero(cpu?.system_cpu_usage),
    online_cpus: nonZero(cpu?.online_cpus),
    throttling_data: {
      periods: cpu?.throttling_data.periods ?? 0,
      throttled_periods: cpu?.throttling_data.throttled_periods ?? 0,
      throttled_time: cpu?.throttling_data.throttled_time ?? 0,
    },
  };
}

function memoryJson(s: Sample | null): Record<string, unknown> {
  if (!s) return {};
  const m = s.stats.memory_stats;
  const keys = s.version === 1 ? MEMORY_KEYS_V1 : MEMORY_KEYS_V2;
  const stats: Record<string, number> = {};
  for (const k of keys) stats[k] = m.stats?.[k] ?? 0;
  return {
    usage: nonZero(m.usage),
    max_usage: nonZero(m.max_usage),
    stats,
    failcnt: nonZero(m.failcnt),
    limit: nonZero(m.limit),
  };
}

export interface StatsRequest {
  stream: boolean;
  oneShot: boolean;
  signal: AbortSignal;
}

/**
 * The documents GET /containers/{id}/stats answers with, as they become due: one for stream=false,
 * one a second while streaming until the signal aborts or the container is removed.
 */
export async function* containerStats(svc: ContainerService, c: Container, req: StatsRequest): AsyncGenerator<Record<string, unknown>> {
  if (req.stream && req.oneShot) throw invalidArgument('cannot have stream=true and one-shot=true');
  if (!req.stream) {
    const first = await sampleStats(c);
    if (!first || req.oneShot) {
      yield statsJson(c, first, null);
      return;
    }
    await sleep(STATS_INTERVAL_MS, { signal: req.signal });
    yield statsJson(c, await sampleStats(c), first);
    return;
  }
  let pre: Sample | null = null;
  while (!req.signal.aborted && svc.store.get(c.id)) {
    const cur = await sampleStats(c);
    yield statsJson(c, cur, pre);
    pre = cur;
    await sleep(STATS_INTERVAL_MS, { signal: req.signal });
  }
}

