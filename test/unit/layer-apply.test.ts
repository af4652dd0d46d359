import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import * as tar from 'tar-stream';

import { applyLayer, cleanArchivePath } from '../../src/layers/apply.js';

// ---------------------------------------------------------------------------------------------
// helpers

interface TEntry {
  name: string;
  type?: tar.Header['type'];
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  body?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

const T0 = new Date('2020-01-02T03:04:05Z');

async function makeTar(entries: TEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const { body, ...header } = e;
    const h = { mtime: T0, ...header } as tar.Header;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      const type = h.type ?? 'file';
      if (type === 'file' || type === 'contiguous-file') pack.entry(h, body ?? Buffer.alloc(0), cb);
      else pack.entry(h, cb);
    });
  }
  pack.finalize();
  await collecting;
  return Buffer.concat(chunks);
}

function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

const tmpRoots: string[] = [];

after(async () => {
  for (const r of tmpRoots) await fs.rm(r, { recursive: true, force: true });
});

async function tmp(prefix = 'berth-layer-'): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  tmpRoots.push(d);
  return d;
}

/** Recursive description of a tree (not following symlinks), excluding `exclude` (absolute). */
async function snapshot(root: string, exclude: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(p: string): Promise<void> {
    const st = await fs.lstat(p);
    let extra = '';
    if (st.isFile()) extra = (await fs.readFile(p)).toString('base64');
    if (st.isSymbolicLink()) extra = await fs.readlink(p);
    out.push(`${path.relative(root, p)} mode=${st.mode.toString(8)} uid=${st.uid} nlink=${st.nlink} mtime=${st.mtimeMs} ${extra}`);
    if (st.isDirectory()) {
      for (const n of (await fs.readdir(p)).sort()) {
        const c = path.join(p, n);
        if (c === exclude) continue;
        await walk(c);
      }
    }
  }
  await walk(root);
  return out;
}

interface Sandbox {
  base: string;
  dest: string;
  outside: string;
  /** Asserts nothing beside dest changed (sentinel dir included). */
  check(): Promise<void>;
}

/** base/outside/{sentinel,dir/} is the sentinel area; base/w/dest is the extraction target. */
async function sandbox(): Promise<Sandbox> {
  const base = await tmp();
  const outside = path.join(base, 'outside');
  await fs.mkdir(path.join(outside, 'dir'), { recursive: true });
  await fs.writeFile(path.join(outside, 'sentinel'), 'keep me');
  await fs.utimes(path.join(outside, 'dir'), T0, T0);
  await fs.utimes(outside, T0, T0);
  const dest = path.join(base, 'w', 'dest');
  await fs.mkdir(dest, { recursive: true });
  const before = await snapshot(base, dest);
  return {
    base,
    dest,
    outside,
    async check() {
      assert.deepEqual(await snapshot(base, dest), before, 'something changed outside dest');
      // and nothing relative to the temp dir root either ("../../etc/x" from a shallower dest)
      await assert.rejects(fs.lstat(path.join(os.tmpdir(), 'etc', 'x')), { code: 'ENOENT' });
    },
  };
}

async function apply(entries: TEntry[] | Buffer, dest: string) {
  const buf = Buffer.isBuffer(entries) ? entries : await makeTar(entries);
  return applyLayer(Readable.from([buf]), dest);
}

async function assertHostile(entries: TEntry[], pattern: RegExp): Promise<Sandbox> {
  const sb = await sandbox();
  await assert.rejects(apply(entries, sb.dest), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.match(err.message, pattern);
    return true;
  });
  await sb.check();
  return sb;
}

function getfattrOpaque(p: string): string | null {
  try {
    return execFileSync('getfattr', ['-h', '--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', p], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return null;
  }
}

function haveProgram(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const privileged = process.getuid?.() === 0;
const haveAttr = haveProgram('setfattr') && haveProgram('getfattr');
const skipWhiteouts = !privileged || !haveAttr ? 'needs root and the attr package' : false;

// ---------------------------------------------------------------------------------------------

describe('cleanArchivePath', () => {
  it('cleans lexically and refuses relative escapes', () => {
    assert.deepEqual(cleanArchivePath('./a//b/./c/'), ['a', 'b', 'c']);
    assert.deepEqual(cleanArchivePath('/abs/x'), ['abs', 'x']);
    assert.deepEqual(cleanArchivePath('/../../x'), ['x']);
    assert.deepEqual(cleanArchivePath('a/b/../c'), ['a', 'c']);
    assert.deepEqual(cleanArchivePath('./'), []);
    assert.throws(() => cleanArchivePath('../x'), /invalid tar header: path "\.\.\/x" escapes root/);
    assert.throws(() => cleanArchivePath('a/../../x'), /escapes root/);
  });
});

describe('applyLayer: normal archives', { skip: !privileged ? 'needs root' : false }, () => {
  it('extracts files, dirs, symlinks, hardlinks and fifos with metadata', async () => {
    const sb = await sandbox();
    const mt = new Date('2019-05-06T07:08:09Z');
    const dirMt = new Date('2018-01-01T00:00:00Z');
    const buf = await makeTar([
      { name: 'etc/', type: 'directory', mode: 0o755, mtime: dirMt },
      { name: 'etc/passwd', body: 'root:x:0:0\n', mode: 0o644, mtime: mt },
      { name: 'bin/', type: 'directory', mode: 0o711, uid: 1000, gid: 1001, mtime: dirMt },
      { name: 'bin/su', body: 'ELF', mode: 0o4755, uid: 1000, gid: 1001, mtime: mt },
      { name: 'bin/sg', body: 'ELF2', mode: 0o2711, uid: 0, gid: 42, mtime: mt },
      { name: 'tmp/', type: 'directory', mode: 0o1777, mtime: dirMt },
      { name: 'bin/sh', type: 'symlink', linkname: '/usr/bin/dash', uid: 7, gid: 8, mtime: mt },
      { name: 'bin/su2', type: 'link', linkname: 'bin/su' },
      { name: '/bin/su3', type: 'link', linkname: '/bin/su' },
      { name: 'run/fifo', type: 'fifo', mode: 0o640, uid: 5, gid: 6, mtime: mt },
      { name: 'empty', body: '', mode: 0o600 },
      { name: 'nested/deep/file', body: 'x'.repeat(100000) },
    ]);
    const res = await apply(buf, sb.dest);
    assert.equal(res.diffId, sha256(buf));
    assert.equal(res.size, 'root:x:0:0\n'.length + 3 + 4 + 100000);
    assert.equal(res.skippedDevices, 0);

    const d = (p: string) => path.join(sb.dest, p);
    assert.equal(await fs.readFile(d('etc/passwd'), 'utf8'), 'root:x:0:0\n');
    const su = await fs.lstat(d('bin/su'));
    assert.equal(su.mode & 0o7777, 0o4755, 'setuid kept (chmod after chown)');
    assert.equal(su.uid, 1000);
    assert.equal(su.gid, 1001);
    assert.equal(su.mtimeMs, mt.getTime());
    assert.equal(su.nlink, 3);
    assert.equal((await fs.lstat(d('bin/su2'))).ino, su.ino);
    assert.equal((await fs.lstat(d('bin/su3'))).ino, su.ino);
    const sg = await fs.lstat(d('bin/sg'));
    assert.equal(sg.mode & 0o7777, 0o2711);
    assert.equal(sg.gid, 42);
    const bin = await fs.lstat(d('bin'));
    assert.equal(bin.mode & 0o7777, 0o711);
    assert.equal(bin.uid, 1000);
    assert.equal(bin.mtimeMs, dirMt.getTime(), 'dir mtime applied after its children');
    assert.equal((await fs.lstat(d('etc'))).mtimeMs, dirMt.getTime());
    assert.equal((await fs.lstat(d('tmp'))).mode & 0o7777, 0o1777);
    const sh = await fs.lstat(d('bin/sh'));
    assert.ok(sh.isSymbolicLink());
    assert.equal(await fs.readlink(d('bin/sh')), '/usr/bin/dash');
    assert.equal(sh.uid, 7);
    assert.equal(sh.gid, 8);
    assert.equal(sh.mtimeMs, mt.getTime());
    const fifo = await fs.lstat(d('run/fifo'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o640);
    assert.equal(fifo.uid, 5);
    assert.equal(fifo.mtimeMs, mt.getTime());
    const implicit = await fs.lstat(d('nested/deep'));
    assert.ok(implicit.isDirectory());
    assert.equal(implicit.mode & 0o7777, 0o755, 'implicit parents are 0755');
    assert.equal((await fs.readFile(d('nested/deep/file'))).length, 100000);
    assert.equal((await fs.lstat(d('empty'))).size, 0);
    await sb.check();
  });

  it('applies "./" root metadata and handles PAX long names, pax mtime and xattr records', async () => {
    const sb = await sandbox();
    const longDir = `long/${'d'.repeat(120)}/${'e'.repeat(150)}`;
    const longTarget = `/${'t'.repeat(300)}`;
    const buf = await makeTar([
      { name: './', type: 'directory', mode: 0o750, mtime: T0 },
      { name: `${longDir}/file-${'f'.repeat(110)}`, body: 'long' },
      { name: 'lnk', type: 'symlink', linkname: longTarget },
      { name: 'frac', body: 'x', pax: { mtime: '1600000000.5', 'SCHILY.xattr.security.capability': 'abc' } },
      { name: 'ünïcødé', body: 'u' },
    ]);
    const res = await apply(buf, sb.dest);
    assert.equal(res.ignoredXattrs, 1);
    assert.equal(await fs.readFile(path.join(sb.dest, `${longDir}/file-${'f'.repeat(110)}`), 'utf8'), 'long');
    assert.equal(await fs.readlink(path.join(sb.dest, 'lnk')), longTarget);
    assert.equal((await fs.lstat(path.join(sb.dest, 'frac'))).mtimeMs, 1600000000500);
    assert.equal(await fs.readFile(path.join(sb.dest, 'ünïcødé'), 'utf8'), 'u');
    const root = await fs.lstat(sb.dest);
    assert.equal(root.mode & 0o7777, 0o750);
    assert.equal(root.mtimeMs, T0.getTime());
    await sb.check();
  });

  it('lets later entries replace earlier ones', async () => {
    const sb = await sandbox();
    await apply(
      [
        { name: 'r', body: 'file first' },
        { name: 'r/', type: 'directory', mode: 0o700 },
        { name: 'r/child', body: 'c' },
        { name: 'q/', type: 'directory' },
        { name: 'q/sub/x', body: 'gone' },
        { name: 'q', body: 'now a file' },
        { name: 'm/', type: 'directory', mode: 0o755 },
        { name: 'm/keep', body: 'k' },
        { name: 'm/', type: 'directory', mode: 0o700, uid: 5 },
        { name: 's', type: 'symlink', linkname: 'a' },
        { name: 's', type: 'symlink', linkname: 'b' },
        { name: 'f', body: 'one' },
        { name: 'f', body: 'two' },
      ],
      sb.dest,
    );
    const d = (p: string) => path.join(sb.dest, p);
    assert.ok((await fs.lstat(d('r'))).isDirectory());
    assert.equal(await fs.readFile(d('r/child'), 'utf8'), 'c');
    assert.equal(await fs.readFile(d('q'), 'utf8'), 'now a file');
    const m = await fs.lstat(d('m'));
    assert.equal(m.mode & 0o7777, 0o700);
    assert.equal(m.uid, 5);
    assert.equal(await fs.readFile(d('m/keep'), 'utf8'), 'k', 'dir re-declaration keeps children');
    assert.equal(await fs.readlink(d('s')), 'b');
    assert.equal(await fs.readFile(d('f'), 'utf8'), 'two');
    await sb.check();
  });
});

describe('applyLayer: stream handling', { skip: !privileged ? 'needs root' : false }, () => {
  it('diffId is the sha256 of the uncompressed bytes, trailing padding included', async () => {
    const sb = await sandbox();
    const buf = Buffer.concat([await makeTar([{ name: 'a', body: 'hello' }]), Buffer.alloc(10240)]);
    // feed in small odd-sized chunks
    const chunks: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 333) chunks.push(buf.subarray(i, i + 333));
    const res = await applyLayer(Readable.from(chunks), sb.dest);
    assert.equal(res.diffId, sha256(buf));
    assert.equal(res.size, 5);
  });

  it('gunzips transparently and hashes the uncompressed tar', async () => {
    const sb = await sandbox();
    const buf = await makeTar([{ name: 'dir/a', body: 'x'.repeat(300000) }, { name: 'b', body: 'b' }]);
    const gz = zlib.gzipSync(buf);
    const res = await applyLayer(Readable.from([gz.subarray(0, 1), gz.subarray(1, 5), gz.subarray(5)]), sb.dest);
    assert.equal(res.diffId, sha256(buf));
    assert.equal((await fs.readFile(path.join(sb.dest, 'dir/a'))).length, 300000);
  });

  it('reads a tar-stream entry (a layer inside an image archive) without breaking the outer stream', async () => {
    const layer = await makeTar([{ name: 'in/side', body: 'nested' }]);
    const outer = await makeTar([
      { name: 'l1.tar.gz', body: zlib.gzipSync(layer) },
      { name: 'l2.tar', body: layer },
      { name: 'manifest.json', body: '[]' },
    ]);
    const ex = tar.extract();
    const results: string[] = [];
    const dests: string[] = [];
    const done = (async () => {
      for await (const entry of ex) {
        if (entry.header.name.startsWith('l')) {
          const sb = await sandbox();
          dests.push(sb.dest);
          results.push((await applyLayer(entry, sb.dest)).diffId);
        } else {
          for await (const _ of entry) void _;
        }
      }
    })();
    ex.end(outer);
    await done;
    assert.deepEqual(results, [sha256(layer), sha256(layer)]);
    for (const d of dests) assert.equal(await fs.readFile(path.join(d, 'in/side'), 'utf8'), 'nested');
  });

  it('accepts an empty stream as an empty layer', async () => {
    const sb = await sandbox();
    const res = await applyLayer(Readable.from([]), sb.dest);
    assert.equal(res.diffId, sha256(Buffer.alloc(0)));
    assert.deepEqual(await fs.readdir(sb.dest), []);
  });

  it('rejects truncated and corrupt archives with a clear message', async () => {
    const buf = await makeTar([{ name: 'a', body: 'x'.repeat(5000) }]);
    let sb = await sandbox();
    await assert.rejects(apply(buf.subarray(0, 2048), sb.dest), /unexpected end of data/);
    sb = await sandbox();
    await assert.rejects(apply(Buffer.alloc(1024, 0x41), sb.dest), /invalid layer tar/);
    sb = await sandbox();
    const gz = zlib.gzipSync(buf);
    await assert.rejects(apply(gz.subarray(0, gz.length - 20), sb.dest), /gzip decompression failed|unexpected end/);
    sb = await sandbox();
    const xz = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(100)]);
    await assert.rejects(apply(xz, sb.dest), /unsupported layer compression: xz/);
  });

  it('rejects unsupported sparse entries', async () => {
    const sb = await sandbox();
    await assert.rejects(apply([{ name: 'sp', body: 'x', pax: { 'GNU.sparse.major': '1' } }], sb.dest), /sparse/);
  });
});

describe('applyLayer: hostile archives', { skip: !privileged ? 'needs root' : false }, () => {
  it('rejects ../ escapes', async () => {
    await assertHostile([{ name: '../../etc/x', body: 'pwned' }], /invalid tar header: path "\.\.\/\.\.\/etc\/x" escapes root/);
    await assertHostile([{ name: 'a/../../x', body: 'pwned' }], /escapes root/);
    await assertHostile([{ name: '../', type: 'directory' }], /escapes root/);
  });

  it('keeps absolute names inside dest', async () => {
    const sb = await sandbox();
    await apply(
      [
        { name: '/abs/x', body: 'inside' },
        { name: '/../../clamped', body: 'c' },
      ],
      sb.dest,
    );
    assert.equal(await fs.readFile(path.join(sb.dest, 'abs/x'), 'utf8'), 'inside');
    assert.equal(await fs.readFile(path.join(sb.dest, 'clamped'), 'utf8'), 'c');
    await sb.check();
  });

  it('refuses to write through a symlinked parent', async () => {
    for (const second of [
      { name: 'evil/x', body: 'pwned' },
      { name: 'evil/dir/', type: 'directory' as const },
      { name: 'evil/newdir/file', body: 'pwned' },
      { name: 'evil/f', type: 'fifo' as const },
      { name: 'evil/l', type: 'symlink' as const, linkname: '/x' },
      { name: 'evil/h', type: 'link' as const, linkname: 'real' },
      { name: 'evil/.wh.sentinel', body: '' },
      { name: 'evil/.wh..wh..opq', body: '' },
    ]) {
      // each case gets its own sandbox, with the symlink pointing at that sandbox's sentinel dir
      const sb = await sandbox();
      await assert.rejects(
        apply(
          [
            { name: 'real', body: 'r' },
            { name: 'evil', type: 'symlink', linkname: sb.outside },
            second,
          ],
          sb.dest,
        ),
        /is a symbolic link/,
        second.name,
      );
      await sb.check();
    }
  });

  it('refuses symlink chains to ..', async () => {
    await assertHostile(
      [
        { name: 'l', type: 'symlink', linkname: '..' },
        { name: 'l/l/x', body: 'pwned' },
      ],
      /is a symbolic link/,
    );
    await assertHostile(
      [
        { name: 'a/', type: 'directory' },
        { name: 'a/up', type: 'symlink', linkname: '../..' },
        { name: 'a/up/x', body: 'pwned' },
      ],
      /parent "a\/up" is a symbolic link/,
    );
    await assertHostile(
      [
        { name: 'b', type: 'symlink', linkname: '.' },
        { name: 'b/b/b/x', body: 'pwned' },
      ],
      /is a symbolic link/,
    );
  });

  it('rejects hard links that leave dest or are not in the layer', async () => {
    const passwdLinks = (await fs.stat('/etc/passwd')).nlink;
    await assertHostile([{ name: 'hl', type: 'link', linkname: '../outside/sentinel' }], /escapes root/);
    await assertHostile([{ name: 'hl', type: 'link', linkname: '../../../outside/sentinel' }], /escapes root/);
    await assertHostile([{ name: 'hl', type: 'link', linkname: '/etc/passwd' }], /invalid hard link|does not exist/);
    await assertHostile([{ name: 'hl', type: 'link', linkname: 'missing' }], /target not found/);
    assert.equal((await fs.stat('/etc/passwd')).nlink, passwdLinks);

    // through a symlinked directory inside the layer
    const sb = await sandbox();
    await assert.rejects(
      apply(
        [
          { name: 's', type: 'symlink', linkname: sb.outside },
          { name: 'hl', type: 'link', linkname: 's/sentinel' },
        ],
        sb.dest,
      ),
      /is a symbolic link/,
    );
    await sb.check();
    assert.equal((await fs.stat(path.join(sb.outside, 'sentinel'))).nlink, 1);
  });

  it('hard-links a symlink itself, not its target', async () => {
    const sb = await sandbox();
    await apply(
      [
        { name: 's', type: 'symlink', linkname: path.join(sb.outside, 'sentinel') },
        { name: 'hl', type: 'link', linkname: 's' },
      ],
      sb.dest,
    );
    assert.ok((await fs.lstat(path.join(sb.dest, 'hl'))).isSymbolicLink());
    await sb.check();
  });

  it('replaces a symlink pointing outside instead of writing through it', async () => {
    const sb = await sandbox();
    const target = path.join(sb.outside, 'sentinel');
    const created = path.join(sb.outside, 'created');
    await apply(
      [
        { name: 'f', type: 'symlink', linkname: target },
        { name: 'f', body: 'replaced' },
        { name: 'g', type: 'symlink', linkname: created },
        { name: 'g', body: 'new' },
        { name: 'p', type: 'symlink', linkname: created },
        { name: 'p', type: 'fifo' },
        { name: 'dd', type: 'symlink', linkname: path.join(sb.outside, 'dir') },
        { name: 'dd/', type: 'directory', mode: 0o700, uid: 99 },
      ],
      sb.dest,
    );
    const f = await fs.lstat(path.join(sb.dest, 'f'));
    assert.ok(f.isFile());
    assert.equal(await fs.readFile(path.join(sb.dest, 'f'), 'utf8'), 'replaced');
    assert.ok((await fs.lstat(path.join(sb.dest, 'g'))).isFile());
    assert.ok((await fs.lstat(path.join(sb.dest, 'p'))).isFIFO());
    const dd = await fs.lstat(path.join(sb.dest, 'dd'));
    assert.ok(dd.isDirectory());
    assert.equal(dd.uid, 99);
    await sb.check();
  });

  it('does not touch a directory replaced by a symlink when setting directory times', async () => {
    const sb = await sandbox();
    await apply(
      [
        { name: 'd/', type: 'directory', mtime: new Date('2001-01-01T00:00:00Z') },
        { name: 'd/sub/', type: 'directory', mtime: new Date('2001-01-01T00:00:00Z') },
        { name: 'd', type: 'symlink', linkname: sb.outside },
        // the same through a parent: outside/dir exists in the sentinel area
        { name: 'x/', type: 'directory' },
        { name: 'x/dir/', type: 'directory', mtime: new Date('2002-01-01T00:00:00Z') },
        { name: 'x', type: 'symlink', linkname: sb.outside },
      ],
      sb.dest,
    );
    assert.ok((await fs.lstat(path.join(sb.dest, 'd'))).isSymbolicLink());
    await sb.check();
  });

  it('skips block and character devices', async () => {
    const sb = await sandbox();
    const res = await apply(
      [
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 },
        { name: 'mem', type: 'character-device', devmajor: 1, devminor: 1 },
        { name: 'ok', body: 'fine' },
      ],
      sb.dest,
    );
    assert.equal(res.skippedDevices, 3);
    assert.deepEqual((await fs.readdir(sb.dest)).sort(), ['ok']);
    await sb.check();
  });

  it('rejects non-directory entries for the root and whiteout names used as directories', async () => {
    await assertHostile([{ name: './', body: 'x' }], /cannot be the layer root/);
    await assertHostile([{ name: 'a', body: 'x' }, { name: 'a/b', body: 'y' }], /not a directory/);
    await assertHostile([{ name: '.wh.foo/bar', body: 'x' }], /whiteout name/);
  });
});

describe('applyLayer: whiteouts', { skip: skipWhiteouts }, () => {
  it('turns .wh. entries into 0/0 char devices and .wh..wh..opq into the opaque xattr', async () => {
    const sb = await sandbox();
    await apply(
      [
        { name: '.wh.foo', body: '' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/.wh..wh..opq', body: '' },
        { name: 'dir/keep', body: 'k' },
        { name: 'dir/sub/.wh.gone', body: '' },
        { name: 'bar/', type: 'directory' },
        { name: 'bar/mine', body: 'm' },
        { name: '.wh.bar', body: '' },
        { name: '.wh.baz', body: '' },
        { name: 'baz', body: 'recreated' },
        { name: '.wh.qux', body: '' },
        { name: 'qux/', type: 'directory' },
        { name: '.wh..wh.plnk/123.456', body: 'aufs' },
        { name: 'plain/', type: 'directory' },
      ],
      sb.dest,
    );
    const d = (p: string) => path.join(sb.dest, p);
    for (const wh of ['foo', 'dir/sub/gone']) {
      const st = await fs.lstat(d(wh));
      assert.ok(st.isCharacterDevice(), wh);
      assert.equal(st.rdev, 0, wh);
    }
    assert.equal(getfattrOpaque(d('dir')), 'y');
    assert.equal(await fs.readFile(d('dir/keep'), 'utf8'), 'k');
    // a same-layer directory survives its whiteout but hides the lower one
    assert.ok((await fs.lstat(d('bar'))).isDirectory());
    assert.equal(await fs.readFile(d('bar/mine'), 'utf8'), 'm');
    assert.equal(getfattrOpaque(d('bar')), 'y');
    // a later entry replaces the whiteout; a directory doing so becomes opaque
    assert.equal(await fs.readFile(d('baz'), 'utf8'), 'recreated');
    assert.ok((await fs.lstat(d('qux'))).isDirectory());
    assert.equal(getfattrOpaque(d('qux')), 'y');
    assert.equal(getfattrOpaque(d('plain')), null);
    await assert.rejects(fs.lstat(d('.wh..wh.plnk')), { code: 'ENOENT' });
    await assert.rejects(fs.lstat(d('.wh.foo')), { code: 'ENOENT' });
    await sb.check();
  });

  it('rejects malformed whiteouts', async () => {
    await assertHostile([{ name: 'a/.wh..', body: '' }], /malformed whiteout/);
  });
});
