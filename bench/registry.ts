/**
 * Registry speed through the Engine API only, so it runs against any engine: an image of ~200 MB of
 * incompressible data in 8 layers is loaded (POST /images/load, untimed), tagged, pushed to a fresh
 * local docker-registry (Distribution 2.8), removed, pulled back, and pulled a second time while held.
 * Run: `make bench-registry` (as root). Berth: BERTH_HOST, else a berthd the bench starts itself.
 * Reference: REF_DOCKER_HOST (a dockerd on its own socket and data root); without it, a dockerd the bench
 * starts itself when Debian's docker.io is installed (BENCH_NO_REF=1: none, no ratios).
 * REF_DOCKER_PID (dockerd's pid), when given, adds dockerd's CPU time per pull beside berthd's.
 * BENCH_RUNS (default 3) runs alternate between the engines; medians are printed.
 * BENCH_LAYERS / BENCH_LAYER_MB change the image (default 8 x 25 MB). BERTH_TRACE_PULL=1 prints when each
 * layer of each Berth pull reached each phase (src/distribution/pull-trace.ts).
 * The goals (issue 12): push and pull throughput at least 1.5x Docker's; a second pull under 50 ms.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TestDaemon } from '../test/integration/harness.js';
import { startDistribution } from '../test/integration/registry-peers.js';
import { referenceAvailable, startReferenceEngine, type ReferenceEngine } from '../test/integration/reference-dockerd.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LAYERS = Number(process.env.BENCH_LAYERS ?? 8);
const LAYER_MB = Number(process.env.BENCH_LAYER_MB ?? 25);
const LOCAL_NAME = 'berth-bench/registry:latest';
const API = '/v1.41';

interface Engine {
  name: string;
  host: string;
  /** The engine's process, when known: its CPU time during the pull is reported. */
  pid?: number;
}

/** CPU seconds (user + system, all threads) a process has used so far; NaN when it cannot be read. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime and stime, in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

/** CPU seconds per thread name of a process (node's main thread, libuv workers, V8 workers), with BENCH_THREADS=1. */
function threadSeconds(pid: number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (!pid || process.env.BENCH_THREADS !== '1') return out;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : /\((.*)\)/.exec(stat)![1]!;
      const f = stat.replace(/^.*\) /, '').split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** CPU seconds the whole machine spent busy (not idle or waiting for I/O), summed over its cores. */
function machineBusySeconds(): number {
  const [, ...t] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  return (t.reduce((a, b) => a + b, 0) - t[3]! - t[4]!) / 100;
}

// ---- the image, as a `docker save` archive ---------------------------------------------------------

/** Writes a docker-archive tar of LAYERS layers, each one file of LAYER_MB MB random bytes; returns its path and the image's content size. */
async function makeArchive(dir: string): Promise<{ file: string; bytes: number }> {
  const file = path.join(dir, 'image.tar');
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(file));
  const diffIds: string[] = [];
  const layerPaths: string[] = [];
  let bytes = 0;
  for (let i = 0; i < LAYERS; i++) {
    // The layer: a tar of one file, kept whole to know its digest before it goes into the archive.
    const layerPack = tar.pack();
    const parts: Buffer[] = [];
    layerPack.on('data', (c: unknown) => parts.push(c as Buffer));
    const layerDone = new Promise<void>((r) => layerPack.on('end', () => r()));
    layerPack.entry({ name: 'data/', type: 'directory', mode: 0o755, mtime: new Date(0) });
    layerPack.entry({ name: `data/layer${i}.bin`, mode: 0o644, mtime: new Date(0) }, randomBytes(LAYER_MB * 1024 * 1024));
    layerPack.finalize();
    await layerDone;
    const layer = Buffer.concat(parts);
    const hex = createHash('sha256').update(layer).digest('hex');
    diffIds.push('sha256:' + hex);
    layerPaths.push(`${hex}/layer.tar`);
    bytes += layer.length;
    await entry(pack, `${hex}/`, undefined);
    await entry(pack, `${hex}/layer.tar`, layer);
  }
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: new Date(0).toISOString(),
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: new Date(0).toISOString(), created_by: `bench layer ${i}` })),
  }));
  const configName = createHash('sha256').update(config).digest('hex') + '.json';
  await entry(pack, configName, config);
  await entry(pack, 'manifest.json', Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [LOCAL_NAME], Layers: layerPaths }])));
  pack.finalize();
  await written;
  return { file, bytes };
}

function entry(pack: tar.Pack, name: string, body: Buffer | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body) pack.entry({ name, mode: 0o644, mtime: new Date(0), size: body.length }, body, done);
    else pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) }, done);
  });
}

// ---- the Engine API ------------------------------------------------------------------------------

function request(host: string, method: string, p: string, o: { body?: Buffer | string; file?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string }> {
  const target = host.startsWith('unix://') ? { socketPath: host.slice('unix://'.length) } : { host: new URL(host.replace(/^tcp:/, 'http:')).hostname, port: Number(new URL(host.replace(/^tcp:/, 'http:')).port) };
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method, path: API + p, headers: o.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.file) createReadStream(o.file).pipe(req);
    else req.end(o.body);
  });
}

/** A JSON-progress call (load, push, pull): fails on a non-2xx status or an error line in the stream. */
async function streamCall(e: Engine, method: string, p: string, o: Parameters<typeof request>[3] = {}): Promise<void> {
  const r = await request(e.host, method, p, o);
  if (r.status < 200 || r.status >= 300) throw new Error(`${e.name} ${method} ${p}: ${r.status} ${r.text.slice(0, 300)}`);
  for (const line of r.text.split('\n')) {
    if (!line.trim()) continue;
    let msg: { error?: string; errorDetail?: { message?: string } };
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    if (msg.error || msg.errorDetail) throw new Error(`${e.name} ${method} ${p}: ${msg.errorDetail?.message ?? msg.error}`);
  }
}

const AUTH = { 'X-Registry-Auth': Buffer.from('{}').toString('base64') };

async function imageId(e: Engine, ref: string): Promise<string | undefined> {
  const r = await request(e.host, 'GET', `/images/${encodeURIComponent(ref)}/json`);
  return r.status === 200 ? (JSON.parse(r.text) as { Id: string }).Id : undefined;
}

/** Removes the image with every name it has (tags and digests), and makes sure it is gone, so the pull that follows fetches it all. */
async function removeImage(e: Engine, id: string): Promise<void> {
  const r = await request(e.host, 'DELETE', `/images/${id}?force=1`);
  if (r.status !== 200 && r.status !== 404) throw new Error(`${e.name} rmi ${id}: ${r.status} ${r.text}`);
  if (await imageId(e, id)) throw new Error(`${e.name}: image ${id} still there after DELETE /images/${id}?force=1`);
}

// ---- one run ---------------------------------------------------------------------------------------

interface Sample {
  pushS: number;
  pullS: number;
  /** CPU seconds the engine used during the pull, and the machine as a whole. */
  pullCpuS: number;
  pullMachineCpuS: number;
  secondPullMs: number;
}

async function oneRun(e: Engine, archive: string, run: number): Promise<Sample> {
  const registry = await startDistribution();
  const repo = `${registry.host}/bench/${e.name}`;
  const tag = `run${run}`;
  try {
    await streamCall(e, 'POST', '/images/load?quiet=1', { file: archive, headers: { 'Content-Type': 'application/x-tar' } });
    const t = await request(e.host, 'POST', `/images/${encodeURIComponent(LOCAL_NAME)}/tag?repo=${encodeURIComponent(repo)}&tag=${tag}`);
    if (t.status !== 201) throw new Error(`${e.name} tag: ${t.status} ${t.text}`);

    let t0 = performance.now();
    await streamCall(e, 'POST', `/images/${encodeURIComponent(repo)}/push?tag=${tag}`, { headers: AUTH });
    const pushS = (performance.now() - t0) / 1000;

    const id = await imageId(e, LOCAL_NAME);
    if (!id) throw new Error(`${e.name}: ${LOCAL_NAME} not there after the load`);
    await removeImage(e, id);
    const cpu0 = cpuSeconds(e.pid);
    const threads0 = threadSeconds(e.pid);
    const machine0 = machineBusySeconds();
    t0 = performance.now();
    await streamCall(e, 'POST', `/images/create?fromImage=${encodeURIComponent(repo)}&tag=${tag}`, { headers: AUTH });
    const pullS = (performance.now() - t0) / 1000;
    const pullCpuS = cpuSeconds(e.pid) - cpu0;
    const pullMachineCpuS = machineBusySeconds() - machine0;
    const threads = [...threadSeconds(e.pid)].map(([n, v]) => `${n} ${(v - (threads0.get(n) ?? 0)).toFixed(2)}`);
    if (threads.length) console.log(`${e.name} pull CPU s by thread: ${threads.join(', ')}`);
    const pulled = await imageId(e, `${repo}:${tag}`);
    if (pulled !== id) throw new Error(`${e.name}: the pull gave image ${pulled}, not ${id}`);

    t0 = performance.now();
    await streamCall(e, 'POST', `/images/create?fromImage=${encodeURIComponent(repo)}&tag=${tag}`, { headers: AUTH });
    const secondPullMs = performance.now() - t0;
    return { pushS, pullS, pullCpuS, pullMachineCpuS, secondPullMs };
  } finally {
    for (const ref of [`${repo}:${tag}`, LOCAL_NAME]) {
      const id = await imageId(e, ref).catch(() => undefined);
      if (id) await removeImage(e, id).catch(() => undefined);
    }
    await registry.stop();
  }
}

// ---- main ------------------------------------------------------------------------------------------

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-registry-'));
  let berth: TestDaemon | undefined;
  let ref: ReferenceEngine | undefined;
  try {
    process.stdout.write(`making a ${LAYERS} x ${LAYER_MB} MB image ... `);
    const { file, bytes } = await makeArchive(dir);
    const mb = bytes / 1e6;
    console.log(`${mb.toFixed(0)} MB of layers (archive ${(statSync(file).size / 1e6).toFixed(0)} MB)`);

    const engines: Engine[] = [];
    if (process.env.BERTH_HOST) engines.push({ name: 'berth', host: process.env.BERTH_HOST });
    else if (!process.env.BENCH_NO_BERTH) {
      berth = new TestDaemon();
      await berth.start();
      engines.push({ name: 'berth', host: berth.host, pid: (berth as unknown as { proc?: { pid?: number } }).proc?.pid });
    }
    if (process.env.REF_DOCKER_HOST) engines.push({ name: 'docker', host: process.env.REF_DOCKER_HOST, pid: Number(process.env.REF_DOCKER_PID) || undefined });
    else if (!process.env.BENCH_NO_REF && referenceAvailable) {
      // A dockerd of the bench's own (its own roots and socket, no bridge), as the build and compose benches do.
      ref = await startReferenceEngine();
      engines.push({ name: 'docker', host: ref.host });
    }

    const samples = new Map<string, Sample[]>();
    const errors = new Map<string, string>();
    for (let run = 0; run < RUNS; run++) {
      // Alternate which engine goes first, so load from elsewhere on the machine hits both alike.
      const order = run % 2 === 0 ? engines : [...engines].reverse();
      for (const e of order) {
        if (errors.has(e.name)) continue;
        try {
          const s = await oneRun(e, file, run);
          samples.set(e.name, [...(samples.get(e.name) ?? []), s]);
          const cpu = `(CPU: engine ${Number.isNaN(s.pullCpuS) ? 'n/a' : s.pullCpuS.toFixed(2)} s, machine ${s.pullMachineCpuS.toFixed(2)} s)`;
          console.log(`run ${run + 1} ${e.name}: push ${s.pushS.toFixed(2)} s, pull ${s.pullS.toFixed(2)} s ${cpu}, second pull ${s.secondPullMs.toFixed(1)} ms`);
        } catch (err) {
          errors.set(e.name, (err as Error).message);
          console.log(`run ${run + 1} ${e.name}: ${(err as Error).message}`);
        }
      }
    }
    print(engines, samples, errors, mb);
    // With BERTH_TRACE_PULL=1 (inherited by the berthd started here): when each layer reached each phase.
    for (const l of (berth?.logs ?? '').split('\n').filter((x) => x.includes('msg="pull trace"'))) console.log(l.replace(/^.*msg="pull trace" /, 'pull trace: '));
  } finally {
    await berth?.stop();
    await ref?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(engines: Engine[], samples: Map<string, Sample[]>, errors: Map<string, string>, mb: number): void {
  const metric = (name: string, f: (s: Sample[]) => number) => ({ name, f });
  const metrics = [
    metric('push (MB/s, median)', (s) => mb / median(s.map((x) => x.pushS))),
    metric('pull (MB/s, median)', (s) => mb / median(s.map((x) => x.pullS))),
    metric('pull: engine CPU s (median)', (s) => median(s.map((x) => x.pullCpuS))),
    metric('pull: machine CPU s (median)', (s) => median(s.map((x) => x.pullMachineCpuS))),
    metric('second pull, image held (ms, median)', (s) => median(s.map((x) => x.secondPullMs))),
  ];
  const both = engines.length === 2 && engines.every((e) => samples.has(e.name));
  const header = ['metric', ...engines.map((e) => e.name), ...(both ? ['berth/docker'] : [])];
  const rows = metrics.map((m) => {
    const vals = engines.map((e) => (samples.has(e.name) ? m.f(samples.get(e.name)!) : NaN));
    return [m.name, ...vals.map((v) => (Number.isNaN(v) ? 'n/a' : v.toFixed(1))), ...(both ? [(vals[0]! / vals[1]!).toFixed(2)] : [])];
  });
  console.log();
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  console.log(`\n${RUNS} run(s), ${LAYERS} layers of ${LAYER_MB} MB random data, through a fresh docker-registry per run and engine.`);
  console.log('goals: push and pull at least 1.5x Docker\'s MB/s (berth/docker >= 1.5 on the first two rows); second pull under 50 ms.');
  for (const [name, msg] of errors) console.log(`${name}: not measured: ${msg}`);
}

void main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
