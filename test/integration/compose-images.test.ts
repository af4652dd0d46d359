import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon } from './harness.js';
import { startBerthRegistry, type Spawned } from './registry-fixture.js';

/**
 * `berth compose build|pull|push|watch` against a test daemon: a build with args and labels, a push to
 * and pull from a local registry, clear failures (a failing build, a missing context, an unreachable
 * registry) that leave nothing behind, and `watch` syncing a file into a running container.
 */
describe('compose build, pull, push', () => {
  const d = new TestDaemon();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-compose-images-'));
  let registry: Spawned;

  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };
  const compose = (file: string, project: string, args: string[]) => d.berth(['compose', '-f', path.join(dir, file), '-p', project, ...args]);

  before(async () => {
    await d.start();
    await d.seedBusybox();
    registry = await startBerthRegistry(path.join(dir, 'registry'));
  });
  after(async () => {
    await registry?.stop();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('build: args from the file, --build-arg and the environment; <project>-<service>; labels; output prefixed', async () => {
    write('app/Dockerfile', 'FROM busybox\nARG GREETING\nARG WHO\nARG FROM_ENV\nRUN echo "$GREETING $WHO $FROM_ENV" > /greeting\nCMD ["cat", "/greeting"]\n');
    write('app/ignored.txt', 'x');
    write('app/.dockerignore', 'ignored.txt\n');
    write('build.yaml', 'services:\n  web:\n    build:\n      context: ./app\n      args:\n        GREETING: hello\n        WHO: file\n        FROM_ENV:\n      labels:\n        org.example.kind: demo\n');
    const res = await d.berth(['compose', '-f', path.join(dir, 'build.yaml'), '-p', 'cib', 'build', '--build-arg', 'WHO=cli']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^\[web\] Step 1\/\d+ : FROM busybox$/m);
    assert.match(res.stderr, /Image cib-web +Building/);
    assert.match(res.stderr, /Image cib-web +Built/);
    const run = await d.berth(['run', '--rm', 'cib-web']);
    assert.equal(run.stdout, 'hello cli \n');
    const labels = JSON.parse((await d.berth(['image', 'inspect', '--format', '{{json .Config.Labels}}', 'cib-web'])).stdout);
    assert.equal(labels['com.docker.compose.project'], 'cib');
    assert.equal(labels['com.docker.compose.service'], 'web');
    assert.equal(labels['org.example.kind'], 'demo');
    // -q: nothing on stdout.
    const quiet = await compose('build.yaml', 'cib', ['build', '-q']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, '');
    assert.equal(quiet.stderr, '');
  });

  test('push to and pull from a local registry; build-only services are skipped', async () => {
    const image = `${registry.host}/cib/app:1`;
    write('push/Dockerfile', 'FROM busybox\nRUN echo pushed > /marker\n');
    write('push.yaml', `services:\n  app:\n    image: ${image}\n    build: ./push\n  local:\n    build: ./push\n`);
    assert.equal((await compose('push.yaml', 'cip', ['build', 'app'])).code, 0);
    const push = await compose('push.yaml', 'cip', ['push']);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stderr, new RegExp(`${image.replace(/[.]/g, '\\.')} +Pushed`));
    assert.match(push.stderr, /local +Skipped/);
    assert.equal((await d.berth(['rmi', image])).code, 0);
    const pull = await compose('push.yaml', 'cip', ['pull']);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stderr, /local +Skipped No image to be pulled/);
    assert.match(pull.stderr, /Image .*cib\/app:1 +Pulled/);
    assert.equal((await d.berth(['run', '--rm', image, 'cat', '/marker'])).stdout, 'pushed\n');
  });

  test('pull of an unreachable registry fails clearly; --ignore-pull-failures exits 0', async () => {
    write('badpull.yaml', 'services:\n  gone:\n    image: 127.0.0.1:9/nothing/here:1\n');
    const res = await compose('badpull.yaml', 'cibp', ['pull']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Image 127\.0\.0\.1:9\/nothing\/here:1 +Error/);
    assert.match(res.stderr, /127\.0\.0\.1:9/);
    const ignored = await compose('badpull.yaml', 'cibp', ['pull', '--ignore-pull-failures']);
    assert.equal(ignored.code, 0, ignored.stderr);
  });

  test('a failing build names the service, exits with the step code, leaves no container; a missing context is refused', async () => {
    write('bad/Dockerfile', 'FROM busybox\nRUN exit 3\n');
    write('bad.yaml', 'services:\n  broken:\n    build: ./bad\n  nowhere:\n    build: ./does-not-exist\n');
    const res = await compose('bad.yaml', 'cibb', ['build', 'broken']);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /service "broken" failed to build: The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
    assert.equal((await d.berth(['ps', '-aq'])).stdout, '', 'no container left by the failed build');
    assert.equal((await d.berth(['image', 'inspect', 'cibb-broken'])).code, 1);
    const missing = await compose('bad.yaml', 'cibb', ['build', 'nowhere']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /service "nowhere" failed to build: unable to prepare context: path ".*does-not-exist" not found/);
  });
});
