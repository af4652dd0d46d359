import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync, utimesSync, readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar-stream';

import { prepareCopy, type CopyRoots, type CopySpec } from '../../src/build/copy.js';
import { globMatch } from '../../src/build/copy-paths.js';

interface Got {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname?: string;
  body?: string;
}

async function readLayer(spec: Partial<CopySpec>, roots: Partial<CopyRoots>): Promise<{ checksum: string; entries: Map<string, Got> }> {
  const prepared = await prepareCopy(fullSpec(spec), fullRoots(roots));
  try {
    const extract = tar.extract();
    const entries = new Map<string, Got>();
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        entries.set(h.name, {
          name: h.name,
          type: h.type ?? 'file',
          mode: h.mode ?? 0,
          uid: h.uid ?? 0,
          gid: h.gid ?? 0,
          mtime: h.mtime?.getTime() ?? 0,
          ...(h.linkname ? { linkname: h.linkname } : {}),
          ...(h.type === 'file' ? { body: Buffer.concat(chunks).toString() } : {}),
        });
        next();
      });
    });
    const done = new Promise<void>((resolve, reject) => {
      extract.on('finish', resolve);
      extract.on('error', reject);
    });
    prepared.layer().pipe(extract as unknown as NodeJS.WritableStream);
    await done;
    return { checksum: prepared.checksum, entries };
  } finally {
    await prepared.dispose();
  }
}

function fullSpec(s: Partial<CopySpec>): CopySpec {
  return { add: false, sources: [], heredocs: [], dest: '/', workdir: '', exclude: [], parents: false, link: false, ...s };
}

let ctx = '';
let target = '';
let base = '';
function fullRoots(r: Partial<CopyRoots>): CopyRoots {
  return { sourceRoot: ctx, fromContext: true, targetRoot: target, signal: new AbortController().signal, tempDir: path.join(base, 'tmp'), ...r };
}

const names = (m: Map<string, Got>) => [...m.keys()].sort();

async function rejects(spec: Partial<CopySpec>, roots: Partial<CopyRoots>, message: string | RegExp): Promise<void> {
  await assert.rejects(prepareCopy(fullSpec(spec), fullRoots(roots)), (err: Error) => {
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

before(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'berth-copy-test-'));
  ctx = path.join(base, 'ctx');
  target = path.join(base, 'target');
  const outside = path.join(base, 'outside');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'secret'), 'host secret');
  mkdirSync(path.join(ctx, 'dir/sub'), { recursive: true });
  writeFileSync(path.join(ctx, 'a.txt'), 'A');
  writeFileSync(path.join(ctx, 'b.txt'), 'B');
  writeFileSync(path.join(ctx, 'run.sh'), '#!/bin/sh\n');
  chmodSync(path.join(ctx, 'run.sh'), 0o755);
  writeFileSync(path.join(ctx, 'secret'), 'context secret');
  writeFileSync(path.join(ctx, 'dir/one'), '1');
  writeFileSync(path.join(ctx, 'dir/sub/two'), '2');
  writeFileSync(path.join(ctx, 'dir/skip.md'), 'md');
  chmodSync(path.join(ctx, 'dir/sub'), 0o700);
  symlinkSync('one', path.join(ctx, 'dir/link'));
  symlinkSync(path.join(outside, 'secret'), path.join(ctx, 'abs-link'));
  symlinkSync('../../outside/secret', path.join(ctx, 'up-link'));
  symlinkSync('a.txt', path.join(ctx, 'alias'));
  utimesSync(path.join(ctx, 'a.txt'), new Date('2021-05-06T07:08:09Z'), new Date('2021-05-06T07:08:09Z'));

  mkdirSync(path.join(target, 'etc'), { recursive: true });
  mkdirSync(path.join(target, 'app'), { recursive: true });
  mkdirSync(path.join(target, 'real'), { recursive: true });
  chmodSync(path.join(target, 'app'), 0o750);
  execFileSync('chown', ['1000:1000', path.join(target, 'app')]);
  symlinkSync('/real', path.join(target, 'linkdir'));
  symlinkSync(outside, path.join(target, 'escape'));
  writeFileSync(path.join(target, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nbob:x:1001:1002::/home/bob:/bin/sh\n');
  writeFileSync(path.join(target, 'etc/group'), 'root:x:0:\nstaff:x:50:\nbob:x:1003:\n');
});

after(() => rmSync(base, { recursive: true, force: true }));

describe('COPY: sources', () => {
  it('copies a file into a directory dest, root-owned, with its mode and whole-second mtime', async () => {
    const { entries } = await readLayer({ sources: ['a.txt', 'run.sh'], dest: '/app/' }, {});
    assert.deepEqual(names(entries), ['app/', 'app/a.txt', 'app/run.sh']);
    const a = entries.get('app/a.txt')!;
    assert.equal(a.body, 'A');
    assert.equal(a.mode, 0o644);
    assert.equal(a.uid, 0);
    assert.equal(a.mtime, Date.parse('2021-05-06T07:08:09Z'));
    assert.equal(entries.get('app/run.sh')!.mode, 0o755);
    // The existing directory is emitted unchanged.
    const app = entries.get('app/')!;
    assert.equal(app.mode, 0o750);
    assert.equal(app.uid, 1000);
  });

  it('copies a file to a new name; missing parents are 0755 root', async () => {
    const { entries } = await readLayer({ sources: ['a.txt'], dest: 'x/y/renamed' }, { targetRoot: null });
    assert.deepEqual(names(entries), ['x/', 'x/y/', 'x/y/renamed']);
    assert.equal(entries.get('x/')!.mode, 0o755);
    assert.equal(entries.get('x/y/renamed')!.body, 'A');
  });

  it('is relative to the workdir', async () => {
    const { entries } = await readLayer({ sources: ['a.txt'], dest: '.', workdir: '/app' }, {});
    assert.deepEqual(names(entries), ['app/', 'app/a.txt']);
  });

  it('copies a directory\'s contents, links kept as links, sub-directory modes kept', async () => {
    const { entries } = await readLayer({ sources: ['dir'], dest: '/d' }, {});
    assert.deepEqual(names(entries), ['d/', 'd/link', 'd/one', 'd/skip.md', 'd/sub/', 'd/sub/two']);
    assert.equal(entries.get('d/')!.mode, 0o755);
    assert.equal(entries.get('d/sub/')!.mode, 0o700);
    assert.equal(entries.get('d/link')!.type, 'symlink');
    assert.equal(entries.get('d/link')!.linkname, 'one');
  });

  it('keeps hard links inside a copied tree as hard links', async () => {
    const src = path.join(base, 'links');
    mkdirSync(path.join(src, 'bin'), { recursive: true });
    writeFileSync(path.join(src, 'bin/busybox'), 'big binary');
    linkSync(path.join(src, 'bin/busybox'), path.join(src, 'bin/ls'));
    linkSync(path.join(src, 'bin/busybox'), path.join(src, 'bin/sh'));
    const { entries } = await readLayer({ sources: ['/bin'], dest: '/b' }, { sourceRoot: src, fromContext: false, targetRoot: null });
    assert.equal(entries.get('b/busybox')!.type, 'file');
    assert.equal(entries.get('b/ls')!.type, 'link');
    assert.equal(entries.get('b/ls')!.linkname, 'b/busybox');
    assert.equal(entries.get('b/sh')!.linkname, 'b/busybox');
    // When a later source replaces the first name, the other names become copies of the old content.
    const replaced = await readLayer(
      { sources: ['/bin'], heredocs: [{ name: 'busybox', content: 'new' }], dest: '/b/' },
      { sourceRoot: src, fromContext: false, targetRoot: null },
    );
    assert.equal(replaced.entries.get('b/busybox')!.body, 'new');
    assert.equal(replaced.entries.get('b/ls')!.type, 'file');
    assert.equal(replaced.entries.get('b/ls')!.body, 'big binary');
  });

  it('follows a top-level symlink source and names the file after the link', async () => {
    const { entries } = await readLayer({ sources: ['alias'], dest: '/app/' }, {});
    assert.equal(entries.get('app/alias')!.body, 'A');
    assert.equal(entries.get('app/alias')!.type, 'file');
    symlinkSync('dir', path.join(ctx, 'dirlink'));
    const dir = await readLayer({ sources: ['dirlink'], dest: '/dl' }, { targetRoot: null });
    assert.deepEqual(names(dir.entries), ['dl/', 'dl/link', 'dl/one', 'dl/skip.md', 'dl/sub/', 'dl/sub/two']);
  });

  it('never reads outside the context: .., absolute paths and links stay inside', async () => {
    for (const source of ['../secret', '/secret', '../../dir/../secret']) {
      const { entries } = await readLayer({ sources: [source], dest: '/x' }, {});
      assert.equal(entries.get('x')!.body, 'context secret', source);
    }
    await rejects({ sources: ['../outside/secret'], dest: '/x' }, {}, /stat outside\/secret: file does not exist|stat \.\.\/outside\/secret/);
    // A link to a host path resolves inside the context, where there is nothing.
    await rejects({ sources: ['abs-link'], dest: '/x' }, {}, 'COPY failed: file not found in build context or excluded by .dockerignore: stat abs-link: file does not exist');
    await rejects({ sources: ['up-link'], dest: '/x' }, {}, /file not found in build context/);
    symlinkSync('loop', path.join(ctx, 'loop'));
    await rejects({ sources: ['loop'], dest: '/x' }, {}, 'COPY failed: too many levels of symbolic links resolving loop');
  });

  it('says what Docker says about a missing source, no match and several sources to a file', async () => {
    await rejects({ sources: ['nope'], dest: '/x' }, {}, 'COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist');
    await rejects({ sources: ['nope'], dest: '/x' }, { fromContext: false }, 'COPY failed: stat nope: file does not exist');
    await rejects({ sources: ['*.nothing'], dest: '/x/' }, {}, 'COPY failed: no source files were specified');
    await rejects({ sources: ['a.txt', 'b.txt'], dest: '/x' }, {}, 'When using COPY with more than one source file, the destination must be a directory and end with a /');
    await rejects({ sources: ['*.txt'], dest: '/x' }, {}, 'When using COPY with more than one source file, the destination must be a directory and end with a /');
    await rejects({ sources: ['http://127.0.0.1:1/x'], dest: '/x' }, {}, "COPY failed: source can't be a URL for COPY");
  });

  it('expands wildcards with Go\'s rules', async () => {
    const { entries } = await readLayer({ sources: ['*.txt', 'dir/su?'], dest: '/w/' }, { targetRoot: null });
    assert.deepEqual(names(entries), ['w/', 'w/a.txt', 'w/b.txt', 'w/two']);
    assert.ok(globMatch('[a-c].txt', 'b.txt'));
    assert.ok(!globMatch('[^a-c].txt', 'b.txt'));
    assert.ok(!globMatch('*', 'a/b'));
    assert.ok(globMatch('a\\*', 'a*'));
    assert.ok(!globMatch('[', '['));
  });
});

describe('COPY: destination in the target root', () => {
  it('follows a destination link inside the target root', async () => {
    const { entries } = await readLayer({ sources: ['a.txt'], dest: '/linkdir/' }, {});
    assert.deepEqual(names(entries), ['real/', 'real/a.txt']);
  });

  it('never follows a link out of the target root', async () => {
    const { entries } = await readLayer({ sources: ['a.txt'], dest: '/escape/' }, {});
    // /escape points at a host directory: taken inside the target root, where that path is new.
    const inside = path.join(base, 'outside').slice(1);
    assert.ok(entries.has(`${inside}/a.txt`), [...entries.keys()].join(' '));
    assert.ok([...entries.keys()].every((n) => !n.startsWith('..') && !n.startsWith('/')));
    assert.deepEqual(readdirSync(path.join(base, 'outside')), ['secret']);
  });
});

describe('COPY: destination edge cases', () => {
  it('keeps .. in the destination inside the target root', async () => {
    const { entries } = await readLayer({ sources: ['a.txt'], dest: '../../../up.txt', workdir: '/app' }, {});
    assert.deepEqual(names(entries), ['up.txt']);
  });

  it('fails when a directory is needed where the image has a file', async () => {
    await rejects({ sources: ['a.txt'], dest: '/etc/passwd/x' }, {}, 'failed to copy files: mkdir /etc/passwd: not a directory');
  });

  it('lets a later source replace an earlier one at the same path', async () => {
    const { entries } = await readLayer({ sources: ['a.txt'], heredocs: [{ name: 'a.txt', content: 'heredoc' }], dest: '/r/' }, { targetRoot: null });
    assert.equal(entries.get('r/a.txt')!.body, 'heredoc');
  });
});

describe('COPY: owners and modes', () => {
  it('--chown by name, by number, user alone as group', async () => {
    let { entries } = await readLayer({ sources: ['a.txt'], dest: '/x', chown: 'bob:staff' }, {});
    assert.deepEqual([entries.get('x')!.uid, entries.get('x')!.gid], [1001, 50]);
    ({ entries } = await readLayer({ sources: ['a.txt'], dest: '/x', chown: 'bob' }, {}));
    assert.deepEqual([entries.get('x')!.uid, entries.get('x')!.gid], [1001, 1003]);
    ({ entries } = await readLayer({ sources: ['a.txt'], dest: '/n/x', chown: '7:8' }, { targetRoot: null }));
    assert.deepEqual([entries.get('n/x')!.uid, entries.get('n/x')!.gid], [7, 8]);
    // New parents of a copied file belong to the --chown owner (moby's MkdirAllAndChown).
    assert.deepEqual([entries.get('n/')!.uid, entries.get('n/')!.gid], [7, 8]);
  });

  it('--chown errors as Docker words them', async () => {
    await rejects({ sources: ['a.txt'], dest: '/x', chown: 'alice' }, {}, 'unable to convert uid/gid chown string to host mapping: can\'t find uid for user alice: no such user: alice');
    await rejects({ sources: ['a.txt'], dest: '/x', chown: 'bob:nogroup' }, {}, 'unable to convert uid/gid chown string to host mapping: can\'t find gid for group nogroup: no such group: nogroup');
    await rejects({ sources: ['a.txt'], dest: '/x', chown: 'bob' }, { targetRoot: null }, /can't find uid for user bob: open \/etc\/passwd: no such file or directory/);
    await rejects({ sources: ['a.txt'], dest: '/x', chown: 'a:b:c' }, {}, /invalid chown string format: a:b:c/);
  });

  it('COPY --from keeps the source owners; from the context they are root', async () => {
    const src = path.join(base, 'stage');
    mkdirSync(path.join(src, 'opt'), { recursive: true });
    writeFileSync(path.join(src, 'opt/f'), 'f');
    execFileSync('chown', ['-R', '33:44', path.join(src, 'opt')]);
    let { entries } = await readLayer({ sources: ['/opt'], dest: '/o' }, { sourceRoot: src, fromContext: false });
    assert.deepEqual([entries.get('o/f')!.uid, entries.get('o/f')!.gid], [33, 44]);
    ({ entries } = await readLayer({ sources: ['/opt'], dest: '/o' }, { sourceRoot: src, fromContext: true }));
    assert.deepEqual([entries.get('o/f')!.uid, entries.get('o/f')!.gid], [0, 0]);
  });

  it('--chmod octal and symbolic', async () => {
    let { entries } = await readLayer({ sources: ['a.txt'], dest: '/x', chmod: '0600' }, {});
    assert.equal(entries.get('x')!.mode, 0o600);
    ({ entries } = await readLayer({ sources: ['dir'], dest: '/d', chmod: 'u+x,go-r' }, { targetRoot: null }));
    assert.equal(entries.get('d/one')!.mode, 0o700);
    assert.equal(entries.get('d/sub/')!.mode, 0o700);
    ({ entries } = await readLayer({ sources: ['dir'], dest: '/d', chmod: 'a+X' }, { targetRoot: null }));
    assert.equal(entries.get('d/one')!.mode, 0o644);
    await rejects({ sources: ['a.txt'], dest: '/x', chmod: '8777' }, {}, "invalid chmod parameter: '8777'. it should be octal string and between 0 and 07777");
    await rejects({ sources: ['a.txt'], dest: '/x', chmod: '17777' }, {}, "invalid chmod parameter: '17777'. it should be octal string and between 0 and 07777");
  });
});

describe('COPY: heredocs, --exclude, --parents', () => {
  it('writes a heredoc as a 0644 file', async () => {
    const { entries } = await readLayer({ heredocs: [{ name: 'hello.txt', content: 'hi\n' }], dest: '/h/' }, { targetRoot: null });
    assert.equal(entries.get('h/hello.txt')!.body, 'hi\n');
    assert.equal(entries.get('h/hello.txt')!.mode, 0o644);
  });

  it('--exclude leaves matching paths out', async () => {
    const { entries } = await readLayer({ sources: ['dir'], dest: '/d', exclude: ['*.md', 'sub'] }, { targetRoot: null });
    assert.deepEqual(names(entries), ['d/', 'd/link', 'd/one']);
    const only = await readLayer({ sources: ['dir'], dest: '/d', exclude: ['*', '!one', '!sub/two'] }, { targetRoot: null });
    assert.deepEqual(names(only.entries), ['d/', 'd/one', 'd/sub/', 'd/sub/two']);
    const deep = await readLayer({ sources: ['dir'], dest: '/d', exclude: ['**/two', '**/*.md'] }, { targetRoot: null });
    assert.deepEqual(names(deep.entries), ['d/', 'd/link', 'd/one', 'd/sub/']);
    const wild = await readLayer({ sources: ['*.txt'], dest: '/w/', exclude: ['b.txt'] }, { targetRoot: null });
    assert.deepEqual(names(wild.entries), ['w/', 'w/a.txt']);
  });

  it('--parents keeps the source path, from a /./ pivot when there is one', async () => {
    let { entries } = await readLayer({ sources: ['dir/sub/two', 'a.txt'], dest: '/p/', parents: true }, { targetRoot: null });
    assert.deepEqual(names(entries), ['p/', 'p/a.txt', 'p/dir/', 'p/dir/sub/', 'p/dir/sub/two']);
    assert.equal(entries.get('p/dir/sub/')!.mode, 0o700);
    ({ entries } = await readLayer({ sources: ['dir/./sub/two'], dest: '/p/', parents: true }, { targetRoot: null }));
    assert.deepEqual(names(entries), ['p/', 'p/sub/', 'p/sub/two']);
  });
});

describe('ADD', () => {
  it('unpacks local tars (plain, gzip, bzip2, xz) by content, keeping their owners', async () => {
    const src = path.join(base, 'tarsrc');
    mkdirSync(path.join(src, 'inner'), { recursive: true });
    writeFileSync(path.join(src, 'inner/file'), 'in tar');
    execFileSync('tar', ['--owner=5', '--group=6', '-C', src, '-cf', path.join(ctx, 'plain.tar'), 'inner']);
    execFileSync('sh', ['-c', `gzip -c plain.tar > t.gz && bzip2 -c plain.tar > t.bz && xz -c plain.tar > t.x`], { cwd: ctx });
    for (const name of ['plain.tar', 't.gz', 't.bz', 't.x']) {
      const { entries } = await readLayer({ add: true, sources: [name], dest: '/u' }, { targetRoot: null });
      assert.deepEqual(names(entries), ['u/', 'u/inner/', 'u/inner/file'], name);
      assert.equal(entries.get('u/inner/file')!.body, 'in tar');
      assert.deepEqual([entries.get('u/inner/file')!.uid, entries.get('u/inner/file')!.gid], [5, 6]);
    }
    // --unpack=false and COPY copy the archive as a file.
    const kept = await readLayer({ add: true, sources: ['t.gz'], dest: '/u/', unpack: false }, { targetRoot: null });
    assert.deepEqual(names(kept.entries), ['u/', 'u/t.gz']);
    const copied = await readLayer({ sources: ['plain.tar'], dest: '/u/' }, { targetRoot: null });
    assert.deepEqual(names(copied.entries), ['u/', 'u/plain.tar']);
    // A compressed file that is no tar is copied as it is.
    execFileSync('sh', ['-c', 'echo text | gzip -c > notar.gz'], { cwd: ctx });
    const notTar = await readLayer({ add: true, sources: ['notar.gz'], dest: '/u/' }, { targetRoot: null });
    assert.deepEqual(names(notTar.entries), ['u/', 'u/notar.gz']);
  });

  it('refuses a tar entry that leaves the destination', async () => {
    const pack = tar.pack();
    pack.entry({ name: '../evil', size: 1 }, 'x');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    writeFileSync(path.join(ctx, 'evil.tar'), Buffer.concat(chunks));
    await rejects({ add: true, sources: ['evil.tar'], dest: '/u' }, { targetRoot: null }, 'failed to copy files: invalid entry name "../evil"');
  });

  it('downloads a URL: name from the path, 0600, Last-Modified as mtime, --checksum verified', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/missing') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('nothing here');
        return;
      }
      res.writeHead(200, { 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
      res.end('downloaded');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const url = `http://127.0.0.1:${port}/files/data.bin`;
      const { entries } = await readLayer({ add: true, sources: [url], dest: '/dl/' }, { targetRoot: null });
      const f = entries.get('dl/data.bin')!;
      assert.equal(f.body, 'downloaded');
      assert.equal(f.mode, 0o600);
      assert.equal(f.mtime, Date.parse('2015-10-21T07:28:00Z'));
      const sum = 'sha256:' + (await import('node:crypto')).createHash('sha256').update('downloaded').digest('hex');
      await readLayer({ add: true, sources: [url], dest: '/dl/', checksum: sum }, { targetRoot: null });
      await rejects({ add: true, sources: [url], dest: '/dl/', checksum: 'sha256:' + '0'.repeat(64) }, { targetRoot: null }, /digest mismatch/);
      await rejects({ add: true, sources: [`http://127.0.0.1:${port}/missing`], dest: '/dl/' }, { targetRoot: null }, `ADD failed: failed to GET http://127.0.0.1:${port}/missing with status 404 Not Found: nothing here`);
      await rejects({ add: true, sources: [`http://127.0.0.1:${port}/`], dest: '/dl/' }, { targetRoot: null }, `ADD failed: cannot determine filename for source http://127.0.0.1:${port}/`);
    } finally {
      server.close();
    }
    assert.deepEqual(readdirSync(path.join(base, 'tmp')), [], 'temp files are removed');
  });
});

describe('checksum', () => {
  it('is stable for an unchanged tree, ignores mtimes, and changes with content, mode, owner or name', async () => {
    const spec = { sources: ['dir'], dest: '/d' };
    const first = (await readLayer(spec, {})).checksum;
    assert.equal((await readLayer(spec, {})).checksum, first);
    utimesSync(path.join(ctx, 'dir/one'), new Date('2000-01-01'), new Date('2000-01-01'));
    assert.equal((await readLayer(spec, {})).checksum, first, 'mtime is not part of it');
    writeFileSync(path.join(ctx, 'dir/one'), '2');
    const changed = (await readLayer(spec, {})).checksum;
    assert.notEqual(changed, first);
    writeFileSync(path.join(ctx, 'dir/one'), '1');
    assert.equal((await readLayer(spec, {})).checksum, first);
    chmodSync(path.join(ctx, 'dir/one'), 0o600);
    assert.notEqual((await readLayer(spec, {})).checksum, first);
    chmodSync(path.join(ctx, 'dir/one'), 0o644);
    assert.notEqual((await readLayer({ ...spec, chown: '1:1' }, {})).checksum, first);
    assert.notEqual((await readLayer({ ...spec, dest: '/e' }, {})).checksum, first);
    assert.equal((await readLayer(spec, {})).checksum, first);
  });

  it('stops on the signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(prepareCopy(fullSpec({ sources: ['dir'], dest: '/d' }), fullRoots({ signal: ac.signal })));
    // Aborted while the layer is read: the stream fails instead of ending as if whole.
    const late = new AbortController();
    const prepared = await prepareCopy(fullSpec({ sources: ['dir'], dest: '/d' }), fullRoots({ signal: late.signal }));
    const layer = prepared.layer();
    late.abort();
    await assert.rejects(async () => {
      for await (const _ of layer) {
        /* drain */
      }
    });
    await prepared.dispose();
  });
});
