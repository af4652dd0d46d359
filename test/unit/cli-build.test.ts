import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { contextFromDirectory, contextFromStdin, isArchive, locateDockerfile, packEntries } from '../../src/cli/build-context.js';
import { BuildProgress, stepName, type WireEvent } from '../../src/cli/build-progress.js';
import { buildArgsParam, labelsParam } from '../../src/cli/commands/build.js';
import { CliError } from '../../src/cli/errors.js';

/** The entries of a tar stream: name -> content (files) or `-> target` (links) or `/` (dirs). */
async function listTar(stream: Readable): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const extract = tar.extract();
  stream.pipe(extract);
  for await (const entry of extract) {
    const e = entry as unknown as AsyncIterable<Buffer> & { header: tar.Header };
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c);
    const h = e.header;
    out[h.name] = h.type === 'directory' ? '/' : h.type === 'symlink' ? `-> ${h.linkname}` : Buffer.concat(chunks).toString();
    assert.equal(h.uid, 0, `${h.name} owner`);
  }
  return out;
}

function stdin(data: Buffer | string): Readable {
  const s = new PassThrough();
  s.end(data);
  return s;
}

describe('berth build: the context sent to the daemon', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'berth-cli-build-'));
    mkdirSync(path.join(dir, 'ctx/src/deep'), { recursive: true });
    writeFileSync(path.join(dir, 'ctx/Dockerfile'), 'FROM busybox\n');
    writeFileSync(path.join(dir, 'ctx/src/a.txt'), 'a');
    writeFileSync(path.join(dir, 'ctx/src/deep/b.txt'), 'b');
    symlinkSync('src/a.txt', path.join(dir, 'ctx/link'));
    execFileSync('mkfifo', [path.join(dir, 'ctx/fifo')]);
    writeFileSync(path.join(dir, 'outside.Dockerfile'), 'FROM scratch\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a directory: every file, links as links, no fifos, owners 0', async () => {
    const df = await locateDockerfile(path.join(dir, 'ctx'), '');
    assert.deepEqual({ rel: df.rel, outside: df.outside }, { rel: 'Dockerfile', outside: false });
    const ctx = await contextFromDirectory(path.join(dir, 'ctx'), { dockerfileRel: df.rel });
    assert.equal(ctx.dockerfile, 'Dockerfile');
    assert.deepEqual(await listTar(ctx.body), {
      Dockerfile: 'FROM busybox\n',
      link: '-> src/a.txt',
      'src/': '/',
      'src/a.txt': 'a',
      'src/deep/': '/',
      'src/deep/b.txt': 'b',
    });
  });

  test('ignore rules leave paths out, but never the Dockerfile or .dockerignore', async () => {
    writeFileSync(path.join(dir, 'ctx/.dockerignore'), 'src\nDockerfile\n');
    try {
      const ignore = { matches: (p: string) => p === 'src' || p === 'Dockerfile' || p === '.dockerignore' || p.startsWith('src/'), mayReinclude: () => false };
      const ctx = await contextFromDirectory(path.join(dir, 'ctx'), { dockerfileRel: 'Dockerfile', ignore });
      assert.deepEqual(Object.keys(await listTar(ctx.body)).sort(), ['.dockerignore', 'Dockerfile', 'link']);
      // An excluded directory an exception may reach into is walked, without its own entry.
      const reinclude = { matches: (p: string) => p.startsWith('src') && p !== 'src/deep/b.txt', mayReinclude: () => true };
      const ctx2 = await contextFromDirectory(path.join(dir, 'ctx'), { dockerfileRel: 'Dockerfile', ignore: reinclude });
      const names = Object.keys(await listTar(ctx2.body));
      assert.ok(names.includes('src/deep/b.txt') && !names.includes('src/') && !names.includes('src/a.txt'), names.join(','));
    } finally {
      rmSync(path.join(dir, 'ctx/.dockerignore'));
    }
  });

  test('-f outside the context is added under a random name that .dockerignore names', async () => {
    const df = await locateDockerfile(path.join(dir, 'ctx'), path.join(dir, 'outside.Dockerfile'));
    assert.equal(df.outside, true);
    const ctx = await contextFromDirectory(path.join(dir, 'ctx'), { dockerfileRel: df.rel, dockerfileText: Buffer.from('FROM scratch\n') });
    assert.match(ctx.dockerfile, /^\.dockerfile\.[0-9a-f]{20}$/);
    const entries = await listTar(ctx.body);
    assert.equal(entries[ctx.dockerfile], 'FROM scratch\n');
    assert.equal(entries['.dockerignore'], `.dockerignore\n${ctx.dockerfile}\n`);
  });

  test('a missing Dockerfile or context is docker’s error', async () => {
    await assert.rejects(locateDockerfile(path.join(dir, 'ctx'), path.join(dir, 'nope')), (e: Error) => e instanceof CliError && /Cannot locate specified Dockerfile/.test(e.message));
    await assert.rejects(contextFromDirectory(path.join(dir, 'missing'), { dockerfileRel: 'Dockerfile' }), /unable to prepare context: path ".*missing" not found/);
  });

  test('stdin: a tar (plain or gzip) goes as is, a Dockerfile alone becomes a one-file context', async () => {
    const tarBytes = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const s = packEntries([{ header: { name: 'Dockerfile', type: 'file', size: 5, mode: 0o644 }, content: Buffer.from('FROM ') }]);
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks)));
    });
    assert.equal(isArchive(tarBytes), true);
    assert.equal(isArchive(gzipSync(tarBytes)), true);
    assert.equal(isArchive(Buffer.from('FROM busybox\n')), false);
    const plain = await contextFromStdin(stdin(tarBytes), '');
    assert.deepEqual(await listTar(plain.body), { Dockerfile: 'FROM ' });
    const gz = await contextFromStdin(stdin(gzipSync(tarBytes)), 'Dockerfile');
    assert.equal(gz.dockerfile, 'Dockerfile');
    const alone = await contextFromStdin(stdin('FROM busybox\nRUN true\n'), '');
    assert.deepEqual(await listTar(alone.body), { Dockerfile: 'FROM busybox\nRUN true\n' });
    await assert.rejects(contextFromStdin(stdin('FROM busybox\n'), 'x'), /ambiguous Dockerfile source/);
  });

  test('--build-arg KEY takes the environment, --label k=v', () => {
    assert.deepEqual(buildArgsParam(['A=1', 'B', 'C', 'D='], { B: 'from-env' }), { A: '1', B: 'from-env', C: null, D: '' });
    assert.deepEqual(labelsParam(['a=b=c', 'x']), { a: 'b=c', x: '' });
  });
});

describe('berth build: progress like BuildKit’s', () => {
  const step = (stage: number, stageName: string, index: number, count: number, globalCount: number, text: string) => ({
    id: `${stage}.${index}`,
    stage,
    stageName,
    index,
    count,
    globalIndex: index,
    globalCount,
    text,
  });

  test('plain: #N lines, output with its time, DONE and CACHED', () => {
    let now = 1000;
    const lines: string[] = [];
    const p = new BuildProgress({ write: (s) => lines.push(String(s)) }, 'plain', () => now);
    const from = step(0, '0', 1, 2, 2, 'FROM busybox');
    const run = step(0, '0', 2, 2, 2, 'RUN echo hi');
    const events: Array<[number, WireEvent]> = [
      [0, { type: 'step-start', step: from }],
      [0, { type: 'step-cached', step: from }],
      [0, { type: 'step-done', step: from }],
      [0, { type: 'step-start', step: run }],
      [123, { type: 'step-output', step: run, stream: 'stdout', data: Buffer.from('hi\nthere').toString('base64') }],
      [177, { type: 'step-done', step: run, imageId: 'sha256:x' }],
    ];
    for (const [dt, e] of events) {
      now += dt;
      p.event(e);
    }
    p.finish();
    assert.equal(lines.join(''), '#1 [1/2] FROM busybox\n#1 CACHED\n\n#2 [2/2] RUN echo hi\n#2 0.123 hi\n#2 0.300 there\n#2 DONE 0.3s\n');
  });

  test('an error step says ERROR with the message', () => {
    const lines: string[] = [];
    const p = new BuildProgress({ write: (s) => lines.push(String(s)) }, 'plain', () => 0);
    const run = step(0, '0', 2, 2, 2, 'RUN exit 1');
    p.event({ type: 'step-start', step: run });
    p.event({ type: 'step-done', step: run, error: 'exit code: 1' });
    assert.equal(lines.join(''), '#1 [2/2] RUN exit 1\n#1 ERROR: exit code: 1\n');
  });

  test('step names: stage names, stage-N for unnamed stages of a multi-stage build', () => {
    assert.equal(stepName(step(0, '0', 2, 3, 3, 'RUN x')), '[2/3] RUN x');
    assert.equal(stepName(step(1, 'builder', 2, 3, 6, 'RUN x')), '[builder 2/3] RUN x');
    assert.equal(stepName(step(0, '0', 1, 3, 6, 'FROM a')), '[stage-0 1/3] FROM a');
  });

  test('tty: a list redrawn in place, the last frame kept as the summary', () => {
    const out: string[] = [];
    const p = new BuildProgress({ write: (s) => out.push(String(s)), isTTY: true, columns: 60 }, 'tty', () => 0);
    const run = step(0, '0', 1, 1, 1, 'RUN echo hi');
    p.event({ type: 'step-start', step: run });
    p.event({ type: 'step-done', step: run, imageId: 'sha256:x' });
    p.finish();
    const last = out.at(-1)!;
    assert.match(last, /^\[\+\] Building 0\.0s \(1\/1\) FINISHED\n => \[1\/1\] RUN echo hi +0\.0s\n$/);
  });
});
