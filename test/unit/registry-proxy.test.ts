/** The pull-through cache against a hostile upstream: wrong digests, truncated blobs, garbage, huge manifests. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startRegistryServer, type RunningRegistry } from '../../src/registry/index.js';

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const goodBlob = Buffer.from('good blob content');
const bigBlob = Buffer.alloc(6 * 1024 * 1024);
for (let i = 0; i < bigBlob.length; i += 4) bigBlob.writeUInt32LE((i * 2654435761) >>> 0, i);
const claimed = Buffer.from('what the digest says');
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(goodBlob), size: goodBlob.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(claimed), size: claimed.length }] }));

let upstream: http.Server;
let reg: RunningRegistry;
let root: string;
let seenAuth: string | undefined;

before(async () => {
  upstream = http.createServer((req, res) => {
    seenAuth = req.headers.authorization;
    const url = req.url ?? '';
    if (url === '/v2/') return res.end('{}');
    if (url === '/v2/h/app/manifests/1') {
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Docker-Content-Digest': sha(manifest) });
      return res.end(manifest);
    }
    if (url === '/v2/h/app/manifests/lying') {
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Docker-Content-Digest': sha('something else') });
      return res.end(manifest);
    }
    if (url === '/v2/h/app/manifests/garbage') {
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST });
      return res.end('{"schemaVersion": 2, "config": [');
    }
    if (url === '/v2/h/app/manifests/huge') {
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Content-Length': String(64 * 1024 * 1024) });
      res.write(Buffer.alloc(65536, 32));
      return setTimeout(() => res.destroy(), 100);
    }
    if (url === `/v2/h/app/manifests/${sha('x')}`) {
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST });
      return res.end(manifest); // not the digest asked for
    }
    if (url === `/v2/h/app/blobs/${sha(goodBlob)}`) return res.end(goodBlob);
    if (url === `/v2/h/app/blobs/${sha(bigBlob)}`) {
      res.writeHead(200, { 'Content-Length': String(bigBlob.length) });
      for (let i = 0; i < bigBlob.length; i += 65536) res.write(bigBlob.subarray(i, i + 65536));
      return res.end();
    }
    if (url === `/v2/h/app/blobs/${sha(claimed)}`) return res.end(Buffer.from('tampered content!!!!')); // same length, wrong bytes
    if (url === `/v2/h/app/blobs/${sha('truncated')}`) {
      res.writeHead(200, { 'Content-Length': '9' });
      res.write('trunc');
      return setTimeout(() => res.destroy(), 20);
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"nope"}]}');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  root = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-proxy-'));
  reg = await startRegistryServer({ root, port: 0, proxy: { remote: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, username: 'u', password: 'p', tagTtlMs: 0 }, gcGraceMs: 0 });
});

after(async () => {
  await reg?.close();
  await new Promise((r) => upstream.close(r));
  rmSync(root, { recursive: true, force: true });
});

const blobExists = (d: string) => existsSync(path.join(root, 'blobs', 'sha256', d.slice(7, 9), d.slice(7)));

test('a good manifest and blob are passed through and kept', async () => {
  let r = await fetch(`${reg.url}/v2/h/app/manifests/1`);
  assert.equal(r.status, 200);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), manifest);
  r = await fetch(`${reg.url}/v2/h/app/blobs/${sha(goodBlob)}`);
  assert.equal(await r.text(), goodBlob.toString());
  assert.ok(blobExists(sha(goodBlob)));
  assert.equal(seenAuth, undefined); // the upstream never asked
});

test('a large blob streams through in many chunks, to a slow reader and a fast one, and is kept once', async () => {
  const slow = await fetch(`${reg.url}/v2/h/app/blobs/${sha(bigBlob)}`);
  const fast = await fetch(`${reg.url}/v2/h/app/blobs/${sha(bigBlob)}`);
  assert.equal(slow.headers.get('content-length'), String(bigBlob.length));
  const fastBody = Buffer.from(await fast.arrayBuffer());
  const chunks: Buffer[] = [];
  for await (const c of slow.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(c));
    if (chunks.length % 8 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(Buffer.concat(chunks).equals(bigBlob));
  assert.ok(fastBody.equals(bigBlob));
  assert.ok(blobExists(sha(bigBlob)));
});

test('wrong digests, garbage and huge manifests are refused and leave nothing', async () => {
  for (const ref of ['lying', 'garbage', 'huge', sha('x')]) {
    const r = await fetch(`${reg.url}/v2/h/app/manifests/${ref}`);
    assert.ok(r.status >= 400, `${ref}: ${r.status}`);
    await r.arrayBuffer();
  }
  const r = await fetch(`${reg.url}/v2/h/app/manifests/nothere`);
  assert.equal(r.status, 404);
  await r.arrayBuffer();
});

test('a tampered or truncated blob reaches the client broken and is not kept', async () => {
  for (const d of [sha(claimed), sha('truncated')]) {
    // The connection is cut: before the headers (nothing was sent yet) or before the body's end.
    await assert.rejects(async () => {
      const r = await fetch(`${reg.url}/v2/h/app/blobs/${d}`);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`status ${r.status}`);
    });
    assert.ok(!blobExists(d), d);
    // HEAD downloads the whole blob first, so it answers with an error.
    const h = await fetch(`${reg.url}/v2/h/app/blobs/${d}`, { method: 'HEAD' });
    assert.ok(h.status >= 400, `HEAD ${d}: ${h.status}`);
  }
  for (let i = 0; i < 50 && readdirSync(path.join(root, 'tmp')).length; i++) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(readdirSync(path.join(root, 'tmp')), []);
  assert.equal((await fetch(`${reg.url}/v2/`)).status, 200);
});

test('pushes and deletes are refused with UNSUPPORTED', async () => {
  for (const [p, method] of [
    ['/v2/h/app/blobs/uploads/', 'POST'],
    ['/v2/h/app/manifests/1', 'PUT'],
    ['/v2/h/app/manifests/1', 'DELETE'],
  ] as const) {
    const r = await fetch(`${reg.url}${p}`, { method, body: method === 'PUT' ? manifest.toString() : undefined });
    assert.equal(r.status, 405, p);
    assert.equal(((await r.json()) as { errors: Array<{ code: string }> }).errors[0]!.code, 'UNSUPPORTED');
  }
});

test('cached images not pulled within the cache TTL are forgotten at the next collection, and fetched again', async () => {
  let r = await fetch(`${reg.url}/v2/h/app/manifests/1`);
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  r = await fetch(`${reg.url}/v2/h/app/blobs/${sha(goodBlob)}`);
  await r.arrayBuffer();
  let gc = (await (await fetch(`${reg.url}/admin/gc`, { method: 'POST' })).json()) as { removed: string[] };
  assert.ok(!gc.removed.includes(sha(goodBlob)));
  assert.ok(blobExists(sha(manifest)) && blobExists(sha(goodBlob)));
  const week = new Date(Date.now() - 8 * 24 * 3_600_000);
  utimesSync(path.join(root, 'repositories/h/app/_manifests/revisions/sha256', sha(manifest).slice(7)), week, week);
  gc = (await (await fetch(`${reg.url}/admin/gc`, { method: 'POST' })).json()) as { removed: string[] };
  assert.ok(gc.removed.includes(sha(manifest)) && gc.removed.includes(sha(goodBlob)), JSON.stringify(gc));
  assert.ok(!blobExists(sha(goodBlob)));
  r = await fetch(`${reg.url}/v2/h/app/manifests/1`);
  assert.equal(r.status, 200);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), manifest);
  assert.ok(blobExists(sha(manifest)));
  r = await fetch(`${reg.url}/v2/h/app/blobs/${sha(goodBlob)}`);
  assert.equal(await r.text(), goodBlob.toString());
});
