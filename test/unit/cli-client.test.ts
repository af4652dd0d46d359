import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiClient, encodeQuery, parseHost, pathName, resolveHost } from '../../src/cli/client.js';
import { ConnectError, DaemonError, CliError } from '../../src/cli/errors.js';
import { filtersParam, platformParam } from '../../src/cli/commands/common.js';

interface Seen {
  method: string;
  url: string;
  body: string;
}

/** A stub daemon on a unix socket that records requests. */
async function stubDaemon(apiVersion: string | null, handler: (req: Seen, res: http.ServerResponse) => void) {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-cli-'));
  const socket = path.join(dir, 'd.sock');
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, body: Buffer.concat(chunks).toString() };
      seen.push(s);
      if (apiVersion) res.setHeader('Api-Version', apiVersion);
      if (req.url === '/_ping') return res.end(req.method === 'HEAD' ? undefined : 'OK');
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    seen,
    client: new ApiClient(parseHost(`unix://${socket}`)),
    socket,
    close: () => new Promise<void>((resolve) => server.close(() => (rmSync(dir, { recursive: true, force: true }), resolve()))),
  };
}

test('negotiates the API version with a ping, then prefixes paths', async () => {
  const d = await stubDaemon('1.45', (_req, res) => res.end('[]'));
  try {
    assert.deepEqual(await d.client.json('GET', '/images/json', { query: { all: true } }), []);
    await d.client.json('GET', '/images/json');
    assert.deepEqual(
      d.seen.map((s) => `${s.method} ${s.url}`),
      ['HEAD /_ping', 'GET /v1.45/images/json?all=1', 'GET /v1.45/images/json'],
    );
    assert.equal(d.client.currentVersion, '1.45');
  } finally {
    d.client.close();
    await d.close();
  }
});

test('never goes above its own version; a daemon without Api-Version is taken as 1.24', async () => {
  const newer = await stubDaemon('1.99', (_req, res) => res.end('{}'));
  try {
    await newer.client.json('GET', '/info');
    assert.equal(newer.seen.at(-1)!.url, '/v1.50/info');
  } finally {
    newer.client.close();
    await newer.close();
  }
  const old = await stubDaemon(null, (_req, res) => res.end('{}'));
  try {
    await old.client.json('GET', '/info');
    assert.equal(old.seen.at(-1)!.url, '/v1.24/info');
  } finally {
    old.client.close();
    await old.close();
  }
});

test('DOCKER_API_VERSION skips negotiation', async () => {
  const d = await stubDaemon('1.50', (_req, res) => res.end('{}'));
  const client = new ApiClient(parseHost(`unix://${d.socket}`), { apiVersion: '1.41' });
  try {
    await client.json('GET', '/version');
    assert.deepEqual(d.seen.map((s) => s.url), ['/v1.41/version']);
  } finally {
    client.close();
    await d.close();
  }
});

test('error answers become "Error response from daemon"', async () => {
  const d = await stubDaemon('1.50', (req, res) => {
    if (req.url.includes('plain')) {
      res.statusCode = 500;
      return res.end('boom\n');
    }
    res.statusCode = 404;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ message: 'No such image: missing:latest' }));
  });
  try {
    await assert.rejects(d.client.json('DELETE', '/images/missing'), (e: unknown) => {
      assert.ok(e instanceof DaemonError);
      assert.equal(e.status, 404);
      assert.equal(e.message, 'Error response from daemon: No such image: missing:latest');
      assert.equal(e.exitCode, 1);
      return true;
    });
    await assert.rejects(d.client.text('GET', '/plain'), { message: 'Error response from daemon: boom' });
  } finally {
    d.client.close();
    await d.close();
  }
});

test('sends bodies and JSON', async () => {
  const d = await stubDaemon('1.50', (_req, res) => res.end('{}'));
  try {
    const { Readable } = await import('node:stream');
    await d.client.request('POST', '/images/load', { body: Readable.from(['ab', 'cd']), query: { quiet: '1' } });
    await d.client.json('POST', '/x', { json: { a: 1 } });
    assert.deepEqual(d.seen.slice(1).map((s) => s.body), ['abcd', '{"a":1}']);
  } finally {
    d.client.close();
    await d.close();
  }
});

test('an absent daemon is reported as docker reports it', async () => {
  const client = new ApiClient(parseHost('unix:///nonexistent/berth.sock'));
  await assert.rejects(client.json('GET', '/version'), (e: unknown) => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.message, 'Cannot connect to the Berth daemon at unix:///nonexistent/berth.sock. Is the berth daemon running?');
    return true;
  });
  client.close();
  const tcp = new ApiClient(parseHost('tcp://127.0.0.1:1'));
  await assert.rejects(tcp.json('GET', '/version'), { message: 'Cannot connect to the Berth daemon at tcp://127.0.0.1:1. Is the berth daemon running?' });
  tcp.close();
});

test('host selection and parsing', () => {
  assert.equal(resolveHost([], {}), 'unix:///run/berth/berth.sock');
  assert.equal(resolveHost([], { DOCKER_HOST: 'tcp://d:1' }), 'tcp://d:1');
  assert.equal(resolveHost([], { BERTH_HOST: 'tcp://b:1', DOCKER_HOST: 'tcp://d:1' }), 'tcp://b:1');
  assert.equal(resolveHost(['unix:///x'], { BERTH_HOST: 'tcp://b:1' }), 'unix:///x');
  assert.throws(() => resolveHost(['a', 'b'], {}), { message: 'Failed to initialize: unable to resolve berth endpoint: Specify only one -H' });
  assert.deepEqual(parseHost('foo'), { proto: 'tcp', host: 'foo', port: 2375, display: 'tcp://foo:2375' });
  assert.deepEqual(parseHost('tcp://127.0.0.1'), { proto: 'tcp', host: '127.0.0.1', port: 2375, display: 'tcp://127.0.0.1:2375' });
  assert.deepEqual(parseHost('tcp://[::1]:2376'), { proto: 'tcp', host: '::1', port: 2376, display: 'tcp://[::1]:2376' });
  assert.deepEqual(parseHost('unix://'), { proto: 'unix', path: '/run/berth/berth.sock', display: 'unix:///run/berth/berth.sock' });
  assert.throws(() => parseHost('foo://bar'), (e: unknown) => e instanceof CliError && e.message === 'Failed to initialize: unable to resolve berth endpoint: invalid bind address format: foo://bar');
});

test('query encoding as Go url.Values (sorted keys, QueryEscape)', () => {
  assert.equal(encodeQuery({ tag: 'v2', repo: 'docker.io/myrepo/x' }), '?repo=docker.io%2Fmyrepo%2Fx&tag=v2');
  assert.equal(encodeQuery({ names: ['a', 'b'], platform: undefined }), '?names=a&names=b');
  assert.equal(encodeQuery({ message: "msg here (it's) ~*" }), '?message=msg+here+%28it%27s%29+~%2A');
  assert.equal(encodeQuery({}), '');
  assert.equal(pathName('localhost:5000/a b@sha256:1'), 'localhost:5000/a%20b@sha256:1');
});

test('filters and platforms are sent in docker\'s JSON forms', () => {
  assert.equal(filtersParam([]), undefined);
  assert.equal(
    filtersParam(['label=c', 'dangling=true', 'label=a=b'], [['reference', 'busybox']]),
    '{"dangling":{"true":true},"label":{"a=b":true,"c":true},"reference":{"busybox":true}}',
  );
  assert.equal(platformParam(''), undefined);
  assert.equal(platformParam('linux/arm64'), '{"architecture":"arm64","os":"linux"}');
  assert.equal(platformParam('linux/arm/v7'), '{"architecture":"arm","os":"linux","variant":"v7"}');
  assert.equal(platformParam('linux/aarch64'), '{"architecture":"arm64","os":"linux"}');
  assert.equal(platformParam('x86_64'), '{"architecture":"amd64","os":"linux"}');
  assert.throws(() => platformParam('foo/bar/baz/qux'), { message: 'invalid platform: "foo/bar/baz/qux": cannot parse platform specifier: invalid argument' });
});
