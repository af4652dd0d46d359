import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { covers, grant, Htpasswd, parseScope, TokenIssuer } from '../../src/registry/auth.js';
import { GarbageCollector } from '../../src/registry/gc.js';
import { parseRange, parseContentRange } from '../../src/registry/http-util.js';
import { isRepositoryName, isTag } from '../../src/registry/names.js';
import { RwLock } from '../../src/registry/rwlock.js';
import { paginate } from '../../src/registry/service.js';
import { RegistryStorage } from '../../src/registry/storage.js';
import { UploadManager } from '../../src/registry/uploads.js';
import { parseManifest } from '../../src/oci/manifest.js';

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-store-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('repository names and tags follow the spec grammar', () => {
  for (const ok of ['a', 'library/busybox', 'a.b/c_d/e__f/g-h--i', 'x0/y1/z2']) assert.ok(isRepositoryName(ok), ok);
  for (const bad of ['', 'A', '-a', 'a/', '/a', 'a//b', 'a/_b', 'a..b', 'a___b', '../x', 'a/' + 'x'.repeat(300)]) assert.ok(!isRepositoryName(bad), bad);
  assert.ok(isTag('v1.2.3_rc-1'));
  assert.ok(isTag('_x'));
  assert.ok(!isTag('.x'));
  assert.ok(!isTag('x'.repeat(129)));
});

test('ranges and content ranges', () => {
  assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
  assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange('bytes=-4', 10), { start: 6, end: 9 });
  assert.equal(parseRange('bytes=0-1,3-4', 10), undefined);
  assert.throws(() => parseRange('bytes=10-', 10), /not satisfiable/);
  assert.throws(() => parseRange('bytes=5-2', 10), /not satisfiable/);
  assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
  assert.deepEqual(parseContentRange('bytes 100-199/*'), { start: 100, end: 199 });
  assert.throws(() => parseContentRange('9-1'), /invalid Content-Range/);
  assert.equal(parseContentRange(undefined), undefined);
});

test('pagination', () => {
  const l = ['a', 'b', 'c'];
  assert.deepEqual(paginate(l, undefined, undefined), { items: l });
  assert.deepEqual(paginate(l, 2, undefined), { items: ['a', 'b'], next: 'b' });
  assert.deepEqual(paginate(l, 2, 'b'), { items: ['c'] });
  assert.deepEqual(paginate(l, 0, undefined), { items: [] });
  assert.deepEqual(paginate(l, 3, undefined), { items: l });
});

test('htpasswd: bcrypt entries as htpasswd -B writes them; others refused', () => {
  // htpasswd -Bbn alice secret
  const h = new Htpasswd('# users\nalice:$2y$05$2FEirg3ZBFMIdSsNvFedWu1vqud1GCLMm17Fhzz9m2ls9fUaE630a\nbob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n');
  assert.equal(h.size, 2);
  assert.ok(h.verify('alice', 'secret'));
  assert.ok(h.verify('alice', 'secret')); // cached
  assert.ok(!h.verify('alice', 'Secret'));
  assert.ok(!h.verify('bob', 'secret'));
  assert.ok(!h.verify('carol', 'secret'));
});

test('tokens: issued, verified, scoped; forged and expired ones refused', () => {
  const issuer = new TokenIssuer('svc', 'iss', 60);
  const access = grant([parseScope('repository:a/b:pull,push')!, parseScope('repository:c:pull,bogus')!, parseScope('registry:catalog:*')!, parseScope('nonsense') as never].filter(Boolean));
  assert.deepEqual(access, [
    { type: 'repository', name: 'a/b', actions: ['pull', 'push'] },
    { type: 'repository', name: 'c', actions: ['pull'] },
    { type: 'registry', name: 'catalog', actions: ['*'] },
  ]);
  const { token } = issuer.issue('alice', access);
  const claims = issuer.verify(token)!;
  assert.equal(claims.sub, 'alice');
  assert.ok(covers(claims.access, [{ type: 'repository', name: 'a/b', actions: ['push'] }]));
  assert.ok(!covers(claims.access, [{ type: 'repository', name: 'c', actions: ['push'] }]));
  assert.ok(!covers(claims.access, [{ type: 'repository', name: 'a', actions: ['pull'] }]));
  assert.equal(issuer.verify(token, Date.now() + 120_000), undefined);
  const [h, b] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ ...claims, access: [{ type: 'repository', name: 'c', actions: ['push'] }] })).toString('base64url');
  assert.equal(issuer.verify(`${h}.${forged}.${token.split('.')[2]}`), undefined);
  assert.equal(issuer.verify(`${h}.${b}`), undefined);
  assert.equal(new TokenIssuer('svc').verify(token), undefined); // another key
  assert.equal(new TokenIssuer('other').verify(token), undefined);
});

test('uploads expire when idle; temp files too; live ones stay', async () => {
  const storage = new RegistryStorage(tmp());
  await storage.init();
  const uploads = new UploadManager(storage);
  const old = await uploads.start('a');
  const fresh = await uploads.start('a');
  await uploads.append('a', fresh, Readable.from([Buffer.from('xyz')]));
  const past = new Date(Date.now() - 3 * 3600_000);
  utimesSync(path.join(storage.uploadsDir, old, 'info.json'), past, past);
  assert.equal(await uploads.expire(3600_000), 1);
  assert.deepEqual(readdirSync(storage.uploadsDir), [fresh]);
  await assert.rejects(uploads.offset('a', old), /blob upload unknown/);
  assert.equal(await uploads.offset('a', fresh), 3);
  // A session survives a restart: a new manager rebuilds its hash from the data.
  const again = new UploadManager(storage);
  await again.append('a', fresh, Readable.from([Buffer.from('!')]), { start: 3, end: 3 });
  await again.finish('a', fresh, sha('xyz!'));
  assert.equal(await storage.blobSize(sha('xyz!')), 4);
  assert.ok(await storage.blobLinked('a', sha('xyz!')));
});

test('garbage collection: referenced and young blobs stay, old unreferenced ones go', async () => {
  const storage = new RegistryStorage(tmp());
  await storage.init();
  const uploads = new UploadManager(storage);
  const putData = async (name: string, data: string) => {
    const id = await uploads.start(name);
    await uploads.append(name, id, Readable.from([Buffer.from(data)]));
    await uploads.finish(name, id, sha(data));
    return sha(data);
  };
  const config = await putData('r', '{"c":1}');
  const layer = await putData('r', 'layer');
  const orphanOld = await putData('r', 'orphan-old');
  const orphanYoung = await putData('r', 'orphan-young');
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 7 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: 5 }] }));
  await storage.putManifest('r', parseManifest(manifest), ['t']);
  const untagged = Buffer.from(manifest.toString().replace('"schemaVersion":2', '"schemaVersion":2,"annotations":{"x":"y"}'));
  await storage.putManifest('r', parseManifest(untagged), []);
  const past = new Date(Date.now() - 2 * 3600_000);
  for (const d of [config, layer, orphanOld, sha(manifest), sha(untagged)]) utimesSync(storage.blobPath(d), past, past);
  const dry = await new GarbageCollector(storage, new RwLock(), { graceMs: 3600_000, dryRun: true }).collect();
  assert.deepEqual(dry.removed, [orphanOld]);
  assert.ok(existsSync(storage.blobPath(orphanOld)), 'a dry run deletes nothing');
  const gc = new GarbageCollector(storage, new RwLock(), { graceMs: 3600_000 });
  const result = await gc.collect();
  assert.deepEqual(result.removed, [orphanOld]);
  assert.equal(result.keptYoung, 1);
  assert.ok(!existsSync(storage.blobPath(orphanOld)));
  assert.ok(!(await storage.blobLinked('r', orphanOld)));
  for (const d of [config, layer, orphanYoung, sha(manifest), sha(untagged)]) assert.ok(existsSync(storage.blobPath(d)), d);
  // Deleting the manifests leaves their blobs unreferenced: the next run takes them (they are old).
  await storage.deleteManifest('r', sha(manifest));
  await storage.deleteManifest('r', sha(untagged));
  const second = await gc.collect();
  assert.deepEqual(new Set(second.removed), new Set([config, layer, sha(manifest), sha(untagged)]));
});

test('the readers-writer lock keeps the writer apart from readers', async () => {
  const lock = new RwLock();
  const events: string[] = [];
  let release!: () => void;
  const reader = lock.shared(async () => {
    events.push('r1 in');
    await new Promise<void>((r) => (release = r));
    events.push('r1 out');
  });
  await new Promise((r) => setImmediate(r));
  const writer = lock.exclusive(async () => {
    events.push('w');
  });
  const reader2 = lock.shared(async () => {
    events.push('r2');
  });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ['r1 in']);
  release();
  await Promise.all([reader, writer, reader2]);
  assert.deepEqual(events, ['r1 in', 'r1 out', 'w', 'r2']);
});

test('a root is used by one process at a time; a stale lock is taken over', async () => {
  const { lockRoot, RootInUseError } = await import('../../src/registry/root-lock.js');
  const { writeFileSync } = await import('node:fs');
  const root = tmp();
  const unlock = await lockRoot(root);
  await assert.rejects(lockRoot(root), (e: unknown) => e instanceof RootInUseError && /in use by process/.test((e as Error).message));
  await unlock();
  const again = await lockRoot(root);
  await again();
  writeFileSync(path.join(root, 'lock'), '999999999\n'); // no such process
  const taken = await lockRoot(root);
  await taken();
});

test('POST /admin/gc is for loopback peers only', async () => {
  const { isLoopback } = await import('../../src/registry/server.js');
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
  for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.1', 'fe80::1', undefined, '']) assert.ok(!isLoopback(a), String(a));
});
