// The /nodes endpoints over the docker CLI on a two-node swarm (a manager and a worker, berthd on
// 127.x addresses, control/etcd ports chosen at run time): node ls with filters, inspect, update,
// the rm and demote rules, and a worker whose heartbeats stop turning down. Every daemon, etcd and
// directory is gone afterwards.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TestDaemon, hasDocker } from './harness.js';
import { processAlive } from '../../src/lib/process.js';
import { findExecutable } from '../../src/lib/which.js';
import { controlPort, until } from './swarm-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const skip = !findExecutable('etcd') ? 'etcd not installed (etcd-server)' : !hasDocker ? 'no docker CLI' : false;

describe('docker node commands on a manager and a worker', { skip }, () => {
  const base = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
  const manager = { d: new TestDaemon(), host: `${base}.1`, addr: '', id: '' };
  const worker = { d: new TestDaemon(), host: `${base}.2`, addr: '', id: '' };
  const etcdPids = new Set<number>();
  const rememberEtcd = () => {
    const dir = path.join(manager.d.dataRoot, 'swarm', 'etcd');
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.pid'))) etcdPids.add(Number(readFileSync(path.join(dir, f), 'utf8')));
  };
  const onManager = (...args: string[]) => manager.d.docker(args);

  before(async () => {
    manager.addr = `${manager.host}:${await controlPort(manager.host)}`;
    worker.addr = `${worker.host}:${await controlPort(worker.host)}`;
    await Promise.all([manager.d.start(), worker.d.start()]);
    // Through the API: the docker CLI's init sends Availability "" (see the report: the manager part stores it as is).
    const init = await manager.d.request('POST', '/swarm/init', { ListenAddr: manager.addr, AdvertiseAddr: manager.addr });
    assert.equal(init.status, 200, init.text);
    rememberEtcd();
    const token = (await onManager('swarm', 'join-token', '-q', 'worker')).stdout.trim();
    const join = await worker.d.docker(['swarm', 'join', '--token', token, '--listen-addr', worker.addr, '--advertise-addr', worker.addr, manager.addr]);
    assert.equal(join.code, 0, join.stderr);
    manager.id = (await manager.d.request('GET', '/info')).json().Swarm.NodeID;
    worker.id = (await worker.d.request('GET', '/info')).json().Swarm.NodeID;
  });

  after(async () => {
    rememberEtcd();
    await Promise.all([manager.d.stop(), worker.d.stop()]);
    for (const pid of etcdPids) {
      if (processAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('berth-test-')) process.kill(pid, 'SIGKILL');
    }
    await sleep(200);
    for (const pid of etcdPids) assert.equal(processAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('berth-test-'), false, `etcd ${pid} left running`);
    assert.equal(existsSync(manager.d.root) || existsSync(worker.d.root), false);
  });

  test('node ls shows both nodes ready, with filters', async () => {
    const rows = await until('both nodes ready', 10_000, async () => {
      const r = await onManager('node', 'ls', '--format', '{{.ID}} {{.Status}} {{.Availability}}');
      const lines = r.stdout.trim().split('\n').sort();
      return lines.length === 2 && lines.every((l) => l.endsWith(' Ready Active')) ? lines : undefined;
    });
    assert.deepEqual(rows.map((l) => l.split(' ')[0]).sort(), [manager.id, worker.id].sort());
    const managers = await onManager('node', 'ls', '-q', '-f', 'role=manager');
    assert.deepEqual(managers.stdout.trim().split('\n'), [manager.id]);
    const bad = await onManager('node', 'ls', '-f', 'role=boss');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Invalid role filter: 'boss'/);
    const unknown = await onManager('node', 'ls', '-f', 'colour=red');
    assert.match(unknown.stderr, /invalid filter 'colour'/);
  });

  test('node inspect by id and prefix; the shared hostname is ambiguous', async () => {
    const r = await onManager('node', 'inspect', '--format', '{{.Spec.Role}} {{.Status.State}} {{.Status.Addr}}', worker.id.slice(0, 12));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `worker ready ${worker.host}`);
    const hostname = (await onManager('node', 'inspect', '--format', '{{.Description.Hostname}}', manager.id)).stdout.trim();
    const ambiguous = await onManager('node', 'inspect', hostname);
    assert.match(ambiguous.stderr, new RegExp(`node ${hostname} is ambiguous \\(2 matches found\\)`));
    const missing = await onManager('node', 'inspect', 'nosuchnode');
    assert.match(missing.stderr, /node nosuchnode not found/);
  });

  test('node update: labels and availability; node.label filter', async () => {
    const u = await onManager('node', 'update', '--label-add', 'zone=a', '--availability', 'drain', worker.id);
    assert.equal(u.code, 0, u.stderr);
    const r = await onManager('node', 'inspect', '--format', '{{.Spec.Availability}} {{json .Spec.Labels}}', worker.id);
    assert.equal(r.stdout.trim(), 'drain {"zone":"a"}');
    const f = await onManager('node', 'ls', '-q', '-f', 'node.label=zone=a');
    assert.deepEqual(f.stdout.trim().split('\n'), [worker.id]);
    assert.equal((await onManager('node', 'update', '--availability', 'active', worker.id)).code, 0);
  });

  test('the last manager cannot be demoted; a manager cannot be removed; a live node needs --force', async () => {
    const demote = await onManager('node', 'demote', manager.id);
    assert.notEqual(demote.code, 0);
    assert.match(demote.stderr, /rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm/);
    const rmManager = await onManager('node', 'rm', '--force', manager.id);
    assert.match(rmManager.stderr, new RegExp(`node ${manager.id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`));
    const rmLive = await onManager('node', 'rm', worker.id);
    assert.match(rmLive.stderr, new RegExp(`rpc error: code = FailedPrecondition desc = node ${worker.id} is not down and can't be removed`));
  });

  test('a worker answers node ls with the worker 503', async () => {
    const r = await worker.d.docker(['node', 'ls']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /This node is not a swarm manager\. Worker nodes can't be used to view or modify cluster state/);
  });

  test('a worker that stops heartbeating is down, then removable without --force', async () => {
    await worker.d.kill('SIGKILL');
    const t0 = Date.now();
    await until('the worker down', 10_000, async () => {
      const r = await onManager('node', 'inspect', '--format', '{{.Status.State}} {{.Status.Message}}', worker.id);
      return r.stdout.trim() === 'down heartbeat failure';
    });
    assert.ok(Date.now() - t0 >= 2_000, 'not before its lease lapsed');
    const rm = await onManager('node', 'rm', worker.id);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await onManager('node', 'ls', '-q')).stdout.trim(), manager.id);
  });
});
