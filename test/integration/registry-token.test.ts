/**
 * The bearer-token flow Docker Hub uses, in front of a real docker-registry: a node:http proxy in this
 * test answers 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...` unless the request
 * carries a token for its repository and action, and a token endpoint hands tokens out for basic
 * credentials (GET) or a refresh token (POST, the identity token of a login).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { TestDaemon } from './harness.js';
import { startDistribution, hasDockerRegistry, type DistributionPeer } from './registry-peers.js';

const skip = !hasDockerRegistry && 'Debian docker-registry is not installed';
let upstream: DistributionPeer;
let proxy: http.Server;
let host: string;
let d: TestDaemon;
const tokens = new Map<string, Set<string>>(); // token -> granted scopes ("repo:action")
const refreshTokens = new Set<string>();
const tokenRequests: Array<{ method: string; scopes: string[] }> = [];

const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

function grant(scopes: string[]): string {
  const token = randomBytes(12).toString('hex');
  const granted = new Set<string>();
  for (const s of scopes) {
    const [, repo, actions] = /^repository:([^:]+):(.+)$/.exec(s) ?? [];
    if (repo) for (const a of actions!.split(',')) granted.add(`${repo}:${a}`);
  }
  tokens.set(token, granted);
  return token;
}

before(async () => {
  if (skip) return;
  upstream = await startDistribution();
  proxy = http.createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/token') {
      let scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' '));
      if (req.method === 'POST') {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        tokenRequests.push({ method: 'POST', scopes });
        if (form.get('grant_type') !== 'refresh_token' || !refreshTokens.has(form.get('refresh_token') ?? '')) {
          res.writeHead(401, { 'Content-Type': 'application/json' });
          return void res.end('{"details":"invalid refresh token"}');
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(JSON.stringify({ access_token: grant(scopes), expires_in: 300 }));
      }
      tokenRequests.push({ method: 'GET', scopes });
      if (!req.headers.authorization) {
        // Anonymous: a token that grants nothing, as Docker Hub hands out for private repositories.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(JSON.stringify({ token: grant([]) }));
      }
      const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      if (basic !== 'carol:tokens') {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return void res.end('{"details":"incorrect username or password"}');
      }
      const refresh = randomBytes(8).toString('hex');
      refreshTokens.add(refresh);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ token: grant(scopes), expires_in: 300, refresh_token: refresh }));
    }
    // The registry: every /v2/ request needs a token for its repository and action.
    const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname);
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const granted = tokens.get(token);
    const mountFrom = url.searchParams.get('from');
    const ok = url.pathname === '/v2/' ? !!granted : !!m && !!granted?.has(`${m[1]}:${action}`) && (!mountFrom || granted.has(`${mountFrom}:pull`));
    if (!ok) {
      const scope = m ? `repository:${m[1]}:${action === 'push' ? 'pull,push' : 'pull'}` : '';
      res.writeHead(401, {
        'Content-Type': 'application/json',
        'WWW-Authenticate': `Bearer realm="http://${host}/token",service="berth-test"${scope ? `,scope="${scope}"` : ''}`,
      });
      return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = http.request({ host: '127.0.0.1', port: upstream.port, method: req.method, path: req.url, headers }, (ur) => {
      const h = { ...ur.headers };
      if (h.location) h.location = h.location.replace(upstream.url, `http://${host}`);
      res.writeHead(ur.statusCode!, h);
      ur.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  d = await new TestDaemon().start();
  await d.seedBusybox();
});

after(async () => {
  await d?.stop();
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await upstream?.stop();
});

test('push and pull with tokens for pull,push scopes; a mount asks for the source repository too', { skip }, async () => {
  const auth = enc({ username: 'carol', password: 'tokens', serveraddress: host });
  assert.equal((await d.request('POST', `/images/busybox/tag?repo=${host}/app&tag=1`)).status, 201);
  tokenRequests.length = 0;
  const pushed = await d.request('POST', `/images/${host}/app/push?tag=1`, undefined, { 'X-Registry-Auth': auth });
  assert.doesNotMatch(pushed.text, /"error"/, pushed.text);
  assert.match(pushed.text, /"Pushed"/);
  // One token for the whole push: it is cached per scope.
  assert.deepEqual(tokenRequests, [{ method: 'GET', scopes: ['repository:app:pull,push'] }]);

  assert.equal((await d.request('POST', `/images/busybox/tag?repo=${host}/copy&tag=1`)).status, 201);
  tokenRequests.length = 0;
  const mounted = await d.request('POST', `/images/${host}/copy/push?tag=1`, undefined, { 'X-Registry-Auth': auth });
  assert.match(mounted.text, /"Mounted from app"/, mounted.text);
  assert.ok(tokenRequests.some((t) => t.scopes.includes('repository:app:pull') && t.scopes.includes('repository:copy:pull,push')), JSON.stringify(tokenRequests));

  const fresh = await new TestDaemon().start();
  try {
    const pulled = await fresh.request('POST', `/images/create?fromImage=${host}/app&tag=1`, undefined, { 'X-Registry-Auth': auth });
    assert.match(pulled.text, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/app:1/, pulled.text);
    const wrong = await fresh.request('POST', `/images/create?fromImage=${host}/app&tag=1`, undefined, { 'X-Registry-Auth': enc({ username: 'carol', password: 'no' }) });
    // 500, not 401: the docker CLI would prompt for a login on a 401.
    assert.equal(wrong.status, 500, wrong.text);
    assert.match(wrong.json().message, /^Get "http:\/\/127\.0\.0\.1:\d+\/v2\/app\/manifests\/1": unauthorized: incorrect username or password$/);
    const anon = await fresh.request('POST', `/images/create?fromImage=${host}/app&tag=1`);
    assert.equal(anon.status, 500, anon.text);
    assert.match(anon.text, /unauthorized: authentication required/);
  } finally {
    await fresh.stop();
  }
});

test('POST /auth returns the refresh token as IdentityToken, and a pull with it uses the refresh grant', { skip }, async () => {
  const login = await d.request('POST', '/auth', { username: 'carol', password: 'tokens', serveraddress: `http://${host}` });
  assert.equal(login.status, 200, login.text);
  const body = login.json();
  assert.equal(body.Status, 'Login Succeeded');
  assert.match(body.IdentityToken, /^[a-f0-9]{16}$/);
  const bad = await d.request('POST', '/auth', { username: 'carol', password: 'nope', serveraddress: host });
  assert.equal(bad.status, 401, bad.text);
  assert.match(bad.json().message, /^Get "http:\/\/127\.0\.0\.1:\d+\/v2\/": unauthorized: incorrect username or password$/);

  const fresh = await new TestDaemon().start();
  try {
    tokenRequests.length = 0;
    const r = await fresh.request('POST', `/images/create?fromImage=${host}/app&tag=1`, undefined, { 'X-Registry-Auth': enc({ identitytoken: body.IdentityToken }) });
    assert.match(r.text, /Status: Downloaded newer image/, r.text);
    assert.ok(tokenRequests.length > 0 && tokenRequests.every((t) => t.method === 'POST'), JSON.stringify(tokenRequests));
  } finally {
    await fresh.stop();
  }
});
