import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync, rmSync, utimesSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, DOCKER } from './harness.js';

// The official CLI with the classic builder, as the clients use it.
process.env.DOCKER_BUILDKIT = '0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('build engine through /build', () => {
  const d = new TestDaemon();
  const dirs: string[] = [];
  const context = (files: Record<string, string>): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-build-'));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
    return dir;
  };
  const build = (dir: string, ...args: string[]) => d.docker(['build', ...args, dir]);
  const containerEvents = async (since: number) => {
    const until = Math.ceil(Date.now() / 1000) + 1;
    const r = await d.request('GET', `/events?since=${Math.floor(since / 1000)}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ type: ['container'] }))}`);
    return r.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Action: string });
  };
  const allContainers = async () => (await d.docker(['ps', '-aq'])).stdout.trim();

  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    await d.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const multiStage = [
    'FROM busybox AS a',
    'RUN sleep 2 && echo a > /a',
    'FROM busybox AS b',
    'RUN sleep 2 && echo b > /b',
    'FROM busybox AS unused',
    'RUN echo never-run-this && exit 1',
    'FROM busybox',
    'COPY --from=a /a /a',
    'COPY --from=b /b /b',
    'CMD ["cat", "/a", "/b"]',
    '',
  ].join('\n');

  test('multi-stage: unneeded stages are skipped, independent ones run in parallel; an unchanged rebuild is all cache', async () => {
    const dir = context({ Dockerfile: multiStage });
    const t0 = Date.now();
    const r = await build(dir, '-t', 'ms:1');
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.doesNotMatch(r.stdout, /never-run-this/);
    assert.match(r.stdout, /Successfully tagged ms:1/);
    // Two stages sleeping 2 s each: one after the other would take 4 s and more.
    assert.ok(took < 4000, `the build took ${took} ms`);
    const out = await d.docker(['run', '--rm', 'ms:1']);
    assert.equal(out.stdout, 'a\nb\n');
    const id = (await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'ms:1'])).stdout.trim();

    // Events have second granularity: start counting after the `docker run` above.
    await sleep(1100);
    const since = Date.now();
    const again = await build(dir, '-t', 'ms:1');
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/Using cache/g) ?? []).length, 5, again.stdout);
    assert.doesNotMatch(again.stdout, /Running in/);
    assert.equal((await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'ms:1'])).stdout.trim(), id);
    assert.deepEqual((await containerEvents(since)).map((e) => e.Action), []);
    assert.equal(await allContainers(), '');
  });

  test('the cache follows file content (not mtime) and the build args a step sees', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nARG V=1\nCOPY f /f\nRUN cat /f && echo "v=$V"\n', f: 'one\n' });
    assert.equal((await build(dir, '-t', 'c:1')).code, 0);
    // Same content, new mtime: cached.
    utimesSync(path.join(dir, 'f'), new Date(), new Date(Date.now() + 5000));
    let r = await build(dir, '-t', 'c:1');
    assert.equal((r.stdout.match(/Using cache/g) ?? []).length, 3, r.stdout);
    // New content: COPY and RUN run again.
    writeFileSync(path.join(dir, 'f'), 'two\n');
    r = await build(dir, '-t', 'c:1');
    assert.equal((r.stdout.match(/Using cache/g) ?? []).length, 1, r.stdout);
    assert.match(r.stdout, /two\nv=1/);
    // A different build arg: the RUN runs again with it; the same one again: cached.
    r = await build(dir, '-t', 'c:1', '--build-arg', 'V=2');
    assert.match(r.stdout, /v=2/);
    r = await build(dir, '-t', 'c:1', '--build-arg', 'V=2', '--build-arg', 'NOBODY=x');
    assert.equal((r.stdout.match(/Using cache/g) ?? []).length, 3, r.stdout);
    assert.match(r.stdout + r.stderr, /\[Warning\] One or more build-args \[NOBODY\] were not consumed/);
    const history = (await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'c:1'])).stdout;
    assert.match(history, /\|1 V=2 \/bin\/sh -c cat \/f && echo "v=\$V"/);
  });

  test('what a --no-cache build recorded serves the next build (COPY from the context included)', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nCOPY f /f\nRUN cat /f\n', f: 'nocache-then-cached\n' });
    const cold = await build(dir, '--no-cache', '-t', 'nc:1');
    assert.equal(cold.code, 0, cold.stderr);
    assert.doesNotMatch(cold.stdout, /Using cache/);
    const r = await build(dir, '-t', 'nc:1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stdout.match(/Using cache/g) ?? []).length, 2, r.stdout);
    assert.doesNotMatch(r.stdout, /Running in/);
  });

  test('COPY from the context misses on a changed mode or a changed file behind a link; an ignored Dockerfile does not count', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nCOPY link /linked\nCOPY . /app/\nRUN ls -l /app /linked\n', '.dockerignore': 'Dockerfile\n.dockerignore\n', f: 'one\n' });
    symlinkSync('f', path.join(dir, 'link'));
    const cached = async () => {
      const r = await build(dir, '-t', 'ctx:1');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      return (r.stdout.match(/Using cache/g) ?? []).length;
    };
    assert.equal(await cached(), 0);
    assert.equal(await cached(), 3);
    // Only the Dockerfile changed (a comment), and .dockerignore excludes it: all cached.
    writeFileSync(path.join(dir, 'Dockerfile'), readFileSync(path.join(dir, 'Dockerfile'), 'utf8') + '# a comment\n');
    assert.equal(await cached(), 3);
    // A mode of the file behind the link: the COPY that follows the link (the first step) runs again.
    chmodSync(path.join(dir, 'f'), 0o755);
    assert.equal(await cached(), 0);
    assert.equal(await cached(), 3);
    // Its content: the same.
    writeFileSync(path.join(dir, 'f'), 'two\n');
    chmodSync(path.join(dir, 'f'), 0o755);
    assert.equal(await cached(), 0);
  });

  test('a failing RUN fails the build with Docker\'s message and leaves no container', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo before\nRUN false\n' });
    const r = await build(dir);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /The command '\/bin\/sh -c false' returned a non-zero code: 1/);
    assert.equal(await allContainers(), '');
    const t = await build(dir, '--target', 'nosuch');
    assert.match(t.stderr, /failed to reach build target nosuch in Dockerfile/);
  });

  test('--cache-from: only the named images serve as cache (as dockerd), not the local cache', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nENV FOO=bar\nRUN touch baz\nRUN touch bax\n' });
    assert.equal((await build(dir, '-t', 'cf:1')).code, 0);
    const usingCache = (out: string) => out.split('\n').filter((l) => l.includes('Using cache')).length;
    const from = await build(dir, '-t', 'cf:2', '--cache-from', 'cf:1');
    assert.equal(from.code, 0, from.stderr);
    assert.equal(usingCache(from.stdout), 3);
    const none = await build(dir, '-t', 'cf:3', '--cache-from', 'nosuchtag');
    assert.equal(none.code, 0, none.stderr);
    assert.equal(usingCache(none.stdout), 0);
  });

  test('a failing RUN carries its exit code in the stream\'s errorDetail, as dockerd', async () => {
    const tar = Buffer.concat([tarEntry('Dockerfile', 'FROM busybox\nRUN exit 3\n'), Buffer.alloc(1024)]);
    const r = await d.request('POST', '/v1.41/build?rm=1', tar, { 'Content-Type': 'application/x-tar' });
    const last = JSON.parse(r.text.trim().split('\n').at(-1)!) as { errorDetail?: { code?: number; message?: string } };
    assert.deepEqual(last.errorDetail, { code: 3, message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" });
  });

  test('a client that goes away mid-RUN stops the build and leaves no container or mount', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo started && sleep 60\n' });
    const child = spawn(DOCKER, ['build', dir], { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' } });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no RUN output: ${out}`)), 20_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        // The RUN's own output line, not the step line that names it: then the container is there.
        if (/^started$/m.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    const end = Date.now() + 15_000;
    while ((await allContainers()) !== '' && Date.now() < end) await sleep(200);
    assert.equal(await allContainers(), '');
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(d.execRoot) && l.includes('/containers/'));
    assert.deepEqual(mounts, []);
  });

  test('the cache survives a kill -9 of the daemon', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo once > /once\nENV A=b\n' });
    assert.equal((await build(dir, '-t', 'r:1')).code, 0);
    await d.kill('SIGKILL');
    await d.start();
    const r = await build(dir, '-t', 'r:1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stdout.match(/Using cache/g) ?? []).length, 2, r.stdout);
  });
});

/** One ustar entry of a regular file (a context small enough to write by hand). */
function tarEntry(name: string, text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(body.length.toString(8).padStart(11, '0') + '\0', 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return Buffer.concat([header, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}
