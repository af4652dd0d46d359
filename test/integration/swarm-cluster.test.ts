// Issue 15's scenarios on a 4-node devcluster (3 managers, 1 worker), through the docker CLI as a user
// types them: nodes, replicated and global services, constraints, drain, rolling update and rollback,
// the routing mesh from every node, VIP and dnsrr service discovery, leave.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { down, readCluster, up, type DevCluster, type DevNode } from '../../src/swarm/devcluster/devcluster.js';
import { formSwarm, seedImages } from '../../src/swarm/devcluster/swarm-setup.js';
import { DOCKER, run } from './harness.js';
import { dk, eventually, httpGet, WEB } from './swarm-helpers.js';

/** Running tasks of a service: node name -> count. */
async function placement(m: DevNode, service: string): Promise<Map<string, number>> {
  const out = await dk(m, ['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}']);
  const map = new Map<string, number>();
  for (const line of out.trim().split('\n').filter(Boolean)) {
    const [node, state] = line.split(' ');
    if (state === 'Running') map.set(node!, (map.get(node!) ?? 0) + 1);
  }
  return map;
}
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe('swarm mode on a 4-node cluster', { timeout: 600_000 }, () => {
  const root = path.join(mkdtempSync(path.join(os.tmpdir(), 'berth-swarm-')), 'c');
  let cluster: DevCluster;
  let m1: DevNode, m2: DevNode, m3: DevNode, w1: DevNode;
  const hostnames: Record<string, string> = {};

  before(async () => {
    cluster = await up(root, 4);
    [m1, m2, m3, w1] = cluster.nodes as [DevNode, DevNode, DevNode, DevNode];
    await seedImages(cluster);
    await formSwarm(cluster, { managers: 3 });
    for (const n of cluster.nodes) hostnames[n.name] = (await dk(n, ['info', '--format', '{{.Name}}'])).trim();
  });

  after(async () => {
    if (await readCluster(root)) await down(root);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  test('node ls: three managers (one leader), one worker, all ready', async () => {
    const out = await dk(m1, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}']);
    const lines = out.trim().split('\n').sort();
    assert.equal(lines.length, 4, out);
    assert.equal(lines.filter((l) => l.endsWith(' Leader')).length, 1, out);
    assert.equal(lines.filter((l) => l.endsWith(' Reachable')).length, 2, out);
    assert.ok(lines.every((l) => l.includes(' Ready Active')), out);
    assert.equal((await dk(w1, ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'])).trim(), 'active false');
    const r = await run(DOCKER, ['node', 'ls'], { DOCKER_HOST: `unix://${w1.socket}` });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /This node is not a swarm manager/);
  });

  test('a replicated service spreads over the nodes and the routing mesh answers on every node', async () => {
    await dk(m1, ['service', 'create', '--detach', '--name', 'web', '--replicas', '4', '-p', '8080:80', 'busybox', ...WEB]);
    const where = await eventually('4 running tasks', async () => {
      const p = await placement(m1, 'web');
      return total(p) === 4 ? p : undefined;
    }, 60_000);
    assert.ok(where.size >= 3, `spread: ${JSON.stringify([...where])}`);
    // Each node's mesh follows the tasks as their states reach it: sample until the spread shows.
    for (const n of cluster.nodes) {
      await eventually(`${n.name}: requests spread over the tasks`, async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 12; i++) seen.add(await httpGet(n.address, 8080));
        return seen.size >= 2;
      }, 20_000);
    }
  });

  test('service discovery: the name resolves to a VIP, tasks.<name> to the tasks, dnsrr to the tasks', async () => {
    await dk(m1, ['network', 'create', '-d', 'overlay', '--attachable', 'appnet']);
    await dk(m1, ['service', 'create', '--detach', '--name', 'api', '--replicas', '2', '--network', 'appnet', 'busybox', ...WEB]);
    await dk(m1, ['service', 'create', '--detach', '--name', 'rr', '--replicas', '2', '--endpoint-mode', 'dnsrr', '--network', 'appnet', 'busybox', ...WEB]);
    await dk(m1, ['service', 'create', '--detach', '--name', 'client', '--network', 'appnet', '--constraint', `node.hostname==${hostnames[w1.name]}`, 'busybox', 'sleep', '100000']);
    await eventually('api, rr and client running', async () => total(await placement(m1, 'api')) === 2 && total(await placement(m1, 'rr')) === 2 && total(await placement(m1, 'client')) === 1, 60_000);
    const client = (await dk(w1, ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=client'])).trim();
    const vip = JSON.parse(await dk(m1, ['service', 'inspect', 'api', '--format', '{{json .Endpoint.VirtualIPs}}'])) as Array<{ Addr: string }>;
    const vipAddr = vip[0]!.Addr.split('/')[0]!;
    const lookup = (name: string) => dk(w1, ['exec', client, 'nslookup', name]);
    assert.match(await eventually('api resolves', () => lookup('api')), new RegExp(vipAddr.replace(/\./g, '\\.')));
    const tasksAnswer = await lookup('tasks.api');
    assert.equal((tasksAnswer.match(/Address: \d+\.\d+\.\d+\.\d+/g) ?? []).length, 2, tasksAnswer);
    const rrAnswer = await lookup('rr');
    assert.equal((rrAnswer.match(/Address: \d+\.\d+\.\d+\.\d+/g) ?? []).length, 2, rrAnswer);
    const seen = new Set<string>();
    // nc, not wget: the busybox here is Debian's static one, whose wget crashes (static glibc, no NSS).
    const get = async () => (await dk(w1, ['exec', client, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${vipAddr} 80 | tail -n 1`])).trim();
    for (let i = 0; i < 10; i++) seen.add(await get());
    assert.equal(seen.size, 2, `VIP spread over ${[...seen].join(',')}`);
  });

  test('global service: one task per node; a constraint keeps one to the worker', async () => {
    await dk(m1, ['service', 'create', '--detach', '--name', 'agent', '--mode', 'global', 'busybox', 'sleep', '100000']);
    await dk(m1, ['service', 'create', '--detach', '--name', 'onworker', '--replicas', '2', '--constraint', 'node.role==worker', 'busybox', 'sleep', '100000']);
    const g = await eventually('a global task per node', async () => {
      const p = await placement(m1, 'agent');
      return total(p) === 4 ? p : undefined;
    }, 60_000);
    assert.equal(g.size, 4);
    const w = await eventually('2 tasks on the worker', async () => {
      const p = await placement(m1, 'onworker');
      return total(p) === 2 ? p : undefined;
    }, 60_000);
    assert.deepEqual([...w.keys()], [hostnames[w1.name]]);
  });

  test('drain moves the tasks off a node', async () => {
    await dk(m1, ['service', 'create', '--detach', '--name', 'mover', '--replicas', '3', 'busybox', 'sleep', '100000']);
    await eventually('mover running', async () => total(await placement(m1, 'mover')) === 3, 60_000);
    await dk(m1, ['node', 'update', '--availability', 'drain', hostnames[m3.name]!]);
    const p = await eventually('mover off the drained node', async () => {
      const x = await placement(m1, 'mover');
      return total(x) === 3 && !x.has(hostnames[m3.name]!) ? x : undefined;
    }, 60_000);
    assert.equal(total(p), 3);
    await dk(m1, ['node', 'update', '--availability', 'active', hostnames[m3.name]!]);
  });

  test('rolling update then rollback, never below the replicas', async () => {
    await dk(m1, ['service', 'update', '--detach', '--env-add', 'V=2', '--update-parallelism', '1', '--update-order', 'start-first', '--update-monitor', '1s', 'mover']);
    let min = 3;
    await eventually('update completed', async () => {
      min = Math.min(min, total(await placement(m1, 'mover')));
      return (await dk(m1, ['service', 'inspect', 'mover', '--format', '{{.UpdateStatus.State}}'])).trim() === 'completed';
    }, 90_000);
    assert.equal(min, 3, 'start-first update kept every replica running');
    const env = await dk(m1, ['service', 'inspect', 'mover', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}']);
    assert.match(env, /V=2/);
    await dk(m1, ['service', 'rollback', '--detach', 'mover']);
    await eventually('rollback completed', async () => (await dk(m1, ['service', 'inspect', 'mover', '--format', '{{.UpdateStatus.State}}'])).trim() === 'rollback_completed', 90_000);
    assert.doesNotMatch(await dk(m1, ['service', 'inspect', 'mover', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}']), /V=2/);
  });

  test('service logs gathers every task from every node', async () => {
    await dk(m1, ['service', 'create', '--detach', '--name', 'talker', '--mode', 'global', 'busybox', 'sh', '-c', 'echo hello from $(hostname); sleep 100000']);
    await eventually('talker on every node', async () => total(await placement(m1, 'talker')) === 4, 60_000);
    const logs = await eventually('4 log lines', async () => {
      const out = await dk(m1, ['service', 'logs', '--no-trunc', 'talker']);
      return out.trim().split('\n').filter((l) => l.includes('hello from')).length === 4 ? out : undefined;
    });
    assert.match(logs, /talker\.\w+\.\w+@\S+\s+\| hello from/);
  });

  test('service rm removes every task container on every node; leave', async () => {
    for (const s of ['web', 'api', 'rr', 'client', 'agent', 'onworker', 'mover', 'talker']) await dk(m1, ['service', 'rm', s]);
    for (const n of cluster.nodes) {
      await eventually(`${n.name}: no task containers`, async () => (await dk(n, ['ps', '-aq', '--filter', 'label=com.docker.swarm.task.id'])).trim() === '', 60_000);
    }
    await dk(w1, ['swarm', 'leave']);
    assert.equal((await dk(w1, ['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'inactive');
    await eventually('the worker shows down', async () => (await dk(m1, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}}'])).includes(`${hostnames[w1.name]} Down`));
  });
});
