// docker-py's swarm tests read the node right after `swarm init` and update it with the version they
// read: dockerd answers init once its node leads, so that version is still current. One berthd on a
// 127.x address (control and etcd ports chosen at run time); every daemon, etcd and directory is gone
// afterwards.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TestDaemon } from './harness.js';
import { processAlive } from '../../src/lib/process.js';
import { findExecutable } from '../../src/lib/which.js';

function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

async function controlPort(host: string): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await bindable(host, p)) && (await bindable(host, p + 2)) && (await bindable(host, p + 3))) return p;
  }
}

describe('swarm init answers once its node is settled', { skip: !findExecutable('etcd') ? 'etcd not installed (etcd-server)' : false }, () => {
  const d = new TestDaemon();
  const host = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.1`;
  const etcdPids = new Set<number>();
  const rememberEtcd = () => {
    const dir = path.join(d.dataRoot, 'swarm', 'etcd');
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.pid'))) etcdPids.add(Number(readFileSync(path.join(dir, f), 'utf8')));
  };

  before(() => d.start());

  after(async () => {
    rememberEtcd();
    await d.request('POST', '/swarm/leave?force=1').catch(() => undefined);
    await d.stop();
    for (const pid of etcdPids) {
      if (processAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('berth-test-')) process.kill(pid, 'SIGKILL');
    }
    assert.equal(existsSync(d.root), false);
  });

  test('the node read right after init leads, and an update with its version is taken', async () => {
    const addr = `${host}:${await controlPort(host)}`;
    const init = await d.request('POST', '/swarm/init', { ListenAddr: addr, AdvertiseAddr: addr });
    assert.equal(init.status, 200, init.text);
    rememberEtcd();
    const nodeId = init.json() as string;
    const node = (await d.request('GET', `/nodes/${nodeId}`)).json();
    assert.equal(node.ManagerStatus?.Leader, true, 'init waited for the leader to mark its node');
    const spec = { ...node.Spec, Labels: { foo: 'bar' } };
    const update = await d.request('POST', `/nodes/${nodeId}/update?version=${node.Version.Index}`, spec);
    assert.equal(update.status, 200, update.text);
    assert.deepEqual((await d.request('GET', `/nodes/${nodeId}`)).json().Spec.Labels, { foo: 'bar' });
  });
});
