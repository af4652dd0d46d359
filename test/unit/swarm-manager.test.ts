// The manager's pure rules (addresses, spec defaults, dockerd's leave refusal) and leadership on a
// real etcd member: one leader at a time, handed over when it stops or its holder stops answering.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { dataPathPort, normalizeAddr, resolveAdvertiseAddr, resolveListenAddr, validateAddrPool } from '../../src/swarm/manager/addresses.js';
import { defaultSwarmSpec, mergeSpec, clusterView, clusterInfoView } from '../../src/swarm/manager/defaults.js';
import { managerLeaveRefusal } from '../../src/swarm/manager/errors.js';
import { Leadership } from '../../src/swarm/manager/leadership.js';
import { EtcdMember } from '../../src/swarm/etcd/member.js';
import { EtcdClient } from '../../src/swarm/etcd/client.js';
import { LEADER_KEY, type LeaderDuties } from '../../src/swarm/contracts.js';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { findExecutable } from '../../src/lib/which.js';
import type { Cluster } from '../../src/swarm/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('addresses: dockerd\'s defaults and errors', () => {
  assert.equal(normalizeAddr('10.0.0.2', 'ListenAddr'), '10.0.0.2:2377');
  assert.equal(normalizeAddr('10.0.0.2:4000', 'ListenAddr'), '10.0.0.2:4000');
  assert.throws(() => normalizeAddr('', 'ListenAddr'), /invalid ListenAddr "": invalid empty address/);
  assert.deepEqual(resolveListenAddr('0.0.0.0:2377'), { host: '0.0.0.0', port: 2377 });
  assert.deepEqual(resolveListenAddr('lo:2377'), { host: '127.0.0.1', port: 2377 }, 'an interface name');
  assert.throws(() => resolveListenAddr('nope!:2377'), /^InvalidArgument: listen address must be an IP address or network interface \(with optional port number\)$/);
  assert.deepEqual(resolveAdvertiseAddr('10.1.2.3', 2400), { host: '10.1.2.3', port: 2400 }, 'no port: the listen port');
  assert.throws(() => resolveAdvertiseAddr('0.0.0.0:2377', 2377), /advertise address must be a non-zero IP address/);
  assert.equal(dataPathPort(undefined), 4789);
  assert.throws(() => dataPathPort(80), /Datapath port number is not in valid range \(1024-49151\) : 80/);
  assert.throws(() => validateAddrPool(['10.0.0.0/8'], 30), /subnet size is out of range: 30/);
  assert.throws(() => validateAddrPool(['10.0.0.0/16'], 8), /invalid CIDR: "10.0.0.0\/16". Subnet size is too small for pool: 8/);
  validateAddrPool(['10.0.0.0/8'], 24);
});

test('spec: swarmkit\'s defaults; a client\'s zero values keep them; only "default" as name', () => {
  const d = defaultSwarmSpec();
  const merged = mergeSpec(d, { Name: '', Raft: { SnapshotInterval: 0, KeepOldSnapshots: 2 }, Dispatcher: {}, CAConfig: { NodeCertExpiry: 3600e9 }, Labels: { a: 'b' } });
  assert.equal(merged.Name, 'default');
  assert.deepEqual(merged.Raft, { ...d.Raft, KeepOldSnapshots: 2 });
  assert.equal(merged.Dispatcher!.HeartbeatPeriod, 5e9);
  assert.equal(merged.CAConfig!.NodeCertExpiry, 3600e9);
  assert.deepEqual(merged.Labels, { a: 'b' });
  assert.throws(() => mergeSpec(d, { Name: 'other' }), /swarm spec must be named "default"/);
  const c = { ID: 'c', Version: { Index: 3 }, JoinTokens: { Worker: 'w', Manager: 'm' }, BerthCA: { Cert: 'x', Key: 'k' }, BerthUnlockKey: 'u' } as unknown as Cluster;
  assert.deepEqual(Object.keys(clusterView(c)), ['ID', 'Version', 'JoinTokens']);
  assert.deepEqual(Object.keys(clusterInfoView(c)), ['ID', 'Version']);
});

test('leave refusal: dockerd\'s text for the last manager, a quorum loss, and otherwise', () => {
  assert.equal(managerLeaveRefusal(1, 0).message, 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ');
  assert.match(managerLeaveRefusal(2, 0).message, /Removing this node leaves 1 managers out of 2\. Without a Raft quorum/);
  assert.match(managerLeaveRefusal(3, 1).message, /Removing this node leaves 2 managers out of 4\./);
  assert.equal(managerLeaveRefusal(5, 0).message, 'You are attempting to leave the swarm on a node that is participating as a manager. The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.');
  assert.equal(managerLeaveRefusal(1, 0).kind, 'Unavailable');
});

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

describe('leadership on one etcd member', { skip: findExecutable('etcd') ? false : 'etcd not installed (etcd-server)' }, () => {
  let root = '';
  let member: EtcdMember;
  let client: EtcdClient;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-leader-'));
    const address = '127.0.0.22';
    const peerPort = await freePort(address);
    member = new EtcdMember({ name: 'l1', root, address, peerPort, clientPort: await freePort(address), initialCluster: [{ name: 'l1', peerUrl: `http://${address}:${peerPort}` }], clusterState: 'new' });
    await member.start();
    client = new EtcdClient({ endpoints: [member.clientUrl], timeoutMs: 2_000 });
  });
  after(async () => {
    client?.close();
    await member?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const contender = (nodeId: string, running: Set<string>, alive: () => boolean = () => true) => {
    const duties: LeaderDuties = {
      start: async () => {
        running.add(nodeId);
        return { stop: async () => void running.delete(nodeId) };
      },
    };
    const store = memorySwarmStore();
    return new Leadership({
      client, nodeId, duties, tickMs: 100,
      context: () => ({ store, allocator: { allocateTask: async (t) => t, releaseTask: async () => undefined }, nodeStates: () => new Map() }),
      holderAlive: async () => alive(),
    });
  };

  test('one leader runs the duties; stopping it hands over at once', async () => {
    const running = new Set<string>();
    const a = contender('a', running);
    const b = contender('b', running);
    a.start();
    await sleep(400);
    b.start();
    await sleep(600);
    assert.deepEqual([...running], ['a']);
    assert.equal((await client.get(LEADER_KEY))?.value, 'a');
    assert.equal(a.isLeader && !b.isLeader, true);
    await a.stop();
    assert.equal(running.has('a'), false, 'stop() ends the duties');
    await sleep(600);
    assert.deepEqual([...running], ['b']);
    await b.stop();
    assert.equal(await client.get(LEADER_KEY), undefined, 'the lease was revoked with the key');
  });

  test('a holder that stops answering has its lease revoked by the others', async () => {
    const running = new Set<string>();
    let xAlive = true;
    const x = contender('x', running);
    const y = contender('y', running, () => xAlive);
    x.start();
    await sleep(400);
    y.start();
    await sleep(400);
    assert.deepEqual([...running], ['x']);
    xAlive = false; // y now finds x's control server silent
    await sleep(1_000);
    assert.equal((await client.get(LEADER_KEY))?.value, 'y');
    await sleep(300);
    assert.equal(x.isLeader, false, 'x noticed its lease is gone');
    assert.deepEqual([...running], ['y']);
    await x.stop();
    await y.stop();
  });
});
