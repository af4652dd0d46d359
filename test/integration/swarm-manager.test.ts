// Swarm membership end to end: three berthd on 127.x addresses with control/etcd ports chosen at run
// time (never 2377/2379/2380), init, join (docker CLI and API), leave, a leader killed with -9 along
// with its etcd, a restart, autolock. Every daemon, etcd and directory is gone afterwards.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TestDaemon, hasDocker } from './harness.js';
import { EtcdClient } from '../../src/swarm/etcd/client.js';
import { LEADER_KEY } from '../../src/swarm/contracts.js';
import { processAlive } from '../../src/lib/process.js';
import { findExecutable } from '../../src/lib/which.js';
import { controlPort, until } from './swarm-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const json = { 'content-type': 'application/json' };
const SWARM_EXISTS = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
const NOT_MANAGER_WORKER = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
const LOCKED = 'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';

interface Node {
  d: TestDaemon;
  host: string;
  port: number;
  addr: string;
  id?: string;
}

describe('swarm membership across three berthd', { skip: findExecutable('etcd') ? false : 'etcd not installed (etcd-server)' }, () => {
  const base = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
  const nodes: Node[] = [];
  const [a, b, c] = [0, 1, 2].map((i) => () => nodes[i]!);
  let workerToken = '';
  let managerToken = '';

  const info = async (n: Node) => (await n.d.request('GET', '/info')).json().Swarm;
  const etcdPids = (n: Node): number[] => {
    const dir = path.join(n.d.dataRoot, 'swarm', 'etcd');
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => f.endsWith('.pid')).map((f) => Number(readFileSync(path.join(dir, f), 'utf8')));
  };
  const allEtcdPids = new Set<number>();
  const remember = () => nodes.forEach((n) => etcdPids(n).forEach((p) => allEtcdPids.add(p)));
  const etcdClientOf = (n: Node) => new EtcdClient({
    endpoints: [`https://${n.host}:${n.port + 2}`],
    tls: { caFile: path.join(n.d.dataRoot, 'swarm/certificates/ca.crt'), certFile: path.join(n.d.dataRoot, 'swarm/certificates/node.crt'), keyFile: path.join(n.d.execRoot, 'swarm/node.key') },
    timeoutMs: 1_000,
  });

  before(async () => {
    for (let i = 1; i <= 3; i++) {
      const host = `${base}.${i}`;
      const port = await controlPort(host);
      nodes.push({ d: new TestDaemon(), host, port, addr: `${host}:${port}` });
    }
    await Promise.all(nodes.map((n) => n.d.start()));
  });

  after(async () => {
    remember();
    await Promise.all(nodes.map((n) => n.d.stop()));
    for (const pid of allEtcdPids) {
      if (processAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('berth-test-')) process.kill(pid, 'SIGKILL');
    }
    await sleep(200);
    for (const pid of allEtcdPids) assert.equal(processAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('berth-test-'), false, `etcd ${pid} left running`);
    for (const n of nodes) assert.equal(existsSync(n.d.root), false);
  });

  test('init: node ID, the cluster as dockerd shows it, /info, a second init refused', async () => {
    const r = await a().d.request('POST', '/swarm/init', { ListenAddr: a().addr, AdvertiseAddr: a().addr }, json);
    assert.equal(r.status, 200, r.text);
    a().id = r.json<string>();
    assert.match(a().id!, /^[0-9a-z]{25}$/);
    const swarm = (await a().d.request('GET', '/swarm')).json();
    assert.equal(swarm.Spec.Name, 'default');
    assert.deepEqual(swarm.Spec.Raft, { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 });
    assert.equal(swarm.Spec.Dispatcher.HeartbeatPeriod, 5_000_000_000);
    assert.equal(swarm.Spec.CAConfig.NodeCertExpiry, 7_776_000_000_000_000);
    assert.equal(swarm.Spec.Orchestration.TaskHistoryRetentionLimit, 5);
    assert.deepEqual([swarm.DataPathPort, swarm.DefaultAddrPool, swarm.SubnetSize], [4789, ['10.0.0.0/8'], 24]);
    assert.match(swarm.JoinTokens.Worker, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    assert.notEqual(swarm.JoinTokens.Worker, swarm.JoinTokens.Manager);
    assert.match(swarm.TLSInfo.TrustRoot, /BEGIN CERTIFICATE/);
    assert.equal(Object.keys(swarm).some((k) => k.startsWith('Berth')), false);
    workerToken = swarm.JoinTokens.Worker;
    managerToken = swarm.JoinTokens.Manager;
    const s = await info(a());
    assert.deepEqual([s.NodeID, s.NodeAddr, s.LocalNodeState, s.ControlAvailable, s.Nodes, s.Managers], [a().id, a().host, 'active', true, 1, 1]);
    assert.deepEqual(s.RemoteManagers, [{ NodeID: a().id, Addr: a().addr }]);
    assert.equal(s.Cluster.ID, swarm.ID);
    assert.equal(s.Cluster.JoinTokens, undefined);
    const again = await a().d.request('POST', '/swarm/init', { ListenAddr: a().addr, AdvertiseAddr: a().addr }, json);
    assert.equal(again.status, 503);
    assert.deepEqual(again.json(), { message: SWARM_EXISTS });
  });

  test('join: a wrong token is refused and leaves nothing; a worker joins; worker-side answers', async () => {
    const bad = await c().d.request('POST', '/swarm/join', { ListenAddr: c().addr, AdvertiseAddr: c().addr, RemoteAddrs: [a().addr], JoinToken: workerToken.replace(/-[0-9a-z]{25}$/, '-' + 'x'.repeat(25)) }, json);
    assert.equal(bad.status, 400, bad.text);
    assert.deepEqual(bad.json(), { message: 'rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster' });
    assert.equal(existsSync(path.join(c().d.dataRoot, 'swarm')), false);
    assert.equal((await info(c())).LocalNodeState, 'inactive');

    const r = await c().d.request('POST', '/swarm/join', { ListenAddr: c().addr, AdvertiseAddr: c().addr, RemoteAddrs: [a().addr], JoinToken: workerToken }, json);
    assert.equal(r.status, 200, r.text);
    const s = await info(c());
    assert.deepEqual([s.LocalNodeState, s.ControlAvailable, s.NodeAddr], ['active', false, c().host]);
    assert.match(s.NodeID, /^[0-9a-z]{25}$/);
    assert.deepEqual(s.RemoteManagers, [{ NodeID: a().id, Addr: a().addr }]);
    const w = await c().d.request('GET', '/swarm');
    assert.equal(w.status, 503);
    assert.deepEqual(w.json(), { message: NOT_MANAGER_WORKER });
    assert.equal((await c().d.request('GET', '/services')).json().message, NOT_MANAGER_WORKER);
    await until('the manager counts 2 nodes', 3_000, async () => (await info(a())).Nodes === 2);
  });

  test('a manager joins through the docker CLI; a manager will not leave without --force', { skip: hasDocker ? false : 'no docker CLI' }, async () => {
    const r = await b().d.docker(['swarm', 'join', '--token', managerToken, '--listen-addr', b().addr, '--advertise-addr', b().addr, a().addr]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /This node joined a swarm as a manager\./);
    const s = await info(b());
    b().id = s.NodeID;
    assert.deepEqual([s.LocalNodeState, s.ControlAvailable], ['active', true]);
    await until('both managers see 3 nodes, 2 managers', 5_000, async () => {
      const [x, y] = [await info(a()), await info(b())];
      return x.Nodes === 3 && x.Managers === 2 && y.Nodes === 3 && y.Managers === 2;
    });
    assert.equal((await b().d.request('GET', '/swarm')).json().ID, (await a().d.request('GET', '/swarm')).json().ID);
    const leave = await b().d.request('POST', '/swarm/leave');
    assert.equal(leave.status, 503);
    assert.match(leave.json().message, /^You are attempting to leave the swarm on a node that is participating as a manager\. Removing this node leaves 1 managers out of 2\./);
  });

  test('a worker leaves (swarm state wiped), then rejoins as the third manager', async () => {
    const r = await c().d.request('POST', '/swarm/leave');
    assert.equal(r.status, 200, r.text);
    assert.equal((await info(c())).LocalNodeState, 'inactive');
    assert.equal(existsSync(path.join(c().d.dataRoot, 'swarm')), false);
    assert.deepEqual((await c().d.request('POST', '/swarm/leave')).json(), { message: 'This node is not part of a swarm' });
    // A manager whose etcd member cannot start (its peer port taken): the join fails, leaves nothing on
    // the node, and the learner it announced is removed again, so the cluster keeps its quorum.
    const squatter = net.createServer((sock) => sock.destroy()); // the other members dial it: hang up on them
    await new Promise<void>((r) => squatter.listen(c().port + 3, c().host, r));
    try {
      const failed = await c().d.request('POST', '/swarm/join', { ListenAddr: c().addr, AdvertiseAddr: c().addr, RemoteAddrs: [a().addr], JoinToken: managerToken }, json);
      assert.notEqual(failed.status, 200);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    assert.equal((await info(c())).LocalNodeState, 'inactive');
    assert.equal(existsSync(path.join(c().d.dataRoot, 'swarm')), false);
    const probe = etcdClientOf(a());
    assert.equal((await probe.memberList()).length, 2, 'the learner is gone');
    probe.close();
    const cur = (await a().d.request('GET', '/swarm')).json();
    assert.equal((await a().d.request('POST', `/swarm/update?version=${cur.Version.Index}`, cur.Spec, json)).status, 200, 'the cluster takes writes');

    const j = await c().d.request('POST', '/swarm/join', { ListenAddr: c().addr, AdvertiseAddr: c().addr, RemoteAddrs: [b().addr, a().addr], JoinToken: managerToken }, json);
    if (j.status !== 200) console.log('swarm logs of the nodes:', nodes.map((n) => n.d.logs.split('\n').filter((l) => /swarm|etcd|handler failed/.test(l)).slice(-12).join('\n')).join('\n====\n'));
    assert.equal(j.status, 200, j.text);
    c().id = (await info(c())).NodeID;
    await until('3 managers everywhere', 5_000, async () => (await Promise.all(nodes.map(info))).every((s) => s.Managers === 3));
    remember();
  });

  test('demote and promote: the node leaves and rejoins the managers (its etcd member removed and added)', async () => {
    // Other writers (heartbeats, the leader) may move the node's version between read and update.
    const roleOf = (role: 'worker' | 'manager') => until(`node update to ${role}`, 5_000, async () => {
      const n = (await a().d.request('GET', `/nodes/${c().id}`)).json();
      const r = await a().d.request('POST', `/nodes/${c().id}/update?version=${n.Version.Index}`, { ...n.Spec, Role: role }, json);
      if (r.status !== 200 && !/out of sequence/.test(r.text)) assert.fail(r.text);
      return r.status === 200;
    });
    await roleOf('worker');
    await until('demoted', 15_000, async () => {
      const s = await info(c());
      return s.LocalNodeState === 'active' && s.ControlAvailable === false && (await info(a())).Managers === 2;
    }).catch((err) => {
      console.log('LOGS C', c().d.logs.slice(-3000), 'LOGS A', a().d.logs.slice(-3000));
      throw err;
    });
    const probe = etcdClientOf(a());
    assert.equal((await probe.memberList()).length, 2);
    assert.equal((await c().d.request('GET', '/swarm')).json().message, NOT_MANAGER_WORKER);
    await roleOf('manager');
    await until('promoted', 15_000, async () => (await info(c())).ControlAvailable === true && (await info(a())).Managers === 3);
    assert.equal((await probe.memberList()).length, 3);
    probe.close();
    assert.equal((await c().d.request('GET', '/swarm')).status, 200);
    remember();
  });

  test('kill -9 of the leader and its etcd: another manager takes writes and leadership within 5 s', async () => {
    const probe = etcdClientOf(b());
    const leaderId = (await probe.get(LEADER_KEY))?.value;
    probe.close();
    const leader = nodes.find((n) => n.id === leaderId)!;
    assert.ok(leader, `leader ${leaderId} is one of ours`);
    const others = nodes.filter((n) => n !== leader);
    const pids = etcdPids(leader);
    const t0 = Date.now();
    await leader.d.kill('SIGKILL');
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const survivor = others[0]!;
    const client = etcdClientOf(survivor);
    try {
      const newLeader = await until('a new leader', 5_000, async () => {
        const v = (await client.get(LEADER_KEY))?.value;
        return v && v !== leaderId ? v : undefined;
      });
      assert.ok(others.some((n) => n.id === newLeader));
      await until('a write through a surviving manager', 5_000 - (Date.now() - t0), async () => {
        const version = (await survivor.d.request('GET', '/swarm')).json().Version.Index;
        const spec = (await survivor.d.request('GET', '/swarm')).json().Spec;
        return (await survivor.d.request('POST', `/swarm/update?version=${version}`, { ...spec, Labels: { failover: 'ok' } }, json)).status === 200;
      });
      assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
    } catch (err) {
      for (const n of others) {
        const dir = path.join(n.d.dataRoot, 'swarm', 'etcd');
        for (const f of readdirSync(dir).filter((x) => x.endsWith('.log'))) console.log('etcd log of', n.id, f, readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-15).join('\n'));
      }
      throw err;
    } finally {
      client.close();
    }
    // The killed node comes back as it was: restarted, it resumes its membership.
    await leader.d.start();
    await until('the restarted manager active again', 20_000, async () => (await info(leader)).LocalNodeState === 'active');
    assert.equal((await info(leader)).NodeID, leaderId);
    assert.equal((await leader.d.request('GET', '/swarm')).json().Spec.Labels.failover, 'ok');
    remember();
  });

  test('autolock: a restarted manager is locked until unlocked with the key', async () => {
    const m = b();
    const cur = (await m.d.request('GET', '/swarm')).json();
    const u = await m.d.request('POST', `/swarm/update?version=${cur.Version.Index}`, { ...cur.Spec, EncryptionConfig: { AutoLockManagers: true } }, json);
    assert.equal(u.status, 200, u.text);
    const key = (await m.d.request('GET', '/swarm/unlockkey')).json().UnlockKey;
    assert.match(key, /^SWMKEY-1-/);
    const target = c();
    await until('the key reached the other managers', 5_000, async () => existsSync(path.join(target.d.dataRoot, 'swarm/certificates/node.key.enc')));
    await target.d.kill();
    await target.d.start();
    await until('locked after restart', 5_000, async () => (await info(target)).LocalNodeState === 'locked');
    const g = await target.d.request('GET', '/swarm');
    assert.equal(g.status, 503);
    assert.deepEqual(g.json(), { message: LOCKED });
    const wrong = await target.d.request('POST', '/swarm/unlock', { UnlockKey: 'SWMKEY-1-' + Buffer.alloc(32, 7).toString('base64') }, json);
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json(), { message: 'swarm could not be unlocked: invalid key provided' });
    const ok = await target.d.request('POST', '/swarm/unlock', { UnlockKey: key }, json);
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await info(target)).LocalNodeState, 'active');
    assert.equal((await target.d.request('GET', '/swarm')).status, 200);
    const notLocked = await target.d.request('POST', '/swarm/unlock', { UnlockKey: key }, json);
    assert.equal(notLocked.status, 409);
    remember();
  });

  test('a manager leaves with --force: its etcd member is removed, the others keep writing', async () => {
    const leaving = b();
    const r = await leaving.d.request('POST', '/swarm/leave?force=true');
    assert.equal(r.status, 200, r.text);
    assert.equal((await info(leaving)).LocalNodeState, 'inactive');
    assert.equal(existsSync(path.join(leaving.d.dataRoot, 'swarm')), false);
    const probe = etcdClientOf(a());
    try {
      assert.equal((await probe.memberList()).length, 2);
    } finally {
      probe.close();
    }
    await until('a write after the leave', 5_000, async () => {
      const cur = (await a().d.request('GET', '/swarm')).json();
      return (await a().d.request('POST', `/swarm/update?version=${cur.Version.Index}`, cur.Spec, json)).status === 200;
    });
  });
});
