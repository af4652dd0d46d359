import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, hasDocker } from './harness.js';
import { startVolumePlugin, startSilentPlugin, type VolumePlugin } from '../fixtures/plugins/volume-plugin.js';

/**
 * Legacy volume plugins through the official docker CLI: a sample plugin keeping each volume as a
 * directory (test/fixtures/plugins/volume-plugin.ts) and a plugin that never answers, both as sockets
 * in the daemon's --plugin-dir.
 */
describe('volume plugins through the docker CLI', { skip: !hasDocker && 'no docker CLI' }, () => {
  const pluginDir = mkdtempSync(path.join(os.tmpdir(), 'berth-plugins-'));
  const pluginData = mkdtempSync(path.join(os.tmpdir(), 'berth-vp-data-'));
  const d = new TestDaemon(['--plugin-dir', pluginDir]);
  let plugin: VolumePlugin;
  let hung: { close(): Promise<void> };
  const docker = (...args: string[]) => d.docker(args);

  before(async () => {
    plugin = await startVolumePlugin(path.join(pluginDir, 'vp.sock'), pluginData);
    hung = await startSilentPlugin(path.join(pluginDir, 'hung.sock'));
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    const ids = (await docker('ps', '-aq')).stdout.split('\n').filter(Boolean);
    if (ids.length) await docker('rm', '-f', ...ids);
    await d.stop();
    await hung?.close();
    await plugin?.close();
    rmSync(pluginDir, { recursive: true, force: true });
    rmSync(pluginData, { recursive: true, force: true });
  });

  test('volume create -d: the plugin makes it; a container writes, another reads, each start with its own mount id', async () => {
    const c = await docker('volume', 'create', '-d', 'vp', '--opt', 'color=blue', 'pv');
    assert.deepEqual([c.code, c.stdout, c.stderr], [0, 'pv\n', '']);
    assert.ok(existsSync(path.join(pluginData, 'pv')));
    assert.ok(plugin.calls.includes('VolumeDriver.Create pv'));

    const w = await docker('run', '--rm', '-v', 'pv:/data', 'busybox', 'sh', '-c', 'echo hello > /data/f');
    assert.equal(w.code, 0, w.stderr);
    assert.equal(readFileSync(path.join(pluginData, 'pv', 'f'), 'utf8'), 'hello\n');
    const r = await docker('run', '--rm', '-v', 'pv:/data', 'busybox', 'cat', '/data/f');
    assert.deepEqual([r.code, r.stdout], [0, 'hello\n'], r.stderr);

    const mountIds = plugin.calls.filter((x) => x.startsWith('VolumeDriver.Mount pv ')).map((x) => x.split(' ')[2]);
    const unmountIds = plugin.calls.filter((x) => x.startsWith('VolumeDriver.Unmount pv ')).map((x) => x.split(' ')[2]);
    assert.equal(mountIds.length, 2);
    assert.notEqual(mountIds[0], mountIds[1]);
    assert.deepEqual(unmountIds, mountIds);
    assert.equal(plugin.mounts.size, 0);
  });

  test('volume inspect shows the plugin as driver with its Mountpoint and Status', async () => {
    const r = await docker('volume', 'inspect', 'pv');
    assert.equal(r.code, 0, r.stderr);
    const [v] = JSON.parse(r.stdout) as Array<Record<string, any>>;
    assert.equal(v!.Name, 'pv');
    assert.equal(v!.Driver, 'vp');
    assert.equal(v!.Scope, 'local');
    assert.equal(v!.Mountpoint, path.join(pluginData, 'pv'));
    assert.deepEqual(v!.Options, { color: 'blue' });
    assert.deepEqual(v!.Status, { mounts: 0, opts: { color: 'blue' } });
  });

  test('--volume-driver and --mount volume-driver= create through the plugin', async () => {
    const a = await docker('run', '--rm', '-v', 'viaflag:/data', '--volume-driver', 'vp', 'busybox', 'touch', '/data/x');
    assert.equal(a.code, 0, a.stderr);
    assert.ok(existsSync(path.join(pluginData, 'viaflag', 'x')));
    const b = await docker('run', '--rm', '--mount', 'type=volume,src=viamount,dst=/data,volume-driver=vp,volume-opt=color=red', 'busybox', 'touch', '/data/y');
    assert.equal(b.code, 0, b.stderr);
    assert.ok(existsSync(path.join(pluginData, 'viamount', 'y')));
    const ls = await docker('volume', 'ls', '--filter', 'driver=vp', '--format', '{{.Driver}} {{.Name}}');
    assert.deepEqual(ls.stdout.split('\n').filter(Boolean).sort(), ['vp pv', 'vp viaflag', 'vp viamount']);
  });

  test("-v with a name only the plugin has uses the plugin's volume", async () => {
    mkdirSync(path.join(pluginData, 'theirs'));
    writeFileSync(path.join(pluginData, 'theirs', 'note'), 'made outside\n');
    const r = await docker('run', '--rm', '-v', 'theirs:/data', 'busybox', 'cat', '/data/note');
    assert.deepEqual([r.code, r.stdout], [0, 'made outside\n'], r.stderr);
    const v = await docker('volume', 'inspect', '-f', '{{.Driver}}', 'theirs');
    assert.equal(v.stdout.trim(), 'vp');
  });

  test('volume ls answers within a second while a plugin never answers, with the good plugin listed', async () => {
    const t0 = Date.now();
    const ls = await docker('volume', 'ls', '--format', '{{.Driver}} {{.Name}}');
    const took = Date.now() - t0;
    assert.equal(ls.code, 0, ls.stderr);
    assert.ok(took < 1000, `docker volume ls took ${took} ms`);
    assert.ok(ls.stdout.split('\n').includes('vp pv'), ls.stdout);
  });

  test('a driver that does not exist: dockerd error, nothing made', async () => {
    const r = await docker('volume', 'create', '-d', 'nope', 'x');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /create x: error looking up volume plugin nope: plugin "nope" not found/);
    assert.equal((await docker('volume', 'inspect', 'x')).code, 1);
  });

  test('a failed Mount leaves no running container and nothing mounted', async () => {
    await docker('volume', 'create', '-d', 'vp', 'mfail');
    plugin.failing.set('VolumeDriver.Mount', 'no mount today');
    try {
      const r = await docker('run', '-d', '--name', 'mf', '-v', 'mfail:/data', 'busybox', 'sleep', '60');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no mount today/);
    } finally {
      plugin.failing.delete('VolumeDriver.Mount');
    }
    const state = await docker('inspect', '-f', '{{.State.Running}}', 'mf');
    assert.equal(state.stdout.trim(), 'false');
    assert.equal(plugin.mounts.size, 0);
    assert.equal((await docker('rm', '-f', 'mf')).code, 0);
  });

  test('volume rm: refused while a container uses it, then removed through the plugin', async () => {
    assert.equal((await docker('create', '--name', 'user', '-v', 'pv:/data', 'busybox', 'true')).code, 0);
    const refused = await docker('volume', 'rm', 'pv');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /remove pv: volume is in use/);
    assert.ok(existsSync(path.join(pluginData, 'pv')));
    assert.equal((await docker('rm', 'user')).code, 0);
    const rm = await docker('volume', 'rm', 'pv');
    assert.deepEqual([rm.code, rm.stdout], [0, 'pv\n'], rm.stderr);
    assert.equal(existsSync(path.join(pluginData, 'pv')), false);
    assert.ok(plugin.calls.includes('VolumeDriver.Remove pv'));
  });
});
