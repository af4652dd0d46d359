import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { receiveContext, type ReceiveOptions } from '../../src/build/context.js';
import { IgnoreMatcher, readDockerignore } from '../../src/build/dockerignore.js';

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo';
  content?: string;
  linkname?: string;
  mode?: number;
  uid?: number;
}

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    pack.entry({ name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: 0 }, type === 'file' ? (e.content ?? '') : '');
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'berth-context-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const ignored = (text: string, rel: string) => new IgnoreMatcher(readDockerignore(text)).matches(rel);

async function receive(entries: Entry[], opts: Partial<ReceiveOptions> = {}) {
  return receiveContext(Readable.from([await makeTar(entries)]), { scratchDir: scratch, dockerfile: '', signal: new AbortController().signal, ignored, ...opts });
}

const DOCKERFILE: Entry = { name: 'Dockerfile', content: 'FROM busybox\n' };
const SOURCES: Entry[] = [DOCKERFILE, { name: 'src/a.txt', content: 'a\n' }, { name: 'src/sub/b.txt', content: 'b\n' }, { name: 'other.txt', content: 'o\n' }];

describe('build context held in memory', () => {
  test('nothing is written until a step asks for the directory, which then holds the files as unpacked', async () => {
    const ctx = await receive([...SOURCES, { name: 'run.sh', content: '#!/bin/sh\n', mode: 0o755 }]);
    try {
      assert.equal(ctx.dockerfileText, 'FROM busybox\n');
      assert.equal(existsSync(ctx.dir), false);
      const dir = await ctx.directory();
      assert.equal(dir, ctx.dir);
      assert.equal(await ctx.directory(), dir);
      assert.equal(readFileSync(path.join(dir, 'src/sub/b.txt'), 'utf8'), 'b\n');
      assert.equal(statSync(path.join(dir, 'run.sh')).mode & 0o7777, 0o755);
      assert.equal(statSync(path.join(dir, 'src')).mode & 0o7777, 0o755);
    } finally {
      await ctx.dispose();
    }
    assert.equal(existsSync(ctx.dir), false);
  });

  test('a source digest follows content, mode and owner of what the source names, and nothing else', async () => {
    const digest = async (entries: Entry[], sources = ['src/']) => {
      const ctx = await receive(entries);
      try {
        return ctx.digestOf(sources);
      } finally {
        await ctx.dispose();
      }
    };
    const base = await digest(SOURCES);
    assert.match(base ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(await digest(SOURCES), base);
    // Another file outside the source: the same digest.
    assert.equal(await digest(SOURCES.map((e) => (e.name === 'other.txt' ? { ...e, content: 'changed\n' } : e))), base);
    // A file below it changed in content, mode or owner; a file added; a file renamed: another digest.
    const changed = (f: (e: Entry) => Entry) => digest(SOURCES.map((e) => (e.name === 'src/sub/b.txt' ? f(e) : e)));
    const others = [
      await changed((e) => ({ ...e, content: 'B\n' })),
      await changed((e) => ({ ...e, mode: 0o600 })),
      await changed((e) => ({ ...e, uid: 1000 })),
      await changed((e) => ({ ...e, name: 'src/sub/c.txt' })),
      await digest([...SOURCES, { name: 'src/new', content: '' }]),
      await digest(SOURCES, ['src/', 'other.txt']),
    ];
    for (const d of others) assert.notEqual(d, base);
    assert.equal(new Set(others).size, others.length);
    // Sources it cannot answer without the directory.
    assert.equal(await digest(SOURCES, ['src/*.txt']), undefined);
    assert.equal(await digest(SOURCES, ['missing']), undefined);
    assert.equal(await digest([...SOURCES, { name: 'link', type: 'symlink', linkname: 'src' }], ['link/a.txt']), undefined);
  });

  test('a Dockerfile and .dockerignore that .dockerignore excludes are not part of the context', async () => {
    const withIgnore = await receive([...SOURCES, { name: '.dockerignore', content: 'Dockerfile\n.dockerignore\n' }]);
    const without = await receive(SOURCES.filter((e) => e !== DOCKERFILE), { dockerfile: 'other.txt' });
    try {
      assert.equal(withIgnore.dockerfileText, 'FROM busybox\n');
      assert.equal(withIgnore.digestOf(['.']), without.digestOf(['.']));
      assert.deepEqual(readdirSync(await withIgnore.directory()).sort(), ['other.txt', 'src']);
    } finally {
      await withIgnore.dispose();
      await without.dispose();
    }
  });

  test('hard links, large contexts and a Dockerfile behind a link are unpacked at once, with the same answers', async () => {
    const linked = await receive([...SOURCES, { name: 'hard', type: 'link', linkname: 'other.txt' }]);
    const large = await receive(SOURCES, { maxMemoryBytes: 2 });
    const behindLink = await receive([{ name: 'real/Dockerfile', content: 'FROM scratch\n' }, { name: 'Dockerfile', type: 'symlink', linkname: 'real/Dockerfile' }]);
    try {
      assert.equal(statSync(path.join(linked.dir, 'hard')).nlink, 2);
      assert.equal(linked.digestOf(['src/']), undefined);
      assert.equal(readFileSync(path.join(large.dir, 'src/a.txt'), 'utf8'), 'a\n');
      assert.equal(large.digestOf(['src/']), undefined);
      assert.equal(behindLink.dockerfileText, 'FROM scratch\n');
      assert.ok(existsSync(path.join(behindLink.dir, 'real/Dockerfile')));
    } finally {
      await linked.dispose();
      await large.dispose();
      await behindLink.dispose();
    }
  });

  test('bad contexts fail as unpacking them does, and leave nothing behind', async () => {
    const before = readdirSync(scratch);
    const cases: Array<[Entry[], RegExp]> = [
      [[DOCKERFILE, { name: 'esc', type: 'symlink', linkname: '/etc' }, { name: 'esc/x', content: 'x' }], /"esc\/x" is below a symlink \(esc\)/],
      [[DOCKERFILE, { name: 'f', content: 'x' }, { name: 'f/x', content: 'x' }], /"f\/x" is below a file \(f\)/],
      [[DOCKERFILE, { name: 'd', type: 'directory' }, { name: 'd', content: 'x' }], /"d" replaces a directory/],
      [[DOCKERFILE, { name: 'a/../../x', content: 'x' }], /is outside of the context/],
      [[{ name: 'app.txt', content: 'x' }], /Cannot locate specified Dockerfile: Dockerfile$/],
      [[{ name: 'Dockerfile', content: '' }], /the Dockerfile \(Dockerfile\) cannot be empty$/],
      [[{ name: 'Dockerfile', type: 'directory' }], /unexpected error reading Dockerfile: read .*\/Dockerfile: is a directory$/],
    ];
    for (const [entries, message] of cases) await assert.rejects(receive(entries), message);
    const lower = await receive([{ name: 'dockerfile', content: 'FROM a\n' }]);
    assert.equal(lower.dockerfilePath, 'dockerfile');
    await lower.dispose();
    assert.deepEqual(readdirSync(scratch), before);
  });

  test('held in memory or unpacked as it comes, a context gives the same errors, Dockerfile and files', async () => {
    // Random contexts over a few names, so that entries replace, nest under and shadow each other.
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const names = ['Dockerfile', 'dockerfile', '.dockerignore', 'a', 'a/b', 'a/b/c', 'l', 'l/x', 'a/Dockerfile', '.', 'a/../b'];
    const snapshot = (dir: string): string[] => {
      const out: string[] = [];
      const walk = (rel: string) => {
        for (const name of readdirSync(path.join(dir, rel)).sort()) {
          const r = rel ? `${rel}/${name}` : name;
          const st = lstatSync(path.join(dir, r));
          const what = st.isSymbolicLink() ? `-> ${readlinkSync(path.join(dir, r))}` : st.isDirectory() ? 'dir' : readFileSync(path.join(dir, r), 'utf8');
          out.push(`${r} ${(st.mode & 0o7777).toString(8)} ${what}`);
          if (st.isDirectory()) walk(r);
        }
      };
      walk('');
      return out;
    };
    const outcome = async (entries: Entry[], memory: boolean) => {
      try {
        const ctx = await receive(entries, memory ? {} : { maxMemoryBytes: -1 });
        try {
          return { path: ctx.dockerfilePath, text: ctx.dockerfileText, files: snapshot(await ctx.directory()) };
        } finally {
          await ctx.dispose();
        }
      } catch (err) {
        return { error: (err as Error).message.replace(/build-[0-9a-z]+/gi, 'build-X') };
      }
    };
    let held = 0;
    for (let i = 0; i < 200; i++) {
      const entries: Entry[] = rand(3) ? [{ name: 'Dockerfile', content: 'FROM x\n' }] : [];
      for (let n = 1 + rand(6); n > 0; n--) {
        const type = (['file', 'file', 'file', 'directory', 'symlink', 'fifo'] as const)[rand(6)]!;
        const name = names[rand(names.length)]!;
        entries.push({ name, type, content: `c${rand(3)}\nDockerfile\n`, mode: [0o644, 0o755, 0o600][rand(3)], linkname: ['a', 'a/b', 'Dockerfile', '../x', '/etc'][rand(5)] });
      }
      const inMemory = await outcome(entries, true);
      assert.deepEqual(inMemory, await outcome(entries, false), JSON.stringify(entries));
      if (!('error' in inMemory)) held++;
    }
    // Enough of them were good contexts for the comparison to mean something.
    assert.ok(held > 20, `only ${held} good contexts`);
  });
});
