/**
 * Container speed and memory, measured through the official docker CLI and through the API.
 * Run: `node dist/bench/containers.js` (as root, after `make build`). With REF_DOCKER_HOST set to a
 * real dockerd (its own socket, data root and bridge), the same is measured there in the same run and
 * ratios are printed (Berth / reference: below 1 means Berth is faster or smaller).
 * Containers run with --network none, except the `bridge` rows: `docker run --rm busybox true` on each
 * engine's default bridge. Berth runs with BERTH_TRACE_START=1 (lib/trace.ts), and the median time of
 * each step of its bridge runs (start: volumes, netns/veth, rootfs mount, conmon + runc create, ...;
 * exit: log drain, runc delete, umount, netns teardown, ...; remove) is printed after the table.
 * The machine may be shared: compare ratios within one run, not absolute numbers across runs.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { TestDaemon, run, DOCKER } from '../test/integration/harness.js';
import { busyboxRootfsTar } from '../src/tools/busybox-rootfs.js';

interface Engine {
  name: string;
  host: string;
  socket: string;
  pid: () => number;
}

const N_RUN = Number(process.env.BENCH_RUNS ?? 10);
// BENCH_QUICK=1 measures only the `run --rm` rows.

async function main(): Promise<void> {
  process.env.BERTH_TRACE_START ??= '1'; // inherited by the berthd the harness starts
  const berth = new TestDaemon();
  await berth.start();
  await berth.seedBusybox();
  const engines: Engine[] = [{ name: 'berth', host: berth.host, socket: berth.socket, pid: () => daemonPid(berth.socket) }];
  const ref = process.env.REF_DOCKER_HOST;
  if (ref) {
    const socket = ref.replace(/^unix:\/\//, '');
    await ensureBusybox(ref);
    engines.push({ name: 'docker', host: ref, socket, pid: () => daemonPid(socket) });
  }
  const results: Record<string, Record<string, number>> = {};
  let steps: Map<string, number[]> = new Map();
  try {
    // The engines alternate run by run, so that load from elsewhere on the machine hits both alike.
    const interleaved = await interleavedBridgeRuns(engines);
    for (const e of engines) results[e.name] = { 'cli run --rm true, bridge, alternating (s, median)': interleaved[e.name]! };
    for (const e of engines) {
      const logStart = berth.logs.length;
      results[e.name] = { ...results[e.name], ...(await measure(e)) };
      if (e.name === 'berth') steps = stepsOf(berth.logs.slice(logStart));
    }
  } finally {
    await berth.stop();
  }
  print(results);
  printSteps(steps);
}

async function interleavedBridgeRuns(engines: Engine[]): Promise<Record<string, number>> {
  const times: Record<string, number[]> = {};
  const docker = (e: Engine) => run(DOCKER, ['run', '--rm', 'busybox', 'true'], { DOCKER_HOST: e.host });
  for (const e of engines) await docker(e); // warm up
  for (let i = 0; i < N_RUN; i++) for (const e of engines) (times[e.name] ??= []).push(await timed(() => docker(e)));
  return Object.fromEntries(Object.entries(times).map(([n, t]) => [n, median(t)]));
}

async function measure(e: Engine): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  out['daemon RSS idle (MB)'] = daemonRss(e.pid());
  const docker = (args: string[]) => run(DOCKER, args, { DOCKER_HOST: e.host });
  await docker(['run', '--rm', '--network', 'none', 'busybox', 'true']); // warm up

  await docker(['run', '--rm', 'busybox', 'true']);
  out['cli run --rm true, bridge (s, median)'] = median(await repeat(N_RUN, () => timed(() => docker(['run', '--rm', 'busybox', 'true']))));
  out['cli run --rm true (s, median)'] = median(await repeat(N_RUN, () => timed(() => docker(['run', '--rm', '--network', 'none', 'busybox', 'true']))));
  out['api run --rm true (s, median)'] = median(await repeat(N_RUN, () => timed(() => apiRun(e.socket))));
  if (process.env.BENCH_QUICK) return out; // only the run --rm rows (and Berth's steps)

  const t0 = performance.now();
  for (let i = 0; i < 20; i++) await docker(['run', '-d', '--network', 'none', '--label', 'berth-bench=1', 'busybox', 'sleep', '1000']);
  out['cli 20 sequential run -d (s)'] = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  await Promise.all(Array.from({ length: 50 }, () => apiStartDetached(e.socket)));
  out['api 50 concurrent starts (s)'] = (performance.now() - t1) / 1000;

  await Promise.all(Array.from({ length: 30 }, () => apiStartDetached(e.socket)));
  const monitors = monitorPids(e.name);
  out['monitor RSS per container (MB)'] = avg(monitors.map((p) => memOf(p).rss));
  out['monitor PSS per container (MB)'] = avg(monitors.map((p) => memOf(p).pss));
  out['daemon RSS with 100 containers (MB)'] = daemonRss(e.pid());

  await docker(['rm', '-f', ...(await docker(['ps', '-aq', '--filter', 'label=berth-bench=1'])).stdout.split('\n').filter(Boolean)]);
  out['daemon RSS with 0 containers (MB)'] = daemonRss(e.pid());
  return out;
}

// ---- step traces (Berth's BERTH_TRACE_START lines, only those of the bridge runs) -------------------

/** Median milliseconds per step over the traced runs, by kind ("start mount", "exit runc delete", ...). */
function stepsOf(logs: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const lines = logs.split('\n').filter((l) => l.includes('msg="step trace"'));
  const byKind = new Map<string, Array<Record<string, number>>>();
  for (const l of lines) {
    const kind = /kind="([^"]*)"/.exec(l)?.[1] ?? '';
    const steps = JSON.parse(/steps=(\{.*\})/.exec(l)?.[1] ?? '{}') as Record<string, number>;
    byKind.set(kind, [...(byKind.get(kind) ?? []), steps]);
  }
  for (const [kind, list] of byKind) {
    // Skip the two warm-up runs (--network none and bridge), then the N_RUN bridge runs.
    for (const steps of list.slice(2, 2 + N_RUN)) {
      for (const [step, ms] of Object.entries(steps)) out.set(`${kind}: ${step}`, [...(out.get(`${kind}: ${step}`) ?? []), ms]);
    }
  }
  return out;
}

function printSteps(steps: Map<string, number[]>): void {
  if (!steps.size) return;
  console.log(`\nberth step medians over the ${N_RUN} bridge runs (ms):`);
  for (const [step, ms] of steps) console.log(`  ${step.padEnd(40)} ${median(ms).toFixed(1)}`);
}

function print(results: Record<string, Record<string, number>>): void {
  const names = Object.keys(results);
  const metrics = Object.keys(results[names[0]!]!);
  const header = ['metric', ...names, ...(names.length > 1 ? ['berth/docker'] : [])];
  const rows = metrics.map((m) => {
    const vals = names.map((n) => results[n]![m]!);
    return [m, ...vals.map((v) => v.toFixed(3)), ...(vals.length > 1 ? [(vals[0]! / vals[1]!).toFixed(2)] : [])];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}

// ---- API helpers ---------------------------------------------------------------------------------

function api(socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

async function apiRun(socket: string): Promise<void> {
  const { body } = await api(socket, 'POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  const id = JSON.parse(body).Id;
  const waiting = api(socket, 'POST', `/v1.41/containers/${id}/wait?condition=next-exit`);
  await api(socket, 'POST', `/v1.41/containers/${id}/start`);
  await waiting;
  await api(socket, 'DELETE', `/v1.41/containers/${id}`);
}

async function apiStartDetached(socket: string): Promise<void> {
  const { body } = await api(socket, 'POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'], Labels: { 'berth-bench': '1' }, HostConfig: { NetworkMode: 'none' } });
  await api(socket, 'POST', `/v1.41/containers/${JSON.parse(body).Id}/start`);
}

async function ensureBusybox(host: string): Promise<void> {
  if ((await run(DOCKER, ['image', 'inspect', 'busybox'], { DOCKER_HOST: host })).code === 0) return;
  const chunks: Buffer[] = [];
  for await (const c of busyboxRootfsTar()) chunks.push(c as Buffer);
  const r = await run(DOCKER, ['import', '-c', 'CMD ["sh"]', '-', 'busybox:latest'], { DOCKER_HOST: host }, Buffer.concat(chunks));
  if (r.code !== 0) throw new Error(r.stderr);
}

// ---- measurement helpers -------------------------------------------------------------------------

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function repeat(n: number, fn: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await fn());
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** RSS and PSS in MB from smaps_rollup. */
function memOf(pid: number): { rss: number; pss: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { rss: kb('Rss') / 1024, pss: kb('Pss') / 1024 };
  } catch {
    return { rss: NaN, pss: NaN };
  }
}

/** The per-container monitors: conmon for Berth, containerd-shim for Docker. */
function monitorPids(engine: string): number[] {
  const pattern = engine === 'berth' ? '^conmon' : 'containerd-shim-runc';
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The daemon's RSS; for Docker that includes the containerd it runs (its child), which does the same job. */
function daemonRss(pid: number): number {
  let total = memOf(pid).rss;
  try {
    for (const child of execFileSync('pgrep', ['-P', String(pid), '-x', 'containerd'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      total += memOf(Number(child)).rss;
    }
  } catch {
    // no containerd child: Berth, or a dockerd using a system containerd
  }
  return total;
}

function daemonPid(socket: string): number {
  const out = execFileSync('ss', ['-xlpn'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(socket));
  return Number(/pid=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

void main();
