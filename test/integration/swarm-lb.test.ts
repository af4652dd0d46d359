/**
 * The swarm load balancer's rules on a real kernel, in network namespaces this test makes:
 *   node    a "node": bridge brI (ingress network, the node's ingress address .2), bridge brA (an
 *           overlay "app"), and a veth to the client (.1 of the outside subnet); the balancer runs
 *           here (a child process, so the mesh goes into this namespace).
 *   t1, t2  two "tasks" on both bridges, no default route (the balancer's reply route sends what
 *           leaves from their ingress address back through the node), each running an HTTP
 *           server that answers "<name> <client address>". t1 is on this node, t2 is said to be on
 *           another node (so the mesh SNATs to it).
 *   caller  a container on the app network that uses the service's VIP.
 *   client  outside: reaches the published port on the node's address.
 * All traffic stays inside these namespaces; `after` deletes them (and with them every rule).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freeSubnet24 } from './harness.js';
import type { NodeView, ServiceEndpoints } from '../../src/swarm/contracts.js';
import type { LocalEndpoints } from '../../src/networks/overlay/lb/index.js';

const BALANCER = fileURLToPath(new URL('../../src/networks/overlay/lb/index.js', import.meta.url));
const tag = `lb${randomBytes(3).toString('hex')}`;
const ns = { node: `${tag}-node`, t1: `${tag}-t1`, t2: `${tag}-t2`, caller: `${tag}-caller`, client: `${tag}-client` };

function subnets(n: number): string[] {
  const out: string[] = [];
  while (out.length < n) {
    const s = freeSubnet24();
    if (!out.includes(s)) out.push(s);
  }
  return out.map((s) => s.replace(/\.0\/24$/, ''));
}
const [ING, APP, OUT] = subnets(3) as [string, string, string];
const INGRESS = 'ingressnet';
const APPNET = 'appnet';
const VIP = `${APP}.100`;

function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}
/** Lines "-n <ns> <ip command>" or "<ip command>", run as one batch per namespace, in order of first appearance. */
function ipb(lines: string[]): void {
  const groups = new Map<string, string[]>();
  for (const l of lines) {
    const m = /^-n (\S+) (.*)$/.exec(l);
    const key = m ? m[1]! : '';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(m ? m[2]! : l);
  }
  for (const [n, cmds] of groups) sh('ip', [...(n ? ['-n', n] : []), '-batch', '-'], cmds.join('\n') + '\n');
}
const inNs = (name: string, argv: string[]) => sh('ip', ['netns', 'exec', name, ...argv]);

const servers: ChildProcess[] = [];
let balancer: ChildProcess | undefined;
let send: (msg: unknown) => Promise<void>;

const SERVER = `
const name = process.argv[1];
const udp = require('dgram').createSocket('udp4');
udp.on('message', (m, r) => udp.send(name + ' ' + r.address, r.port, r.address));
udp.bind(53, () => require('http').createServer((q, r) => r.end(name + ' ' + q.socket.remoteAddress.replace(/^::ffff:/, ''))).listen(80, () => console.log('ready')));`;

/** One datagram from a namespace (a new source port each time); the answer, or 'timeout'. */
const UDP_CLIENT = `
const s = require('dgram').createSocket('udp4');
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, 2000);
s.on('message', (m) => { console.log(m.toString()); process.exit(0); });
s.send('hi', Number(process.argv[2]), process.argv[1]);`;

function udpRequests(from: string, host: string, port: number, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const key = sh('ip', ['netns', 'exec', from, process.execPath, '-e', UDP_CLIENT, host, String(port)]).trim();
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** A child in the node namespace that keeps one balancer and runs the commands it reads from stdin. */
const DRIVER = `
import { createInterface } from 'node:readline';
const { createServiceBalancer } = await import(process.argv[1]);
const b = createServiceBalancer({ tag: process.argv[2], ingressBridge: () => 'brI' });
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  try {
    if (cmd.op === 'sync') await b.sync(cmd.view, cmd.local);
    else await b.teardown();
    console.log(JSON.stringify({ ok: true }));
  } catch (err) {
    console.log(JSON.stringify({ error: String(err && err.message || err) }));
  }
}`;

function startServer(name: string): Promise<void> {
  const p = spawn('ip', ['netns', 'exec', ns[name as keyof typeof ns], process.execPath, '-e', SERVER, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`server ${name} exited ${code}`)));
  });
}

/** (Re)starts the balancer process in the node namespace: a restarted daemon's balancer knows nothing. */
function startBalancer(): void {
  balancer?.kill('SIGKILL');
  balancer = spawn('ip', ['netns', 'exec', ns.node, process.execPath, '--input-type=module', '-e', DRIVER, BALANCER, tag], { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies = createInterface({ input: balancer.stdout! });
  const waiting: Array<(line: string) => void> = [];
  replies.on('line', (line) => waiting.shift()?.(line));
  send = (msg) =>
    new Promise((resolve, reject) => {
      waiting.push((line) => {
        const r = JSON.parse(line) as { ok?: boolean; error?: string };
        if (r.ok) resolve();
        else reject(new Error(r.error));
      });
      balancer!.stdin!.write(JSON.stringify(msg) + '\n');
    });
}

before(async () => {
  for (const n of Object.values(ns)) sh('ip', ['netns', 'add', n]);
  const N = ns.node;
  ipb([
    `-n ${N} link set lo up`,
    `-n ${N} link add brI type bridge`,
    `-n ${N} link add brA type bridge`,
    `-n ${N} addr add ${ING}.2/24 dev brI`,
    `-n ${N} addr add ${APP}.2/24 dev brA`,
    `-n ${N} link set brI up`,
    `-n ${N} link set brA up`,
    `-n ${N} link add out0 type veth peer name eth0 netns ${ns.client}`,
    `-n ${N} addr add ${OUT}.1/24 dev out0`,
    `-n ${N} link set out0 up`,
    `-n ${ns.client} link set lo up`,
    `-n ${ns.client} addr add ${OUT}.2/24 dev eth0`,
    `-n ${ns.client} link set eth0 up`,
    `-n ${ns.client} route add default via ${OUT}.1`,
  ]);
  const links: string[] = [];
  const config: string[] = [...[ns.t1, ns.t2, ns.caller].map((t) => `-n ${t} link set lo up`)];
  const attach = (task: string, bridge: string, ifname: string, addr: string, i: number) => {
    links.push(`-n ${N} link add v${i}${ifname} master ${bridge} up type veth peer name ${ifname} netns ${task}`);
    config.push(`-n ${task} addr add ${addr}/24 dev ${ifname}`, `-n ${task} link set ${ifname} up`);
  };
  attach(ns.t1, 'brI', 'eth0', `${ING}.11`, 1);
  attach(ns.t1, 'brA', 'eth1', `${APP}.11`, 1);
  attach(ns.t2, 'brI', 'eth0', `${ING}.12`, 2);
  attach(ns.t2, 'brA', 'eth1', `${APP}.12`, 2);
  attach(ns.caller, 'brA', 'eth0', `${APP}.13`, 3);
  // As on a swarm node: no default route through an overlay; the balancer routes the tasks' mesh answers.
  ipb(links);
  ipb(config);
  await Promise.all([startServer('t1'), startServer('t2')]);

  startBalancer();
});

after(() => {
  balancer?.kill('SIGKILL');
  for (const s of servers) s.kill('SIGKILL');
  // Deleting the namespaces takes their links, bridges and rules with them.
  for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n]);
});

function viewWith(tasks: Array<'t1' | 't2'>): NodeView {
  const addr = { t1: 11, t2: 12 };
  const web: ServiceEndpoints = {
    ServiceID: 'websvc',
    Name: 'web',
    Mode: 'vip',
    Ports: [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
      { Protocol: 'udp', TargetPort: 53, PublishedPort: 30053, PublishMode: 'ingress' },
    ],
    VirtualIPs: [
      { NetworkID: INGRESS, Addr: `${ING}.100/24` },
      { NetworkID: APPNET, Addr: `${VIP}/24` },
    ],
    Aliases: {},
    Tasks: tasks.map((t) => ({
      ID: t,
      NodeID: t === 't1' ? 'node1' : 'node2',
      Addresses: [
        { NetworkID: INGRESS, Addr: `${ING}.${addr[t]}/24` },
        { NetworkID: APPNET, Addr: `${APP}.${addr[t]}/24` },
      ],
    })),
  };
  const net = (ID: string, prefix: string) => ({
    ID,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: ID },
    DriverState: { Name: 'overlay', Options: {} },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: `${prefix}.0/24`, Gateway: `${prefix}.1` }] },
  });
  return { nodeId: 'node1', tasks: [], networks: [net(INGRESS, ING), net(APPNET, APP)], nodes: [], endpoints: [web], ingress: { NetworkID: INGRESS, Address: `${ING}.2/24` } };
}

const endpoint = (containerId: string, name: string, networkId: string, address: string, ifname: string) => ({ containerId, networkId, address, ifname, netnsPath: `/run/netns/${name}` });
const local: LocalEndpoints = [
  endpoint('t1', ns.t1, INGRESS, `${ING}.11`, 'eth0'),
  endpoint('t1', ns.t1, APPNET, `${APP}.11`, 'eth1'),
  endpoint('t2', ns.t2, INGRESS, `${ING}.12`, 'eth0'),
  endpoint('t2', ns.t2, APPNET, `${APP}.12`, 'eth1'),
  endpoint('caller', ns.caller, APPNET, `${APP}.13`, 'eth0'),
];

/** `n` new connections from a namespace; the answers ("t1 <client addr>") counted; refused ones as "refused". */
function requests(from: string, url: string, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = spawnSync('ip', ['netns', 'exec', from, 'curl', '-s', '--max-time', '3', url], { encoding: 'utf8' });
    const key = r.status === 0 ? r.stdout.trim() : r.status === 7 ? 'refused' : `curl exit ${r.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

test('VIP and routing mesh spread over both tasks; a local task sees the client; rules follow the tasks; nothing left', async () => {
  await send({ op: 'sync', view: viewWith(['t1', 't2']), local });

  // The VIP from a container on the app network: both tasks answer, each seeing the caller itself.
  const vip = requests(ns.caller, `http://${VIP}/`, 24);
  assert.deepEqual([...vip.keys()].sort(), [`t1 ${APP}.13`, `t2 ${APP}.13`], JSON.stringify([...vip]));
  // The caller's namespace holds only our tables' rules.
  assert.match(inNs(ns.caller, ['iptables-save', '-t', 'nat']), /-A OUTPUT -j BERTH-VIP/);

  // t2 is "on another node": there, that node's balancer routes its answers through that node's
  // ingress address (.3 here, which nobody has): answers to this node's SNAT address stay on-link.
  inNs(ns.t2, ['ip', 'route', 'replace', 'default', 'via', `${ING}.3`, 'dev', 'eth0', 'table', '4411']);

  // The published port on the node's outside address: t1 (this node) sees the client's real address,
  // t2 ("another node") sees the node's ingress address.
  const mesh = requests(ns.client, `http://${OUT}.1:8080/`, 24);
  assert.deepEqual([...mesh.keys()].sort(), [`t1 ${OUT}.2`, `t2 ${ING}.2`], JSON.stringify([...mesh]));
  // UDP: each new flow (source port) goes to one task; UDP is SNATed to local tasks too.
  const udp = udpRequests(ns.client, `${OUT}.1`, 30053, 16);
  assert.deepEqual([...udp.keys()].sort(), [`t1 ${ING}.2`, `t2 ${ING}.2`], JSON.stringify([...udp]));

  // The node itself, on its loopback address (the tasks see the node's ingress address).
  const loop = requests(ns.node, 'http://127.0.0.1:8080/', 12);
  assert.deepEqual([...loop.keys()].sort(), [`t1 ${ING}.2`, `t2 ${ING}.2`], JSON.stringify([...loop]));
  assert.match(inNs(ns.t1, ['ip', 'rule']), new RegExp(`from ${ING}\\.11 lookup 4411`));

  // t2 goes: the rules are swapped, everything goes to t1.
  await send({ op: 'sync', view: viewWith(['t1']), local });
  assert.deepEqual([...requests(ns.caller, `http://${VIP}/`, 6).keys()], [`t1 ${APP}.13`]);
  assert.deepEqual([...requests(ns.client, `http://${OUT}.1:8080/`, 6).keys()], [`t1 ${OUT}.2`]);

  // No task: the VIP refuses at once; the published port reaches the node, where nothing listens.
  await send({ op: 'sync', view: viewWith([]), local });
  assert.deepEqual([...requests(ns.caller, `http://${VIP}/`, 2)], [['refused', 2]]);
  assert.deepEqual([...requests(ns.client, `http://${OUT}.1:8080/`, 2)], [['refused', 2]]);

  // A restarted balancer whose first view has no service and no ingress: what the old one left in the
  // containers' namespaces and in the node goes.
  startBalancer();
  await send({ op: 'sync', view: { ...viewWith([]), endpoints: [], ingress: undefined }, local });
  assert.doesNotMatch(inNs(ns.caller, ['iptables-save', '-t', 'filter']), /BERTH/);
  assert.doesNotMatch(inNs(ns.t1, ['ip', 'rule']), /4411/);
  assert.doesNotMatch(inNs(ns.node, ['iptables-save', '-t', 'nat']), /BERTH/);

  // Back to two tasks (a stale per-port chain would make restore fail or misroute), then teardown.
  await send({ op: 'sync', view: viewWith(['t1', 't2']), local });
  assert.equal(requests(ns.client, `http://${OUT}.1:8080/`, 12).size, 2);
  await send({ op: 'teardown' });
  for (const table of ['nat', 'filter']) {
    assert.doesNotMatch(inNs(ns.node, ['iptables-save', '-t', table]), /BERTH/, `node ${table}`);
    for (const t of [ns.t1, ns.t2, ns.caller]) assert.doesNotMatch(inNs(t, ['iptables-save', '-t', table]), /BERTH/, `${t} ${table}`);
  }
  assert.doesNotMatch(inNs(ns.t1, ['ip', 'rule']), /4411/);
  // Without rules the VIP is nobody's address, and the published port is closed.
  assert.deepEqual([...requests(ns.client, `http://${OUT}.1:8080/`, 1)], [['refused', 1]]);
});
