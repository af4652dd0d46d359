import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, hasDocker } from './harness.js';

/**
 * End to end through the builder: `berth build` (plain progress, -q, --iidfile, -f outside the context,
 * stdin, .dockerignore) and the docker CLI's legacy builder (dockerd's classic output). Skipped, saying
 * so, while the daemon has no builder wired (POST /build answers 501).
 */
describe('builds through the CLIs', () => {
  const d = new TestDaemon();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-build-cli-'));
  const ctx = path.join(dir, 'ctx');
  let builderWired = false;

  before(async () => {
    await d.start();
    await d.seedBusybox();
    mkdirSync(path.join(ctx, 'sub'), { recursive: true });
    writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx\nRUN echo hi && echo err >&2\nCMD ["sh"]\n');
    writeFileSync(path.join(ctx, 'a.txt'), 'A');
    writeFileSync(path.join(ctx, 'sub/keep.txt'), 'K');
    writeFileSync(path.join(ctx, 'sub/drop.txt'), 'D');
    writeFileSync(path.join(ctx, 'secret'), 'S');
    writeFileSync(path.join(ctx, '.dockerignore'), 'secret\nsub/*\n!sub/keep.txt\n');
    const probe = await d.berth(['build', '-q', ctx]);
    builderWired = !/not available/.test(probe.stderr);
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const lsCtx = async (image: string) => (await d.berth(['run', '--rm', image, 'find', '/ctx', '-type', 'f'])).stdout.split('\n').filter(Boolean).sort();

  test('berth build: plain progress, then CACHED; .dockerignore honoured; -q and --iidfile give the id', async (t) => {
    if (!builderWired) return t.skip('no builder wired in this daemon yet');
    const first = await d.berth(['build', '--progress=plain', '--no-cache', '-t', 'app', ctx]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /^#1 \[1\/4\] FROM busybox\n#1 DONE \d+\.\ds\n\n#2 \[2\/4\] COPY \. \/ctx\n/);
    assert.match(first.stderr, /#3 \[3\/4\] RUN echo hi && echo err >&2\n#3 \d+\.\d{3} hi\n#3 \d+\.\d{3} err\n#3 DONE/);
    assert.deepEqual(await lsCtx('app'), ['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/a.txt', '/ctx/sub/keep.txt']);
    const again = await d.berth(['build', '--progress=plain', '-t', 'app', ctx]);
    assert.match(again.stderr, /#3 \[3\/4\] RUN echo hi && echo err >&2\n#3 CACHED\n/);
    const iid = path.join(dir, 'iid');
    const quiet = await d.berth(['build', '-q', '--iidfile', iid, ctx]);
    assert.match(quiet.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(quiet.stderr, '');
    assert.equal(readFileSync(iid, 'utf8'), quiet.stdout.trim());
    const inspect = JSON.parse((await d.berth(['image', 'inspect', 'app'])).stdout)[0];
    assert.equal(inspect.Id, quiet.stdout.trim());
  });

  test('berth build: -f outside the context, a Dockerfile on stdin, a failing step', async (t) => {
    if (!builderWired) return t.skip('no builder wired in this daemon yet');
    writeFileSync(path.join(dir, 'outside.Dockerfile'), 'FROM busybox\nLABEL from=outside\n');
    const outside = await d.berth(['build', '-q', '-f', path.join(dir, 'outside.Dockerfile'), ctx]);
    assert.equal(outside.code, 0, outside.stderr);
    const labels = JSON.parse((await d.berth(['image', 'inspect', '--format', '{{json .Config.Labels}}', outside.stdout.trim()])).stdout);
    assert.deepEqual(labels, { from: 'outside' });
    const stdin = await d.berth(['build', '-q', '-t', 'fromstdin', '-'], 'FROM busybox\nENV X=1\n');
    assert.equal(stdin.code, 0, stdin.stderr);
    const failing = await d.berth(['build', '--progress=plain', '-'], 'FROM busybox\nRUN exit 3\n');
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /#2 \[2\/2\] RUN exit 3\n#2 ERROR: The command '\/bin\/sh -c exit 3' returned a non-zero code: 3\n/);
  });

  test('docker build (legacy builder) shows dockerd’s classic output', async (t) => {
    if (!hasDocker) return t.skip('no docker CLI');
    if (!builderWired) return t.skip('no builder wired in this daemon yet');
    const built = await d.docker(['build', '--no-cache', '-t', 'viadocker', ctx]);
    assert.equal(built.code, 0, built.stderr);
    assert.match(
      built.stdout,
      /^Sending build context to Docker daemon {2}\S+\r\r\nStep 1\/4 : FROM busybox\n ---> [0-9a-f]{12}\nStep 2\/4 : COPY \. \/ctx\n ---> [0-9a-f]{12}\nStep 3\/4 : RUN echo hi && echo err >&2\n ---> Running in [0-9a-f]{12}\nhi\n\u001b\[91merr\n\u001b\[0m ---> Removed intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\nStep 4\/4 : CMD \["sh"\]\n ---> [0-9a-f]{12}\nSuccessfully built ([0-9a-f]{12})\nSuccessfully tagged viadocker:latest\n$/,
    );
    const cached = await d.docker(['build', '-t', 'viadocker', ctx]);
    assert.equal((cached.stdout.match(/ ---> Using cache\n/g) ?? []).length, 3, cached.stdout);
    const quiet = await d.docker(['build', '-q', ctx]);
    assert.match(quiet.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const missing = await d.docker(['build', '-f', 'nope', ctx]);
    assert.notEqual(missing.code, 0);
  });

  test('a client hanging up during a RUN stops the build: no container, no context left, the daemon serves on', async (t) => {
    if (!builderWired) return t.skip('no builder wired in this daemon yet');
    writeFileSync(path.join(dir, 'hang.Dockerfile'), 'FROM busybox\nRUN sleep 60\n');
    const body = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const p = spawn('tar', ['-c', '-C', dir, '--transform', 's,^hang.Dockerfile$,Dockerfile,', 'hang.Dockerfile']);
      p.stdout.on('data', (c: Buffer) => chunks.push(c));
      p.on('error', reject);
      p.on('close', () => resolve(Buffer.concat(chunks)));
    });
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: d.socket, method: 'POST', path: '/build?nocache=1', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
        res.on('data', (c: Buffer) => {
          if (c.toString().includes('Running in')) {
            req.destroy();
            resolve();
          }
        });
        res.on('error', () => resolve());
      });
      req.on('error', () => resolve());
      req.end(body);
      setTimeout(() => reject(new Error('the RUN step never started')), 30_000);
    });
    const deadline = Date.now() + 20_000;
    const state = async () => ({
      containers: (await d.request('GET', '/containers/json?all=1')).json().length as number,
      contexts: readdirSync(path.join(d.dataRoot, 'tmp')).filter((n) => n.startsWith('build-')),
    });
    let now = await state();
    while ((now.containers || now.contexts.length) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      now = await state();
    }
    assert.deepEqual(now, { containers: 0, contexts: [] });
    assert.equal((await d.request('GET', '/_ping')).status, 200);
  });

  test('builder prune and system df show the build cache', async (t) => {
    if (!builderWired) return t.skip('no builder wired in this daemon yet');
    const df = await d.berth(['system', 'df']);
    assert.match(df.stdout, /\nBuild Cache +[1-9]\d* +/);
    const pruned = await d.berth(['builder', 'prune', '-af']);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /^Deleted build cache objects:\n[\s\S]*\nTotal reclaimed space: \S+\n$/);
    const after = await d.berth(['system', 'df']);
    assert.match(after.stdout, /\nBuild Cache +0 +/);
  });
});
