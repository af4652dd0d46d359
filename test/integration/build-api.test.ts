import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { TestDaemon } from './harness.js';

/** One tar entry for a test context. */
interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
  content?: string;
  linkname?: string;
}

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    pack.entry({ name: e.name, type, linkname: e.linkname, mode: type === 'directory' ? 0o755 : 0o644, devmajor: 1, devminor: 3 }, type === 'file' ? (e.content ?? '') : '');
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const DOCKERFILE = { name: 'Dockerfile', content: 'FROM busybox\nRUN echo hi\n' };

/** The daemon-side checks of POST /build that hold with or without a builder behind the route. */
describe('POST /build: the route and the context', () => {
  const d = new TestDaemon();
  /** A directory outside the daemon's data root that hostile contexts aim at. */
  const outside = mkdtempSync(path.join(os.tmpdir(), 'berth-build-outside-'));
  const tmpDir = () => path.join(d.dataRoot, 'tmp');
  const leftovers = () => (existsSync(tmpDir()) ? readdirSync(tmpDir()).filter((n) => n.startsWith('build-')) : []);

  before(async () => {
    await d.start();
  });
  after(async () => {
    await d.stop();
    rmSync(outside, { recursive: true, force: true });
  });

  const build = async (query: string, body: Buffer | string, headers: Record<string, string> = {}) =>
    d.request('POST', `/build${query}`, body, { 'Content-Type': 'application/x-tar', ...headers });

  test('/_ping says Builder-Version 1, on GET and HEAD', async () => {
    assert.equal((await d.request('GET', '/_ping')).headers['builder-version'], '1');
    assert.equal((await d.request('HEAD', '/_ping')).headers['builder-version'], '1');
  });

  test('malformed query values are a 400 with dockerd’s words', async () => {
    const context = await makeTar([DOCKERFILE]);
    const cases: Array<[string, string]> = [
      ['?buildargs=[1]', 'error reading build args: json: cannot unmarshal array into Go value of type map[string]*string'],
      ['?buildargs={"A":1}', 'error reading build args: json: cannot unmarshal number into Go value of type string'],
      ['?buildargs={', 'error reading build args: unexpected end of JSON input'],
      ['?labels=[]', 'error reading labels: json: cannot unmarshal array into Go value of type map[string]string'],
      ['?cachefrom={}', 'error reading cache-from: json: cannot unmarshal object into Go value of type []string'],
      ['?shmsize=lots', 'strconv.ParseInt: parsing "lots": invalid syntax'],
      ['?version=3', 'invalid version "3"'],
      ['?t=Bad:Tag', 'invalid reference format: repository name (library/Bad) must be lowercase'],
      ['?t=app@sha256:' + 'a'.repeat(64), 'build tag cannot contain a digest'],
      ['?remote=notaurl', 'remoteURL (notaurl) could not be recognized as URL'],
      ['?securityopt=seccomp=unconfined', 'security options are not supported on linux'],
    ];
    for (const [query, message] of cases) {
      const r = await build(query.replace(/[{}[\]"]/g, encodeURIComponent), context);
      assert.equal(r.status, 400, `${query}: ${r.text}`);
      assert.equal(r.json().message, message, query);
    }
    assert.deepEqual(leftovers(), []);
  });

  test('a missing Dockerfile gets dockerd’s error, and the context is removed', async () => {
    const r = await build('', await makeTar([{ name: 'app.txt', content: 'x' }]));
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json().message, 'Cannot locate specified Dockerfile: Dockerfile');
    const named = await build('?dockerfile=sub/Dockerfile.prod', await makeTar([DOCKERFILE]));
    assert.equal(named.json().message, 'Cannot locate specified Dockerfile: sub/Dockerfile.prod');
    const empty = await build('', await makeTar([{ name: 'Dockerfile', content: '' }]));
    assert.equal(empty.json().message, 'the Dockerfile (Dockerfile) cannot be empty');
    // A Dockerfile that is a symlink out of the context is looked up inside it, as dockerd's FollowSymlinkInScope.
    const escaping = await build('', await makeTar([{ name: 'Dockerfile', type: 'symlink', linkname: '/etc/hostname' }]));
    assert.equal(escaping.json().message, 'Cannot locate specified Dockerfile: Dockerfile');
    assert.deepEqual(leftovers(), []);
  });

  test('hostile tars write nothing outside the context and leave nothing behind', async () => {
    const rel = path.relative('/', outside);
    const hostile: Array<[string, Entry[]]> = [
      ['dot-dot', [DOCKERFILE, { name: `../../../../../../${rel}/dotdot`, content: 'x' }]],
      ['absolute', [DOCKERFILE, { name: `${outside}/absolute`, content: 'x' }]],
      ['symlink dir', [DOCKERFILE, { name: 'escape', type: 'symlink', linkname: outside }, { name: 'escape/through-link', content: 'x' }]],
      ['relative symlink', [DOCKERFILE, { name: 'up', type: 'symlink', linkname: `../../../../../../../${rel}` }, { name: 'up/through-relative', content: 'x' }]],
      ['symlink replaced by file', [DOCKERFILE, { name: 'f', type: 'symlink', linkname: `${outside}/overwritten` }, { name: 'f', content: 'x' }]],
      ['hard link out', [DOCKERFILE, { name: 'esc', type: 'symlink', linkname: '/etc' }, { name: 'passwd', type: 'link', linkname: 'esc/passwd' }]],
      ['not a tar', [{ name: 'x', content: 'y' }]],
    ];
    for (const [name, entries] of hostile) {
      const body = name === 'not a tar' ? Buffer.from('this is not a tar archive at all, not even close'.repeat(20)) : await makeTar(entries);
      const r = await build('', body);
      if (name === 'symlink replaced by file') {
        // Replacing a link is legitimate: the file takes its place, nothing is written through it.
        assert.notEqual(r.status, 500, `${name}: ${r.text}`);
      } else {
        assert.equal(r.status, 400, `${name}: ${r.text}`);
      }
      assert.deepEqual(readdirSync(outside), [], name);
      assert.deepEqual(leftovers(), [], name);
    }
    // gzip is recognised by content
    const gz = await build('', gzipSync(await makeTar([{ name: 'a/../../x', content: 'x' }])));
    assert.equal(gz.status, 400);
    assert.match(gz.json().message, /outside of the context/);
    assert.equal((await d.request('GET', '/_ping')).status, 200);
  });

  test('device files in the context are skipped, and a good context reaches the builder', async () => {
    const r = await build('?t=app', await makeTar([DOCKERFILE, { name: 'null', type: 'character-device' }, { name: 'd', type: 'directory' }]));
    // Whatever the builder says (it may be absent: 501), it is not a context error.
    assert.notEqual(r.status, 400, r.text);
    assert.doesNotMatch(r.text, /invalid build context|Cannot locate/);
    assert.deepEqual(leftovers(), []);
  });

  test('a client hanging up mid-upload leaves nothing behind and the daemon keeps serving', async () => {
    const full = await makeTar([DOCKERFILE, { name: 'big', content: 'z'.repeat(2 * 1024 * 1024) }]);
    await new Promise<void>((resolve) => {
      const req = http.request({ socketPath: d.socket, method: 'POST', path: '/build', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': full.length } });
      req.on('error', () => resolve());
      req.on('response', () => resolve());
      req.write(full.subarray(0, 1024 * 1024), () => setTimeout(() => req.destroy(), 200));
    });
    const deadline = Date.now() + 5000;
    while (leftovers().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(leftovers(), []);
    assert.equal((await d.request('GET', '/_ping')).status, 200);
  });

  test('/build/prune and /build/cancel check their parameters', async () => {
    const bad = await d.request('POST', '/build/prune?keep-storage=lots');
    assert.equal(bad.status, 400);
    assert.equal(bad.json().message, 'keep-storage is in bytes and expects an integer, got lots: strconv.Atoi: parsing "lots": invalid syntax');
    const ok = await d.request('POST', '/build/prune');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(typeof ok.json().SpaceReclaimed, 'number');
    const cancel = await d.request('POST', '/build/cancel');
    assert.equal(cancel.status, 400);
    assert.equal(cancel.json().message, 'build ID not provided');
  });
});
