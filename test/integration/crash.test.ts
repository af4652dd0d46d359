import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { TestDaemon } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * kill -9 of berthd at many moments of create, start, stop, rm, import and load; after each the next
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
  });
});
