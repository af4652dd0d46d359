import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, hasDocker } from './harness.js';
import { servePlugin, type SamplePlugin } from '../fixtures/plugins/serve.js';

/**
 * An authorization plugin ("denyrm", a node http server on a unix socket in a temp plugin directory)
 * that denies removing containers, in front of a berthd driven by the official docker CLI.
 */
const pluginDir = mkdtempSync(path.join(os.tmpdir(), 'berth-authz-'));
const socketPath = path.join(pluginDir, 'denyrm.sock');
let mode: 'normal' | 'hang' = 'normal';
let plugin: SamplePlugin | undefined;
const daemon = new TestDaemon(['--plugin-dir', pluginDir, '--authorization-plugin', 'denyrm', '--authorization-plugin-timeout', '2']);

async function startPlugin(): Promise<SamplePlugin> {
  return servePlugin({ socketPath }, ['authz'], {
    'AuthZPlugin.AuthZReq': (req: { RequestMethod: string; RequestUri: string }) => {
      if (mode === 'hang') return 'hang';
      if (req.RequestMethod === 'DELETE' && /^(\/v[\d.]+)?\/containers\//.test(req.RequestUri)) return { Allow: false, Msg: 'removing containers is not allowed' };
      return { Allow: true };
    },
    'AuthZPlugin.AuthZRes': () => ({ Allow: true }),
  });
}

before(async () => {
  plugin = await startPlugin();
  await daemon.start();
  await daemon.seedBusybox();
});

after(async () => {
  await daemon.stop();
  await plugin?.close();
  rmSync(pluginDir, { recursive: true, force: true });
});

test('the plugin denies docker rm with its message; other commands pass and it sees them', { skip: !hasDocker }, async () => {
  const created = await daemon.docker(['create', '--name', 'keepme', 'busybox', 'true']);
  assert.equal(created.code, 0, created.stderr);
  const rm = await daemon.docker(['rm', 'keepme']);
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, /Error response from daemon: authorization denied by plugin denyrm: removing containers is not allowed/);
  const ps = await daemon.docker(['ps', '-a', '--format', '{{.Names}}']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^keepme$/m);

  const info = await daemon.docker(['info', '--format', '{{json .Plugins.Authorization}}']);
  assert.equal(info.stdout.trim(), '["denyrm"]', info.stderr);

  // Hijacked (attach) and streamed answers pass the plugins too.
  const run = await daemon.docker(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'through authz']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'through authz');
  const events = await daemon.docker(['events', '--since', '0s', '--until', '0s', '--filter', 'type=image']);
  assert.equal(events.code, 0, events.stderr);

  // The plugin saw the create's JSON body (base64) and its answer's status.
  const createReq = plugin!.requests.find((r) => r.method === 'AuthZPlugin.AuthZReq' && /\/containers\/create/.test(r.body.RequestUri));
  assert.ok(createReq, 'the plugin saw the create');
  assert.equal(createReq.body.RequestMethod, 'POST');
  assert.equal(JSON.parse(Buffer.from(createReq.body.RequestBody, 'base64').toString()).Image, 'busybox');
  assert.equal(createReq.body.RequestHeaders['Content-Type'], 'application/json');
  const createRes = plugin!.requests.find((r) => r.method === 'AuthZPlugin.AuthZRes' && /\/containers\/create/.test(r.body.RequestUri));
  assert.equal(createRes?.body.ResponseStatusCode, 201);
  assert.ok(JSON.parse(Buffer.from(createRes!.body.ResponseBody, 'base64').toString()).Id);
});

test('a hung plugin fails requests within its deadline; the daemon keeps answering', { skip: !hasDocker }, async () => {
  mode = 'hang';
  const start = Date.now();
  const ps = await daemon.docker(['ps']);
  const took = Date.now() - start;
  mode = 'normal';
  assert.notEqual(ps.code, 0);
  assert.match(ps.stderr, /plugin denyrm failed with error: .*did not answer within 2s/);
  // The CLI's ping and the list each wait at most the 2 s deadline.
  assert.ok(took < 10_000, `took ${took}ms`);
  const again = await daemon.docker(['ps', '-a', '--format', '{{.Names}}']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /keepme/);
});

test('a dead plugin fails requests with the plugin error; it is used again when it comes back', { skip: !hasDocker }, async () => {
  await plugin!.close();
  rmSync(socketPath, { force: true });
  const ps = await daemon.docker(['ps']);
  assert.notEqual(ps.code, 0);
  assert.match(ps.stderr, /Error response from daemon: plugin denyrm failed with error: /);
  const raw = await daemon.request('GET', '/containers/json');
  assert.equal(raw.status, 500);
  assert.match(raw.json().message, /^plugin denyrm failed with error: /);

  plugin = await startPlugin();
  const back = await daemon.docker(['ps', '-a', '--format', '{{.Names}}']);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, /keepme/);
  const rm = await daemon.docker(['rm', 'keepme']);
  assert.match(rm.stderr, /authorization denied by plugin denyrm/);
});
