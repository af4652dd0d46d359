// The local cluster tool (scripts/cluster): nodes in network namespaces on a bridge, each with its
// own berthd, and nothing left once it is down.
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { down, list, readCluster, up, type DevCluster } from '../../src/swarm/devcluster/devcluster.js';
import { processAlive } from '../../src/lib/process.js';
import { makeBusyboxImage } from '../../src/tools/make-busybox-image.js';
import { BERTH } from './harness.js';

function ping(socket: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath: socket, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

const netnsNames = () => (spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '').split('\n').map((l) => l.split(' ')[0]);
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

describe('scripts/cluster: a local cluster of berthd nodes', () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'berth-devcluster-')), 'c');
  let cluster: DevCluster | undefined;

  after(async () => {
    // Whatever happened above: down, then check it really is all gone.
    const c = cluster ?? (await readCluster(root));
    if (await readCluster(root)) await down(root);
    rmSync(path.dirname(root), { recursive: true, force: true });
    if (c) {
      for (const n of c.nodes) {
        if (n.pid) assert.equal(processAlive(n.pid), false, `berthd ${n.pid} still alive`);
        assert.ok(!netnsNames().includes(n.netns), `netns ${n.netns} left`);
        assert.ok(!linkExists(n.hostVeth), `veth ${n.hostVeth} left`);
      }
      assert.ok(!linkExists(c.bridge), `bridge ${c.bridge} left`);
    }
  });

  test('up 2: each node answers on its socket and reaches the other over the bridge', async () => {
    cluster = await up(root, 2);
    assert.equal(cluster.nodes.length, 2);
    assert.ok(!cluster.subnet.startsWith('172.17.'));
    for (const n of cluster.nodes) assert.equal(await ping(n.socket), 200);
    const [a, b] = cluster.nodes as [DevCluster['nodes'][0], DevCluster['nodes'][0]];
    // Each berthd really is in its namespace: it sees the node's eth0 with the node's address.
    const addr = execFileSync('ip', ['-n', a.netns, '-br', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' });
    assert.match(addr, new RegExp(`${a.address.replace(/\./g, '\\.')}/24`));
    assert.ok(readFileSync(`/proc/${a.pid}/cmdline`, 'utf8').includes(a.socket));
    assert.notEqual(readlinkSync(`/proc/${a.pid}/ns/net`), readlinkSync('/proc/self/ns/net'));
    assert.notEqual(readlinkSync(`/proc/${a.pid}/ns/net`), readlinkSync(`/proc/${b.pid}/ns/net`));
    const r = spawnSync('ip', ['netns', 'exec', a.netns, 'busybox', 'ping', '-c', '1', '-W', '3', b.address], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const lines = await list(root);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, new RegExp(`^node1\\t${a.address.replace(/\./g, '\\.')}\\tunix://${a.socket}\\t${a.pid}\\tready$`));
    await assert.rejects(up(root, 1), /already up/);
  });

  let containerPid = 0;
  test('a node runs containers; then its berthd dies with kill -9, leaving one running', async () => {
    const a = cluster!.nodes[0]!;
    const host = `unix://${a.socket}`;
    await makeBusyboxImage(host);
    const berth = (...args: string[]) => execFileSync(BERTH, args, { env: { ...process.env, BERTH_HOST: host }, encoding: 'utf8', timeout: 60_000 }).trim();
    // A container on node1 reaches node2 over the cluster bridge (through node1's own NAT).
    assert.match(berth('run', '--rm', 'busybox', 'ping', '-c', '1', '-W', '3', cluster!.nodes[1]!.address), /1 packets received/);
    const id = berth('run', '-d', 'busybox', 'sleep', '600');
    containerPid = Number(berth('inspect', '-f', '{{.State.Pid}}', id));
    assert.ok(containerPid > 0 && processAlive(containerPid));
    process.kill(a.pid!, 'SIGKILL');
  });

  test('down removes every process, namespace, link and directory', async () => {
    const c = cluster!;
    await down(root);
    for (const n of c.nodes) {
      assert.equal(processAlive(n.pid!), false);
      assert.ok(!netnsNames().includes(n.netns));
    }
    assert.ok(!linkExists(c.bridge));
    assert.equal(existsSync(root), false);
    assert.ok(containerPid > 0 && !processAlive(containerPid), 'the container the dead berthd left is gone');
    for (const n of c.nodes) assert.deepEqual(netnsNames().filter((name) => name.startsWith(`${n.containerBridge}-`)), []);
    assert.equal(readFileSync('/proc/self/mounts', 'utf8').includes(`${root}/`), false);
    await assert.rejects(down(root), /no cluster/);
  });

  test('an up that fails half-way (node2 cannot be made) leaves nothing behind', async () => {
    const tag = createHash('sha256').update(root).digest('hex').slice(0, 6);
    const blocker = `bdc-${tag}-2`;
    execFileSync('ip', ['netns', 'add', blocker]);
    try {
      await assert.rejects(up(root, 2), /File exists|exists/);
      assert.equal(await readCluster(root), undefined);
      assert.equal(existsSync(root), false);
      assert.ok(!netnsNames().includes(`bdc-${tag}-1`));
      assert.ok(!linkExists(`bdc${tag}`));
      assert.ok(!linkExists(`bdc${tag}v1`));
      const berthds = spawnSync('pgrep', ['-f', `${root}/node`], { encoding: 'utf8' }).stdout.trim();
      assert.equal(berthds, '', 'no berthd of the failed cluster runs');
    } finally {
      spawnSync('ip', ['netns', 'del', blocker]);
    }
  });
});
