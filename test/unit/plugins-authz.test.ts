import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { AuthzChain, authorizeApiRequest, headersForPlugin, sendsBody } from '../../src/plugins/authz.js';
import { LocalPluginRegistry } from '../../src/plugins/registry.js';
import { readJson, replayBody } from '../../src/api/http.js';
import { statusOf } from '../../src/api/errors.js';
import { loadConfig, reloadConfig } from '../../src/daemon/config.js';
import { DEFAULT_PLUGIN_DIRS } from '../../src/plugins/discovery.js';
import { servePlugin, type SamplePlugin } from '../fixtures/plugins/serve.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-authz-unit-'));
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
  rmSync(dir, { recursive: true, force: true });
});

test('headers and bodies shown to plugins follow dockerd', () => {
  assert.deepEqual(headersForPlugin({ 'content-type': 'application/json', authorization: 'Basic x', 'x-registry-auth': 'y', 'user-agent': ['a', 'b'] }), {
    'Content-Type': 'application/json',
    'User-Agent': 'b',
  });
  assert.equal(sendsBody('/v1.45/containers/create?name=x', 'application/json; charset=utf-8'), true);
  assert.equal(sendsBody('/containers/create', 'application/x-tar'), false);
  assert.equal(sendsBody('/v1.45/auth', 'application/json'), false);
  assert.equal(sendsBody('/auth', 'application/json'), false);
});

test('daemon options: --plugin-dir, --authorization-plugin, their daemon.json keys, defaults', () => {
  const file = path.join(dir, 'daemon.json');
  writeFileSync(file, '{}');
  const dflt = loadConfig(['--config-file', file]);
  assert.ok(typeof dflt === 'object');
  assert.deepEqual(dflt.pluginDirs, DEFAULT_PLUGIN_DIRS);
  assert.deepEqual(dflt.authorizationPlugins, []);
  assert.equal(dflt.authorizationPluginTimeoutMs, 30_000);
  const flags = loadConfig(['--config-file', file, '--plugin-dir', '/a', '--plugin-dir', '/b', '--authorization-plugin', 'p1', '--authorization-plugin-timeout', '1.5']);
  assert.ok(typeof flags === 'object');
  assert.deepEqual(flags.pluginDirs, ['/a', '/b']);
  assert.deepEqual(flags.authorizationPlugins, ['p1']);
  assert.equal(flags.authorizationPluginTimeoutMs, 1500);
  writeFileSync(file, JSON.stringify({ 'plugin-dirs': ['/c'], 'authorization-plugins': ['p2'] }));
  const fromFile = loadConfig(['--config-file', file]);
  assert.ok(typeof fromFile === 'object');
  assert.deepEqual(fromFile.pluginDirs, ['/c']);
  assert.deepEqual(fromFile.authorizationPlugins, ['p2']);
  assert.throws(() => loadConfig(['--config-file', file, '--plugin-dir', '/x']), /specified both as a flag and in the configuration file: plugin-dirs/);
  // SIGHUP replaces the authorization plugins, as dockerd's reload.
  writeFileSync(file, JSON.stringify({ 'plugin-dirs': ['/c'], 'authorization-plugins': ['p3', 'p4'] }));
  assert.deepEqual(reloadConfig(fromFile, ['--config-file', file]), ['authorization-plugins']);
  assert.deepEqual(fromFile.authorizationPlugins, ['p3', 'p4']);
});

/** A tiny API server with the authz hook in front of one handler, as api/server.ts uses it. */
async function apiWith(chain: AuthzChain, handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): Promise<number> {
  const server = http.createServer(async (req, res) => {
    try {
      await authorizeApiRequest(chain, req, res, false, (body) => replayBody(req, body));
    } catch (err) {
      res.writeHead(statusOf(err), { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ message: (err as Error).message }));
    }
    await handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return (server.address() as AddressInfo).port;
}

async function ask(port: number, method: string, p: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'Content-Type': 'application/json' } });
  return { status: res.status, text: await res.text() };
}

test('requests and answers pass every plugin; denials are 403, failures 500, in dockerd words', async () => {
  let plugin: SamplePlugin | undefined;
  let denyAnswer = false;
  plugin = await servePlugin({ socketPath: path.join(dir, 'guard.sock') }, ['authz'], {
    'AuthZPlugin.AuthZReq': (m) => (m.RequestUri.startsWith('/secret') ? { Allow: false, Msg: 'no secrets' } : m.RequestUri.startsWith('/broken') ? { Err: 'kaput' } : { Allow: true }),
    'AuthZPlugin.AuthZRes': () => (denyAnswer ? { Allow: false, Msg: 'answer withheld' } : { Allow: true }),
  });
  cleanups.push(() => plugin!.close());
  const chain = new AuthzChain(new LocalPluginRegistry({ dirs: [dir] }), ['guard'], 1_000);
  const port = await apiWith(chain, async (req, res) => {
    const body = await readJson(req); // the handler still gets the body the plugin saw
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ echoed: body ?? null }));
  });

  const ok = await ask(port, 'POST', '/things?x=1', { Name: 'a' });
  assert.deepEqual([ok.status, JSON.parse(ok.text)], [200, { echoed: { Name: 'a' } }]);
  const seen = plugin.requests.find((r) => r.method === 'AuthZPlugin.AuthZReq')!.body;
  assert.equal(seen.RequestMethod, 'POST');
  assert.equal(seen.RequestUri, '/things?x=1');
  assert.deepEqual(JSON.parse(Buffer.from(seen.RequestBody, 'base64').toString()), { Name: 'a' });
  const answer = plugin.requests.find((r) => r.method === 'AuthZPlugin.AuthZRes')!.body;
  assert.equal(answer.ResponseStatusCode, 200);
  assert.deepEqual(JSON.parse(Buffer.from(answer.ResponseBody, 'base64').toString()), { echoed: { Name: 'a' } });

  const denied = await ask(port, 'GET', '/secret');
  assert.deepEqual([denied.status, JSON.parse(denied.text).message], [403, 'authorization denied by plugin guard: no secrets']);
  const broken = await ask(port, 'GET', '/broken');
  assert.deepEqual([broken.status, JSON.parse(broken.text).message], [500, 'plugin guard failed with error: AuthZPlugin.AuthZReq: kaput']);

  denyAnswer = true;
  const withheld = await ask(port, 'GET', '/fine');
  assert.deepEqual([withheld.status, JSON.parse(withheld.text).message], [403, 'authorization denied by plugin guard: answer withheld']);
  assert.doesNotMatch(withheld.text, /echoed/);
});

test('a missing plugin fails requests with 500 naming it', async () => {
  const chain = new AuthzChain(new LocalPluginRegistry({ dirs: [dir] }), ['ghost'], 500);
  const port = await apiWith(chain, async (_req, res) => void res.end('{}'));
  const r = await ask(port, 'GET', '/x');
  assert.deepEqual([r.status, JSON.parse(r.text).message], [500, 'plugin ghost failed with error: plugin "ghost" not found']);
});

test('a streamed answer is checked when it starts, without its body, and keeps streaming', async () => {
  const plugin = await servePlugin({ socketPath: path.join(dir, 'streams.sock') }, ['authz'], {
    'AuthZPlugin.AuthZReq': () => ({ Allow: true }),
    'AuthZPlugin.AuthZRes': () => ({ Allow: true }),
  });
  cleanups.push(() => plugin.close());
  const chain = new AuthzChain(new LocalPluginRegistry({ dirs: [dir] }), ['streams'], 1_000);
  const port = await apiWith(chain, async (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write('{"a":1}\n');
    await new Promise((r) => setTimeout(r, 50));
    res.write('{"b":2}\n');
    res.end();
  });
  const r = await ask(port, 'GET', '/events');
  assert.deepEqual([r.status, r.text], [200, '{"a":1}\n{"b":2}\n']);
  const answer = plugin.requests.find((x) => x.method === 'AuthZPlugin.AuthZRes')!.body;
  assert.equal(answer.ResponseStatusCode, 200);
  assert.equal(answer.ResponseHeaders['Content-Type'], 'application/json');
  assert.equal(answer.ResponseBody, undefined);
});
