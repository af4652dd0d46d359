/**
 * Berth's registry server with real programs: skopeo copies images into and out of it and through
 * Debian's docker-registry (Distribution 2.8), with htpasswd and token auth, TLS; garbage collection
 * while pushes go on; a pull-through cache of a Distribution upstream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeOciLayout, runProgram, skopeo, startBerthRegistry, BERTH_BIN, type Spawned } from './registry-fixture.js';
import { startDistribution, type DistributionPeer } from './registry-peers.js';

const NO_TLS = ['--src-tls-verify=false', '--dest-tls-verify=false'];
const tmpDirs: string[] = [];
const running: Array<{ stop(): Promise<unknown> }> = [];

function tmp(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), `berth-reg-${prefix}-`));
  tmpDirs.push(d);
  return d;
}

async function serve(extra: string[] = [], root = path.join(tmp('root'), 'store')): Promise<Spawned> {
  const s = await startBerthRegistry(root, extra);
  running.push(s);
  return s;
}

async function ok(p: Promise<{ code: number | null; stdout: string; stderr: string }>): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function rawDigest(ref: string, extra: string[] = ['--tls-verify=false']): Promise<string> {
  const raw = tmp('raw');
  const file = path.join(raw, 'manifest.json');
  writeFileSync(file, await ok(skopeo(['inspect', ...extra, '--raw', ref])));
  return (await ok(skopeo(['manifest-digest', file]))).trim();
}

after(async () => {
  for (const s of running) await s.stop();
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

describe('berth registry serve with skopeo and docker-registry', () => {
  let berth: Spawned;
  let distribution: DistributionPeer;
  let image: Awaited<ReturnType<typeof makeOciLayout>>;

  before(async () => {
    berth = await serve();
    distribution = await startDistribution();
    running.push(distribution);
    image = await makeOciLayout(path.join(tmp('layout'), 'img'), '1', undefined, 3);
  });

  test('skopeo copies an image in and out; digests match through Distribution and back', async () => {
    await ok(skopeo(['copy', ...NO_TLS, `oci:${image.dir}:1`, `docker://${berth.host}/x/img:1`]));
    assert.equal(await rawDigest(`docker://${berth.host}/x/img:1`), image.manifestDigest);
    await ok(skopeo(['copy', ...NO_TLS, `docker://${berth.host}/x/img:1`, `docker://${distribution.host}/x/img:1`]));
    assert.equal(await rawDigest(`docker://${distribution.host}/x/img:1`), image.manifestDigest);
    await ok(skopeo(['copy', ...NO_TLS, `docker://${distribution.host}/x/img:1`, `docker://${berth.host}/y/back:2`]));
    assert.equal(await rawDigest(`docker://${berth.host}/y/back:2`), image.manifestDigest);
    // Out to a layout again: the same blobs, byte for byte.
    const out = path.join(tmp('out'), 'img');
    await ok(skopeo(['copy', ...NO_TLS, `docker://${berth.host}/y/back:2`, `oci:${out}:1`]));
    for (const b of image.blobs) {
      const hex = b.slice(7);
      assert.deepEqual(readFileSync(path.join(out, 'blobs/sha256', hex)), readFileSync(path.join(image.dir, 'blobs/sha256', hex)));
    }
    const tags = JSON.parse(await ok(skopeo(['list-tags', '--tls-verify=false', `docker://${berth.host}/y/back`]))) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['2']);
  });

  test('a Docker schema 2 image and a manifest list survive the round trip', async () => {
    await ok(skopeo(['copy', ...NO_TLS, '--format', 'v2s2', `oci:${image.dir}:1`, `docker://${distribution.host}/v2s2/img:1`]));
    const d = await rawDigest(`docker://${distribution.host}/v2s2/img:1`);
    await ok(skopeo(['copy', ...NO_TLS, `docker://${distribution.host}/v2s2/img:1`, `docker://${berth.host}/v2s2/img:1`]));
    assert.equal(await rawDigest(`docker://${berth.host}/v2s2/img:1`), d);
    const raw = JSON.parse(await ok(skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${berth.host}/v2s2/img:1`])));
    assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    // A list: pushed to Distribution by hand, copied with --all to Berth.
    const list = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [{ mediaType: raw.mediaType, digest: d, size: Buffer.byteLength(await ok(skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${distribution.host}/v2s2/img:1`]))), platform: { architecture: 'amd64', os: 'linux' } }] });
    const put = await fetch(`${distribution.url}/v2/v2s2/img/manifests/list`, { method: 'PUT', body: list, headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.list.v2+json' } });
    assert.equal(put.status, 201, await put.text());
    await ok(skopeo(['copy', ...NO_TLS, '--all', `docker://${distribution.host}/v2s2/img:list`, `docker://${berth.host}/v2s2/img:list`]));
    assert.equal(await rawDigest(`docker://${berth.host}/v2s2/img:list`), await rawDigest(`docker://${distribution.host}/v2s2/img:list`));
  });

  test('the same image pushed by several clients at once, to one repository and to others', async () => {
    const dests = ['same/img:1', 'same/img:1', 'same/img:2', 'other/img:1'];
    await Promise.all(dests.map((d) => ok(skopeo(['copy', ...NO_TLS, `oci:${image.dir}:1`, `docker://${berth.host}/${d}`]))));
    for (const d of new Set(dests)) assert.equal(await rawDigest(`docker://${berth.host}/${d}`), image.manifestDigest);
  });

  test('skopeo delete, then the tag is gone', async () => {
    await ok(skopeo(['copy', ...NO_TLS, `oci:${image.dir}:1`, `docker://${berth.host}/del/img:1`]));
    await ok(skopeo(['delete', '--tls-verify=false', `docker://${berth.host}/del/img:1`]));
    const r = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${berth.host}/del/img:1`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /manifest unknown/);
  });

  test('SIGTERM stops the server cleanly', async () => {
    const s = await serve();
    assert.equal((await fetch(`${s.url}/v2/`)).status, 200);
    assert.equal(await s.stop(), 0);
  });

  test('the CLI refuses bad flags', async () => {
    const r = await runProgram(BERTH_BIN, ['registry', 'serve', '--addr', 'nonsense', '--root', tmp('bad')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid --addr/);
    const r2 = await runProgram(BERTH_BIN, ['registry', 'serve', '--addr', '127.0.0.1:0']);
    assert.match(r2.stderr, /--root is required/);
    const r3 = await runProgram(BERTH_BIN, ['registry', 'serve', '--addr', '127.0.0.1:0', '--root', tmp('bad'), '--gc-grace', 'soon']);
    assert.match(r3.stderr, /invalid duration for --gc-grace/);
  });
});

describe('auth and TLS', () => {
  let htpasswd: string;
  let image: Awaited<ReturnType<typeof makeOciLayout>>;

  before(async () => {
    const d = tmp('auth');
    htpasswd = path.join(d, 'htpasswd');
    execFileSync('htpasswd', ['-Bbc', htpasswd, 'alice', 'wonderland']);
    image = await makeOciLayout(path.join(d, 'img'), '1');
  });

  test('htpasswd: 401 with a Basic challenge; skopeo with --creds pushes and pulls; a wrong password fails', async () => {
    const s = await serve(['--htpasswd', htpasswd]);
    const r = await fetch(`${s.url}/v2/`);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="/);
    assert.equal(((await r.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNAUTHORIZED');
    const bad = await skopeo(['copy', ...NO_TLS, '--dest-creds', 'alice:wrong', `oci:${image.dir}:1`, `docker://${s.host}/a/img:1`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unauthorized|authentication required/i);
    await ok(skopeo(['copy', ...NO_TLS, '--dest-creds', 'alice:wonderland', `oci:${image.dir}:1`, `docker://${s.host}/a/img:1`]));
    assert.equal(await rawDigest(`docker://${s.host}/a/img:1`, ['--tls-verify=false', '--creds', 'alice:wonderland']), image.manifestDigest);
  });

  test('token mode: Bearer challenge, the token endpoint checks htpasswd, scopes are enforced', async () => {
    const s = await serve(['--htpasswd', htpasswd, '--token-issue', '--token-service', 'test-registry']);
    const r = await fetch(`${s.url}/v2/t/img/manifests/1`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Bearer realm="${s.url}/token",service="test-registry",scope="repository:t/img:pull"`);
    const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
    const denied = await fetch(`${s.url}/token?service=test-registry&scope=repository:t/img:pull`, { headers: { Authorization: basic('alice', 'nope') } });
    assert.equal(denied.status, 401);
    const pullOnly = (await (await fetch(`${s.url}/token?service=test-registry&scope=repository:t/img:pull`, { headers: { Authorization: basic('alice', 'wonderland') } })).json()) as Record<string, unknown>;
    assert.equal(typeof pullOnly.token, 'string');
    assert.equal(pullOnly.access_token, pullOnly.token);
    assert.equal(typeof pullOnly.expires_in, 'number');
    assert.equal(typeof pullOnly.issued_at, 'string');
    const push = await fetch(`${s.url}/v2/t/img/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${pullOnly.token}` } });
    assert.equal(push.status, 401);
    assert.match(push.headers.get('www-authenticate') ?? '', /scope="repository:t\/img:pull,push",error="insufficient_scope"/);
    const other = await fetch(`${s.url}/v2/other/tags/list`, { headers: { Authorization: `Bearer ${pullOnly.token}` } });
    assert.equal(other.status, 401);
    const form = await fetch(`${s.url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'wonderland', service: 'test-registry', scope: 'repository:t/img:pull' }) });
    assert.equal(form.status, 200);
    const viaForm = ((await form.json()) as { access_token: string }).access_token;
    assert.equal((await fetch(`${s.url}/v2/t/img/tags/list`, { headers: { Authorization: `Bearer ${viaForm}` } })).status, 404); // allowed in, no such repo yet
    const badForm = await fetch(`${s.url}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'x' }) });
    assert.equal(badForm.status, 401);
    const garbage = await fetch(`${s.url}/v2/`, { headers: { Authorization: 'Bearer not.a.token' } });
    assert.equal(garbage.status, 401);
    const bad = await skopeo(['copy', ...NO_TLS, '--dest-creds', 'alice:wrong', `oci:${image.dir}:1`, `docker://${s.host}/t/img:1`]);
    assert.notEqual(bad.code, 0);
    await ok(skopeo(['copy', ...NO_TLS, '--dest-creds', 'alice:wonderland', `oci:${image.dir}:1`, `docker://${s.host}/t/img:1`]));
    assert.equal(await rawDigest(`docker://${s.host}/t/img:1`, ['--tls-verify=false', '--creds', 'alice:wonderland']), image.manifestDigest);
  });

  test('TLS: https with a certificate skopeo trusts', async () => {
    const d = tmp('tls');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(d, 'key.pem'), '-out', path.join(d, 'cert.pem')], { stdio: 'ignore' });
    const s = await serve(['--tls-cert', path.join(d, 'cert.pem'), '--tls-key', path.join(d, 'key.pem')]);
    assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const certs = path.join(d, 'certs.d');
    execFileSync('mkdir', ['-p', certs]);
    execFileSync('cp', [path.join(d, 'cert.pem'), path.join(certs, 'ca.crt')]);
    await ok(skopeo(['copy', '--dest-cert-dir', certs, `oci:${image.dir}:1`, `docker://${s.host}/tls/img:1`]));
    assert.equal(await rawDigest(`docker://${s.host}/tls/img:1`, ['--cert-dir', certs]), image.manifestDigest);
  });
});

describe('TLS client certificates', () => {
  test('--tls-client-ca: skopeo with a client certificate in its cert dir gets in, without one it does not', async () => {
    const d = tmp('mtls');
    const o = (...args: string[]) => execFileSync('openssl', args, { cwd: d, stdio: 'ignore' });
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
    writeFileSync(path.join(d, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    writeFileSync(path.join(d, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    for (const [name, cn] of [['server', '127.0.0.1'], ['client', 'alice']] as const) {
      o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      o('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
    }
    const s = await serve(['--tls-cert', path.join(d, 'server.pem'), '--tls-key', path.join(d, 'server.key'), '--tls-client-ca', path.join(d, 'ca.pem')]);
    const withCert = path.join(d, 'with');
    const without = path.join(d, 'without');
    execFileSync('mkdir', ['-p', withCert, without]);
    execFileSync('cp', [path.join(d, 'ca.pem'), path.join(withCert, 'ca.crt')]);
    execFileSync('cp', [path.join(d, 'ca.pem'), path.join(without, 'ca.crt')]);
    execFileSync('cp', [path.join(d, 'client.pem'), path.join(withCert, 'client.cert')]);
    execFileSync('cp', [path.join(d, 'client.key'), path.join(withCert, 'client.key')]);
    const image = await makeOciLayout(path.join(d, 'img'), '1');
    const refused = await skopeo(['copy', '--dest-cert-dir', without, `oci:${image.dir}:1`, `docker://${s.host}/m/img:1`]);
    assert.notEqual(refused.code, 0);
    await ok(skopeo(['copy', '--dest-cert-dir', withCert, `oci:${image.dir}:1`, `docker://${s.host}/m/img:1`]));
    assert.equal(await rawDigest(`docker://${s.host}/m/img:1`, ['--cert-dir', withCert]), image.manifestDigest);
  });
});

describe('garbage collection while serving', () => {
  test('pushes during collections keep everything they refer to; an old unreferenced blob goes', async () => {
    const root = path.join(tmp('gc'), 'store');
    const s = await serve(['--gc-interval', '50ms', '--gc-grace', '1h'], root);
    const blobFile = (digest: string) => path.join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));
    const aged = (digest: string) => {
      const past = new Date(Date.now() - 2 * 3600_000);
      utimesSync(blobFile(digest), past, past);
    };
    const upload = async (name: string, data: string) => {
      const { createHash } = await import('node:crypto');
      const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
      const r = await fetch(`${s.url}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
      assert.equal(r.status, 201);
      return digest;
    };
    // An orphan, old: it must go.
    const orphan = await upload('gc/orphan', 'nobody refers to me');
    aged(orphan);
    const reusedConfig = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}';
    const reused = await upload('gc/reuse', reusedConfig);
    // A push in flight: its layer is uploaded, its manifest not yet.
    const inflightLayer = 'layer of a push whose manifest comes later';
    const inflight = await upload('gc/inflight', inflightLayer);

    const images = await Promise.all([0, 1, 2].map((i) => makeOciLayout(path.join(tmp('gcimg'), `img${i}`), '1', undefined, 2)));
    const collections: Promise<unknown>[] = [];
    const pushes = images.map((img, i) => ok(skopeo(['copy', ...NO_TLS, `oci:${img.dir}:1`, `docker://${s.host}/gc/img${i}:1`])));
    for (let i = 0; i < 5; i++) collections.push(fetch(`${s.url}/admin/gc`, { method: 'POST' }).then((r) => r.json()));
    // The reused blob: held by an old manifest; a push finds it with HEAD, the old manifest is deleted and a
    // collection runs before the push's manifest arrives. The HEAD made it young again, so it stays.
    const manifestOf = (layers: string) => JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: reused, size: reusedConfig.length }, layers: [], annotations: { v: layers } });
    const oldPut = await fetch(`${s.url}/v2/gc/reuse/manifests/old`, { method: 'PUT', body: manifestOf('old'), headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(oldPut.status, 201);
    aged(reused);
    const head = await fetch(`${s.url}/v2/gc/reuse/blobs/${reused}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const delOld = await fetch(`${s.url}/v2/gc/reuse/manifests/${oldPut.headers.get('docker-content-digest')}`, { method: 'DELETE' });
    assert.equal(delOld.status, 202);
    await fetch(`${s.url}/admin/gc`, { method: 'POST' }).then((r) => r.json());
    const put = await fetch(`${s.url}/v2/gc/reuse/manifests/1`, { method: 'PUT', body: manifestOf('new'), headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(put.status, 201, await put.text());
    await Promise.all([...pushes, ...collections]);
    const last = (await (await fetch(`${s.url}/admin/gc`, { method: 'POST' })).json()) as { removed: string[] };

    // The in-flight push completes after the collections.
    const configText = '{"architecture":"amd64","os":"linux","x":1}';
    const config = await upload('gc/inflight', configText);
    const m = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configText.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: inflight, size: inflightLayer.length }] });
    const put2 = await fetch(`${s.url}/v2/gc/inflight/manifests/1`, { method: 'PUT', body: m, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(put2.status, 201, await put2.text());

    assert.ok(!existsSync(blobFile(orphan)), 'the old orphan was collected');
    assert.ok(!last.removed.includes(reused));
    for (const d of [reused, inflight]) assert.ok(existsSync(blobFile(d)), d);
    for (const [i, img] of images.entries()) {
      for (const b of img.blobs) assert.ok(existsSync(blobFile(b)), b);
      const out = path.join(tmp('gcout'), `img${i}`);
      await ok(skopeo(['copy', ...NO_TLS, `docker://${s.host}/gc/img${i}:1`, `oci:${out}:1`]));
      assert.equal(await rawDigest(`docker://${s.host}/gc/img${i}:1`), img.manifestDigest);
    }
    // Not beside the running server: an offline gc and a second server on the same root are refused.
    const beside = await runProgram(BERTH_BIN, ['registry', 'gc', '--root', root]);
    assert.equal(beside.code, 1);
    assert.match(beside.stderr, /is in use by process \d+/);
    const second = await startBerthRegistry(root).then(
      (x) => (running.push(x), 'started'),
      (err: Error) => err.message,
    );
    assert.match(second, /is in use by process/);
    // Offline: delete an image's manifest, stop the server, `berth registry gc` takes its blobs.
    const del = await fetch(`${s.url}/v2/gc/img0/manifests/${images[0]!.manifestDigest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    assert.equal(await s.stop(), 0);
    const dry = await runProgram(BERTH_BIN, ['registry', 'gc', '--dry-run', '--root', root]);
    assert.equal(dry.code, 0, dry.stderr);
    for (const b of images[0]!.blobs) {
      assert.match(dry.stdout, new RegExp(`would delete ${b}`));
      assert.ok(existsSync(blobFile(b)), b);
    }
    const gc = await runProgram(BERTH_BIN, ['registry', 'gc', '--root', root]);
    assert.equal(gc.code, 0, gc.stderr);
    for (const b of images[0]!.blobs) {
      assert.ok(!existsSync(blobFile(b)), b);
      assert.match(gc.stdout, new RegExp(`deleted ${b}`));
    }
    for (const b of images[1]!.blobs) assert.ok(existsSync(blobFile(b)), b);
  });
});

describe('pull-through cache', () => {
  test('pulls through from Distribution with auth, keeps what it pulled, re-checks tags after the TTL, refuses pushes', async () => {
    const d = tmp('proxy');
    const upstream = await startDistribution({ users: { up: 'stream' } });
    running.push(upstream);
    const v1 = await makeOciLayout(path.join(d, 'v1'), '1', undefined, 2);
    const v2 = await makeOciLayout(path.join(d, 'v2'), '1', undefined, 1);
    const upCreds = ['--dest-creds', 'up:stream'];
    await ok(skopeo(['copy', ...NO_TLS, ...upCreds, `oci:${v1.dir}:1`, `docker://${upstream.host}/lib/app:1`]));

    const root = path.join(d, 'cache');
    const cached = await serve(['--proxy-remote', upstream.url, '--proxy-username', 'up', '--proxy-password', 'stream', '--proxy-tag-ttl', '1h'], root);
    const fresh = await serve(['--proxy-remote', upstream.url, '--proxy-username', 'up', '--proxy-password', 'stream', '--proxy-tag-ttl', '0']);
    const out = path.join(d, 'out1');
    await ok(skopeo(['copy', ...NO_TLS, `docker://${cached.host}/lib/app:1`, `oci:${out}:1`]));
    assert.equal(await rawDigest(`docker://${cached.host}/lib/app:1`), v1.manifestDigest);
    for (const b of v1.blobs) {
      assert.ok(existsSync(path.join(root, 'blobs', 'sha256', b.slice(7, 9), b.slice(7))), `${b} kept in the cache`);
      assert.deepEqual(readFileSync(path.join(out, 'blobs/sha256', b.slice(7))), readFileSync(path.join(v1.dir, 'blobs/sha256', b.slice(7))));
    }
    assert.equal(await rawDigest(`docker://${fresh.host}/lib/app:1`), v1.manifestDigest);

    // The tag moves upstream: the TTL-0 cache follows at once, the 1-hour one keeps its copy.
    await ok(skopeo(['copy', ...NO_TLS, ...upCreds, `oci:${v2.dir}:1`, `docker://${upstream.host}/lib/app:1`]));
    assert.equal(await rawDigest(`docker://${fresh.host}/lib/app:1`), v2.manifestDigest);
    assert.equal(await rawDigest(`docker://${cached.host}/lib/app:1`), v1.manifestDigest);

    // Tags come from the upstream.
    await ok(skopeo(['copy', ...NO_TLS, ...upCreds, `oci:${v2.dir}:1`, `docker://${upstream.host}/lib/app:2`]));
    const tags = JSON.parse(await ok(skopeo(['list-tags', '--tls-verify=false', `docker://${cached.host}/lib/app`]))) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['1', '2']);

    // Pushes are refused.
    const push = await fetch(`${cached.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(push.status, 405);
    assert.equal(((await push.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNSUPPORTED');
    const pushed = await skopeo(['copy', ...NO_TLS, `oci:${v2.dir}:1`, `docker://${cached.host}/lib/other:1`]);
    assert.notEqual(pushed.code, 0);

    // With the upstream gone, what was cached is still served.
    await upstream.stop();
    const again = path.join(d, 'out2');
    await ok(skopeo(['copy', ...NO_TLS, `docker://${cached.host}/lib/app:1`, `oci:${again}:1`]));
    assert.equal(await rawDigest(`docker://${cached.host}/lib/app@${v1.manifestDigest}`), v1.manifestDigest);
    // And the cached tags when the upstream cannot be asked.
    const offline = JSON.parse(await ok(skopeo(['list-tags', '--tls-verify=false', `docker://${cached.host}/lib/app`]))) as { Tags: string[] };
    assert.deepEqual(offline.Tags, ['1']);
    const missing = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${cached.host}/lib/never:1`]);
    assert.notEqual(missing.code, 0);
    assert.equal((await fetch(`${cached.url}/v2/`)).status, 200);
  });

  test('pulls through from a Berth registry in token mode', async () => {
    const d = tmp('proxytok');
    const htpasswd = path.join(d, 'htpasswd');
    execFileSync('htpasswd', ['-Bbc', htpasswd, 'up', 'stream'], { stdio: 'ignore' });
    const upstream = await serve(['--htpasswd', htpasswd, '--token-issue']);
    const img = await makeOciLayout(path.join(d, 'img'), '1', undefined, 1);
    await ok(skopeo(['copy', ...NO_TLS, '--dest-creds', 'up:stream', `oci:${img.dir}:1`, `docker://${upstream.host}/tok/app:1`]));
    const denied = await serve(['--proxy-remote', upstream.url, '--proxy-username', 'up', '--proxy-password', 'wrong']);
    const r = await skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${denied.host}/tok/app:1`]);
    assert.notEqual(r.code, 0);
    const cache = await serve(['--proxy-remote', upstream.url, '--proxy-username', 'up', '--proxy-password', 'stream']);
    await ok(skopeo(['copy', ...NO_TLS, `docker://${cache.host}/tok/app:1`, `oci:${path.join(d, 'out')}:1`]));
    assert.equal(await rawDigest(`docker://${cache.host}/tok/app:1`), img.manifestDigest);
  });
});

describe('a Docker Engine against the registry', { skip: !existsSync('/usr/sbin/dockerd') || !existsSync('/usr/local/bin/docker') }, () => {
  let dockerd: ReturnType<typeof import('node:child_process').spawn> | undefined;
  let sock: string;
  let cfg: string;

  before(async () => {
    const { spawn } = await import('node:child_process');
    const d = tmp('dockerd');
    sock = path.join(d, 'd.sock');
    cfg = path.join(d, 'cli');
    dockerd = spawn('/usr/sbin/dockerd', ['--iptables=false', '--ip6tables=false', '--bridge=none', '--storage-driver=vfs', '--data-root', path.join(d, 'root'), '--exec-root', path.join(d, 'exec'), '-H', `unix://${sock}`, '--pidfile', path.join(d, 'd.pid')], { stdio: 'ignore' });
    for (let i = 0; i < 300; i++) {
      const r = await runProgram('/usr/local/bin/docker', ['-H', `unix://${sock}`, 'version', '--format', '{{.Server.Version}}']);
      if (r.code === 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('dockerd did not start');
  });

  after(async () => {
    if (dockerd && dockerd.exitCode === null) {
      const exited = new Promise((res) => dockerd!.once('exit', res));
      dockerd.kill('SIGTERM');
      await exited;
    }
  });

  test('docker login, push, pull by tag and digest, cross-repository mount; a wrong password is refused', async () => {
    const d = tmp('dk');
    const htpasswd = path.join(d, 'htpasswd');
    execFileSync('htpasswd', ['-Bbc', htpasswd, 'alice', 'wonderland'], { stdio: 'ignore' });
    const s = await serve(['--htpasswd', htpasswd, '--token-issue']);
    const image = await makeOciLayout(path.join(d, 'img'), '1', undefined, 2);
    await ok(skopeo(['copy', `oci:${image.dir}:1`, 'docker-daemon:regtest/img:1', '--dest-daemon-host', `unix://${sock}`]));
    const docker = (args: string[], input?: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        import('node:child_process').then(({ spawn }) => {
          const p = spawn('/usr/local/bin/docker', ['--config', cfg, '-H', `unix://${sock}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
          let out = '';
          p.stdout.on('data', (c) => (out += c));
          p.stderr.on('data', (c) => (out += c));
          p.stdin.end(input ?? '');
          p.on('close', (code) => resolve({ code, out }));
        });
      });
    const bad = await docker(['login', '-u', 'alice', '--password-stdin', s.host], 'nope\n');
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /unauthorized/);
    const login = await docker(['login', '-u', 'alice', '--password-stdin', s.host], 'wonderland\n');
    assert.equal(login.code, 0, login.out);
    assert.equal((await docker(['tag', 'regtest/img:1', `${s.host}/dk/img:1`])).code, 0);
    const push = await docker(['push', `${s.host}/dk/img:1`]);
    assert.equal(push.code, 0, push.out);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.out)![1]!;
    assert.equal((await docker(['tag', 'regtest/img:1', `${s.host}/dk/copy:2`])).code, 0);
    const mount = await docker(['push', `${s.host}/dk/copy:2`]);
    assert.equal(mount.code, 0, mount.out);
    assert.match(mount.out, /Mounted from dk\/img/);
    assert.equal((await docker(['rmi', `${s.host}/dk/img:1`, `${s.host}/dk/copy:2`, 'regtest/img:1'])).code, 0);
    const pull = await docker(['pull', `${s.host}/dk/img:1`]);
    assert.equal(pull.code, 0, pull.out);
    assert.match(pull.out, new RegExp(`Digest: ${digest}`));
    const byDigest = await docker(['pull', `${s.host}/dk/copy@${digest}`]);
    assert.equal(byDigest.code, 0, byDigest.out);
    await docker(['logout', s.host]);
    const anon = await docker(['pull', `${s.host}/dk/img:1`]);
    assert.notEqual(anon.code, 0);
  });
});
