// Overlays across two nodes of a devcluster (each node a network namespace): a stand-in node process in
// each namespace (swarm-overlay-node.ts: the real NetworkService and overlay ClusterNetworking) syncs
// NodeViews; containers' sandboxes on node 1 and node 2 reach each other over VXLAN, the forwarding
// entries follow the view, and teardown leaves nothing.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { down, readCluster, up, type DevCluster } from '../../src/swarm/devcluster/devcluster.js';
import { removeNetworkLeftovers } from '../../src/networks/cleanup.js';
import type { NodeView } from '../../src/swarm/contracts.js';
import type { ClusterNetwork, Task } from '../../src/swarm/types.js';

const NODE_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'swarm-overlay-node.js');
const APP = `app${randomBytes(11).toString('hex')}`; // 25 characters
const ING = `ing${randomBytes(11).toString('hex')}`;
// The view's DataPathPort (the stand-in nodes are given PORT + 1 as their fallback: the view's wins).
const PORT = 20000 + Math.floor(Math.random() * 20000); // never 4789 (a real dockerd may use it)

class Node {
  private readonly replies: Array<(msg: { ok: boolean; result?: unknown; error?: string }) => void> = [];
  readonly ready: Promise<void>;
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    let readyResolve!: () => void;
    this.ready = new Promise((r) => (readyResolve = r));
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; ok: boolean };
      if (msg.ready) readyResolve();
      else this.replies.shift()?.(msg);
    });
    proc.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  }
  call<T = unknown>(cmd: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.replies.push((m) => (m.ok ? resolve(m.result as T) : reject(new Error(m.error))));
      this.proc.stdin.write(JSON.stringify(cmd) + '\n');
    });
  }
}

function clusterNet(id: string, name: string, vni: number, subnet: string, o: { attachable?: boolean; ingress?: boolean } = {}): ClusterNetwork {
  const now = new Date().toISOString();
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: now,
    UpdatedAt: now,
    Spec: { Name: name, Attachable: o.attachable, Ingress: o.ingress, DriverConfiguration: { Name: 'overlay' }, Scope: 'swarm' },
    DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(vni) } },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: subnet, Gateway: subnet.replace(/0\/24$/, '1') }] },
  };
}

const sh = (args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
const linksIn = (netns: string) => (JSON.parse(sh(['ip', '-n', netns, '-j', 'link', 'show']).stdout || '[]') as Array<{ ifname: string; mtu: number }>);
/** The device's entries with a destination that were set (not learned from traffic). */
const fdbIn = (netns: string, dev: string) => sh(['bridge', '-n', netns, 'fdb', 'show', 'dev', dev]).stdout.split('\n').filter((l) => / dst .* permanent/.test(l)).join('\n');
function pings(fromNetns: string, ip: string): boolean {
  for (let i = 0; i < 3; i++) if (sh(['ip', 'netns', 'exec', fromNetns, 'busybox', 'ping', '-c', '1', '-W', '2', ip]).status === 0) return true;
  return false;
}
const netnsList = () => sh(['ip', 'netns', 'list']).stdout;

describe('overlay networks across two nodes', () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'berth-overlay-')), 'c');
  const tags = [`ovt${randomBytes(3).toString('hex')}a`, `ovt${randomBytes(3).toString('hex')}b`];
  let cluster: DevCluster;
  const nodes: Node[] = [];
  const views: NodeView[] = [];
  const sandboxes: Record<string, string> = {};
  const containerIds: string[] = [];

  before(async () => {
    cluster = await up(root, 2);
    for (const [i, n] of cluster.nodes.entries()) {
      const proc = spawn('nsenter', [`--net=/run/netns/${n.netns}`, process.execPath, NODE_SCRIPT, n.dir, tags[i]!, String(PORT + 1)], { stdio: ['pipe', 'pipe', 'pipe'] });
      const node = new Node(proc);
      nodes.push(node);
      await node.ready;
    }
    const networks = [clusterNet(APP, 'appnet', 4097, '10.0.9.0/24', { attachable: true }), clusterNet(ING, 'ingress', 4096, '10.0.8.0/24', { ingress: true })];
    const nodeList = cluster.nodes.map((n, i) => ({ ID: `node${i + 1}`, Addr: n.address, State: 'ready' as const }));
    const endpoints: NodeView['endpoints'] = [
      {
        ServiceID: 'svc1',
        Name: 'web',
        Mode: 'vip',
        Ports: [],
        VirtualIPs: [{ NetworkID: APP, Addr: '10.0.9.2/24' }],
        Aliases: {},
        Tasks: [
          { ID: 'task1', Slot: 1, NodeID: 'node1', Addresses: [{ NetworkID: APP, Addr: '10.0.9.3/24' }] },
          { ID: 'task2', Slot: 2, NodeID: 'node2', Addresses: [{ NetworkID: APP, Addr: '10.0.9.4/24' }] },
        ],
      },
    ];
    const task = (id: string, addr: string) => ({ ID: id, ServiceID: 'svc1', DesiredState: 'running', NetworksAttachments: [{ Network: networks[0]!, Addresses: [addr] }] }) as unknown as Task;
    const tasks = [[task('task1', '10.0.9.3/24')], [task('task2', '10.0.9.4/24')]];
    for (let i = 0; i < 2; i++) views.push({ nodeId: `node${i + 1}`, dataPathPort: PORT, tasks: tasks[i]!, networks, nodes: nodeList, endpoints, ingress: { NetworkID: ING, Address: `10.0.8.${2 + i}` } });
  });

  after(async () => {
    for (const n of nodes) {
      await Promise.race([n.call({ op: 'exit' }).catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
      n.proc.kill('SIGKILL');
    }
    if (await readCluster(root)) await down(root);
    for (const t of tags) await removeNetworkLeftovers(t);
    rmSync(path.dirname(root), { recursive: true, force: true });
    for (const t of tags) assert.doesNotMatch(netnsList(), new RegExp(`^${t}-`, 'm'), 'a sandbox namespace is left');
  });

  test('sync makes the twin, the bridge and the VXLAN device with its peers on each node', async () => {
    for (const [i, n] of nodes.entries()) await n.call({ op: 'sync', view: views[i] });
    const [a, b] = cluster.nodes as [DevCluster['nodes'][0], DevCluster['nodes'][0]];
    const vx = `vx-001001-${APP.slice(0, 5)}`;
    const br = `ov-${APP.slice(0, 12)}`;
    const links = linksIn(a.netns);
    assert.equal(links.find((l) => l.ifname === vx)?.mtu, 1450);
    assert.equal(links.find((l) => l.ifname === br)?.mtu, 1450);
    const details = sh(['ip', '-n', a.netns, '-d', 'link', 'show', 'dev', vx]).stdout;
    assert.match(details, new RegExp(`vxlan id 4097 local ${a.address.replace(/\./g, '\\.')} .*dstport ${PORT}`));
    assert.match(details, new RegExp(`master ${br}`));
    const fdb = fdbIn(a.netns, vx);
    assert.match(fdb, new RegExp(`00:00:00:00:00:00 dst ${b.address.replace(/\./g, '\\.')} self permanent`));
    assert.match(fdb, new RegExp(`02:42:0a:00:09:04 dst ${b.address.replace(/\./g, '\\.')} self permanent`));
    assert.doesNotMatch(fdb, /02:42:0a:00:09:03/, 'no entry for the local task');
    // The twin as `network ls` and inspect show it; the cluster network is known locally by its ID.
    const list = await nodes[0]!.call<Array<Record<string, unknown>>>({ op: 'networks' });
    const twin = list.find((n) => n.Id === APP)!;
    assert.equal(twin.Name, 'appnet');
    assert.equal(twin.Driver, 'overlay');
    assert.equal(twin.Scope, 'swarm');
    assert.equal((list.find((n) => n.Id === ING) as { Ingress: boolean }).Ingress, true);
    assert.equal(await nodes[0]!.call({ op: 'localNetwork', id: APP }), APP);
    assert.equal(await nodes[0]!.call({ op: 'localNetwork', id: 'nope' }), null);
    // Only the ingress bridge has an address: the node's own ingress address.
    assert.match(sh(['ip', '-n', a.netns, '-4', 'addr', 'show', 'dev', `ov-${ING.slice(0, 12)}`]).stdout, /inet 10\.0\.8\.2\/24/);
    assert.doesNotMatch(sh(['ip', '-n', a.netns, '-4', 'addr', 'show', 'dev', br]).stdout, /inet /);
    // Idempotent: a second sync changes nothing and does not fail.
    await nodes[0]!.call({ op: 'sync', view: views[0] });
    assert.equal(fdbIn(a.netns, vx), fdb);
  });

  test('a task container on node 1 pings a task container on node 2 over the overlay', async () => {
    const c1 = randomBytes(32).toString('hex');
    const c2 = randomBytes(32).toString('hex');
    const r1 = await nodes[0]!.call<{ netns: string; view: Record<string, { MacAddress: string; Gateway: string }> }>({ op: 'run', id: c1, name: 'web.1.task1', network: APP, ip: '10.0.9.3', task: 'task1' });
    const r2 = await nodes[1]!.call<{ netns: string }>({ op: 'run', id: c2, name: 'web.2.task2', network: APP, ip: '10.0.9.4', task: 'task2' });
    containerIds.push(c1, c2);
    sandboxes.c1 = r1.netns;
    sandboxes.c2 = r2.netns;
    assert.equal(r1.view.appnet!.MacAddress, '02:42:0a:00:09:03');
    assert.equal(r1.view.appnet!.Gateway, '', 'no gateway through the node on an overlay');
    assert.match(sh(['ip', '-n', r1.netns, 'link', 'show', 'eth0']).stdout, /mtu 1450/);
    // The balancer got the new container at once (a network connect event), not at the next view.
    let balanced: { local: unknown[] } = { local: [] };
    for (let i = 0; i < 40 && !balanced.local.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      balanced = await nodes[0]!.call({ op: 'balanced' });
    }
    assert.deepEqual(balanced.local, [{ containerId: c1, taskId: 'task1', networkId: APP, address: '10.0.9.3', ifname: 'eth0', netnsPath: `/run/netns/${r1.netns}` }]);
    assert.ok(pings(r1.netns, '10.0.9.4'), 'node1 -> node2 over VXLAN');
    assert.ok(pings(r2.netns, '10.0.9.3'), 'node2 -> node1 over VXLAN');
    // The nodes reach each other's ingress addresses over the ingress overlay (the routing mesh's path).
    assert.ok(pings(cluster.nodes[0]!.netns, '10.0.8.3'));
  });

  test('attachable overlays: plain containers need --ip; a non-attachable network refuses them', async () => {
    await assert.rejects(nodes[1]!.call({ op: 'run', id: randomBytes(32).toString('hex'), name: 'plain0', network: APP }), /needs its address there given with --ip/);
    await assert.rejects(nodes[1]!.call({ op: 'run', id: randomBytes(32).toString('hex'), name: 'plain1', network: ING, ip: '10.0.8.50' }), /Could not attach to network ingress: rpc error: code = PermissionDenied desc = network ingress not manually attachable/);
    const c3 = randomBytes(32).toString('hex');
    const r3 = await nodes[1]!.call<{ netns: string }>({ op: 'run', id: c3, name: 'plain2', network: APP, ip: '10.0.9.20' });
    sandboxes.c3 = r3.netns;
    // In no view: reached through flooding and learning.
    assert.ok(pings(sandboxes.c1!, '10.0.9.20'));
    await nodes[1]!.call({ op: 'stop', id: c3 });
  });

  test('the forwarding entries follow the view: a task or node gone takes its entries with it', async () => {
    const a = cluster.nodes[0]!;
    const vx = `vx-001001-${APP.slice(0, 5)}`;
    const v: NodeView = { ...views[0]!, endpoints: [{ ...views[0]!.endpoints[0]!, Tasks: views[0]!.endpoints[0]!.Tasks.filter((t) => t.ID !== 'task2') }] };
    await nodes[0]!.call({ op: 'sync', view: v });
    assert.doesNotMatch(fdbIn(a.netns, vx), /02:42:0a:00:09:04 dst/);
    assert.match(fdbIn(a.netns, vx), /00:00:00:00:00:00 dst/);
    await nodes[0]!.call({ op: 'sync', view: { ...v, nodes: v.nodes.filter((n) => n.ID === 'node1') } });
    assert.doesNotMatch(fdbIn(a.netns, vx), /00:00:00:00:00:00 dst/);
    // A network gone from the cluster goes from the node (no container is on the ingress network).
    await nodes[0]!.call({ op: 'sync', view: { ...views[0]!, networks: views[0]!.networks.filter((n) => n.ID !== ING), ingress: undefined } });
    assert.ok(!linksIn(a.netns).some((l) => l.ifname === `ov-${ING.slice(0, 12)}` || l.ifname === `vx-001000-${ING.slice(0, 5)}`));
    assert.equal(await nodes[0]!.call({ op: 'localNetwork', id: ING }), null);
  });

  test('teardown removes every device, entry and twin once no container is on them', async () => {
    for (const [i, n] of nodes.entries()) {
      // While the swarm keeps it, a twin is not removed locally.
      await assert.rejects(n.call({ op: 'rm', id: APP }), /appnet is a swarm network: remove it on a swarm manager/);
      // With a container still on it, the twin and bridge stay, but the node is cut from its peers.
      await n.call({ op: 'teardown' });
      const netns = cluster.nodes[i]!.netns;
      assert.ok(linksIn(netns).some((l) => l.ifname === `ov-${APP.slice(0, 12)}`));
      assert.ok(!linksIn(netns).some((l) => l.ifname.startsWith('vx-')));
      assert.ok((await n.call<Array<{ Id: string }>>({ op: 'networks' })).some((x) => x.Id === APP));
      await n.call({ op: 'stop', id: containerIds[i] });
      if (i === 0) {
        await n.call({ op: 'teardown' });
        assert.equal((await n.call<{ teardowns: number }>({ op: 'balanced' })).teardowns, 2);
      } else {
        // Out of the swarm, a twin left behind is the user's to remove.
        await n.call({ op: 'rm', id: 'appnet' });
      }
      assert.deepEqual(linksIn(netns).filter((l) => /^(ov|vx)-/.test(l.ifname)), []);
      assert.deepEqual((await n.call<Array<{ Driver: string }>>({ op: 'networks' })).filter((x) => x.Driver === 'overlay'), []);
    }
    for (const ns of Object.values(sandboxes)) assert.doesNotMatch(netnsList(), new RegExp(`^${ns}\\b`, 'm'));
  });
});
