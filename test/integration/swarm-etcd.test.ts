// A real 3-member etcd cluster (Debian's etcd-server) on loopback addresses, with mutual TLS on
// the peer and client sides, driven through EtcdMember and EtcdClient.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EtcdMember, urlFor, type EtcdPeer } from '../../src/swarm/etcd/member.js';
import { EtcdClient, EtcdError, type WatchEvent } from '../../src/swarm/etcd/client.js';
import { createEtcdCerts } from '../../src/swarm/etcd/certs.js';
import { processAlive } from '../../src/lib/process.js';
import { findExecutable } from '../../src/lib/which.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port free on `address` right now (the kernel's choice). */
function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, address, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) assert.fail(`${what} not within ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

const haveEtcd = Boolean(findExecutable('etcd'));

describe('etcd cluster through EtcdMember and EtcdClient', { skip: haveEtcd ? false : 'etcd not installed (etcd-server)' }, () => {
  let root = '';
  const members: EtcdMember[] = [];
  const pids: number[] = [];
  let client: EtcdClient;
  const spec = [
    { name: 'm1', address: '127.0.0.11' },
    { name: 'm2', address: '127.0.0.12' },
    { name: 'm3', address: '127.0.0.13' },
    { name: 'm4', address: '127.0.0.14' }, // joins later
  ];
  let ports: { peer: number; client: number }[] = [];
  let tls: Awaited<ReturnType<typeof createEtcdCerts>>;

  const memberFor = (i: number, initialCluster: EtcdPeer[], clusterState: 'new' | 'existing', restart = false) => {
    const s = spec[i]!;
    const files = tls.get(s.name)!;
    return new EtcdMember({
      name: s.name, root, address: s.address, peerPort: ports[i]!.peer, clientPort: ports[i]!.client,
      initialCluster, clusterState, clusterToken: 'berth-test', peerTls: files, clientTls: files, restart,
    });
  };
  const peerUrl = (i: number): string => urlFor('https', spec[i]!.address, ports[i]!.peer);

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-etcd-'));
    for (const s of spec) ports.push({ peer: await freePort(s.address), client: await freePort(s.address) });
    tls = await createEtcdCerts(path.join(root, 'certs'), spec.map((s) => ({ name: s.name, ips: [s.address] })));
    const initial = [0, 1, 2].map((i) => ({ name: spec[i]!.name, peerUrl: peerUrl(i) }));
    for (const i of [0, 1, 2]) members.push(memberFor(i, initial, 'new', i === 1)); // m2 is supervised
    // Members of a new cluster only become healthy together (a leader needs a quorum).
    await Promise.all(members.map((m) => m.start()));
    for (const m of members) pids.push(m.pid!);
    // Short requests, so a write stuck in an election is retried rather than waited out.
    client = new EtcdClient({ endpoints: members.map((m) => m.clientUrl), tls: tls.get('m1')!, timeoutMs: 1_500 });
  });

  after(async () => {
    client?.close();
    await Promise.all(members.map((m) => m.stop()));
    if (root) await fs.rm(root, { recursive: true, force: true });
    for (const pid of pids) assert.equal(processAlive(pid), false, `etcd pid ${pid} still alive`);
    assert.equal(existsSync(root), false);
  });

  test('put, get, prefix range and delete', async () => {
    const w = await client.put('/t/a', 'alpha');
    assert.match(w.revision, /^\d+$/);
    await client.put('/t/b', 'beta');
    assert.deepEqual((await client.get('/t/a'))?.value, 'alpha');
    const r = await client.range('/t/', { prefix: true });
    assert.deepEqual(r.kvs.map((kv) => [kv.key, kv.value]), [['/t/a', 'alpha'], ['/t/b', 'beta']]);
    assert.equal((await client.delete('/t/', { prefix: true })).deleted, 2);
    assert.equal(await client.get('/t/a'), undefined);
  });

  test('txn compare-and-swap: only the writer that saw the current revision wins', async () => {
    assert.equal(await client.compareAndSwap('/cas', '0', 'first'), true);
    assert.equal(await client.compareAndSwap('/cas', '0', 'again'), false, 'create-only must fail when the key exists');
    const kv = (await client.get('/cas'))!;
    const [x, y] = await Promise.all([client.compareAndSwap('/cas', kv.modRevision, 'x'), client.compareAndSwap('/cas', kv.modRevision, 'y')]);
    assert.equal(Number(x) + Number(y), 1, 'exactly one concurrent CAS succeeds');
    assert.equal((await client.get('/cas'))!.value, x ? 'x' : 'y');
    const t = await client.txn([{ key: '/cas', target: 'VALUE', result: 'EQUAL', value: 'nope' }], [{ put: { key: '/cas', value: 'bad' } }], [{ range: { key: '/cas' } }]);
    assert.equal(t.succeeded, false);
    const failure = t.responses[0]!;
    assert.ok('range' in failure && failure.range.kvs[0]!.value === (x ? 'x' : 'y'));
  });

  test('a key on a lease disappears when the lease expires', async () => {
    const lease = await client.leaseGrant(2);
    assert.ok(lease.ttl >= 2);
    await client.put('/leased', 'v', { lease: lease.id });
    assert.equal((await client.get('/leased'))?.lease, lease.id);
    assert.ok((await client.leaseKeepAlive(lease.id)) > 0);
    await until('lease expiry', 10_000, async () => ((await client.get('/leased')) === undefined ? true : undefined));
    assert.equal(await client.leaseTimeToLive(lease.id), -1);
    await assert.rejects(client.leaseRevoke(lease.id), (e: unknown) => e instanceof EtcdError && /lease not found/.test(e.message));
  });

  test('a watch sees a put and a delete under its prefix, and nothing outside it', async () => {
    const seen: WatchEvent[] = [];
    const w = client.watch('/w/', { prefix: true }, (events) => seen.push(...events));
    try {
      await w.created;
      await client.put('/elsewhere', 'x');
      await client.put('/w/one', '1');
      await client.delete('/w/one');
      await until('watch events', 5_000, async () => (seen.length >= 2 ? true : undefined));
      assert.deepEqual(seen.map((e) => [e.type, e.kv.key, e.kv.value]), [['PUT', '/w/one', '1'], ['DELETE', '/w/one', '']]);
    } finally {
      w.close();
    }
  });

  test('a member is added, joins with state existing, and is removed', async () => {
    const { member, members: listed } = await client.memberAdd([peerUrl(3)]);
    assert.equal(listed.length, 4);
    const initial = [0, 1, 2, 3].map((i) => ({ name: spec[i]!.name, peerUrl: peerUrl(i) }));
    const m4 = memberFor(3, initial, 'existing');
    members.push(m4);
    await m4.start();
    pids.push(m4.pid!);
    const c4 = new EtcdClient({ endpoints: [m4.clientUrl], tls: tls.get('m4')! });
    try {
      await client.put('/joined', 'yes');
      assert.equal((await until('read on the new member', 5_000, () => c4.get('/joined')))?.value, 'yes');
      assert.deepEqual((await client.memberList()).map((m) => m.name).sort(), ['m1', 'm2', 'm3', 'm4']);
    } finally {
      c4.close();
    }
    const after = await client.memberRemove(member.id);
    assert.deepEqual(after.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
    await m4.stop();
    assert.equal(m4.pid, undefined);
    // A follower applies the removal only once it learns it committed; until then it counts m4 in its
    // quorum. Wait for every member's own view so the next test's kill meets a 3-member cluster.
    for (const m of members.slice(0, 3)) {
      const local = new EtcdClient({ endpoints: [m.clientUrl], tls: tls.get('m1')!, timeoutMs: 2_000 });
      try {
        await until(`${m.name} sees 3 members`, 5_000, async () => ((await local.memberList()).length === 3 ? true : undefined));
      } finally {
        local.close();
      }
    }
  });

  test('kill -9 of one member: the other two accept writes within 5 s', async () => {
    const victim = members[0]!; // the client's first endpoint: it must fail over too
    const pid = victim.pid!;
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    await until('victim gone', 2_000, async () => (processAlive(pid) ? undefined : true));
    await until('write after kill -9', 5_000, () => client.put('/after-kill', 'ok'));
    assert.ok(Date.now() - killedAt < 5_000);
    assert.equal((await client.get('/after-kill'))?.value, 'ok');
    assert.equal(victim.pid, undefined);
    // A fresh client whose first endpoint is the dead member: a watch and a lease renewal fail over too.
    const fresh = new EtcdClient({ endpoints: members.slice(0, 3).map((m) => m.clientUrl), tls: tls.get('m1')!, timeoutMs: 1_500 });
    try {
      const seen: WatchEvent[] = [];
      const w = fresh.watch('/fo/', { prefix: true }, (events) => seen.push(...events));
      await w.created;
      const lease = await client.leaseGrant(10);
      assert.ok((await fresh.leaseKeepAlive(lease.id)) > 0);
      await client.put('/fo/x', 'y');
      await until('watch event after failover', 5_000, async () => (seen.length ? true : undefined));
      w.close();
    } finally {
      fresh.close();
    }
  });

  test('a supervised member killed with -9 is restarted and the cluster has a quorum again', async () => {
    const m2 = members[1]!;
    const old = m2.pid!;
    const restarted = new Promise<number>((resolve) => m2.once('restart', resolve));
    process.kill(old, 'SIGKILL');
    assert.ok((await restarted) >= 1);
    const pid = m2.pid!;
    assert.ok(pid && pid !== old);
    pids.push(pid);
    // m1 is dead since the last test: writes need m2 back (2 of 3).
    await m2.waitHealthy(15_000);
    await until('write after the restart', 10_000, () => client.put('/after-restart', 'ok'));
    assert.equal((await client.get('/after-restart'))?.value, 'ok');
  });
});
