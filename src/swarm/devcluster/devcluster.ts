/**
 * A local cluster of berthd nodes on one machine, for developing and testing swarm mode: each node a
 * network namespace joined by a veth to a bridge made for the cluster, running a berthd of its own
 * (data root, exec root, unix socket under the cluster's root directory).
 *
 * Lifecycle: up(n) writes the plan to <root>/cluster.json before making anything, so down() can undo
 * a failed or half-made cluster from that file alone; up() itself calls down() when it fails. down()
 * stops each berthd (SIGTERM, SIGKILL after 15 s), force-deletes the containers runc still has under the node's exec root, kills what is
 * left of the node's processes (found by their command line naming the node's directory, killed by pid), deletes the namespaces and the
 * bridge, what a dead berthd left (its containers' namespaces, mounts under the root), and removes
 * the root. Nothing leaves the machine: the bridge has no NAT and no uplink.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ip from '../../networks/ip.js';
import { removeNetworkLeftovers } from '../../networks/cleanup.js';
import { unmount } from '../../layers/mount.js';
import { Runc } from '../../runtime/runc.js';
import { processAlive } from '../../lib/process.js';
import { sleep } from '../../lib/sleep.js';

export interface DevNode {
  name: string;
  netns: string;
  /** The host side of the node's veth (on the cluster bridge). */
  hostVeth: string;
  /** The node's default bridge for containers, inside its namespace (berthd claims bridge names host-wide). */
  containerBridge: string;
  /** The node's address on the cluster bridge. */
  address: string;
  dir: string;
  socket: string;
  pid?: number;
}

export interface DevCluster {
  root: string;
  bridge: string;
  /** The cluster subnet (bridge .1, nodes .10 on). */
  subnet: string;
  /** The subnet of each node's default bridge for containers (the same in every namespace). */
  nodeBip: string;
  nodes: DevNode[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const BERTHD = path.join(repoRoot, 'bin/berthd');
const STATE = 'cluster.json';

function toNum(a: string): number {
  return a.split('.').reduce((n, b) => n * 256 + Number(b), 0);
}
function overlaps(a: string, b: string): boolean {
  const [an, ap = '32'] = a.split('/');
  const [bn, bp = '32'] = b.split('/');
  const shift = 2 ** (32 - Math.min(Number(ap), Number(bp)));
  return Math.floor(toNum(an!) / shift) === Math.floor(toNum(bn!) / shift);
}

/** `count` /24s in 10.213.0.0/16 that overlap no route of the host (and not each other). */
export async function freeSubnets(count: number): Promise<string[]> {
  const taken = (await ip.routes()).map((r) => r.dst).filter((d) => d && d !== 'default');
  const out: string[] = [];
  for (let third = 1; third < 255 && out.length < count; third++) {
    const candidate = `10.213.${third}.0/24`;
    if (!taken.some((t) => overlaps(t, candidate))) out.push(candidate);
  }
  if (out.length < count) throw new Error('no free /24 left in 10.213.0.0/16');
  return out;
}

const statePath = (root: string) => path.join(root, STATE);

export async function readCluster(root: string): Promise<DevCluster | undefined> {
  try {
    return JSON.parse(await fs.readFile(statePath(root), 'utf8')) as DevCluster;
  } catch {
    return undefined;
  }
}

async function writeCluster(c: DevCluster): Promise<void> {
  // A tmp name per write: restartNode may run for several nodes at once.
  const tmp = `${statePath(c.root)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(c, null, 2) + '\n');
  await fs.rename(tmp, statePath(c.root));
}

/** Whether berthd answers /_ping on the socket. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Pids whose command line names `dir` (a node's berthd, conmons, containers' shims). */
function processesNaming(dir: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && cmdline(pid).includes(`${dir}/`)) out.push(pid);
  }
  return out;
}

export async function up(root: string, count: number, log: (line: string) => void = () => undefined): Promise<DevCluster> {
  if (!Number.isInteger(count) || count < 1 || count > 50) throw new Error(`invalid number of nodes: ${count} (1 to 50)`);
  root = path.resolve(root);
  if (await readCluster(root)) throw new Error(`a cluster is already up in ${root}: run "down" first`);
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  const tag = createHash('sha256').update(root).digest('hex').slice(0, 6);
  const [subnet, nodeSubnet] = await freeSubnets(2);
  const prefix = subnet!.replace(/\.0\/24$/, '');
  const cluster: DevCluster = {
    root,
    bridge: `bdc${tag}`,
    subnet: subnet!,
    nodeBip: `${nodeSubnet!.replace(/\.0\/24$/, '.1')}/24`,
    nodes: Array.from({ length: count }, (_, i) => {
      const name = `node${i + 1}`;
      const dir = path.join(root, name);
      return { name, netns: `bdc-${tag}-${i + 1}`, hostVeth: `bdc${tag}v${i + 1}`, containerBridge: `bdc${tag}b${i + 1}`, address: `${prefix}.${10 + i}`, dir, socket: path.join(dir, 'berthd.sock') };
    }),
  };
  await writeCluster(cluster); // before anything exists, so down() finds all of it
  try {
    await ip.batch([`link add ${cluster.bridge} type bridge`, `addr add ${prefix}.1/24 dev ${cluster.bridge}`, `link set ${cluster.bridge} up`]);
    for (const n of cluster.nodes) {
      await ip.batch([`netns add ${n.netns}`, `link add ${n.hostVeth} type veth peer name eth0 netns ${n.netns}`, `link set ${n.hostVeth} master ${cluster.bridge} up`]);
      // No default route: a node reaches the cluster subnet only, so nothing it sends leaves the machine.
      await ip.batch(['link set lo up', `addr add ${n.address}/24 dev eth0`, 'link set eth0 up'], { netns: n.netns });
      await fs.mkdir(n.dir, { recursive: true });
      await fs.writeFile(path.join(n.dir, 'daemon.json'), '{}\n');
      n.pid = startBerthd(cluster, n);
      await writeCluster(cluster);
      log(`${n.name}: ${n.address} berthd pid ${n.pid}`);
    }
    for (const n of cluster.nodes) await waitReady(n);
    return cluster;
  } catch (err) {
    await down(root).catch(() => undefined);
    throw err;
  }
}

function startBerthd(c: DevCluster, n: DevNode): number {
  const logFd = openSync(path.join(n.dir, 'berthd.log'), 'a');
  try {
    // nsenter joins only the network namespace (`ip netns exec` would also remount /sys, hiding the
    // cgroup mount runc needs); setsid lets the daemon outlive this tool and its terminal. Both exec in
    // place, so the pid is berthd's. This module is the only one that runs nsenter.
    // A UTS namespace of its own gives each node its own hostname (node1, ...), as separate machines
    // have: swarm shows nodes by hostname and constraints select on it. sh only sets it and execs.
    const child = spawn(
      'nsenter',
      [`--net=${path.join(ip.NETNS_DIR, n.netns)}`, '--', 'unshare', '--uts', '--', 'sh', '-c', 'hostname "$0" && exec setsid "$@"', n.name,
        BERTHD, '--data-root', path.join(n.dir, 'data'), '--exec-root', path.join(n.dir, 'exec'),
        '-H', `unix://${n.socket}`, '--config-file', path.join(n.dir, 'daemon.json'), '--pidfile', path.join(n.dir, 'berthd.pid'),
        '--bridge', n.containerBridge, '--bip', c.nodeBip],
      { stdio: ['ignore', logFd, logFd] },
    );
    child.on('error', () => undefined); // a failed start shows as a dead pid in waitReady
    child.unref();
    if (!child.pid) throw new Error(`${n.name}: could not start berthd (nsenter from util-linux needed)`);
    return child.pid;
  } finally {
    closeSync(logFd);
  }
}

async function waitReady(n: DevNode, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await ping(n.socket)) return;
    if (!n.pid || !processAlive(n.pid)) throw new Error(`${n.name}: berthd exited: ${await tail(path.join(n.dir, 'berthd.log'))}`);
    if (Date.now() > end) throw new Error(`${n.name}: berthd did not answer within ${timeoutMs} ms: ${await tail(path.join(n.dir, 'berthd.log'))}`);
    await sleep(200);
  }
}

async function tail(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim().split('\n').slice(-3).join('; ');
  } catch {
    return '(no log)';
  }
}

async function stopProcess(pid: number, graceMs: number): Promise<void> {
  if (!processAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + graceMs;
  while (processAlive(pid) && Date.now() < end) await sleep(100);
  if (processAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(100);
  }
}

/** Undoes everything the cluster file names; safe to run again, and on a half-made cluster. */
export async function down(root: string, log: (line: string) => void = () => undefined): Promise<void> {
  root = path.resolve(root);
  const c = await readCluster(root);
  if (!c) throw new Error(`no cluster in ${root}`);
  const problems: string[] = [];
  await Promise.all(
    c.nodes.map(async (n) => {
      // Only the pid we started, and only if it still is our berthd (pids get reused).
      if (n.pid && cmdline(n.pid).includes(n.socket)) await stopProcess(n.pid, 15_000);
      // A berthd that died on its own may still be a zombie until init reaps it; its network claim
      // counts as held until then.
      for (let i = 0; i < 100 && n.pid && processAlive(n.pid); i++) await sleep(50);
      // Containers a dead berthd left running (their processes do not name the node's directory).
      const runc = new Runc({ root: path.join(n.dir, 'exec', 'runc') });
      for (const c of await runc.list().catch(() => [])) await runc.delete(c.id, true).catch((e: Error) => problems.push(e.message));
      for (const pid of processesNaming(n.dir)) await stopProcess(pid, 2_000);
      // What a berthd that died without its shutdown leaves: its containers' namespaces (global names).
      await removeNetworkLeftovers(n.containerBridge).catch((e: Error) => problems.push(e.message));
    }),
  );
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(`${root}/`));
  for (const m of mounts.sort((a, b) => b.length - a.length)) await unmount(m).catch((e: Error) => problems.push(e.message));
  const namespaces = new Set(await ip.netnsList());
  for (const n of c.nodes) {
    if (namespaces.has(n.netns)) await ip.batch([`netns del ${n.netns}`], { force: true }).catch((e: Error) => problems.push(e.message));
    // Deleting the namespace deletes its veth pair too, a moment later: a vanished link is fine.
    if (await ip.linkExists(n.hostVeth)) await ip.batch([`link del ${n.hostVeth}`]).catch((e: Error) => (/Cannot find device/.test(e.message) ? undefined : problems.push(e.message)));
    log(`${n.name}: removed`);
  }
  if (await ip.linkExists(c.bridge)) await ip.batch([`link del ${c.bridge}`]).catch((e: Error) => problems.push(e.message));
  await fs.rm(root, { recursive: true, force: true }).catch((e: Error) => problems.push(e.message));
  if (problems.length) throw new Error(`cluster down left something behind: ${problems.join('; ')}`);
}

/** One line per node: name, address, socket, berthd pid and whether it answers. */
export async function list(root: string): Promise<string[]> {
  const c = await readCluster(path.resolve(root));
  if (!c) return [];
  const lines = ['NAME\tADDRESS\tSOCKET\tPID\tSTATE'];
  for (const n of c.nodes) {
    const state = (await ping(n.socket)) ? 'ready' : n.pid && processAlive(n.pid) ? 'starting' : 'down';
    lines.push([n.name, n.address, `unix://${n.socket}`, n.pid ?? '-', state].join('\t'));
  }
  return lines;
}

/** kill -9 of a node's berthd (a crash: its containers and any etcd member it runs are left as they are). */
export async function killNode(c: DevCluster, name: string): Promise<void> {
  const n = nodeNamed(c, name);
  if (n.pid && processAlive(n.pid) && cmdline(n.pid).includes(n.socket)) process.kill(n.pid, 'SIGKILL');
  for (let i = 0; i < 100 && n.pid && processAlive(n.pid); i++) await sleep(50);
}

/** Stops (SIGTERM) a node's berthd if it runs, then starts it again with the same roots. */
export async function restartNode(c: DevCluster, name: string): Promise<void> {
  const n = nodeNamed(c, name);
  if (n.pid && cmdline(n.pid).includes(n.socket)) await stopProcess(n.pid, 15_000);
  n.pid = startBerthd(c, n);
  await writeCluster(c);
  await waitReady(n);
}

function nodeNamed(c: DevCluster, name: string): DevNode {
  const n = c.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in the cluster`);
  return n;
}
