import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startRegistryServer, type RunningRegistry } from '../../src/registry/index.js';

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

let reg: RunningRegistry;
let dir: string;
let U: string;

async function errorCode(r: Response): Promise<string> {
  const body = (await r.json()) as { errors: Array<{ code: string }> };
  return body.errors[0]!.code;
}

async function pushBlob(name: string, data: Buffer | string): Promise<string> {
  const digest = sha(data);
  const r = await fetch(`${U}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: typeof data === 'string' ? data : new Uint8Array(data), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(r.status, 201, await r.text());
  return digest;
}

async function pushImage(name: string, tag: string, opts: { mediaType?: string; extra?: Record<string, unknown>; salt?: string } = {}) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', salt: opts.salt ?? Math.random() }));
  const layer = Buffer.from('layer-' + (opts.salt ?? Math.random()));
  const configDigest = await pushBlob(name, config);
  const layerDigest = await pushBlob(name, layer);
  const mediaType = opts.mediaType ?? OCI_MANIFEST;
  const docker = mediaType === DOCKER_MANIFEST;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
      ...opts.extra,
    }),
  );
  const r = await fetch(`${U}/v2/${name}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'Content-Type': mediaType } });
  assert.equal(r.status, 201, await r.text());
  assert.equal(r.headers.get('docker-content-digest'), sha(manifest));
  return { manifest, digest: sha(manifest), configDigest, layerDigest, mediaType, response: r };
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-api-'));
  reg = await startRegistryServer({ root: dir, host: '127.0.0.1', port: 0 });
  U = reg.url;
});

after(async () => {
  await reg?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('registry API', () => {
  test('GET /v2/ answers 200 with the API version header', async () => {
    const r = await fetch(`${U}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.match(reg.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(reg.address.port > 0);
  });

  test('monolithic upload, HEAD, GET and ranges', async () => {
    const data = Buffer.from('0123456789abcdef');
    const digest = await pushBlob('lib/blobs', data);
    let r = await fetch(`${U}/v2/lib/blobs/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), '16');
    assert.equal(r.headers.get('docker-content-digest'), digest);
    r = await fetch(`${U}/v2/lib/blobs/blobs/${digest}`);
    assert.equal(Buffer.from(await r.arrayBuffer()).toString(), data.toString());
    r = await fetch(`${U}/v2/lib/blobs/blobs/${digest}`, { headers: { Range: 'bytes=2-5' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), 'bytes 2-5/16');
    assert.equal(await r.text(), '2345');
    r = await fetch(`${U}/v2/lib/blobs/blobs/${digest}`, { headers: { Range: 'bytes=-3' } });
    assert.equal(await r.text(), 'def');
    r = await fetch(`${U}/v2/lib/blobs/blobs/${digest}`, { headers: { Range: 'bytes=10-' } });
    assert.equal(await r.text(), 'abcdef');
    r = await fetch(`${U}/v2/lib/blobs/blobs/${digest}`, { headers: { Range: 'bytes=99-' } });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), 'bytes */16');
    await r.arrayBuffer();
    // Another repository does not serve it, unless mounted.
    r = await fetch(`${U}/v2/other/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(r.status, 404);
  });

  test('a monolithic upload with the wrong digest is refused and leaves nothing', async () => {
    const wrong = sha('something else');
    const r = await fetch(`${U}/v2/lib/bad/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: 'data' });
    assert.equal(r.status, 400);
    assert.equal(await errorCode(r), 'DIGEST_INVALID');
    const h = await fetch(`${U}/v2/lib/bad/blobs/${wrong}`, { method: 'HEAD' });
    assert.equal(h.status, 404);
    const h2 = await fetch(`${U}/v2/lib/bad/blobs/${sha('data')}`, { method: 'HEAD' });
    assert.equal(h2.status, 404);
    const bad = await fetch(`${U}/v2/lib/bad/blobs/uploads/?digest=sha256:nothex`, { method: 'POST', body: 'data' });
    assert.equal(bad.status, 400);
    assert.equal(await errorCode(bad), 'DIGEST_INVALID');
  });

  test('chunked upload: PATCH in order, 416 out of order, status, final chunk in PUT', async () => {
    const data = Buffer.from('hello chunked world!');
    let r = await fetch(`${U}/v2/lib/chunks/blobs/uploads/`, { method: 'POST', headers: { 'Content-Length': '0' } });
    assert.equal(r.status, 202);
    const loc = r.headers.get('location')!;
    const uuid = r.headers.get('docker-upload-uuid')!;
    assert.ok(loc.endsWith(uuid));
    assert.equal(r.headers.get('range'), '0-0');
    r = await fetch(`${U}${loc}`, { method: 'PATCH', body: data.subarray(0, 5), headers: { 'Content-Range': '0-4', 'Content-Type': 'application/octet-stream' } });
    assert.equal(r.status, 202);
    assert.equal(r.headers.get('range'), '0-4');
    r = await fetch(`${U}${loc}`, { method: 'PATCH', body: data.subarray(8, 10), headers: { 'Content-Range': '8-9' } });
    assert.equal(r.status, 416);
    await r.arrayBuffer();
    r = await fetch(`${U}${loc}`);
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('range'), '0-4');
    // Not visible before the PUT.
    r = await fetch(`${U}/v2/lib/chunks/blobs/${sha(data)}`, { method: 'HEAD' });
    assert.equal(r.status, 404);
    r = await fetch(`${U}${loc}`, { method: 'PATCH', body: data.subarray(5, 12) });
    assert.equal(r.status, 202);
    assert.equal(r.headers.get('range'), '0-11');
    r = await fetch(`${U}${loc}?digest=${sha('nope')}`, { method: 'PUT', body: data.subarray(12), headers: { 'Content-Range': '12-19' } });
    assert.equal(r.status, 400);
    assert.equal(await errorCode(r), 'DIGEST_INVALID');
    // The failed close kept the session; the chunk that went with it stays too (it was whole).
    r = await fetch(`${U}${loc}`);
    assert.equal(r.headers.get('range'), '0-19');
    r = await fetch(`${U}${loc}?digest=${sha(data)}`, { method: 'PUT' });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), `/v2/lib/chunks/blobs/${sha(data)}`);
    r = await fetch(`${U}/v2/lib/chunks/blobs/${sha(data)}`);
    assert.equal(await r.text(), data.toString());
    r = await fetch(`${U}${loc}`);
    assert.equal(r.status, 404);
    assert.equal(await errorCode(r), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('an upload can be cancelled; unknown sessions are BLOB_UPLOAD_UNKNOWN', async () => {
    let r = await fetch(`${U}/v2/lib/cancel/blobs/uploads/`, { method: 'POST' });
    const loc = r.headers.get('location')!;
    r = await fetch(`${U}${loc}`, { method: 'DELETE' });
    assert.equal(r.status, 204);
    r = await fetch(`${U}${loc}`, { method: 'PATCH', body: 'x' });
    assert.equal(r.status, 404);
    assert.equal(await errorCode(r), 'BLOB_UPLOAD_UNKNOWN');
    r = await fetch(`${U}/v2/lib/cancel/blobs/uploads/../../etc`, { method: 'GET' });
    assert.ok(r.status >= 400);
    await r.arrayBuffer();
    r = await fetch(`${U}/v2/lib/cancel/blobs/uploads/not-a-uuid`);
    assert.equal(r.status, 404);
    assert.equal(await errorCode(r), 'BLOB_UPLOAD_UNKNOWN');
    // A session belongs to its repository.
    r = await fetch(`${U}/v2/lib/one/blobs/uploads/`, { method: 'POST' });
    const uuid = r.headers.get('docker-upload-uuid')!;
    r = await fetch(`${U}/v2/lib/two/blobs/uploads/${uuid}`);
    assert.equal(r.status, 404);
    await r.arrayBuffer();
  });

  test('cross-repository mount: 201 when the source has it, an upload session when not', async () => {
    const digest = await pushBlob('lib/src', 'mount me');
    let r = await fetch(`${U}/v2/lib/dst/blobs/uploads/?mount=${digest}&from=lib/src`, { method: 'POST' });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), `/v2/lib/dst/blobs/${digest}`);
    r = await fetch(`${U}/v2/lib/dst/blobs/${digest}`);
    assert.equal(await r.text(), 'mount me');
    r = await fetch(`${U}/v2/lib/dst2/blobs/uploads/?mount=${sha('absent')}&from=lib/src`, { method: 'POST' });
    assert.equal(r.status, 202);
    assert.ok(r.headers.get('location')!.includes('/v2/lib/dst2/blobs/uploads/'));
  });

  test('manifests: PUT, GET and HEAD by tag and digest, for OCI and Docker types', async () => {
    for (const mediaType of [OCI_MANIFEST, DOCKER_MANIFEST]) {
      const img = await pushImage('lib/img', mediaType === OCI_MANIFEST ? 'oci' : 'docker', { mediaType });
      assert.equal(img.response.headers.get('location'), `/v2/lib/img/manifests/${img.digest}`);
      for (const ref of [mediaType === OCI_MANIFEST ? 'oci' : 'docker', img.digest]) {
        let r = await fetch(`${U}/v2/lib/img/manifests/${ref}`, { headers: { Accept: mediaType } });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-type'), mediaType);
        assert.equal(r.headers.get('docker-content-digest'), img.digest);
        assert.deepEqual(Buffer.from(await r.arrayBuffer()), img.manifest);
        r = await fetch(`${U}/v2/lib/img/manifests/${ref}`, { method: 'HEAD' });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-length'), String(img.manifest.length));
      }
    }
    const r = await fetch(`${U}/v2/lib/img/manifests/missing`);
    assert.equal(r.status, 404);
    assert.equal(await errorCode(r), 'MANIFEST_UNKNOWN');
    const r2 = await fetch(`${U}/v2/no/such/repo/manifests/latest`);
    assert.equal(r2.status, 404);
    assert.equal(await errorCode(r2), 'NAME_UNKNOWN');
  });

  test('manifest PUT refuses unknown blobs, a wrong digest, garbage and oversize bodies', async () => {
    const ghost = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('ghost'), size: 5 }, layers: [] }));
    let r = await fetch(`${U}/v2/lib/put/manifests/x`, { method: 'PUT', body: ghost, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 400);
    assert.equal(await errorCode(r), 'MANIFEST_BLOB_UNKNOWN');
    const img = await pushImage('lib/put', 'ok');
    const lying = Buffer.from(img.manifest.toString().replace(/"size":(\d+)\}\]/, (_m, n) => `"size":${Number(n) - 1}}]`));
    assert.notDeepEqual(lying, img.manifest);
    r = await fetch(`${U}/v2/lib/put/manifests/lie`, { method: 'PUT', body: lying, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 400);
    assert.equal(await errorCode(r), 'SIZE_INVALID');
    r = await fetch(`${U}/v2/lib/put/manifests/${sha('other')}`, { method: 'PUT', body: img.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 400);
    assert.equal(await errorCode(r), 'DIGEST_INVALID');
    for (const body of ['{not json', '[]', '{"schemaVersion":2,"config":"x","layers":7}', '{"schemaVersion":"2"}', 'null', '{"schemaVersion":2,"manifests":[{"digest":5}]}']) {
      r = await fetch(`${U}/v2/lib/put/manifests/bad`, { method: 'PUT', body, headers: { 'Content-Type': OCI_MANIFEST } });
      assert.equal(r.status, 400, body);
      assert.equal(await errorCode(r), 'MANIFEST_INVALID', body);
    }
    r = await fetch(`${U}/v2/lib/put/manifests/mismatch`, { method: 'PUT', body: img.manifest, headers: { 'Content-Type': DOCKER_MANIFEST } });
    assert.equal(await errorCode(r), 'MANIFEST_INVALID');
    r = await fetch(`${U}/v2/lib/put/manifests/big`, { method: 'PUT', body: Buffer.alloc(4 * 1024 * 1024 + 1, 32), headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 413);
    await r.arrayBuffer();
    r = await fetch(`${U}/v2/lib/put/manifests/bad..tag!`, { method: 'PUT', body: img.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(await errorCode(r), 'TAG_INVALID');
    r = await fetch(`${U}/v2/Lib/Upper/manifests/x`, { method: 'PUT', body: img.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 400);
    assert.equal(await errorCode(r), 'NAME_INVALID');
    r = await fetch(`${U}/v2/lib/put/manifests/bad`);
    assert.equal(r.status, 404);
    await r.arrayBuffer();
    // Extra tags on a PUT by digest.
    r = await fetch(`${U}/v2/lib/put/manifests/${img.digest}?tag=a&tag=b`, { method: 'PUT', body: img.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 201);
    assert.match(r.headers.get('oci-tag') ?? '', /a.*b/);
    r = await fetch(`${U}/v2/lib/put/manifests/b`);
    assert.equal(r.headers.get('docker-content-digest'), img.digest);
  });

  test('a huge Content-Length on a manifest is refused at once, and the server keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${U}/v2/lib/huge/manifests/x`, { method: 'PUT', headers: { 'Content-Length': String(1e15), 'Content-Type': OCI_MANIFEST } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.write('{');
    });
    assert.equal(status, 413);
    assert.equal((await fetch(`${U}/v2/`)).status, 200);
  });

  test('indexes and manifest lists need their children; referrers list the subject\'s referrers', async () => {
    const a = await pushImage('lib/multi', 'a');
    const b = await pushImage('lib/multi', 'b', { mediaType: DOCKER_MANIFEST });
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: a.digest, size: a.manifest.length, platform: { os: 'linux', architecture: 'amd64' } }] }));
    let r = await fetch(`${U}/v2/lib/multi/manifests/idx`, { method: 'PUT', body: index, headers: { 'Content-Type': OCI_INDEX } });
    assert.equal(r.status, 201);
    const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: b.digest, size: b.manifest.length, platform: { os: 'linux', architecture: 'arm64' } }] }));
    r = await fetch(`${U}/v2/lib/multi/manifests/list`, { method: 'PUT', body: list, headers: { 'Content-Type': DOCKER_LIST } });
    assert.equal(r.status, 201);
    r = await fetch(`${U}/v2/lib/multi/manifests/list`);
    assert.equal(r.headers.get('content-type'), DOCKER_LIST);
    await r.arrayBuffer();
    const orphan = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha('none'), size: 3 }] }));
    r = await fetch(`${U}/v2/lib/multi/manifests/orphan`, { method: 'PUT', body: orphan, headers: { 'Content-Type': OCI_INDEX } });
    assert.equal(await errorCode(r), 'MANIFEST_BLOB_UNKNOWN');

    // Referrers: a subject that does not exist yet is accepted.
    const subject = { mediaType: OCI_MANIFEST, digest: a.digest, size: a.manifest.length };
    const emptyConfig = await pushBlob('lib/multi', '{}');
    const sig = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyConfig, size: 2 }, layers: [], subject, annotations: { who: 'me' } }),
    );
    r = await fetch(`${U}/v2/lib/multi/manifests/${sha(sig)}`, { method: 'PUT', body: sig, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('oci-subject'), a.digest);
    const sbomConfig = await pushBlob('lib/multi', '{"sbom":true}');
    const sbom = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.example.sbom', digest: sbomConfig, size: 13 }, layers: [], subject }));
    r = await fetch(`${U}/v2/lib/multi/manifests/${sha(sbom)}`, { method: 'PUT', body: sbom, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 201);
    r = await fetch(`${U}/v2/lib/multi/referrers/${a.digest}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), OCI_INDEX);
    const all = (await r.json()) as { manifests: Array<{ digest: string; artifactType?: string; annotations?: Record<string, string> }> };
    assert.equal(all.manifests.length, 2);
    const sigDesc = all.manifests.find((m) => m.digest === sha(sig))!;
    assert.equal(sigDesc.artifactType, 'application/vnd.example.sig');
    assert.deepEqual(sigDesc.annotations, { who: 'me' });
    assert.equal(all.manifests.find((m) => m.digest === sha(sbom))!.artifactType, 'application/vnd.example.sbom');
    r = await fetch(`${U}/v2/lib/multi/referrers/${a.digest}?artifactType=application/vnd.example.sbom`);
    assert.equal(r.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(((await r.json()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest), [sha(sbom)]);
    r = await fetch(`${U}/v2/lib/nothing/referrers/${a.digest}`);
    assert.equal(r.status, 200);
    assert.deepEqual(((await r.json()) as { manifests: unknown[] }).manifests, []);
    r = await fetch(`${U}/v2/lib/multi/referrers/sha256:bad`);
    assert.equal(r.status, 400);
    await r.arrayBuffer();
    // Deleting a referrer takes it out of the list.
    r = await fetch(`${U}/v2/lib/multi/manifests/${sha(sig)}`, { method: 'DELETE' });
    assert.equal(r.status, 202);
    r = await fetch(`${U}/v2/lib/multi/referrers/${a.digest}`);
    assert.equal(((await r.json()) as { manifests: unknown[] }).manifests.length, 1);
  });

  test('tags list and catalog paginate with n, last and Link', async () => {
    for (const t of ['c', 'a', 'b', 'd']) await pushImage('page/repo', t, { salt: t });
    let r = await fetch(`${U}/v2/page/repo/tags/list`);
    assert.deepEqual(await r.json(), { name: 'page/repo', tags: ['a', 'b', 'c', 'd'] });
    r = await fetch(`${U}/v2/page/repo/tags/list?n=2`);
    assert.deepEqual(((await r.json()) as { tags: string[] }).tags, ['a', 'b']);
    assert.equal(r.headers.get('link'), '</v2/page/repo/tags/list?last=b&n=2>; rel="next"');
    r = await fetch(`${U}/v2/page/repo/tags/list?n=2&last=b`);
    assert.deepEqual(((await r.json()) as { tags: string[] }).tags, ['c', 'd']);
    assert.equal(r.headers.get('link'), null);
    r = await fetch(`${U}/v2/page/repo/tags/list?n=0`);
    assert.deepEqual(((await r.json()) as { tags: string[] }).tags, []);
    assert.equal(r.headers.get('link'), null);
    r = await fetch(`${U}/v2/page/repo/tags/list?n=-1`);
    assert.equal(r.status, 400);
    await r.arrayBuffer();
    r = await fetch(`${U}/v2/page/none/tags/list`);
    assert.equal(await errorCode(r), 'NAME_UNKNOWN');
    r = await fetch(`${U}/v2/_catalog`);
    const repos = ((await r.json()) as { repositories: string[] }).repositories;
    assert.ok(repos.includes('page/repo') && repos.includes('lib/img'));
    assert.deepEqual(repos, [...repos].sort());
    r = await fetch(`${U}/v2/_catalog?n=1`);
    const first = ((await r.json()) as { repositories: string[] }).repositories;
    assert.deepEqual(first, [repos[0]]);
    assert.equal(r.headers.get('link'), `</v2/_catalog?last=${encodeURIComponent(repos[0]!)}&n=1>; rel="next"`);
  });

  test('deletes: a tag, a manifest (and its tags), a blob', async () => {
    const img = await pushImage('del/repo', 'one');
    let r = await fetch(`${U}/v2/del/repo/manifests/${img.digest}?tag=two`, { method: 'PUT', body: img.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r.status, 201);
    r = await fetch(`${U}/v2/del/repo/manifests/one`, { method: 'DELETE' });
    assert.equal(r.status, 202);
    r = await fetch(`${U}/v2/del/repo/manifests/one`);
    assert.equal(r.status, 404);
    await r.arrayBuffer();
    r = await fetch(`${U}/v2/del/repo/manifests/two`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await fetch(`${U}/v2/del/repo/manifests/${img.digest}`, { method: 'DELETE' });
    assert.equal(r.status, 202);
    for (const ref of ['two', img.digest]) {
      r = await fetch(`${U}/v2/del/repo/manifests/${ref}`);
      assert.equal(r.status, 404);
      await r.arrayBuffer();
    }
    r = await fetch(`${U}/v2/del/repo/manifests/${img.digest}`, { method: 'DELETE' });
    assert.equal(await errorCode(r), 'MANIFEST_UNKNOWN');
    r = await fetch(`${U}/v2/del/repo/blobs/${img.layerDigest}`, { method: 'DELETE' });
    assert.equal(r.status, 202);
    r = await fetch(`${U}/v2/del/repo/blobs/${img.layerDigest}`, { method: 'HEAD' });
    assert.equal(r.status, 404);
    r = await fetch(`${U}/v2/del/repo/blobs/${img.layerDigest}`, { method: 'DELETE' });
    assert.equal(await errorCode(r), 'BLOB_UNKNOWN');
  });

  test('a client hanging up mid-chunk leaves the session at its last whole chunk', async () => {
    let r = await fetch(`${U}/v2/hang/up/blobs/uploads/`, { method: 'POST' });
    const loc = r.headers.get('location')!;
    r = await fetch(`${U}${loc}`, { method: 'PATCH', body: 'abc', headers: { 'Content-Range': '0-2' } });
    assert.equal(r.headers.get('range'), '0-2');
    await new Promise<void>((resolve) => {
      const req = http.request(`${U}${loc}`, { method: 'PATCH', headers: { 'Content-Length': '1000000', 'Content-Range': '3-1000002' } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(5000, 1), () => setTimeout(() => req.destroy(), 50));
    });
    // The server finishes the failed chunk on its own time; the session is back at 3 bytes once it has.
    let range = '';
    for (let i = 0; i < 100 && range !== '0-2'; i++) {
      r = await fetch(`${U}${loc}`);
      range = r.headers.get('range') ?? '';
      if (range !== '0-2') await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(range, '0-2');
    r = await fetch(`${U}${loc}?digest=${sha('abcdef')}`, { method: 'PUT', body: 'def', headers: { 'Content-Range': '3-5' } });
    assert.equal(r.status, 201);
    r = await fetch(`${U}/v2/hang/up/blobs/${sha('abcdef')}`);
    assert.equal(await r.text(), 'abcdef');
  });

  test('garbage in the URL or headers gets an error, never a crash', async () => {
    const cases: Array<[string, RequestInit]> = [
      ['/v2/%zz/manifests/x', {}],
      ['/v2/a/manifests/sha256:%', {}],
      ['/v2/a/blobs/notadigest', {}],
      ['/v2/a/blobs/uploads/?digest=sha256:00', { method: 'POST', body: 'x' }],
      ['/v2/a/blobs/uploads/?digest-algorithm=md5', { method: 'POST' }],
      ['/v2/a/blobs/uploads/?mount=bad&from=x', { method: 'POST' }],
      ['/v2/a/blobs/uploads/?mount=' + sha('x') + '&from=BAD', { method: 'POST' }],
      ['/v2/a/manifests/x', { method: 'POST' }],
      ['/v2/a/blobs/' + sha('x'), { headers: { Range: 'bytes=zz' } }],
      ['/v2/_catalog?n=abc', {}],
      ['/v2/a/tags/list?n=1e9', {}],
      ['/nope', {}],
      ['/admin/gc', {}],
    ];
    for (const [p, init] of cases) {
      const r = await fetch(`${U}${p}`, init);
      assert.ok(r.status >= 400 && r.status < 500, `${p}: ${r.status}`);
      await r.arrayBuffer();
    }
    let r = await fetch(`${U}/v2/a/blobs/uploads/`, { method: 'POST' });
    const loc = r.headers.get('location')!;
    r = await fetch(`${U}${loc}`, { method: 'PATCH', body: 'x', headers: { 'Content-Range': 'garbage' } });
    assert.equal(r.status, 416);
    await r.arrayBuffer();
    r = await fetch(`${U}${loc}`, { method: 'PATCH', body: 'xy', headers: { 'Content-Range': '0-9' } });
    assert.equal(r.status, 400);
    assert.equal(await errorCode(r), 'SIZE_INVALID');
    r = await fetch(`${U}${loc}?digest=bad`, { method: 'PUT' });
    assert.equal(await errorCode(r), 'DIGEST_INVALID');
    // A raw malformed request line.
    const { connect } = await import('node:net');
    await new Promise<void>((resolve) => {
      const s = connect(reg.address.port, '127.0.0.1', () => s.write('GARBAGE \x00\x01 HTTP/9\r\n\r\n'));
      s.on('data', () => {});
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    assert.equal((await fetch(`${U}/v2/`)).status, 200);
  });

  test('POST /admin/gc runs a collection from loopback', async () => {
    const r = await fetch(`${U}/admin/gc`, { method: 'POST' });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { marked: number; removed: string[] };
    assert.ok(body.marked > 0);
    // Grace is an hour: nothing just pushed goes.
    assert.deepEqual(body.removed, []);
  });
});

describe('registry timers and hang-ups', () => {
  test('idle upload sessions are removed by the expiry timer', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-expiry-'));
    const r2 = await startRegistryServer({ root, port: 0, uploadExpiryMs: 100, uploadSweepMs: 50 });
    try {
      const r = await fetch(`${r2.url}/v2/e/x/blobs/uploads/`, { method: 'POST' });
      const loc = r.headers.get('location')!;
      let status = 204;
      for (let i = 0; i < 200 && status === 204; i++) {
        await new Promise((res) => setTimeout(res, 25));
        status = (await fetch(`${r2.url}${loc}`)).status;
      }
      assert.equal(status, 404);
    } finally {
      await r2.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('read-only: pulls go on, pushes and deletes are UNSUPPORTED', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-ro-'));
    const rw = await startRegistryServer({ root, port: 0 });
    const saved = U;
    let digest: string;
    try {
      U = rw.url;
      digest = await pushBlob('ro/repo', 'kept');
    } finally {
      U = saved;
      await rw.close();
    }
    const ro = await startRegistryServer({ root, port: 0, readOnly: true });
    try {
      assert.equal(await (await fetch(`${ro.url}/v2/ro/repo/blobs/${digest}`)).text(), 'kept');
      for (const [p, method] of [['/v2/ro/repo/blobs/uploads/', 'POST'], [`/v2/ro/repo/blobs/${digest}`, 'DELETE'], ['/v2/ro/repo/manifests/x', 'PUT']] as const) {
        const r = await fetch(`${ro.url}${p}`, { method, body: method === 'PUT' ? '{}' : undefined });
        assert.equal(r.status, 405, p);
        assert.equal(await errorCode(r), 'UNSUPPORTED');
      }
    } finally {
      await ro.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a client hanging up mid-manifest leaves nothing and the server serves on', async () => {
    await new Promise<void>((resolve) => {
      const req = http.request(`${U}/v2/hang/manifest/manifests/t`, { method: 'PUT', headers: { 'Content-Length': '5000', 'Content-Type': OCI_MANIFEST } });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write('{"schemaVersion":2,', () => setTimeout(() => req.destroy(), 30));
    });
    const r = await fetch(`${U}/v2/hang/manifest/manifests/t`);
    assert.equal(r.status, 404);
    await r.arrayBuffer();
    assert.equal((await fetch(`${U}/v2/`)).status, 200);
  });
});
