import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ScopedRoot, goFileMode, type Target } from '../../src/containers/scoped-fs.js';
import { containerAbsPath, goBase, goTimeJson } from '../../src/containers/archive.js';
import { entryParts } from '../../src/containers/extract.js';

describe('ScopedRoot: paths resolved as if the container root were /', () => {
  let base = '';
  let root = '';
  let outside = '';
  let scoped: ScopedRoot;
  const where = (t: Target) => (t.kind === 'entry' ? `${t.path}${t.mount ? ' (mount)' : ''}` : t.path);

  before(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'berth-scoped-'));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    mkdirSync(path.join(root, 'data/sub'), { recursive: true });
    mkdirSync(path.join(root, 'mnt'));
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret'), 'no');
    writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
    symlinkSync('/', path.join(root, 'data/toroot'));
    symlinkSync('../../../../..', path.join(root, 'data/up'));
    symlinkSync(outside, path.join(root, 'data/abs'));
    symlinkSync('sub', path.join(root, 'data/rel'));
    symlinkSync('loop', path.join(root, 'data/loop'));
    const vol = path.join(base, 'vol');
    mkdirSync(vol);
    writeFileSync(path.join(vol, 'v'), 'volume');
    writeFileSync(path.join(base, 'hosts'), '127.0.0.1 localhost\n');
    scoped = await ScopedRoot.open(root, {
      mounts: [
        { destination: '/mnt/vol', source: vol, readOnly: true },
        { destination: '/etc/hosts', source: path.join(base, 'hosts'), readOnly: false },
      ],
    });
  });
  after(async () => {
    await scoped.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('absolute targets restart at the root, .. stops there', async () => {
    assert.equal(where(await scoped.resolve('/data/toroot/etc/passwd')), '/etc/passwd');
    assert.equal(where(await scoped.resolve('/data/up/etc/passwd')), '/etc/passwd');
    assert.equal(where(await scoped.resolve('/data/rel/', { followFinal: true })), '/data/sub');
    const abs = await scoped.resolve(`/data/abs/secret`, { lenient: true });
    assert.equal(abs.kind, 'missing');
    assert.equal(abs.path, `${outside}/secret`);
    await assert.rejects(scoped.resolve('/data/abs/secret'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  });

  test('the last component is followed only when asked, or with a trailing slash', async () => {
    const link = await scoped.resolve('/data/toroot');
    assert.equal(link.kind, 'entry');
    assert.equal((await scoped.resolve('/data/toroot/')).kind, 'dir');
    assert.equal((await scoped.resolve('/data/toroot', { followFinal: true })).path, '/');
    await assert.rejects(scoped.resolve('/etc/passwd/'), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR');
    await assert.rejects(scoped.resolve('/data/loop/x'), (e: NodeJS.ErrnoException) => e.code === 'ELOOP');
  });

  test('mounts replace what the root has at their path', async () => {
    const v = await scoped.resolve('/mnt/vol/v');
    assert.equal(v.kind, 'entry');
    assert.equal(v.kind === 'entry' && v.parent.readOnly, true);
    const hosts = await scoped.resolve('/etc/hosts');
    assert.equal(where(hosts), '/etc/hosts (mount)');
    const st = await scoped.lstatTargetBig(hosts);
    assert.equal(Number(st!.size), 20);
  });

  test('create makes missing directories inside the root only', async () => {
    const t = await scoped.resolve('/data/toroot/new/deeper/', { create: true });
    assert.equal(t.path, '/new/deeper');
    assert.ok(existsSync(path.join(root, 'new/deeper')));
    const u = await scoped.resolve('/data/abs/made/', { create: true });
    assert.equal(u.path, `${outside}/made`);
    assert.ok(existsSync(path.join(root, outside.slice(1), 'made')));
    assert.ok(!existsSync(path.join(outside, 'made')));
    assert.equal(readFileSync(path.join(outside, 'secret'), 'utf8'), 'no');
  });

  test('removeAll never follows a symlink', async () => {
    mkdirSync(path.join(root, 'gone/inner'), { recursive: true });
    symlinkSync(outside, path.join(root, 'gone/inner/link'));
    await scoped.removeAll(scoped.root, 'gone');
    assert.ok(!existsSync(path.join(root, 'gone')));
    assert.ok(existsSync(path.join(outside, 'secret')));
  });
});

describe('Docker path and mode conventions', () => {
  test('containerAbsPath keeps a trailing / and /., cleans the rest lexically', () => {
    assert.equal(containerAbsPath('etc'), '/etc');
    assert.equal(containerAbsPath('/etc/'), '/etc/');
    assert.equal(containerAbsPath('/etc/.'), '/etc/.');
    assert.equal(containerAbsPath('/a/../../etc/x'), '/etc/x');
    assert.equal(containerAbsPath('/'), '/');
    assert.equal(containerAbsPath('.'), '/.');
  });

  test('goBase is filepath.Base', () => {
    assert.equal(goBase('/etc/'), 'etc');
    assert.equal(goBase('/etc/.'), '.');
    assert.equal(goBase('/'), '/');
    assert.equal(goBase(''), '.');
  });

  test('goFileMode gives Go os.FileMode bits', () => {
    assert.equal(goFileMode(0o040755), 2 ** 31 + 0o755);
    assert.equal(goFileMode(0o120777), 2 ** 27 + 0o777);
    assert.equal(goFileMode(0o104755), 2 ** 23 + 0o755);
    assert.equal(goFileMode(0o020620), 2 ** 26 + 2 ** 21 + 0o620);
    assert.equal(goFileMode(0o041777), 2 ** 31 + 2 ** 20 + 0o777);
  });

  test('goTimeJson is RFC 3339 with nanoseconds, trailing zeros dropped', () => {
    assert.equal(goTimeJson(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
    assert.equal(goTimeJson(1_700_000_000_500_000_000n), '2023-11-14T22:13:20.5Z');
    assert.equal(goTimeJson(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
  });

  test('entry names: absolute ones stay below the destination, ../ beyond it is refused', () => {
    assert.deepEqual(entryParts('/etc/passwd', '/tmp'), ['etc', 'passwd']);
    assert.deepEqual(entryParts('/../../x', '/tmp'), ['x']);
    assert.deepEqual(entryParts('a/../b', '/tmp'), ['b']);
    assert.throws(() => entryParts('../x', '/tmp'), /"\.\.\/x" is outside of "\/tmp"/);
    assert.throws(() => entryParts('a/../../x', '/tmp'), /is outside of/);
  });
});

describe('stats documents', () => {
  const c = { id: 'abc', name: 'web', state: { Running: true } } as unknown as import('../../src/containers/model.js').Container;
  const sample = (version: 1 | 2, total: number) => ({
    read: '2026-01-01T00:00:01Z',
    version,
    stats: {
      cpu_stats: { cpu_usage: { total_usage: total, usage_in_kernelmode: 1, usage_in_usermode: 2 }, system_cpu_usage: 1e9, online_cpus: 2, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } },
      memory_stats: { usage: 4096, limit: 8192, stats: { inactive_file: 1024, anon: 7 } },
      pids_stats: { current: 3 },
      blkio_stats: { io_service_bytes_recursive: [], io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    },
  });

  test('Docker’s field order and omitempty; cgroup v2 keys; precpu from the previous sample', async () => {
    const { statsJson } = await import('../../src/containers/stats.js');
    const doc = JSON.parse(JSON.stringify(statsJson(c, sample(2, 500), sample(2, 100))));
    assert.deepEqual(Object.keys(doc), ['read', 'preread', 'pids_stats', 'blkio_stats', 'num_procs', 'storage_stats', 'cpu_stats', 'precpu_stats', 'memory_stats', 'name', 'id']);
    assert.deepEqual(doc.memory_stats.usage, 4096);
    assert.equal(doc.memory_stats.max_usage, undefined);
    assert.equal(doc.memory_stats.stats.inactive_file, 1024);
    assert.equal(doc.memory_stats.stats.anon, 7);
    assert.equal(doc.memory_stats.stats.total_inactive_file, undefined);
    assert.equal(doc.blkio_stats.io_serviced_recursive, null);
    assert.equal(doc.precpu_stats.cpu_usage.total_usage, 100);
    assert.equal(doc.name, '/web');
    const zero = JSON.parse(JSON.stringify(statsJson(c, null, null)));
    assert.deepEqual(zero.cpu_stats, { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } });
    assert.deepEqual([zero.memory_stats, zero.pids_stats, zero.read], [{}, {}, '0001-01-01T00:00:00Z']);
    const v1 = JSON.parse(JSON.stringify(statsJson(c, sample(1, 5), null)));
    assert.deepEqual(v1.blkio_stats.io_serviced_recursive, []);
    assert.equal(v1.memory_stats.stats.total_inactive_file, 0);
  });
});
