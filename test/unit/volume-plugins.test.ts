import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, type Db } from '../../src/store/db.js';
import { EventBus } from '../../src/events/bus.js';
import { VolumeService } from '../../src/volumes/service.js';
import { persistedVolumeUsers } from '../../src/containers/store.js';
import { isKind } from '../../src/lib/errors.js';
import { startVolumePlugin, startSilentPlugin, type VolumePlugin } from '../fixtures/plugins/volume-plugin.js';
import { SocketRegistry } from '../fixtures/plugins/socket-registry.js';

describe('volumes of a volume plugin (VolumeDriver protocol)', () => {
  let root: string;
  let db: Db;
  let plugin: VolumePlugin;
  let silent: { close(): Promise<void> } | undefined;
  let volumes: VolumeService;
  let events: EventBus;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-volplugin-test-'));
    db = openDb(path.join(root, 'berth.db'));
    plugin = await startVolumePlugin(path.join(root, 'vp.sock'), path.join(root, 'vp-data'), 'global');
    silent = undefined;
    events = new EventBus();
    const registry = new SocketRegistry({ vp: plugin.socket, hung: path.join(root, 'hung.sock') });
    volumes = new VolumeService(db, events, path.join(root, 'data'), persistedVolumeUsers(db), undefined, registry);
    await volumes.init();
  });
  afterEach(async () => {
    await silent?.close();
    await plugin.close();
    db.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('creates through the plugin and records the plugin as driver, with its scope', async () => {
    const { volume, created } = await volumes.create({ name: 'pv', driver: 'vp', driverOpts: { size: '1g' } });
    assert.equal(created, true);
    assert.equal(volume.driver, 'vp');
    assert.ok(plugin.calls.includes('VolumeDriver.Create pv'));
    assert.ok(existsSync(path.join(plugin.dataDir, 'pv')));
    const view = await volumes.inspect('pv');
    assert.equal(view.Driver, 'vp');
    assert.equal(view.Scope, 'global');
    assert.equal(view.Mountpoint, path.join(plugin.dataDir, 'pv'));
    assert.deepEqual(view.Status, { mounts: 0, opts: { size: '1g' } });
    assert.deepEqual(view.Options, { size: '1g' });
    // the local driver made nothing
    assert.equal(existsSync(path.join(root, 'data', 'volumes', 'pv')), false);
  });

  it('answers an unknown driver in dockerd words and records nothing', async () => {
    await assert.rejects(volumes.create({ name: 'x', driver: 'nope' }), (err: unknown) => {
      assert.ok(isKind(err, 'NotFound'));
      assert.equal((err as Error).message, 'create x: error looking up volume plugin nope: plugin "nope" not found');
      return true;
    });
    assert.equal(volumes.store.get('x'), undefined);
  });

  it("passes the plugin's Create error on and records nothing", async () => {
    plugin.failing.set('VolumeDriver.Create', 'disk full');
    await assert.rejects(volumes.create({ name: 'bad', driver: 'vp' }), { message: 'create bad: disk full' });
    assert.equal(volumes.store.get('bad'), undefined);
  });

  it('refuses the same name for another driver', async () => {
    await volumes.create({ name: 'loc' });
    await assert.rejects(volumes.create({ name: 'loc', driver: 'vp' }), /driver 'local' already has volume 'loc': volume name must be unique/);
  });

  it('mounts with a fresh id per use and unmounts each with its own id', async () => {
    await volumes.create({ name: 'pv', driver: 'vp' });
    const p1 = await volumes.mount('pv', { container: 'c1' });
    const p2 = await volumes.mount('pv', { container: 'c2' });
    assert.equal(p1, path.join(plugin.dataDir, 'pv'));
    assert.equal(p2, p1);
    const ids = [...plugin.mounts.get('pv')!];
    assert.equal(ids.length, 2);
    assert.notEqual(ids[0], ids[1]);
    await volumes.unmount('pv', { container: 'c1' });
    assert.deepEqual([...plugin.mounts.get('pv')!], [ids[1]]);
    assert.ok(plugin.calls.includes(`VolumeDriver.Unmount pv ${ids[0]}`));
    await volumes.unmount('pv', { container: 'c2' });
    assert.equal(plugin.mounts.has('pv'), false);
    // a second unmount for the same user has nothing to give back (no call with a made-up id)
    const before = plugin.calls.length;
    await volumes.unmount('pv', { container: 'c2' });
    assert.equal(plugin.calls.length, before);
  });

  it('after a daemon restart, a container that still runs gives its mount back with the id it kept', async () => {
    await volumes.create({ name: 'pv', driver: 'vp' });
    await volumes.mount('pv', { container: 'c1' });
    const id = volumes.mountIdOf('pv', 'c1')!;
    assert.deepEqual([...plugin.mounts.get('pv')!], [id]);
    const registry = new SocketRegistry({ vp: plugin.socket });
    const restarted = new VolumeService(db, events, path.join(root, 'data'), persistedVolumeUsers(db), undefined, registry);
    await restarted.init();
    restarted.adoptMount('pv', 'c1', id);
    await restarted.unmount('pv', { container: 'c1' });
    assert.ok(plugin.calls.includes(`VolumeDriver.Unmount pv ${id}`));
    assert.equal(plugin.mounts.has('pv'), false);
  });

  it('a name given without a driver is served by the plugin that already has it; otherwise it is local', async () => {
    await fs.mkdir(path.join(plugin.dataDir, 'theirs'));
    const { volume } = await volumes.create({ name: 'theirs' });
    assert.equal(volume.driver, 'vp');
    assert.ok(!plugin.calls.includes('VolumeDriver.Create theirs'));
    assert.equal(volumes.sourceOf(volume), '');
    assert.equal(await volumes.mount('theirs', { container: 'c1' }), path.join(plugin.dataDir, 'theirs'));
    await volumes.unmount('theirs', { container: 'c1' });
    const { volume: mine } = await volumes.create({ name: 'mine' });
    assert.equal(mine.driver, 'local');
  });

  it('a failed Mount leaves no mount id behind', async () => {
    await volumes.create({ name: 'pv', driver: 'vp' });
    plugin.failing.set('VolumeDriver.Mount', 'cannot mount');
    await assert.rejects(volumes.mount('pv', { container: 'c1' }), /cannot mount/);
    plugin.failing.delete('VolumeDriver.Mount');
    const before = plugin.calls.length;
    await volumes.unmount('pv', { container: 'c1' });
    assert.equal(plugin.calls.length, before);
  });

  it('removes through the plugin, not while in use', async () => {
    await volumes.create({ name: 'pv', driver: 'vp', ref: 'c1' });
    await assert.rejects(volumes.remove('pv'), /remove pv: volume is in use - \[c1\]/);
    volumes.release('pv', 'c1');
    const seen: string[] = [];
    const stop = events.subscribe((e) => seen.push(`${e.Action} ${e.Actor.Attributes.driver}`));
    await volumes.remove('pv');
    stop();
    assert.deepEqual(seen, ['destroy vp']);
    assert.ok(plugin.calls.includes('VolumeDriver.Remove pv'));
    assert.equal(existsSync(path.join(plugin.dataDir, 'pv')), false);
    assert.equal(volumes.store.get('pv'), undefined);
  });

  it("`rm -f` forgets a volume the plugin cannot remove; plain rm reports the plugin's error", async () => {
    await volumes.create({ name: 'pv', driver: 'vp' });
    plugin.failing.set('VolumeDriver.Remove', 'busy');
    await assert.rejects(volumes.remove('pv'), { message: 'remove pv: busy' });
    assert.ok(volumes.store.get('pv'));
    await volumes.remove('pv', { force: true });
    assert.equal(volumes.store.get('pv'), undefined);
  });

  it("lists the plugin's own volumes too, and leaves out a plugin that never answers within a second", async () => {
    silent = await startSilentPlugin(path.join(root, 'hung.sock'));
    await volumes.create({ name: 'pv', driver: 'vp' });
    await volumes.create({ name: 'loc' });
    await fs.mkdir(path.join(plugin.dataDir, 'outside'));
    const t0 = Date.now();
    const out = await volumes.list();
    const took = Date.now() - t0;
    assert.ok(took < 1000, `volume list took ${took} ms`);
    const byName = Object.fromEntries(out.Volumes.map((v) => [v.Name, v]));
    assert.deepEqual(Object.keys(byName).sort(), ['loc', 'outside', 'pv']);
    assert.equal(byName.outside!.Driver, 'vp');
    assert.equal(byName.outside!.Mountpoint, path.join(plugin.dataDir, 'outside'));
    assert.equal(byName.pv!.Driver, 'vp');
    assert.equal(byName.loc!.Driver, 'local');
    const outside = await volumes.inspect('outside');
    assert.deepEqual([outside.Driver, outside.Mountpoint], ['vp', path.join(plugin.dataDir, 'outside')]);
    await assert.rejects(volumes.inspect('nowhere'), { message: 'get nowhere: no such volume' });
    const filtered = await volumes.list(JSON.stringify({ driver: ['vp'] }));
    assert.deepEqual(filtered.Volumes.map((v) => v.Name).sort(), ['outside', 'pv']);
  });

  it('volume ls does not wait for a registry that never finishes listing', async () => {
    const stuck = new VolumeService(db, events, path.join(root, 'data'), persistedVolumeUsers(db), undefined, {
      get: () => new Promise(() => undefined),
      list: () => new Promise(() => undefined),
    });
    await stuck.init();
    await stuck.create({ name: 'loc' });
    const t0 = Date.now();
    const out = await stuck.list();
    assert.ok(Date.now() - t0 < 1000);
    assert.deepEqual(out.Volumes.map((v) => v.Name), ['loc']);
    assert.deepEqual(out.Warnings, ['listing volume plugins: timed out']);
  });
});
