/**
 * Push and pull through the Engine API against Debian's docker-registry (Distribution 2.8), plain HTTP
 * on 127.0.0.1: the progress stream, skip of blobs the registry has, cross-repository mounts, the same
 * digest on a second push, and pull by digest of what was pushed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from './harness.js';
import { startDistribution, hasDockerRegistry, type DistributionPeer } from './registry-peers.js';

const skip = !hasDockerRegistry && 'Debian docker-registry is not installed';
let d: TestDaemon;
let reg: DistributionPeer;

function lines(text: string): any[] {
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function push(name: string, tag?: string, auth = 'e30=') {
  const q = tag === undefined ? '' : `?tag=${encodeURIComponent(tag)}`;
  const r = await d.request('POST', `/images/${name}/push${q}`, undefined, { 'X-Registry-Auth': auth });
  return { status: r.status, text: r.text, msgs: r.status === 200 ? lines(r.text) : [] };
}

async function pull(fromImage: string, tag?: string) {
  const q = new URLSearchParams({ fromImage, ...(tag !== undefined ? { tag } : {}) });
  const r = await d.request('POST', `/images/create?${q}`);
  return { status: r.status, text: r.text, msgs: r.status === 200 ? lines(r.text) : [] };
}

before(async () => {
  if (skip) return;
  reg = await startDistribution();
  d = await new TestDaemon().start();
  await d.seedBusybox();
});

after(async () => {
  await d?.stop();
  await reg?.stop();
});

test('push sends the layers and the manifest, with dockerd progress lines', { skip }, async () => {
  assert.equal((await d.request('POST', `/images/busybox/tag?repo=${reg.host}/busybox&tag=latest`)).status, 201);
  const r = await push(`${reg.host}/busybox`, 'latest');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.msgs[0], { status: `The push refers to repository [${reg.host}/busybox]` });
  assert.ok(r.msgs.some((m) => m.status === 'Preparing' && /^[a-f0-9]{12}$/.test(m.id)), r.text);
  assert.ok(r.msgs.some((m) => m.status === 'Pushed'), r.text);
  assert.ok(!r.msgs.some((m) => m.error), r.text);
  const done = r.msgs.find((m) => /^latest: digest: sha256:[a-f0-9]{64} size: \d+$/.test(m.status ?? ''));
  assert.ok(done, r.text);
  const aux = r.msgs.find((m) => m.aux)?.aux;
  assert.equal(aux.Tag, 'latest');
  assert.match(aux.Digest, /^sha256:[a-f0-9]{64}$/);
  // The registry serves the manifest under that digest.
  const res = await fetch(`${reg.url}/v2/busybox/manifests/latest`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('docker-content-digest'), aux.Digest);
  // A second push skips every layer and makes the same digest.
  const again = await push(`${reg.host}/busybox`, 'latest');
  assert.ok(again.msgs.some((m) => m.status === 'Layer already exists'), again.text);
  assert.ok(!again.msgs.some((m) => m.status === 'Pushed'), again.text);
  assert.equal(again.msgs.find((m) => m.aux)?.aux.Digest, aux.Digest);
  // The pushed digest is a repo digest of the image.
  const inspect = (await d.request('GET', `/images/${reg.host}/busybox:latest/json`)).json();
  assert.ok(inspect.RepoDigests.includes(`${reg.host}/busybox@${aux.Digest}`), JSON.stringify(inspect.RepoDigests));
});

test('a push to another repository of the same registry mounts the layers', { skip }, async () => {
  assert.equal((await d.request('POST', `/images/busybox/tag?repo=${reg.host}/other/box&tag=v1`)).status, 201);
  const r = await push(`${reg.host}/other/box`, 'v1');
  assert.equal(r.status, 200, r.text);
  assert.ok(r.msgs.some((m) => m.status === 'Mounted from busybox'), r.text);
  assert.ok(!r.msgs.some((m) => m.error), r.text);
});

test('push of a tag that does not exist is a 404 before any stream', { skip }, async () => {
  const r = await push(`${reg.host}/nothere`, 'latest');
  assert.equal(r.status, 404);
  assert.match(r.text, /An image does not exist locally with the tag: 127\.0\.0\.1:\d+\/nothere/);
});

test('push --all-tags pushes every tag of the repository', { skip }, async () => {
  for (const tag of ['a', 'b']) assert.equal((await d.request('POST', `/images/busybox/tag?repo=${reg.host}/multi&tag=${tag}`)).status, 201);
  const r = await push(`${reg.host}/multi`);
  assert.equal(r.status, 200, r.text);
  const tags = r.msgs.filter((m) => m.aux).map((m) => m.aux.Tag);
  assert.deepEqual(tags, ['a', 'b']);
  const list = await (await fetch(`${reg.url}/v2/multi/tags/list`)).json();
  assert.deepEqual([...list.tags].sort(), ['a', 'b']);
});

test('pull by digest of a pushed image gives the pushed digest; a second pull is up to date', { skip }, async () => {
  const pushed = await push(`${reg.host}/busybox`, 'latest');
  const digest = pushed.msgs.find((m) => m.aux).aux.Digest;
  // Forget the image locally, then pull it back.
  const rm = await d.request('DELETE', `/images/${reg.host}/busybox:latest`);
  assert.equal(rm.status, 200, rm.text);
  const fresh = new TestDaemon();
  try {
    await fresh.start();
    const q = new URLSearchParams({ fromImage: `${reg.host}/busybox`, tag: digest });
    const r = await fresh.request('POST', `/images/create?${q}`);
    assert.equal(r.status, 200, r.text);
    const msgs = lines(r.text);
    assert.ok(!msgs.some((m) => m.error), r.text);
    assert.deepEqual(msgs[0], { status: `Pulling from busybox`, id: digest });
    assert.ok(msgs.some((m) => m.status === 'Pull complete'), r.text);
    assert.ok(msgs.some((m) => m.status === 'Downloading' && m.progressDetail.total > 0 && /\[=*>/.test(m.progress)), r.text);
    assert.equal(msgs.at(-2).status, `Digest: ${digest}`);
    assert.equal(msgs.at(-1).status, `Status: Downloaded newer image for ${reg.host}/busybox@${digest}`);
    const byTag = await fresh.request('POST', `/images/create?${new URLSearchParams({ fromImage: `${reg.host}/busybox`, tag: 'latest' })}`);
    const tagMsgs = lines(byTag.text);
    assert.equal(tagMsgs.at(-1).status, `Status: Downloaded newer image for ${reg.host}/busybox:latest`, byTag.text);
    const again = await fresh.request('POST', `/images/create?${new URLSearchParams({ fromImage: `${reg.host}/busybox`, tag: 'latest' })}`);
    assert.equal(lines(again.text).at(-1).status, `Status: Image is up to date for ${reg.host}/busybox:latest`, again.text);
    const inspect = (await fresh.request('GET', `/images/${reg.host}/busybox:latest/json`)).json();
    assert.deepEqual(inspect.RepoDigests, [`${reg.host}/busybox@${digest}`]);
    // Pushing what was pulled sends the same manifest: same digest, nothing uploaded.
    const back = await fresh.request('POST', `/images/${reg.host}/busybox/push?tag=latest`, undefined, { 'X-Registry-Auth': 'e30=' });
    const backMsgs = lines(back.text);
    assert.equal(backMsgs.find((m) => m.aux)?.aux.Digest, digest, back.text);
    // The pulled image runs.
    const run = await fresh.docker(['run', '--rm', `${reg.host}/busybox:latest`, 'echo', 'pulled-and-ran']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'pulled-and-ran');
  } finally {
    await fresh.stop();
  }
});

test('pull of an unknown tag or repository answers 404 with Docker\'s words', { skip }, async () => {
  const r = await pull(`${reg.host}/busybox`, 'nope');
  assert.equal(r.status, 404, r.text);
  assert.match(r.text, /manifest for 127\.0\.0\.1:\d+\/busybox:nope not found: manifest unknown/);
  const repo = await pull(`${reg.host}/nosuchrepo`, 'latest');
  assert.equal(repo.status, 404, repo.text);
  assert.match(repo.text, /(pull access denied for 127\.0\.0\.1:\d+\/nosuchrepo|manifest for 127\.0\.0\.1:\d+\/nosuchrepo:latest not found)/);
  assert.equal((await d.request('GET', '/_ping')).status, 200);
});

test('bad input: garbage X-Registry-Auth, an unreachable registry, a hang-up mid-push, bad names', { skip }, async () => {
  // Undecodable auth is anonymous (as dockerd), so this push works.
  const garbage = await d.request('POST', `/images/${reg.host}/multi/push?tag=a`, undefined, { 'X-Registry-Auth': '!!!not-base64-json' });
  assert.equal(garbage.status, 200, garbage.text);
  assert.doesNotMatch(garbage.text, /"error"/);

  const { freePort } = await import('./registry-peers.js');
  const down = `127.0.0.1:${await freePort()}`;
  assert.equal((await d.request('POST', `/images/busybox/tag?repo=${down}/x&tag=1`)).status, 201);
  const unreachable = await push(`${down}/x`, '1');
  assert.equal(unreachable.status, 200);
  assert.match(unreachable.msgs.at(-1).error, /ECONNREFUSED/);

  // Hang up as soon as the stream starts; the daemon carries on and the next push is whole.
  const http = await import('node:http');
  await new Promise<void>((resolve) => {
    const req = http.request({ socketPath: d.socket, method: 'POST', path: `/images/${reg.host}/other/box/push?tag=v1`, headers: { 'X-Registry-Auth': 'e30=' } }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => resolve());
    req.end();
  });
  const after = await push(`${reg.host}/other/box`, 'v1');
  assert.equal(after.status, 200, after.text);
  assert.doesNotMatch(after.text, /"error"/);
  assert.equal((await d.request('GET', '/_ping')).status, 200);

  const badName = await d.request('POST', '/images/UPPER/push?tag=x');
  assert.equal(badName.status, 400, badName.text);
  const badTag = await d.request('POST', `/images/${reg.host}/busybox/push?tag=${encodeURIComponent('bad tag!')}`);
  assert.equal(badTag.status, 400, badTag.text);
  const digestPush = await d.request('POST', `/images/${reg.host}/busybox@sha256:${'a'.repeat(64)}/push`);
  assert.equal(digestPush.status, 400, digestPush.text);
  const badDist = await d.request('GET', '/distribution/UPPER:x/json');
  assert.equal(badDist.status, 400, badDist.text);
  const badPull = await d.request('POST', `/images/create?fromImage=${encodeURIComponent('a b')}&tag=latest`);
  assert.equal(badPull.status, 400, badPull.text);
  const badPlatform = await d.request('POST', `/images/create?fromImage=${reg.host}/busybox&tag=latest&platform=${encodeURIComponent('linux/amd64/v1/x')}`);
  assert.equal(badPlatform.status, 400, badPlatform.text);
  assert.doesNotMatch(d.logs, /BUG: /);
});
