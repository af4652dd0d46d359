import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, BERTH } from './harness.js';

/**
 * `berth compose watch` against a test daemon: `sync` of changed and deleted files into a running
 * container (with --no-up), and without --no-up the project built and started, then a `rebuild` rule
 * rebuilding the image and recreating the service's container.
 */
async function waitUntil(what: () => Promise<boolean>, label: () => string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await what()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${label()}`);
}

describe('compose watch', () => {
  const d = new TestDaemon();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-watch-'));

  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };

  before(async () => {
    await d.start();
    await d.seedBusybox();
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('watch without --no-up: builds and starts the project, then a change rebuilds and recreates the service', async () => {
    write('rb/Dockerfile', 'FROM busybox\nCOPY version /version\nCMD ["sleep", "300"]\n');
    write('rb/version', 'v1\n');
    write('rebuild.yaml', 'services:\n  app:\n    build: ./rb\n    develop:\n      watch:\n        - action: rebuild\n          path: ./rb\n');
    const proc = spawn(BERTH, ['compose', '-f', path.join(dir, 'rebuild.yaml'), '-p', 'cirb', 'watch'], { env: { ...process.env, BERTH_HOST: d.host } });
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    const version = async () => (await d.berth(['exec', 'cirb-app-1', 'cat', '/version'])).stdout;
    try {
      await waitUntil(async () => out.includes('Watch enabled'), () => `Watch enabled; watch said: ${out}`);
      assert.equal(await version(), 'v1\n');
      writeFileSync(path.join(dir, 'rb/version'), 'v2\n');
      await waitUntil(async () => (await version()) === 'v2\n', () => `the rebuilt service; watch said: ${out}`);
      assert.match(out, /Rebuilding service\(s\) \["app"\] after changes were detected\.\.\./);
      assert.match(out, /service\(s\) \["app"\] successfully built/);
    } finally {
      proc.kill('SIGINT');
    }
    assert.equal(await exited, 0, out);
    const left = (await d.berth(['ps', '-aq', '--filter', 'label=com.docker.compose.project=cirb'])).stdout.split('\n').filter(Boolean);
    assert.equal(left.length, 1, 'one container for the service, the old one replaced');
    await d.berth(['rm', '-f', ...left]);
  });

  test('watch: a changed file is synced into the running container', async () => {
    write('watch/src/hello.txt', 'one\n');
    write('watch.yaml', 'services:\n  web:\n    image: busybox\n    develop:\n      watch:\n        - action: sync\n          path: ./watch/src\n          target: /app\n');
    const run = await d.berth([
      'run', '-d', '--name', 'ciw-web-1',
      '--label', 'com.docker.compose.project=ciw', '--label', 'com.docker.compose.service=web', '--label', 'com.docker.compose.oneoff=False',
      'busybox', 'sleep', '300',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const proc = spawn(BERTH, ['compose', '-f', path.join(dir, 'watch.yaml'), '-p', 'ciw', 'watch', '--no-up'], { env: { ...process.env, BERTH_HOST: d.host } });
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      const waitFor = (what: () => Promise<boolean>, label: string) => waitUntil(what, () => `${label}; watch said: ${out}`);
      await waitFor(async () => out.includes('Watch enabled'), 'Watch enabled');
      writeFileSync(path.join(dir, 'watch/src/hello.txt'), 'two\n');
      mkdirSync(path.join(dir, 'watch/src/sub'), { recursive: true });
      writeFileSync(path.join(dir, 'watch/src/sub/new.txt'), 'new\n');
      await waitFor(async () => (await d.berth(['exec', 'ciw-web-1', 'cat', '/app/hello.txt', '/app/sub/new.txt'])).stdout === 'two\nnew\n', 'the synced files');
      assert.match(out, /Syncing service "web" after \d+ changes were detected/);
      rmSync(path.join(dir, 'watch/src/sub/new.txt'));
      await waitFor(async () => (await d.berth(['exec', 'ciw-web-1', 'ls', '/app/sub'])).stdout === '', 'the deleted file gone');
    } finally {
      proc.kill('SIGINT');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /Watch disabled/);
    await d.berth(['rm', '-f', 'ciw-web-1']);
  });
});
