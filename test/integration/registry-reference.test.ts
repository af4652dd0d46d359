/**
 * Images cross between Berth and a real Docker Engine through Debian's docker-registry: what Berth
 * pushes, dockerd pulls (same digest) and runs; what dockerd commits and pushes (its own gzip, its own
 * manifest), Berth pulls (same digest) and runs. Runs only when REF_DOCKER_HOST names a dockerd on its
 * own socket and data root, as the other reference-engine tests.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, run, DOCKER, hasDocker } from './harness.js';
import { startDistribution, hasDockerRegistry, type DistributionPeer } from './registry-peers.js';

const ref = process.env.REF_DOCKER_HOST;
const skip = (!ref && 'REF_DOCKER_HOST is not set') || (!hasDocker && 'docker CLI is not installed') || (!hasDockerRegistry && 'Debian docker-registry is not installed');
let d: TestDaemon;
let reg: DistributionPeer;
const docker = (args: string[]) => run(DOCKER, args, { DOCKER_HOST: ref! });
const names: string[] = [];

before(async () => {
  if (skip) return;
  reg = await startDistribution();
  d = await new TestDaemon().start();
  await d.seedBusybox();
});

after(async () => {
  for (const n of names) await docker(['rmi', '-f', n]);
  await d?.stop();
  await reg?.stop();
});

test('Berth pushes, dockerd pulls the same digest and runs it', { skip }, async () => {
  const name = `${reg.host}/from-berth:1`;
  names.push(name);
  assert.equal((await d.docker(['tag', 'busybox', name])).code, 0);
  const pushed = await d.docker(['push', name]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)![1]!;
  const pulled = await docker(['pull', name]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, new RegExp(`Digest: ${digest}`));
  const ran = await docker(['run', '--rm', '--network', 'none', name, 'echo', 'berth-made']);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout.trim(), 'berth-made');
});

test('dockerd commits and pushes, Berth pulls the same digest and runs it', { skip }, async () => {
  const base = `${reg.host}/from-berth:1`;
  const made = await docker(['run', '--network', 'none', '--name', `berth-ref-${process.pid}`, base, 'sh', '-c', 'echo docker-made > /made.txt']);
  assert.equal(made.code, 0, made.stderr);
  const name = `${reg.host}/from-docker:1`;
  names.push(name);
  assert.equal((await docker(['commit', `berth-ref-${process.pid}`, name])).code, 0);
  await docker(['rm', '-f', `berth-ref-${process.pid}`]);
  const pushed = await docker(['push', name]);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /Mounted from from-berth|Layer already exists/);
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)![1]!;
  const pulled = await d.docker(['pull', name]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, new RegExp(`Digest: ${digest}`));
  assert.match(pulled.stdout, /Already exists/);
  const ran = await d.docker(['run', '--rm', name, 'cat', '/made.txt']);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout.trim(), 'docker-made');
  // And back: Berth pushes the image it pulled to another repository with the same digest.
  const again = `${reg.host}/again:1`;
  assert.equal((await d.docker(['tag', name, again])).code, 0);
  const repushed = await d.docker(['push', again]);
  assert.equal(repushed.code, 0, repushed.stderr);
  assert.match(repushed.stdout, new RegExp(`digest: ${digest}`));
  assert.match(repushed.stdout, /Mounted from/);
});
