/**
 * Pull through the Engine API from Debian's docker-registry: manifest lists with platform choice,
 * --all-tags, htpasswd basic auth (X-Registry-Auth and POST /auth), TLS, GET /distribution, and a client
 * that hangs up in the middle of a pull.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { TestDaemon } from './harness.js';
import { startDistribution, hasDockerRegistry, type DistributionPeer } from './registry-peers.js';

const skip = !hasDockerRegistry && 'Debian docker-registry is not installed';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

let d: TestDaemon;
let plain: DistributionPeer;
let secured: DistributionPeer;
let tlsPeer: DistributionPeer;
let amd64Digest: string;
let indexDigest: string;

const auth = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const good = auth({ username: 'alice', password: 'wonderland', serveraddress: '' });
const lines = (text: string): any[] => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function apiPull(daemon: TestDaemon, fromImage: string, o: { tag?: string; platform?: string; auth?: string } = {}) {
  const q = new URLSearchParams({ fromImage, ...(o.tag !== undefined ? { tag: o.tag } : {}), ...(o.platform ? { platform: o.platform } : {}) });
  const r = await daemon.request('POST', `/images/create?${q}`, undefined, o.auth ? { 'X-Registry-Auth': o.auth } : {});
  return { status: r.status, text: r.text, json: () => JSON.parse(r.text), msgs: r.status === 200 ? lines(r.text) : [] };
}

/** Puts a blob into a plain registry with a monolithic upload. */
async function putBlob(reg: DistributionPeer, repo: string, data: Buffer): Promise<string> {
  const digest = sha(data);
  const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const loc = new URL(start.headers.get('location')!, reg.url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: new Uint8Array(data), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(put.status, 201, await put.text());
  return digest;
}

async function putManifest(reg: DistributionPeer, repo: string, ref: string, body: Buffer, type: string): Promise<string> {
  const r = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: new Uint8Array(body), headers: { 'Content-Type': type } });
  assert.equal(r.status, 201, await r.text());
  return sha(body);
}

before(async () => {
  if (skip) return;
  [plain, secured, tlsPeer] = await Promise.all([startDistribution(), startDistribution({ users: { alice: 'wonderland' } }), startDistribution({ tls: true })]);
  d = await new TestDaemon().start();
  await d.seedBusybox();
  for (const reg of [plain, tlsPeer]) {
    assert.equal((await d.request('POST', `/images/busybox/tag?repo=${reg.host}/busybox&tag=latest`)).status, 201);
    const r = await d.request('POST', `/images/${reg.host}/busybox/push?tag=latest`, undefined, { 'X-Registry-Auth': 'e30=' });
    assert.doesNotMatch(r.text, /"error"/);
  }
  assert.equal((await d.request('POST', `/images/busybox/tag?repo=${secured.host}/busybox&tag=latest`)).status, 201);
  const sr = await d.request('POST', `/images/${secured.host}/busybox/push?tag=latest`, undefined, { 'X-Registry-Auth': good });
  assert.doesNotMatch(sr.text, /"error"/, sr.text);

  // A manifest list: the pushed amd64 image and an arm64 twin (same layers, its own config).
  const m = await fetch(`${plain.url}/v2/busybox/manifests/latest`, { headers: { Accept: DOCKER_MANIFEST } });
  const amd64 = Buffer.from(await m.arrayBuffer());
  amd64Digest = sha(amd64);
  const manifest = JSON.parse(amd64.toString());
  const config = JSON.parse(Buffer.from(await (await fetch(`${plain.url}/v2/busybox/blobs/${manifest.config.digest}`)).arrayBuffer()).toString());
  const armConfig = Buffer.from(JSON.stringify({ ...config, architecture: 'arm64', variant: 'v8' }));
  const armConfigDigest = await putBlob(plain, 'multi', armConfig);
  // Layers and config must be in the repository too: mount them from busybox.
  for (const l of [...manifest.layers, manifest.config]) {
    const r = await fetch(`${plain.url}/v2/multi/blobs/uploads/?mount=${l.digest}&from=busybox`, { method: 'POST' });
    assert.equal(r.status, 201);
  }
  await putManifest(plain, 'multi', amd64Digest, amd64, DOCKER_MANIFEST);
  const arm = Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, digest: armConfigDigest, size: armConfig.length } }));
  const armDigest = await putManifest(plain, 'multi', sha(arm), arm, DOCKER_MANIFEST);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: DOCKER_MANIFEST, digest: armDigest, size: arm.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { mediaType: DOCKER_MANIFEST, digest: amd64Digest, size: amd64.length, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    }),
  );
  indexDigest = await putManifest(plain, 'multi', 'latest', index, OCI_INDEX);
  await putManifest(plain, 'multi', 'other', amd64, DOCKER_MANIFEST);
});

after(async () => {
  await d?.stop();
  await Promise.all([plain?.stop(), secured?.stop(), tlsPeer?.stop()]);
});

test('a manifest list gives the host platform by default, another with platform=, and Docker\'s error for none', { skip }, async () => {
  const r = await apiPull(d, `${plain.host}/multi`, { tag: 'latest' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.msgs.at(-2).status, `Digest: ${indexDigest}`);
  let inspect = (await d.request('GET', `/images/${plain.host}/multi:latest/json`)).json();
  assert.equal(inspect.Architecture, 'amd64');
  assert.ok(inspect.RepoDigests.includes(`${plain.host}/multi@${indexDigest}`), inspect.RepoDigests);

  const arm = await apiPull(d, `${plain.host}/multi`, { tag: 'latest', platform: 'linux/aarch64' });
  assert.equal(arm.status, 200, arm.text);
  // Same layers as the amd64 image: nothing to download.
  assert.ok(arm.msgs.some((m) => m.status === 'Already exists'), arm.text);
  inspect = (await d.request('GET', `/images/${plain.host}/multi:latest/json`)).json();
  assert.equal(inspect.Architecture, 'arm64');

  const none = await apiPull(d, `${plain.host}/multi`, { tag: 'latest', platform: 'linux/s390x' });
  assert.equal(none.status, 404, none.text);
  assert.match(none.text, /no matching manifest for linux\/s390x in the manifest list entries/);
});

test('GET /distribution/{name}/json answers the descriptor and platforms', { skip }, async () => {
  const r = await d.request('GET', `/distribution/${plain.host}/multi:latest/json`);
  assert.equal(r.status, 200, r.text);
  const body = r.json();
  assert.equal(body.Descriptor.digest, indexDigest);
  assert.equal(body.Descriptor.mediaType, OCI_INDEX);
  assert.deepEqual(body.Platforms.map((p: any) => p.architecture).sort(), ['amd64', 'arm64']);
  const single = (await d.request('GET', `/distribution/${plain.host}/busybox:latest/json`)).json();
  assert.equal(single.Descriptor.digest, amd64Digest);
  assert.deepEqual(single.Platforms, [{ os: 'linux', architecture: 'amd64' }]);
  const missing = await d.request('GET', `/distribution/${plain.host}/nothing:latest/json`);
  assert.ok([401, 404].includes(missing.status), missing.text);
});

test('pull without a tag pulls every tag (--all-tags)', { skip }, async () => {
  const r = await apiPull(d, `${plain.host}/multi`);
  assert.equal(r.status, 200, r.text);
  const from = r.msgs.filter((m) => /^Pulling from multi$/.test(m.status ?? '')).map((m) => m.id);
  assert.deepEqual(from.sort(), ['latest', 'other']);
  assert.ok((await d.request('GET', `/images/${plain.host}/multi:other/json`)).status === 200);
});

test('htpasswd: anonymous pull and a wrong password are refused (500, as dockerd), the right one pulls; POST /auth checks', { skip }, async () => {
  const fresh = await new TestDaemon().start();
  try {
    const anon = await apiPull(fresh, `${secured.host}/busybox`, { tag: 'latest' });
    assert.equal(anon.status, 500, anon.text);
    assert.match(anon.text, /no basic auth credentials/);
    const wrong = await apiPull(fresh, `${secured.host}/busybox`, { tag: 'latest', auth: auth({ username: 'alice', password: 'nope' }) });
    assert.equal(wrong.status, 500, wrong.text);
    assert.match(wrong.json().message, /^Get "http:\/\/127\.0\.0\.1:\d+\/v2\/busybox\/manifests\/latest": unauthorized: authentication required$/);
    const ok = await apiPull(fresh, `${secured.host}/busybox`, { tag: 'latest', auth: good });
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.msgs.at(-1).status, /^Status: Downloaded newer image for 127\.0\.0\.1:\d+\/busybox:latest$/);

    const login = await fresh.request('POST', '/auth', { username: 'alice', password: 'wonderland', serveraddress: secured.host });
    assert.equal(login.status, 200, login.text);
    assert.deepEqual(login.json(), { Status: 'Login Succeeded', IdentityToken: '' });
    const bad = await fresh.request('POST', '/auth', { username: 'alice', password: 'nope', serveraddress: `http://${secured.host}/` });
    assert.equal(bad.status, 401, bad.text);
    assert.match(bad.json().message, /login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401 Unauthorized/);
    assert.equal((await fresh.request('POST', '/auth', '{"username": 3')).status, 400);
    assert.equal((await fresh.request('POST', '/auth', { username: 7, password: 'x' })).status, 400);
    assert.equal((await fresh.request('GET', '/_ping')).status, 200);
  } finally {
    await fresh.stop();
  }
});

test('TLS registry: pull over HTTPS', { skip }, async () => {
  const fresh = await new TestDaemon().start();
  try {
    const r = await apiPull(fresh, `${tlsPeer.host}/busybox`, { tag: 'latest' });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.msgs.some((m) => m.status === 'Pull complete'), r.text);
  } finally {
    await fresh.stop();
  }
});

test('a client hanging up mid-pull leaves nothing half-written and the daemon serving', { skip }, async () => {
  const fresh = await new TestDaemon().start();
  try {
    await new Promise<void>((resolve) => {
      const req = http.request({ socketPath: fresh.socket, method: 'POST', path: `/images/create?fromImage=${plain.host}/busybox&tag=latest` }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
      req.end();
    });
    // Whatever happened to the pull, a new one completes and the daemon answers.
    const r = await apiPull(fresh, `${plain.host}/busybox`, { tag: 'latest' });
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.msgs.some((m) => m.error), r.text);
    assert.equal((await fresh.request('GET', '/_ping')).status, 200);
    const ingest = path.join(fresh.dataRoot, 'content', 'ingest');
    if (existsSync(ingest)) assert.deepEqual(readdirSync(ingest), []);
    assert.deepEqual(readdirSync(path.join(fresh.dataRoot, 'layers')).filter((n) => n.startsWith('tmp-')), []);
    assert.doesNotMatch(fresh.logs, /BUG: /);
  } finally {
    await fresh.stop();
  }
});

test('two pulls of the same image at once both succeed and make one image', { skip }, async () => {
  const fresh = await new TestDaemon().start();
  try {
    const [a, b] = await Promise.all([apiPull(fresh, `${plain.host}/busybox`, { tag: 'latest' }), apiPull(fresh, `${plain.host}/busybox`, { tag: 'latest' })]);
    for (const r of [a, b]) {
      assert.equal(r.status, 200, r.text);
      assert.ok(!r.msgs.some((m) => m.error), r.text);
    }
    const images = (await fresh.request('GET', '/images/json')).json();
    assert.equal(images.length, 1, JSON.stringify(images));
    const run = await fresh.docker(['run', '--rm', `${plain.host}/busybox`, 'true']);
    assert.equal(run.code, 0, run.stderr);
  } finally {
    await fresh.stop();
  }
});

test('none of it reached the daemon\'s last-resort handlers', { skip }, async () => {
  assert.doesNotMatch(d.logs, /BUG: (unhandled promise rejection|uncaught exception)/);
});

test('a pulled image saves: `berth save` writes layer tars whose digests are the config diff_ids', { skip }, async () => {
  const fresh = await new TestDaemon().start();
  try {
    const r = await apiPull(fresh, `${plain.host}/busybox`, { tag: 'latest' });
    assert.equal(r.status, 200, r.text);
    assert.doesNotMatch(r.text, /"error"/, r.text);
    const archive = path.join(fresh.root, 'saved.tar');
    const saved = await fresh.berth(['save', '-o', archive, `${plain.host}/busybox:latest`]);
    assert.equal(saved.code, 0, saved.stderr);
    const files = new Map<string, Buffer>();
    const extract = tarStream.extract();
    extract.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        files.set(h.name, Buffer.concat(parts));
        next();
      });
    });
    await pipeline(createReadStream(archive), extract);
    const [entry] = JSON.parse(files.get('manifest.json')!.toString());
    const config = JSON.parse(files.get(entry.Config)!.toString());
    assert.ok(config.rootfs.diff_ids.length > 0);
    assert.deepEqual(entry.Layers.map((l: string) => sha(files.get(l)!)), config.rootfs.diff_ids);
    // The layer tars were made from the compressed blobs: a pulled layer is not stored a second time.
    const content = path.join(fresh.dataRoot, 'content');
    const stored = new Set(readdirSync(path.join(content, 'sha256')));
    for (const diffId of config.rootfs.diff_ids as string[]) assert.ok(!stored.has(diffId.slice(7)), `tar ${diffId} stored beside its blob`);
    assert.equal(readdirSync(path.join(content, 'tar-sources')).length, config.rootfs.diff_ids.length);
    // Removing the image removes the blobs and the records that made its tars.
    const rmi = await fresh.berth(['rmi', `${plain.host}/busybox:latest`]);
    assert.equal(rmi.code, 0, rmi.stderr);
    assert.deepEqual(readdirSync(path.join(content, 'tar-sources')), []);
    assert.deepEqual(readdirSync(path.join(content, 'sha256')), []);
  } finally {
    await fresh.stop();
  }
});
