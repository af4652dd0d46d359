import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Filters } from '../../src/lib/filters.js';
import { parseTimestampNs, rfc3339Nano, parseGoDurationMs } from '../../src/lib/timestamps.js';
import { loadConfig, ConfigError } from '../../src/daemon/config.js';
import { Router } from '../../src/api/router.js';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('filters accept both JSON shapes and refuse unknown keys', () => {
  const a = Filters.parse('{"dangling":{"true":true},"label":{"a=b":true}}', ['dangling', 'label']);
  assert.equal(a.bool('dangling'), true);
  assert.deepEqual(a.get('label'), ['a=b']);
  const b = Filters.parse('{"label":["x","y=z"]}', ['label']);
  assert.ok(b.matchLabels({ x: '1', y: 'z' }));
  assert.ok(!b.matchLabels({ x: '1', y: 'q' }));
  assert.throws(() => Filters.parse('{"nope":["1"]}', ['label']), /invalid filter 'nope'/);
  assert.throws(() => Filters.parse('{bad', ['label']), /invalid filter/);
  assert.throws(() => Filters.parse('{"dangling":["maybe"]}', ['dangling']).bool('dangling'), /invalid filter 'dangling=maybe'/);
});

test('timestamps: unix seconds with fractions, RFC 3339, and durations ago', () => {
  assert.equal(parseTimestampNs('1700000000'), 1_700_000_000e9);
  assert.equal(parseTimestampNs('1700000000.5'), 1_700_000_000e9 + 500_000_000);
  assert.equal(parseTimestampNs('2023-11-14T22:13:20Z'), 1_700_000_000e9);
  assert.equal(parseTimestampNs('10m', 1_000_000), (1_000_000 - 600_000) * 1e6);
  assert.equal(parseGoDurationMs('1h30m'), 5_400_000);
  assert.throws(() => parseTimestampNs('soon'), /failed to parse value as time or duration/);
  assert.equal(rfc3339Nano(Date.UTC(2026, 0, 2, 3, 4, 5, 600)), '2026-01-02T03:04:05.6Z');
  assert.equal(rfc3339Nano(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), '2026-01-02T03:04:05Z');
});

test('daemon config: defaults, flags, daemon.json, and the both-places error', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-config-'));
  try {
    const file = path.join(dir, 'daemon.json');
    writeFileSync(file, '{}');
    const c = loadConfig(['--config-file', file]);
    assert.ok(typeof c === 'object');
    assert.deepEqual(c.hosts, ['unix:///run/berth/berth.sock']);
    assert.equal(c.dataRoot, '/var/lib/berth');
    const flags = loadConfig(['--config-file', file, '-H', 'unix:///tmp/a.sock', '-H', 'unix:///tmp/b.sock', '--exec-root', '/tmp/x', '-D']);
    assert.ok(typeof flags === 'object');
    assert.deepEqual(flags.hosts, ['unix:///tmp/a.sock', 'unix:///tmp/b.sock']);
    assert.equal(flags.pidfile, '/tmp/x/berthd.pid');
    assert.equal(flags.logLevel, 'debug');
    writeFileSync(file, JSON.stringify({ 'data-root': '/srv/berth', 'log-level': 'warn' }));
    const fromFile = loadConfig(['--config-file', file]);
    assert.ok(typeof fromFile === 'object');
    assert.equal(fromFile.dataRoot, '/srv/berth');
    assert.equal(fromFile.logLevel, 'warn');
    assert.throws(() => loadConfig(['--config-file', file, '--data-root', '/other']), (e: unknown) => e instanceof ConfigError && /data-root: \(from flag: \/other, from file: \/srv\/berth\)/.test(e.message));
    writeFileSync(file, JSON.stringify({ nonsense: 1 }));
    assert.throws(() => loadConfig(['--config-file', file]), /don't match any configuration option: nonsense/);
    assert.throws(() => loadConfig(['--config-file', path.join(dir, 'missing.json')]), ConfigError);
    assert.throws(() => loadConfig(['--bogus']), ConfigError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('router: image names with slashes and ports, methods', () => {
  const r = new Router();
  const h = () => {};
  r.get('/images/json', h).get('/images/{name*}/json', h).delete('/images/{name*}', h);
  const m = r.match('GET', '/images/localhost:5000/team/app:1.0/json');
  assert.ok(m && m !== 'method');
  assert.deepEqual(m.params, { name: 'localhost:5000/team/app:1.0' });
  const del = r.match('DELETE', '/images/sha256%3Aabc');
  assert.ok(del && del !== 'method');
  assert.equal(del.params.name, 'sha256:abc');
  assert.equal(r.match('PUT', '/images/json'), 'method');
  assert.equal(r.match('GET', '/nothing'), undefined);
});

test('sleep waits, ends early when its signal aborts, and never rejects', async () => {
  const { sleep } = await import('../../src/lib/sleep.js');
  let t = Date.now();
  await sleep(30);
  assert.ok(Date.now() - t >= 25);
  const ac = new AbortController();
  t = Date.now();
  setTimeout(() => ac.abort(), 10);
  await sleep(10_000, { signal: ac.signal });
  assert.ok(Date.now() - t < 5_000);
  await sleep(10_000, { signal: ac.signal }); // already aborted: at once
});

test('processAlive: this process is, a reaped child is not', async () => {
  const { processAlive } = await import('../../src/lib/process.js');
  const { spawnSync } = await import('node:child_process');
  assert.equal(processAlive(process.pid), true);
  const child = spawnSync('true');
  assert.equal(processAlive(child.pid!), false);
});

test('tar headers: PAX ids and times override the header fields; ids that are not 32-bit are refused', async () => {
  const { tarEntryOwner, paxTime } = await import('../../src/lib/tar-header.js');
  assert.deepEqual(tarEntryOwner({ name: 'a', uid: 1, gid: 2 }), { uid: 1, gid: 2 });
  assert.deepEqual(tarEntryOwner({ name: 'a', uid: 1, pax: { uid: '3000000', gid: '7' } }), { uid: 3000000, gid: 7 });
  assert.deepEqual(tarEntryOwner({ name: 'a' }), { uid: 0, gid: 0 });
  assert.throws(() => tarEntryOwner({ name: 'a', pax: { uid: '-1' } }), /invalid tar header for "a": bad uid "-1"/);
  assert.throws(() => tarEntryOwner({ name: 'a', pax: { gid: '4294967296' } }), /bad gid/);
  assert.equal(paxTime({ name: 'a', pax: { mtime: '1700000000.5' } }, 'mtime'), 1700000000.5);
  assert.equal(paxTime({ name: 'a', pax: { mtime: 'x' } }, 'mtime'), undefined);
  assert.equal(paxTime({ name: 'a', pax: null }, 'atime'), undefined);
});
