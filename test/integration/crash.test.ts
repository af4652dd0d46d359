import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { TestDaemon } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * kill -9 of berthd at many moments of create, start, stop, rm, import, load, volume and network
 * operations; after each the next
 * start must reconcile: no container without its root filesystem, no half-made image, no orphan
 * mount, bundle, runc container or blob.
 */
describe('crash safety', () => {
  const d = new TestDaemon();
  after(() => d.stop());

  const mountsUnder = (root: string) =>
    readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(root + '/'));
  const runcIds = () => {
    const out = spawnSync('runc', ['--root', `${d.execRoot}/runc`, 'list', '-q'], { encoding: 'utf8' }).stdout;
    return out.split('\n').filter(Boolean);
  };

  async function checkHost(): Promise<void> {
    const containers: any[] = (await d.request('GET', '/containers/json?all=1')).json();
    const running = new Set(containers.filter((c) => c.State === 'running' || c.State === 'paused').map((c) => c.Id));
    for (const c of containers) assert.ok(existsSync(`${d.dataRoot}/containers/${c.Id}/upper`), `container ${c.Id} has its rootfs`);
    const dirs = readdirSync(`${d.dataRoot}/containers`);
    assert.deepEqual(dirs.sort(), containers.map((c) => c.Id).sort(), 'no container directory without a container');
    for (const m of mountsUnder(d.root)) assert.ok([...running].some((id) => m.includes(id)), `orphan mount ${m}`);
    for (const id of runcIds()) assert.ok(running.has(id), `orphan runc container ${id}`);
    const bundles = readdirSync(`${d.execRoot}/containers`);
    for (const b of bundles) assert.ok(running.has(b), `orphan bundle ${b}`);
    const images: any[] = (await d.request('GET', '/images/json?all=1')).json();
    for (const img of images) assert.equal((await d.request('GET', `/images/${img.Id}/json`)).status, 200);
    assert.deepEqual(readdirSync(`${d.dataRoot}/content/ingest`), [], 'no partial blobs');
    // Network namespaces are named <bridge>-<short id>: one per running container, no more.
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .stdout.split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${d.bridge}-`));
    for (const ns of namespaces) assert.ok([...running].some((id) => ns.endsWith(id.slice(0, 12))), `orphan namespace ${ns}`);
    // Every volume has its data directory, and every data directory its volume.
    const volumes: any[] = (await d.request('GET', '/volumes')).json().Volumes ?? [];
    const volumeDirs = existsSync(`${d.dataRoot}/volumes`) ? readdirSync(`${d.dataRoot}/volumes`).filter((n) => !n.endsWith('.db')) : [];
    assert.deepEqual(volumeDirs.sort(), volumes.map((v) => v.Name).sort(), 'volume directories match volumes');
    // Every user network has its bridge.
    const networks: any[] = (await d.request('GET', '/networks')).json();
    for (const n of networks.filter((x) => x.Driver === 'bridge')) {
      const bridge = n.Options?.['com.docker.network.bridge.name'] ?? (n.Name === 'bridge' ? d.bridge : `br-${n.Id.slice(0, 12)}`);
      assert.equal(spawnSync('ip', ['link', 'show', bridge]).status, 0, `network ${n.Name} has its bridge ${bridge}`);
    }
  }

  test('kill -9 at random moments, then reconcile', async () => {
    await d.start();
    await d.seedBusybox();
    const saved = (await d.request('GET', '/images/get?names=busybox')).body;
    for (let round = 0; round < 12; round++) {
      const ops = [
        (async () => {
          const r = await d.request('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '100'] });
          const id = r.json().Id;
          await d.request('POST', `/containers/${id}/start`);
          await d.request('POST', `/containers/${id}/stop?t=0`);
          await d.request('DELETE', `/containers/${id}?force=1`);
        })(),
        d.request('POST', `/images/create?fromSrc=-&repo=crash${round}`, saved),
        d.request('POST', '/images/load', saved),
        (async () => {
          await d.request('POST', '/volumes/create', { Name: `vol${round}` });
          await d.request('POST', '/networks/create', { Name: `net${round}` });
          const r = await d.request('POST', '/containers/create', {
            Image: 'busybox',
            Cmd: ['sleep', '100'],
            HostConfig: { NetworkMode: `net${round}`, Binds: [`vol${round}:/data`], PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
          });
          await d.request('POST', `/containers/${r.json().Id}/start`);
          await d.request('DELETE', `/volumes/vol${round - 1}`);
          await d.request('DELETE', `/networks/net${round - 1}`);
        })(),
        (async () => {
          const list: any[] = (await d.request('GET', '/containers/json?all=1')).json();
          for (const c of list.slice(0, 2)) await d.request('DELETE', `/containers/${c.Id}?force=1`);
        })(),
      ].map((p) => p.catch(() => undefined));
      await sleep(20 + ((round * 37) % 250));
      await d.kill('SIGKILL');
      await Promise.all(ops);
      await d.start();
      await checkHost();
    }
    await d.kill('SIGTERM');
    assert.deepEqual(mountsUnder(d.root), [], 'no mounts after a clean stop');
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`${d.bridge}-`));
    assert.deepEqual(left, [], 'no namespaces after a clean stop');
    assert.ok(!spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout.includes(d.bridge), 'no iptables rules after a clean stop');
  });
});
