/**
 * Swarm speed (issue 15), through the docker CLI as a user runs it, each engine a single-node swarm in a
 * network namespace of its own (so neither's ingress network, gateway bridge or rules touch the host):
 *   berthd  -> a devcluster node (src/swarm/devcluster), `swarm init` through the API
 *   dockerd -> Debian's docker.io in another namespace (REF_DOCKER_HOST is not used: it must be a swarm
 *              of its own making)
 * Timed: `service create --replicas 50` until 50 tasks run; a rolling update of the 50 (parallelism 10,
 * monitor 1 s, stop-first; the tasks exit at once on SIGTERM so the grace period does not count);
 * `service rm` until the last task container is gone, each watched through the engine's API socket every
 * 100 ms. BENCH_RUNS rounds (default 3), the engines taking turns at going first; medians printed. The
 * goal: Berth at most half of Docker's time.
 * Then, unless BENCH_SWARM_CLUSTER=0: a 5-node devcluster (3 managers, 2 workers) runs
 * BENCH_SWARM_TASKS (default 1000) tasks; printed: the time until all run and the managers' memory
 * (berthd + etcd RSS). BENCH_SWARM_SINGLE=0 skips the one-node comparison. Run: `make bench-swarm` (as root).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DOCKER, run } from '../test/integration/harness.js';
import { DOCKERD } from '../test/integration/reference-dockerd.js';
import { makeBusyboxImage } from '../src/tools/make-busybox-image.js';
import { down, up, type DevCluster } from '../src/swarm/devcluster/devcluster.js';
import { formSwarm, seedImages } from '../src/swarm/devcluster/swarm-setup.js';
import * as ip from '../src/networks/ip.js';
import { sleep } from '../src/lib/sleep.js';

const REPLICAS = 50;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLUSTER_TASKS = Number(process.env.BENCH_SWARM_TASKS ?? 1000);
const TASK = ['sh', '-c', "trap 'exit 0' TERM; sleep 100000 & wait"];

async function docker(host: string, args: string[]): Promise<string> {
  const r = await run(DOCKER, args, { DOCKER_HOST: host });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim().slice(-400)}`);
  return r.stdout;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/**
 * The bench watches the engines through their API socket, not by running the docker CLI in a loop:
 * on two cores, a docker CLI every 100 ms (~60 ms of CPU each) took a third of the machine from the
 * engine being measured. The commands measured are still the docker CLI's.
 */
function api<T>(host: string, pathAndQuery: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: host.replace(/^unix:\/\//, ''), path: pathAndQuery, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as T) : reject(new Error(`GET ${pathAndQuery}: ${res.statusCode} ${body}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const filters = (f: Record<string, string[]>) => encodeURIComponent(JSON.stringify(f));

const running = async (host: string, service: string): Promise<number> =>
  (await api<Array<{ Status: { State: string } }>>(host, `/tasks?filters=${filters({ service: [service], 'desired-state': ['running'] })}`)).filter((t) => t.Status.State === 'running').length;

let measured = 0;

/** create -> N running, update -> completed, rm -> no containers; milliseconds. */
interface Timings {
  create: number;
  update: number;
  rm: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(host: string, replicas: number): Promise<Timings> {
  const name = `bench${process.pid}x${++measured}`;
  const create = await timed(async () => {
    await docker(host, ['service', 'create', '--detach', '--quiet', '--name', name, '--replicas', String(replicas), '--update-parallelism', '10', '--update-monitor', '1s', 'busybox', ...TASK]);
    await until('the tasks to run', async () => (await running(host, name)) === replicas);
  });
  const update = await timed(async () => {
    await docker(host, ['service', 'update', '--detach', '--quiet', '--env-add', 'BENCH=1', name]);
    await until('the update to complete', async () => (await api<{ UpdateStatus?: { State?: string } }>(host, `/services/${name}`)).UpdateStatus?.State === 'completed');
  });
  const rm = await timed(async () => {
    await docker(host, ['service', 'rm', name]);
    await until('the containers to go', async () => (await api<unknown[]>(host, `/containers/json?all=1&filters=${filters({ label: [`com.docker.swarm.service.name=${name}`] })}`)).length === 0);
  });
  return { create, update, rm };
}

/** A dockerd in a network namespace of its own, made a single-node swarm. */
async function startSwarmDockerd(): Promise<{ host: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-swarm-ref-'));
  const netns = `bsr${process.pid}`;
  await ip.batch([`netns add ${netns}`]);
  await ip.batch(['link set lo up'], { netns });
  const host = `unix://${path.join(dir, 'docker.sock')}`;
  const tag = path.basename(dir).replace(/[^a-zA-Z0-9]/g, '');
  const proc: ChildProcess = spawn('nsenter', [`--net=${path.join(ip.NETNS_DIR, netns)}`, '--', DOCKERD,
    '--data-root', path.join(dir, 'root'), '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'dockerd.pid'),
    '-H', host, '--containerd-namespace', tag, '--containerd-plugins-namespace', `${tag}p`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    await run(DOCKER, ['swarm', 'leave', '--force'], { DOCKER_HOST: host }).catch(() => undefined);
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    await ip.batch([`netns del ${netns}`], { force: true }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until('dockerd', async () => (await run(DOCKER, ['version'], { DOCKER_HOST: host })).code === 0, 60_000);
    await makeBusyboxImage(host);
    await docker(host, ['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377', '--default-addr-pool', '10.214.0.0/16']);
    return { host, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The summed resident memory of every process whose command line contains `pattern`. */
function rssOf(pattern: string): number {
  let kb = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').includes(pattern)) continue;
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone meanwhile
    }
  }
  return kb * 1024;
}

async function clusterRun(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-swarm-cluster-'));
  let cluster: DevCluster | undefined;
  try {
    cluster = await up(root, 5);
    await seedImages(cluster);
    await formSwarm(cluster, { managers: 3 });
    const host = `unix://${cluster.nodes[0]!.socket}`;
    const t = await timed(async () => {
      await docker(host, ['service', 'create', '--detach', '--quiet', '--name', 'many', '--replicas', String(CLUSTER_TASKS), 'busybox', ...TASK]);
      await until('all tasks to run', async () => (await running(host, 'many')) === CLUSTER_TASKS, 1_800_000);
    });
    console.log(`5-node cluster (3 managers, 2 workers): ${CLUSTER_TASKS} tasks running after ${(t / 1000).toFixed(1)} s`);
    for (const n of cluster.nodes.slice(0, 3)) {
      const berthd = rssOf(`${n.dir}/berthd.sock`);
      const etcd = rssOf(`${n.dir}/data/swarm/etcd`);
      console.log(`  ${n.name} (manager): berthd ${(berthd / 2 ** 20).toFixed(0)} MiB, etcd ${(etcd / 2 ** 20).toFixed(0)} MiB`);
    }
  } finally {
    if (cluster) await down(root).catch((e: Error) => console.error(e.message));
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.env.BENCH_SWARM_SINGLE !== '0') await singleNode();
  if (process.env.BENCH_SWARM_CLUSTER !== '0') await clusterRun();
}

async function singleNode(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-swarm-'));
  let cluster: DevCluster | undefined;
  let ref: { host: string; stop(): Promise<void> } | undefined;
  try {
    cluster = await up(root, 1);
    await seedImages(cluster);
    await formSwarm(cluster, { managers: 1 });
    const berthHost = `unix://${cluster.nodes[0]!.socket}`;
    ref = await startSwarmDockerd();
    // BENCH_RUNS rounds (default 3), the engines taking turns at going first; medians are printed.
    const rounds: Array<{ berth: Timings; docker: Timings }> = [];
    for (let i = 0; i < RUNS; i++) {
      if (i % 2 === 0) {
        const b = await measure(berthHost, REPLICAS);
        rounds.push({ berth: b, docker: await measure(ref.host, REPLICAS) });
      } else {
        const d = await measure(ref.host, REPLICAS);
        rounds.push({ berth: await measure(berthHost, REPLICAS), docker: d });
      }
    }
    const med = (k: 'berth' | 'docker'): Timings => ({
      create: median(rounds.map((r) => r[k].create)),
      update: median(rounds.map((r) => r[k].update)),
      rm: median(rounds.map((r) => r[k].rm)),
    });
    const berth = med('berth');
    const docker_ = med('docker');
    for (const [i, r] of rounds.entries()) console.log(`round ${i + 1}: create ${(r.berth.create / r.docker.create).toFixed(2)}, update ${(r.berth.update / r.docker.update).toFixed(2)}, rm ${(r.berth.rm / r.docker.rm).toFixed(2)}`);
    console.log(`swarm bench: one node, ${REPLICAS} replicas, medians of ${RUNS} rounds (ms)`);
    console.log(`${'engine'.padEnd(10)} ${'create'.padStart(8)} ${'update'.padStart(8)} ${'rm'.padStart(8)}`);
    for (const [n, r] of [['berthd', berth], ['dockerd', docker_]] as const) {
      console.log(`${n.padEnd(10)} ${r.create.toFixed(0).padStart(8)} ${r.update.toFixed(0).padStart(8)} ${r.rm.toFixed(0).padStart(8)}`);
    }
    console.log(`berthd / dockerd (goal <= 0.5): create ${(berth.create / docker_.create).toFixed(2)}, update ${(berth.update / docker_.update).toFixed(2)}, rm ${(berth.rm / docker_.rm).toFixed(2)}`);
  } finally {
    await ref?.stop();
    if (cluster) await down(root).catch((e: Error) => console.error(e.message));
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
