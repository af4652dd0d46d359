/**
 * Build speed through the Engine API's classic /build, so it runs against any engine (issue 13):
 * a 10-step Dockerfile with two independent stages (each copies its sources and sleeps 2 s) and a final
 * stage that takes their results and the sources, built
 *   cold     (nocache=1: every step runs),
 *   cached   (the same context again: every step from the cache),
 *   changed  (one source file of the final stage changed: only its COPY runs again).
 * Run: `make bench-build` (as root). Berth: BERTH_HOST, else a berthd the bench starts itself.
 * Reference: REF_DOCKER_HOST, else a dockerd the bench starts itself when /usr/sbin/dockerd is here
 * (BENCH_NO_REF=1 skips it). BENCH_RUNS (default 3): medians are printed, engines alternate first place.
 * The goals: the cached rebuild at most a third of Docker's time; the cold build, whose two stages each
 * sleep 2 s, under 3 s on Berth (they build in parallel).
 */
import http from 'node:http';
import * as tar from 'tar-stream';
import { TestDaemon } from '../test/integration/harness.js';
import { referenceAvailable, startReferenceEngine, type ReferenceEngine } from '../test/integration/reference-dockerd.js';
import { makeBusyboxImage } from '../src/tools/make-busybox-image.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const API = '/v1.41';
const TAG = 'berth-bench/build:latest';

const DOCKERFILE = `FROM busybox AS a
COPY a/ /a/
RUN sleep 2 && cat /a/* > /a.out
FROM busybox AS b
COPY b/ /b/
RUN sleep 2 && cat /b/* > /b.out
FROM busybox
COPY --from=a /a.out /
COPY --from=b /b.out /
COPY src/ /src/
`;

interface Engine {
  name: string;
  host: string;
}

/** The context: the Dockerfile, 20 small files per stage and 50 sources, as a tar. */
async function contextTar(generation: number): Promise<Buffer> {
  const pack = tar.pack();
  const parts: Buffer[] = [];
  pack.on('data', (c: unknown) => parts.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  const mtime = new Date(1_700_000_000_000);
  pack.entry({ name: 'Dockerfile', mode: 0o644, mtime }, DOCKERFILE);
  for (const dir of ['a', 'b']) for (let i = 0; i < 20; i++) pack.entry({ name: `${dir}/f${i}`, mode: 0o644, mtime }, `${dir} ${i}\n`.repeat(100));
  for (let i = 0; i < 50; i++) pack.entry({ name: `src/m${i}.txt`, mode: 0o644, mtime }, `source ${i} ${i === 7 ? generation : 0}\n`.repeat(200));
  pack.finalize();
  await ended;
  return Buffer.concat(parts);
}

/** POST /build; resolves when the stream ends, failing on an error line. */
function build(e: Engine, context: Buffer, query: string): Promise<void> {
  const socketPath = e.host.replace(/^unix:\/\//, '');
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'POST', path: `${API}/build?t=${encodeURIComponent(TAG)}&rm=1&${query}`, headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${e.name} build: ${res.statusCode} ${text.slice(0, 300)}`));
        const error = text.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l) as { error?: string }; } catch { return {}; } }).find((m) => m.error);
        if (error) reject(new Error(`${e.name} build: ${error.error}`));
        else resolve();
      });
    });
    req.on('error', reject);
    req.end(context);
  });
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

interface Sample {
  coldMs: number;
  cachedMs: number;
  changedMs: number;
}

async function oneRun(e: Engine, run: number): Promise<Sample> {
  const first = await contextTar(run * 2);
  const second = await contextTar(run * 2 + 1);
  // Cold: nothing from the cache. The cached build that follows reuses what the cold one recorded.
  const coldMs = await timed(() => build(e, first, 'nocache=1'));
  const cachedMs = await timed(() => build(e, first, ''));
  const changedMs = await timed(() => build(e, second, ''));
  return { coldMs, cachedMs, changedMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  let berth: TestDaemon | undefined;
  let ref: ReferenceEngine | undefined;
  try {
    const engines: Engine[] = [];
    if (process.env.BERTH_HOST) engines.push({ name: 'berth', host: process.env.BERTH_HOST });
    else {
      berth = new TestDaemon();
      await berth.start();
      await berth.seedBusybox();
      engines.push({ name: 'berth', host: berth.host });
    }
    if (!process.env.BENCH_NO_REF && referenceAvailable) {
      ref = await startReferenceEngine();
      await makeBusyboxImage(ref.host);
      engines.push({ name: 'docker', host: ref.host });
    }
    const samples = new Map<string, Sample[]>(engines.map((e) => [e.name, []]));
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 ? [...engines].reverse() : engines;
      for (const e of order) samples.get(e.name)!.push(await oneRun(e, run));
    }
    const rows = engines.map((e) => {
      const s = samples.get(e.name)!;
      return { name: e.name, cold: median(s.map((x) => x.coldMs)), cached: median(s.map((x) => x.cachedMs)), changed: median(s.map((x) => x.changedMs)) };
    });
    console.log(`build bench: ${RUNS} runs, medians (ms)`);
    console.log('engine   cold      cached    changed');
    for (const r of rows) console.log(`${r.name.padEnd(8)} ${r.cold.toFixed(0).padStart(8)}  ${r.cached.toFixed(0).padStart(8)}  ${r.changed.toFixed(0).padStart(8)}`);
    // The spread: the machine is shared, so one run's number says little on its own.
    for (const e of engines) {
      const s = samples.get(e.name)!;
      const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
      console.log(`${e.name.padEnd(8)} ranges: cold ${range(s.map((x) => x.coldMs))}, cached ${range(s.map((x) => x.cachedMs))}, changed ${range(s.map((x) => x.changedMs))}`);
    }
    const b = rows.find((r) => r.name === 'berth');
    const d = rows.find((r) => r.name === 'docker');
    if (b && d) {
      console.log(`berth/docker time: cold ${(b.cold / d.cold).toFixed(2)}, cached ${(b.cached / d.cached).toFixed(2)} (goal <= 0.33), changed ${(b.changed / d.changed).toFixed(2)}`);
    }
    if (b) console.log(`berth cold build with two 2 s stages: ${(b.cold / 1000).toFixed(2)} s (goal < 3 s)`);
  } finally {
    await berth?.stop();
    await ref?.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

