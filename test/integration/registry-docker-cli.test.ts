/**
 * The official docker CLI against berthd (DOCKER_HOST) and Debian's docker-registry with htpasswd:
 * login, push, pull (with progress output), run of a pulled image, images --digests, pull --all-tags.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TestDaemon, hasDocker, run as runProgram, DOCKER } from './harness.js';
import { startDistribution, hasDockerRegistry, type DistributionPeer } from './registry-peers.js';

const skip = (!hasDockerRegistry && 'Debian docker-registry is not installed') || (!hasDocker && 'docker CLI is not installed');
let d: TestDaemon;
let reg: DistributionPeer;

before(async () => {
  if (skip) return;
  reg = await startDistribution({ users: { bob: 'builder' } });
  d = await new TestDaemon().start();
  await d.seedBusybox();
});

after(async () => {
  await d?.stop();
  await reg?.stop();
});

test('docker login, push, rmi, pull, run and images --digests against berthd', { skip }, async () => {
  const name = `${reg.host}/team/box`;
  const denied = await d.docker(['login', reg.host, '-u', 'bob', '--password-stdin'], 'wrong\n');
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /Error response from daemon: login attempt to .*\/v2\/ failed with status: 401 Unauthorized/);
  const login = await d.docker(['login', reg.host, '-u', 'bob', '--password-stdin'], 'builder\n');
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);

  assert.equal((await d.docker(['tag', 'busybox', `${name}:v1`])).code, 0);
  const pushed = await d.docker(['push', `${name}:v1`]);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, new RegExp(`The push refers to repository \\[${name.replace(/\./g, '\\.')}\\]`));
  const digest = /v1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(pushed.stdout)?.[1];
  assert.ok(digest, pushed.stdout);

  const rmi = await d.docker(['rmi', `${name}:v1`]);
  assert.equal(rmi.code, 0, rmi.stderr);
  // The repository's digest reference goes with its last tag, as with dockerd.
  assert.match(rmi.stdout, new RegExp(`Untagged: ${name.replace(/\./g, '\\.')}@${digest}`));
  const pulled = await d.docker(['pull', `${name}:v1`]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, /v1: Pulling from team\/box/);
  assert.match(pulled.stdout, new RegExp(`Digest: ${digest}`));
  assert.match(pulled.stdout, new RegExp(`Status: Downloaded newer image for ${name.replace(/\./g, '\\.')}:v1`));
  const again = await d.docker(['pull', `${name}:v1`]);
  assert.match(again.stdout, /Status: Image is up to date for/);

  const byDigest = await d.docker(['pull', `${name}@${digest}`]);
  assert.equal(byDigest.code, 0, byDigest.stderr);

  const images = await d.docker(['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}', name]);
  assert.equal(images.code, 0, images.stderr);
  assert.match(images.stdout, new RegExp(`${name.replace(/\./g, '\\.')} v1 ${digest}`));

  const run = await d.docker(['run', '--rm', `${name}:v1`, 'echo', 'hello-from-registry']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'hello-from-registry');

  assert.equal((await d.docker(['tag', 'busybox', `${name}:v2`])).code, 0);
  assert.equal((await d.docker(['push', `${name}:v2`])).code, 0);
  // On a terminal the CLI draws the progress bars from Berth's stream (script(1) gives it one).
  if (existsSync('/usr/bin/script')) {
    const onTty = await d.docker(['tag', 'busybox', `${name}:tty`]).then(() => d.docker(['push', `${name}:tty`]));
    assert.equal(onTty.code, 0, onTty.stderr);
    assert.equal((await d.docker(['rmi', 'busybox', `${name}:v1`, `${name}:v2`, `${name}:tty`])).code, 0);
    const tty = await runProgram('/usr/bin/script', ['-qec', `${DOCKER} pull ${name}:tty`, '/dev/null'], { DOCKER_HOST: d.host, DOCKER_CONFIG: path.join(d.root, 'docker-config'), TERM: 'xterm' });
    assert.equal(tty.code, 0, tty.stdout);
    assert.match(tty.stdout, /Pull complete/);
    // The CLI redraws each layer's line from progressDetail (no bar at the pty's 80 columns).
    assert.match(tty.stdout, /Downloading\s+[\d.]+[kM]?B\/1\.\d+MB/);
    assert.match(tty.stdout, /Extracting\s+[\d.]+[kM]?B\/1\.\d+MB/);
    assert.match(tty.stdout, /\x1b\[1A\x1b\[2K/, 'lines are redrawn in place');
    assert.match(tty.stdout, /Status: Downloaded newer image for /);
  }

  const all = await d.docker(['pull', '--all-tags', name]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /v1: Pulling from team\/box/);
  assert.match(all.stdout, /v2: Pulling from team\/box/);

  // docker run of an image that is not here pulls it first (the CLI does, on create's 404), and --pull always pulls.
  assert.equal((await d.docker(['rmi', `${name}:v2`])).code, 0);
  const missingRun = await d.docker(['run', '--rm', `${name}:v2`, 'echo', 'pulled-by-run']);
  assert.equal(missingRun.code, 0, missingRun.stderr);
  assert.match(missingRun.stderr, /Unable to find image '127\.0\.0\.1:\d+\/team\/box:v2' locally/);
  assert.match(missingRun.stderr, /v2: Pulling from team\/box/);
  assert.equal(missingRun.stdout.trim(), 'pulled-by-run');
  const always = await d.docker(['run', '--pull', 'always', '--rm', `${name}:v1`, 'true']);
  assert.equal(always.code, 0, always.stderr);
  assert.match(always.stderr + always.stdout, /Image is up to date for/);

  const logout = await d.docker(['logout', reg.host]);
  assert.equal(logout.code, 0, logout.stderr);
  const anon = await d.docker(['pull', `${name}:v1`]);
  assert.notEqual(anon.code, 0);
  assert.match(anon.stderr, /no basic auth credentials/);

  const missing = await d.docker(['pull', `${reg.host}/nothing/here:latest`]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /Error response from daemon/);
});
