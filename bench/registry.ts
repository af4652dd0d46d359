/**
 * Pull and push throughput through a local Distribution registry (Debian's docker-registry), Berth and,
 * with REF_DOCKER_HOST set to a real dockerd (its own socket and data root), Docker in the same run.
 * The image is made here: BENCH_LAYERS layers (default 8) of BENCH_MB MB in all (default 200), of data
 * that gzip cannot shrink much, loaded with `docker load` into each engine.
 * Run: `node dist/bench/registry.js` after `make build`. Prints seconds and MB/s per engine and step,
 * and the time of a second pull of an image already held. The machine may be shared: compare ratios
 * within one run.
 */
import http from 'node:http';
import { randomBytes, createHash } from 'node:crypto';
import { pack } from 'tar-stream';
import { TestDaemon } from '../test/integration/harness.js';
import { startDistribution } from '../test/integration/registry-peers.js';

const LAYERS = Number(process.env.BENCH_LAYERS ?? 8);
const MB = Number(process.env.BENCH_MB ?? 200);

interface Engine {
  name: string;
  socket: string;
}

function call(socket: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function tarOf(files: Array<{ name: string; data: Buffer }>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const f of files) p.entry({ name: f.name, mode: 0o644, mtime: new Date(0) }, f.data);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A `docker save` archive of an image of LAYERS layers of MB/LAYERS MB each. */
async function makeArchive(tag: string): Promise<Buffer> {
  const per = Math.floor((MB * 1024 * 1024) / LAYERS);
  const layers: Buffer[] = [];
  for (let i = 0; i < LAYERS; i++) layers.push(await tarOf([{ name: `layer${i}.bin`, data: randomBytes(per) }]));
  const diffIds = layers.map((l) => 'sha256:' + createHash('sha256').update(l).digest('hex'));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z', config: { Cmd: ['/layer0.bin'] }, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const configName = createHash('sha256').update(config).digest('hex') + '.json';
  const manifest = Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: layers.map((_, i) => `l${i}/layer.tar`) }]));
  return tarOf([{ name: configName, data: config }, { name: 'manifest.json', data: manifest }, ...layers.map((l, i) => ({ name: `l${i}/layer.tar`, data: l }))]);
}

async function timed(label: string, f: () => Promise<{ status: number; text: string }>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await f();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 200 || /"error"/.test(r.text)) throw new Error(`${label}: ${r.status} ${r.text.slice(-500)}`);
  return s;
}

async function main(): Promise<void> {
  const reg = await startDistribution();
  const berth = await new TestDaemon().start();
  const engines: Engine[] = [{ name: 'berth', socket: berth.socket }];
  if (process.env.REF_DOCKER_HOST) engines.push({ name: 'docker', socket: process.env.REF_DOCKER_HOST.replace(/^unix:\/\//, '') });
  const rows: string[] = [];
  try {
    for (const e of engines) {
      const name = `${reg.host}/bench-${e.name}`;
      const archive = await makeArchive(`${name}:latest`);
      const load = await call(e.socket, 'POST', '/images/load?quiet=1', archive, { 'Content-Type': 'application/x-tar' });
      if (load.status !== 200) throw new Error(`load into ${e.name}: ${load.text}`);
      const auth = { 'X-Registry-Auth': 'e30=' };
      const push = await timed(`${e.name} push`, () => call(e.socket, 'POST', `/images/${name}/push?tag=latest`, undefined, auth));
      await call(e.socket, 'DELETE', `/images/${name}:latest?force=1`);
      const pull = await timed(`${e.name} pull`, () => call(e.socket, 'POST', `/images/create?fromImage=${name}&tag=latest`, undefined, auth));
      const again = await timed(`${e.name} pull again`, () => call(e.socket, 'POST', `/images/create?fromImage=${name}&tag=latest`, undefined, auth));
      rows.push(`${e.name.padEnd(7)} push ${push.toFixed(2)} s (${(MB / push).toFixed(1)} MB/s)  pull ${pull.toFixed(2)} s (${(MB / pull).toFixed(1)} MB/s)  pull again ${(again * 1000).toFixed(1)} ms`);
      await call(e.socket, 'DELETE', `/images/${name}:latest?force=1`);
    }
  } finally {
    await berth.stop();
    await reg.stop();
  }
  console.log(`${LAYERS} layers, ${MB} MB, through docker-registry on 127.0.0.1`);
  for (const r of rows) console.log(r);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
