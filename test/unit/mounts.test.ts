import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, linkSync, statSync, lstatSync, readlinkSync, readFileSync, rmSync, chownSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseBindSpec, parseMountSpec, parseVolumesFrom, tmpfsData, validMountMode } from '../../src/containers/mounts.js';
import { copyUp } from '../../src/volumes/copy-up.js';
import { LocalDriver } from '../../src/volumes/local.js';

const strip = (m: object) => JSON.parse(JSON.stringify(m));

test('-v specs: binds, named and anonymous volumes, modes', () => {
  assert.deepEqual(strip(parseBindSpec('/host:/ctr:ro')), {
    Destination: '/ctr',
    RW: false,
    Mode: 'ro',
    Propagation: 'rprivate',
    Type: 'bind',
    Source: '/host',
    CreateSource: true,
  });
  const named = parseBindSpec('data:/var/lib/x/');
  assert.equal(named.Type, 'volume');
  assert.equal(named.Name, 'data');
  assert.equal(named.Destination, '/var/lib/x');
  assert.equal(named.CopyData, true);
  assert.equal(parseBindSpec('data:/x:nocopy').CopyData, false);
  assert.equal(parseBindSpec('/a:/b:rshared').Propagation, 'rshared');
  const anon = parseBindSpec('/only');
  assert.equal(anon.Type, 'volume');
  assert.equal(anon.Anonymous, true);
  assert.throws(() => parseBindSpec('/a:rw'), /invalid volume specification: '\/a:rw'$/);
  assert.throws(() => parseBindSpec(':/x'), /invalid volume specification: ':\/x'/);
  assert.throws(() => parseBindSpec('a:b:c:d'), /invalid volume specification: 'a:b:c:d'/);
  assert.throws(() => parseBindSpec('v:/x:bogus'), /invalid mode: bogus/);
  assert.throws(() => parseBindSpec('v:/x:ro,rw'), /invalid mode: ro,rw/);
  assert.throws(() => parseBindSpec('v:relative'), /invalid volume specification: 'v:relative': invalid mount config for type "volume": invalid mount path: 'relative' mount path must be absolute/);
  assert.throws(() => parseBindSpec('/h:/'), /destination can't be '\/'/);
  assert.throws(() => parseBindSpec('v:/x:shared'), /field BindOptions must not be specified/);
  assert.throws(() => parseBindSpec('/h:/x:nocopy'), /field VolumeOptions must not be specified/);
  assert.ok(validMountMode('ro,z,rslave,nocopy,cached'));
  assert.ok(!validMountMode('ro,Z,z'));
});

test('--mount specs: Docker validation and wording', () => {
  assert.throws(
    () => parseMountSpec({ Type: 'bind', Source: '/berth-no-such-path', Target: '/x' }, true),
    /^InvalidArgument: invalid mount config for type "bind": bind source path does not exist: \/berth-no-such-path$/,
  );
  assert.equal(parseMountSpec({ Type: 'bind', Source: '/berth-no-such-path', Target: '/x', BindOptions: { CreateMountpoint: true } }, true).CreateSource, true);
  assert.throws(() => parseMountSpec({ Type: 'bind', Target: '/x' }, true), /field Source must not be empty/);
  assert.throws(() => parseMountSpec({ Type: 'bind', Source: '/', Target: '/x', BindOptions: { Propagation: 'weird' } }, true), /invalid propagation mode: weird/);
  assert.throws(() => parseMountSpec({ Type: 'volume', Target: '' }, true), /field Target must not be empty/);
  assert.throws(() => parseMountSpec({ Type: 'volume', Target: '/x', ReadOnly: true }, true), /must not set ReadOnly mode when using anonymous volumes/);
  assert.throws(() => parseMountSpec({ Type: 'tmpfs', Source: 'x', Target: '/x' }, true), /field Source must not be specified/);
  assert.throws(() => parseMountSpec({ Type: 'npipe', Target: '/x' }, true), /invalid mount config for type "npipe": mount type unknown/);
  const v = parseMountSpec({ Type: 'volume', Source: 'db', Target: '/db', VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } } } }, true);
  assert.equal(v.CopyData, false);
  assert.deepEqual(v.want, { driver: 'local', driverOpts: { type: 'tmpfs', device: 'tmpfs' }, labels: { a: 'b' } });
  const t = parseMountSpec({ Type: 'tmpfs', Target: '/t', ReadOnly: true, TmpfsOptions: { SizeBytes: 3 * 1024 * 1024, Mode: 0o1770 } }, true);
  assert.equal(t.TmpfsData, 'ro,mode=1770,size=3m');
  assert.equal(tmpfsData({ SizeBytes: 1000 }, false), 'size=1000');
  assert.equal(tmpfsData({ SizeBytes: 2 * 2 ** 30 }, false), 'size=2g');
});

test('--volumes-from specs', () => {
  assert.deepEqual(parseVolumesFrom('web'), ['web', 'rw']);
  assert.deepEqual(parseVolumesFrom('web:ro'), ['web', 'ro']);
  assert.throws(() => parseVolumesFrom(''), /volumes-from specification cannot be an empty string/);
  assert.throws(() => parseVolumesFrom('web:rshared'), /invalid mode: rshared/);
  assert.throws(() => parseVolumesFrom('web:nocopy'), /invalid mode: nocopy/);
});

test('copy-up keeps owners, modes, times, symlinks and hard links, and only fills empty volumes', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-copyup-'));
  try {
    const src = path.join(tmp, 'src');
    mkdirSync(path.join(src, 'sub'), { recursive: true, mode: 0o755 });
    writeFileSync(path.join(src, 'sub', 'f'), 'data');
    chownSync(path.join(src, 'sub', 'f'), 1234, 5678);
    linkSync(path.join(src, 'sub', 'f'), path.join(src, 'hard'));
    symlinkSync('sub/f', path.join(src, 'link'));
    const { chmodSync, utimesSync } = await import('node:fs');
    chmodSync(path.join(src, 'sub'), 0o1750);
    chmodSync(src, 0o700);
    utimesSync(path.join(src, 'sub', 'f'), new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
    const dst = path.join(tmp, 'dst');
    mkdirSync(dst);
    assert.equal(await copyUp(src, dst), true);
    assert.equal(statSync(dst).mode & 0o7777, 0o700);
    assert.equal(statSync(path.join(dst, 'sub')).mode & 0o7777, 0o1750);
    const f = statSync(path.join(dst, 'sub', 'f'));
    assert.deepEqual([f.uid, f.gid, f.nlink, f.mtime.toISOString()], [1234, 5678, 2, '2001-01-01T00:00:00.000Z']);
    assert.equal(statSync(path.join(dst, 'hard')).ino, f.ino);
    assert.ok(lstatSync(path.join(dst, 'link')).isSymbolicLink());
    assert.equal(readlinkSync(path.join(dst, 'link')), 'sub/f');
    assert.equal(readFileSync(path.join(dst, 'link'), 'utf8'), 'data');
    // Not empty any more: nothing is copied again.
    assert.equal(await copyUp(path.join(src, 'sub'), dst), false);
    assert.equal(await copyUp(path.join(src, 'missing'), path.join(tmp, 'src', 'sub')), false);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('local driver: names and options as Docker checks them', () => {
  const d = new LocalDriver('/nonexistent');
  d.validateName('ab');
  d.validateName('my_vol.1-x');
  assert.throws(() => d.validateName('a'), /"a" includes invalid characters for a local volume name/);
  assert.throws(() => d.validateName('a/b'), /If you intended to pass a host directory, use absolute path/);
  assert.throws(() => d.validateName('.hidden'), /invalid characters/);
  d.validateOptions(null);
  d.validateOptions({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
  assert.throws(() => d.validateOptions({ colour: 'red' }), /invalid option: "colour"/);
  assert.throws(() => d.validateOptions({ type: 'nfs' }), /missing required option: "device"/);
  assert.throws(() => d.validateOptions({ o: 'bind', device: '/x' }), /missing required option: "type"/);
  assert.equal(d.needsMount({ type: 'tmpfs', device: 'tmpfs' }), true);
  assert.equal(d.needsMount({}), false);
});
