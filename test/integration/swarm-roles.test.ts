// Promote/demote with etcd membership and `swarm ca --rotate`, through the docker CLI on a devcluster of 4
// (2 managers, a worker, a 4th node that joins after the rotation), with a service running throughout.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { down, killNode, readCluster, restartNode, up, type DevCluster, type DevNode } from '../../src/swarm/devcluster/devcluster.js';
import { formSwarm, seedImages } from '../../src/swarm/devcluster/swarm-setup.js';
import { DOCKER, run } from './harness.js';
import { isSignedBy, splitPems } from '../../src/swarm/ca/index.js';
import { dk, eventually } from './swarm-helpers.js';

/** The pids of the etcd processes whose command line names the node's directory. */
function etcdOf(n: DevNode): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes('etcd') && cmd.includes(`${n.dir}/`)) pids.push(Number(e));
    } catch {
      // gone
    }
  }
  return pids;
}

const runningTasks = async (m: DevNode, service: string) =>
  (await dk(m, ['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.CurrentState}}'])).split('\n').filter((l) => l.startsWith('Running')).length;

const runningTaskIds = async (m: DevNode, service: string) =>
  (await dk(m, ['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.ID}} {{.CurrentState}}'])).split('\n').filter((l) => / Running/.test(l)).map((l) => l.split(' ')[0]!).sort();

describe('swarm roles and root rotation', { timeout: 300_000 }, () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'berth-swarm-roles-')), 'c');
  let cluster: DevCluster;
  let m1: DevNode, m2: DevNode, w: DevNode, late: DevNode;
  let ids: Record<string, string>;

  before(async () => {
    cluster = await up(root, 4);
    [m1, m2, w, late] = cluster.nodes as [DevNode, DevNode, DevNode, DevNode];
    await seedImages(cluster);
    ids = await formSwarm({ ...cluster, nodes: [m1, m2, w] }, { managers: 2 });
    await dk(m1, ['service', 'create', '--detach', '--name', 'keep', '--replicas', '3', 'busybox', 'sleep', '100000']);
    await eventually('keep running', async () => (await runningTasks(m1, 'keep')) === 3, 60_000);
  });

  after(async () => {
    const keep = process.env.SWARM_ROLES_KEEP_LOGS;
    if (keep) for (const n of cluster?.nodes ?? []) cpSync(path.join(n.dir, 'berthd.log'), path.join(keep, `${n.name}.log`), { force: true });
    if (await readCluster(root)) await down(root);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  const controlAvailable = async (n: DevNode) => (await dk(n, ['info', '--format', '{{.Swarm.ControlAvailable}}'])).trim() === 'true';

  test('promote a worker: it runs an etcd member and serves the API; demote: back to a worker', async () => {
    assert.equal(etcdOf(w).length, 0);
    await dk(m1, ['node', 'promote', ids[w.name]!]);
    await eventually('the promoted node serves manager calls', async () => (await controlAvailable(w)) && (await dk(w, ['node', 'ls', '-q'])).trim().split('\n').length === 3, 30_000);
    assert.equal(etcdOf(w).length, 1);
    const status = await eventually('reachable', async () => {
      const s = (await dk(m2, ['node', 'inspect', '-f', '{{.ManagerStatus.Reachability}}', ids[w.name]!])).trim();
      return s === 'reachable' && s;
    });
    assert.equal(status, 'reachable');

    await dk(m2, ['node', 'demote', ids[w.name]!]);
    await eventually('the demoted node is a worker again', async () => !(await controlAvailable(w)) && etcdOf(w).length === 0, 30_000);
    const r = await run(DOCKER, ['node', 'ls'], { DOCKER_HOST: `unix://${w.socket}` });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not a swarm manager/);
    assert.equal((await dk(m1, ['node', 'inspect', '-f', '{{.Spec.Role}}', ids[w.name]!])).trim(), 'worker');
    await eventually('keep running after the role changes', async () => (await runningTasks(m1, 'keep')) === 3, 30_000);
  });

  test('promoted again, the cluster survives kill -9 of an original manager (berthd and etcd)', async () => {
    await dk(m1, ['node', 'promote', ids[w.name]!]);
    await eventually('promoted', async () => (await controlAvailable(w)) && etcdOf(w).length === 1, 30_000);
    await killNode(cluster, m1.name);
    try {
      for (const pid of etcdOf(m1)) process.kill(pid, 'SIGKILL');
      await eventually('a write on the promoted node', async () => (await run(DOCKER, ['service', 'create', '--detach', '--name', 'after-kill', 'busybox', 'sleep', '100000'], { DOCKER_HOST: `unix://${w.socket}` })).code === 0, 20_000);
      await dk(m2, ['service', 'rm', 'after-kill']);
    } finally {
      await restartNode(cluster, m1.name);
    }
    await eventually('m1 back', async () => controlAvailable(m1), 30_000);
  });

  test('swarm ca --rotate completes while a service runs; node certificates follow; a node joins after', async () => {
    await eventually('keep running after the kill', async () => (await runningTasks(m2, 'keep')) === 3, 60_000);
    const tasksBefore = await runningTaskIds(m2, 'keep');
    const before_ = JSON.parse(await dk(m2, ['node', 'inspect', '-f', '{{json .Description.TLSInfo}}', ids[w.name]!])) as { CertIssuerPublicKey: string; TrustRoot: string };
    const oldRoot = (await dk(m2, ['swarm', 'ca'])).trim();
    assert.equal(oldRoot, before_.TrustRoot.trim());
    // The CLI waits until the rotation converges: bounded, so a rotation that never ends fails here.
    const r = await run('timeout', ['60', DOCKER, 'swarm', 'ca', '--rotate'], { DOCKER_HOST: `unix://${m2.socket}` });
    assert.equal(r.code, 0, `swarm ca --rotate: ${r.stderr}`);
    const out = r.stdout;
    const newRoot = out.slice(out.indexOf('-----BEGIN CERTIFICATE-----')).trim();
    assert.notEqual(newRoot, oldRoot);
    assert.equal((await dk(m1, ['info', '--format', '{{.Swarm.Cluster.RootRotationInProgress}}'])).trim(), 'false');
    for (const n of [m1, m2, w]) {
      const t = JSON.parse(await dk(m1, ['node', 'inspect', '-f', '{{json .Description.TLSInfo}}', ids[n.name]!])) as { CertIssuerPublicKey: string; TrustRoot: string };
      assert.notEqual(t.CertIssuerPublicKey, before_.CertIssuerPublicKey, `${n.name} has a certificate of the new root`);
      assert.equal(t.TrustRoot.trim(), newRoot);
    }
    // On disk: each node's certificate is of the new root, and (once the rotation finished) it trusts only the new root.
    for (const n of [m1, m2, w]) {
      await eventually(`${n.name} trusts only the new root`, async () => readFileSync(path.join(n.dir, 'data/swarm/certificates/ca.crt'), 'utf8').trim() === newRoot, 10_000);
      const chain = splitPems(readFileSync(path.join(n.dir, 'data/swarm/certificates/node.crt'), 'utf8'));
      assert.ok(isSignedBy(chain[0]!, newRoot), `${n.name}'s certificate is signed by the new root`);
    }
    assert.deepEqual(await runningTaskIds(m2, 'keep'), tasksBefore, 'the same tasks run throughout the rotation');
    // A manager restarted after the rotation comes back on the new certificates (etcd and control plane).
    await restartNode(cluster, m1.name);
    await eventually('m1 back after the rotation', async () => controlAvailable(m1), 30_000);
    // The control plane still works with the new certificates: a worker's view and a manager write.
    await eventually('a write on the restarted manager', async () => (await dk(m1, ['service', 'scale', '--detach', 'keep=4'])) !== undefined, 20_000);
    await eventually('keep scaled', async () => (await runningTasks(m2, 'keep')) === 4, 60_000);

    const token = (await dk(m1, ['swarm', 'join-token', '-q', 'worker'])).trim();
    await dk(late, ['swarm', 'join', '--token', token, '--advertise-addr', late.address, '--listen-addr', `${late.address}:2377`, `${m2.address}:2377`]);
    const lateId = (await dk(late, ['info', '--format', '{{.Swarm.NodeID}}'])).trim();
    await eventually('the late node is ready', async () => (await dk(m1, ['node', 'inspect', '-f', '{{.Status.State}}', lateId])).trim() === 'ready', 30_000);
  });
});
