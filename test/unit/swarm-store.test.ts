// The SwarmStore contract, run on the in-memory store and on the etcd store over a real single etcd
// member (plain HTTP on a 127.0.0.x address, ports chosen at run time).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { StoreEvent, SwarmStore } from '../../src/swarm/contracts.js';
import { etcdKey } from '../../src/swarm/contracts.js';
import type { Service } from '../../src/swarm/types.js';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { etcdSwarmStore } from '../../src/swarm/store/etcd.js';
import { EtcdMember } from '../../src/swarm/etcd/member.js';
import { EtcdClient } from '../../src/swarm/etcd/client.js';
import { newSwarmId } from '../../src/swarm/ids.js';
import { findExecutable } from '../../src/lib/which.js';
import { BerthError } from '../../src/lib/errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) assert.fail(`${what} not within ${ms} ms`);
    await sleep(20);
  }
}

const service = (name: string): Service => ({
  ID: newSwarmId(),
  Version: { Index: 0 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: name, TaskTemplate: {}, Mode: { Replicated: { Replicas: 1 } } },
  Endpoint: { Spec: {} },
});

const kindOf = (err: unknown) => (err instanceof BerthError ? err.kind : String(err));

function contractCases(getStore: () => SwarmStore): void {
  test('ids are 25 lowercase base36 characters', () => {
    const ids = new Set(Array.from({ length: 50 }, newSwarmId));
    assert.equal(ids.size, 50);
    for (const id of ids) assert.match(id, /^[0-9a-z]{25}$/);
  });

  test('create sets Version, CreatedAt, UpdatedAt; a second create of the ID conflicts', async () => {
    const s = getStore();
    const a = await s.services.create(service('web'));
    assert.ok(a.Version.Index > 0);
    assert.ok(a.CreatedAt && a.UpdatedAt);
    assert.deepEqual(await s.services.get(a.ID), a);
    await assert.rejects(s.services.create({ ...a }), (e) => kindOf(e) === 'Conflict');
    assert.equal(await s.services.get('nope'), undefined);
    const b = await s.tasks.create({ ID: newSwarmId(), Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: {}, ServiceID: a.ID, Status: { Timestamp: '', State: 'new', Message: '' }, DesiredState: 'running' });
    assert.ok(b.Version.Index > a.Version.Index, 'one revision counter across kinds');
    assert.ok((await s.services.list()).some((x) => x.ID === a.ID));
    assert.ok(!(await s.services.list()).some((x) => x.ID === b.ID), 'kinds are apart');
  });

  test('update is a compare-and-swap on Version.Index', async () => {
    const s = getStore();
    const a = await s.services.create(service('cas'));
    const b = await s.services.update({ ...a, Spec: { ...a.Spec, Labels: { x: '1' } } });
    assert.ok(b.Version.Index > a.Version.Index);
    assert.deepEqual((await s.services.get(a.ID))!.Spec.Labels, { x: '1' });
    assert.equal((await s.services.get(a.ID))!.Version.Index, b.Version.Index);
    await assert.rejects(s.services.update({ ...a, Spec: { ...a.Spec, Labels: { x: 'stale' } } }), (e: Error) => kindOf(e) === 'Conflict' && e.message === 'update out of sequence');
    await assert.rejects(s.services.update({ ...service('gone'), Version: { Index: 3 } }), (e) => kindOf(e) === 'NotFound');
  });

  test('modify retries on conflict so concurrent changes all land', async () => {
    const s = getStore();
    const a = await s.services.create({ ...service('count'), Spec: { ...service('count').Spec, Labels: { n: '0' } } });
    const bump = (svc: Service) => ({ ...svc, Spec: { ...svc.Spec, Labels: { n: String(Number(svc.Spec.Labels!.n) + 1) } } });
    await Promise.all(Array.from({ length: 5 }, () => s.services.modify(a.ID, bump)));
    assert.equal((await s.services.get(a.ID))!.Spec.Labels!.n, '5');
    const same = await s.services.modify(a.ID, () => undefined);
    assert.equal(same!.Spec.Labels!.n, '5');
    await assert.rejects(s.services.modify('absent', bump), (e) => kindOf(e) === 'NotFound');
  });

  test('delete; a second delete is NotFound', async () => {
    const s = getStore();
    const a = await s.services.create(service('del'));
    await s.services.delete(a.ID);
    assert.equal(await s.services.get(a.ID), undefined);
    await assert.rejects(s.services.delete(a.ID), (e) => kindOf(e) === 'NotFound');
  });

  test('watch: puts and deletes after the call, in order, until stopped', async () => {
    const s = getStore();
    const seen: StoreEvent<Service>[] = [];
    const stop = s.services.watch((e) => seen.push(e));
    await sleep(300); // the etcd watch opens asynchronously
    const a = await s.services.create(service('w'));
    const b = await s.services.update({ ...a, Spec: { ...a.Spec, Labels: { v: '2' } } });
    await s.services.delete(a.ID);
    await until('three events', 5_000, () => seen.length >= 3);
    assert.deepEqual(seen.map((e) => [e.type, e.object.ID]), [['put', a.ID], ['put', a.ID], ['delete', a.ID]]);
    assert.equal(seen[0]!.object.Version.Index, a.Version.Index);
    assert.equal(seen[1]!.object.Version.Index, b.Version.Index);
    assert.deepEqual(seen[2]!.object.Spec.Labels, { v: '2' }, 'a delete carries the last stored value');
    stop();
    await s.services.create(service('after-stop'));
    await sleep(300);
    assert.equal(seen.length, 3);
  });
}

describe('memorySwarmStore', () => contractCases(() => memorySwarmStore()));

describe('etcdSwarmStore on one etcd member', { skip: findExecutable('etcd') ? false : 'etcd not installed (etcd-server)' }, () => {
  let root = '';
  let member: EtcdMember;
  let client: EtcdClient;
  let store: SwarmStore;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-store-'));
    const address = '127.0.0.21';
    const peerPort = await freePort(address);
    const clientPort = await freePort(address);
    member = new EtcdMember({ name: 's1', root, address, peerPort, clientPort, initialCluster: [{ name: 's1', peerUrl: `http://${address}:${peerPort}` }], clusterState: 'new' });
    await member.start();
    client = new EtcdClient({ endpoints: [member.clientUrl], timeoutMs: 2_000 });
    store = etcdSwarmStore(client);
  });

  after(async () => {
    client?.close();
    await member?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  contractCases(() => store);

  test('objects are JSON under /berth/swarm/<kind>/<ID> and Version.Index is the mod revision', async () => {
    const a = await store.services.create(service('raw'));
    const kv = (await client.get(etcdKey('services', a.ID)))!;
    assert.equal(Number(kv.modRevision), a.Version.Index);
    assert.equal(JSON.parse(kv.value).Spec.Name, 'raw');
  });

  test('a watch resumes after its member restarts, without losing or repeating events', async () => {
    const seen: string[] = [];
    const stop = store.services.watch((e) => seen.push(`${e.type}:${e.object.Spec.Name}`));
    await sleep(300);
    await store.services.create(service('before'));
    await until('first event', 5_000, () => seen.length === 1);
    await member.stop();
    await member.start();
    await store.services.create(service('after'));
    await until('event after the restart', 10_000, () => seen.length >= 2);
    await sleep(300);
    assert.deepEqual(seen, ['put:before', 'put:after']);
    stop();
  });
});
