import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { locatePlugin, scanPluginNames } from '../../src/plugins/discovery.js';
import { LocalPluginRegistry } from '../../src/plugins/registry.js';
import { PluginCallError, PLUGIN_ACCEPT, PLUGIN_CONTENT_TYPE } from '../../src/plugins/client.js';
import { BerthError } from '../../src/lib/errors.js';
import { servePlugin, type SamplePlugin } from '../fixtures/plugins/serve.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'berth-plugins-'));
const plugins: SamplePlugin[] = [];
after(async () => {
  for (const p of plugins) await p.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function freshDir(): string {
  const dir = path.join(root, `d${n++}`);
  mkdirSync(dir);
  return dir;
}

async function serve(...args: Parameters<typeof servePlugin>): Promise<SamplePlugin> {
  const p = await servePlugin(...args);
  plugins.push(p);
  return p;
}

describe('discovery', () => {
  test('finds sockets, spec and json files at <dir>/<name>.ext and <dir>/<name>/<name>.ext', async () => {
    const socks = freshDir();
    const specs = freshDir();
    await serve({ socketPath: path.join(socks, 'flat.sock') }, ['VolumeDriver']);
    mkdirSync(path.join(socks, 'nested'));
    await serve({ socketPath: path.join(socks, 'nested', 'nested.sock') }, ['VolumeDriver']);
    writeFileSync(path.join(socks, 'notasocket.sock'), 'plain file');
    writeFileSync(path.join(specs, 'byspec.spec'), 'tcp://127.0.0.1:9999\n');
    mkdirSync(path.join(specs, 'nestedspec'));
    writeFileSync(path.join(specs, 'nestedspec', 'nestedspec.spec'), 'unix:///tmp/x.sock');
    writeFileSync(path.join(specs, 'byjson.json'), JSON.stringify({ Name: 'byjson', Addr: 'https://127.0.0.1:9998', TLSConfig: { InsecureSkipVerify: false, CAFile: '/ca.pem', CertFile: '/c.pem', KeyFile: '/k.pem' } }));
    writeFileSync(path.join(specs, 'README.txt'), 'ignored');

    const names = await scanPluginNames([socks, specs, path.join(root, 'missing')]);
    assert.deepEqual([...names].sort(), ['byjson', 'byspec', 'flat', 'nested', 'nestedspec']);

    const flat = await locatePlugin([socks, specs], 'flat');
    assert.deepEqual(flat?.endpoint, { kind: 'unix', socketPath: path.join(socks, 'flat.sock') });
    const nested = await locatePlugin([socks, specs], 'nested');
    assert.deepEqual(nested?.endpoint, { kind: 'unix', socketPath: path.join(socks, 'nested', 'nested.sock') });
    const bySpec = await locatePlugin([socks, specs], 'byspec');
    assert.deepEqual(bySpec?.endpoint, { kind: 'tcp', host: '127.0.0.1', port: 9999 });
    const nestedSpec = await locatePlugin([socks, specs], 'nestedspec');
    assert.deepEqual(nestedSpec?.endpoint, { kind: 'unix', socketPath: '/tmp/x.sock' });
    const byJson = await locatePlugin([socks, specs], 'byjson');
    assert.deepEqual(byJson?.endpoint, {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 9998,
      tls: { insecureSkipVerify: false, caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' },
    });
    assert.equal(await locatePlugin([socks, specs], 'notasocket'), undefined);
    assert.equal(await locatePlugin([socks, specs], '../d0/flat'), undefined);
  });

  test('a socket wins over a spec file; a spec without a scheme is an error', async () => {
    const a = freshDir();
    const b = freshDir();
    writeFileSync(path.join(a, 'both.spec'), 'tcp://127.0.0.1:1');
    await serve({ socketPath: path.join(b, 'both.sock') }, []);
    assert.equal((await locatePlugin([a, b], 'both'))?.endpoint.kind, 'unix');
    writeFileSync(path.join(a, 'noscheme.spec'), '127.0.0.1:80');
    await assert.rejects(locatePlugin([a], 'noscheme'), /Unknown protocol/);
    writeFileSync(path.join(a, 'tlsnoca.json'), JSON.stringify({ Addr: 'tcp://127.0.0.1:5', TLSConfig: {} }));
    const tls = await locatePlugin([a], 'tlsnoca');
    assert.deepEqual(tls?.endpoint, { kind: 'tcp', host: '127.0.0.1', port: 5, tls: { insecureSkipVerify: true, caFile: undefined, certFile: undefined, keyFile: undefined } });
  });
});

describe('registry', () => {
  test('activates once with the plugin media types and calls methods', async () => {
    const dir = freshDir();
    const p = await serve({ socketPath: path.join(dir, 'vol.sock') }, ['VolumeDriver'], { 'VolumeDriver.Get': (b) => ({ Volume: { Name: b.Name } }) });
    const reg = new LocalPluginRegistry({ dirs: [dir] });
    const h = await reg.get('vol', 'VolumeDriver');
    assert.equal(h.name, 'vol');
    assert.deepEqual(h.implements, ['VolumeDriver']);
    assert.equal(h.address, path.join(dir, 'vol.sock'));
    assert.deepEqual(await h.call('VolumeDriver.Get', { Name: 'x' }), { Volume: { Name: 'x' } });
    await reg.get('vol', 'VolumeDriver');
    assert.deepEqual(p.requests.map((r) => r.method), ['Plugin.Activate', 'VolumeDriver.Get']);
    assert.equal(p.requests[0]!.headers.accept, PLUGIN_ACCEPT);
    assert.equal(p.requests[1]!.headers['content-type'], PLUGIN_CONTENT_TYPE);
    assert.deepEqual(p.requests[1]!.body, { Name: 'x' });
  });

  test('a spec file with a tcp address works', async () => {
    const dir = freshDir();
    const p = await serve({ tcp: true }, ['authz'], { 'AuthZPlugin.AuthZReq': () => ({ Allow: true }) });
    writeFileSync(path.join(dir, 'tcpplug.spec'), `tcp://127.0.0.1:${p.port}\n`);
    const reg = new LocalPluginRegistry({ dirs: [dir] });
    const h = await reg.get('tcpplug', 'authz');
    assert.deepEqual(await h.call('AuthZPlugin.AuthZReq', {}), { Allow: true });
  });

  test('not found, and not implementing, in dockerd words', async () => {
    const dir = freshDir();
    await serve({ socketPath: path.join(dir, 'net.sock') }, ['NetworkDriver']);
    const reg = new LocalPluginRegistry({ dirs: [dir] });
    await assert.rejects(reg.get('nosuch', 'VolumeDriver'), (err: unknown) => err instanceof BerthError && err.kind === 'NotFound' && err.message === 'plugin "nosuch" not found');
    await assert.rejects(reg.get('net', 'VolumeDriver'), /Plugin does not implement the requested driver: plugin="net", requested implementation="VolumeDriver"/);
  });

  test('an {"Err"} answer (200 or not) becomes the error text', async () => {
    const dir = freshDir();
    await serve({ socketPath: path.join(dir, 'errs.sock') }, ['VolumeDriver'], {
      'VolumeDriver.Create': () => ({ Err: 'no space on the moon' }),
      'VolumeDriver.Remove': () => {
        throw new Error('volume is busy');
      },
    });
    const reg = new LocalPluginRegistry({ dirs: [dir] });
    const h = await reg.get('errs', 'VolumeDriver');
    await assert.rejects(h.call('VolumeDriver.Create', { Name: 'a' }), (err: unknown) => {
      assert.ok(err instanceof PluginCallError);
      assert.equal(err.message, 'VolumeDriver.Create: no space on the moon');
      assert.equal(err.plugin, 'errs');
      assert.equal(err.detail, 'no space on the moon');
      assert.equal(err.transport, false);
      return true;
    });
    await assert.rejects(h.call('VolumeDriver.Remove', { Name: 'a' }), { message: 'VolumeDriver.Remove: volume is busy' });
    await assert.rejects(h.call('VolumeDriver.Nope', {}), /VolumeDriver.Nope: unknown method VolumeDriver.Nope/);
  });

  test('a plugin that never answers fails within the deadline, and list leaves it out quickly', async () => {
    const dir = freshDir();
    await serve({ socketPath: path.join(dir, 'slow.sock') }, ['VolumeDriver'], { 'VolumeDriver.List': () => 'hang' });
    const hung = await serve({ socketPath: path.join(dir, 'hung.sock') }, ['VolumeDriver']);
    hung.server.removeAllListeners('request'); // accepts connections, never answers anything
    await serve({ socketPath: path.join(dir, 'good.sock') }, ['VolumeDriver']);
    const reg = new LocalPluginRegistry({ dirs: [dir], timeoutMs: 5_000 });
    const slow = await reg.get('slow', 'VolumeDriver');
    let start = Date.now();
    await assert.rejects(slow.call('VolumeDriver.List', {}, { timeoutMs: 300 }), /VolumeDriver.List: plugin "slow" .* did not answer within 300ms/);
    assert.ok(Date.now() - start < 1_500, `took ${Date.now() - start}ms`);

    start = Date.now();
    const listed = await reg.list('VolumeDriver', { timeoutMs: 300 });
    assert.ok(Date.now() - start < 1_500, `list took ${Date.now() - start}ms`);
    assert.deepEqual(listed.map((h) => h.name).sort(), ['good', 'slow']);

    start = Date.now();
    await assert.rejects(reg.get('hung', 'VolumeDriver', { timeoutMs: 300 }), /did not answer within 300ms/);
    assert.ok(Date.now() - start < 1_500);
  });

  test('a plugin that died is activated again when it comes back', async () => {
    const dir = freshDir();
    const sock = path.join(dir, 'phoenix.sock');
    const first = await serve({ socketPath: sock }, ['VolumeDriver'], { 'VolumeDriver.Path': () => ({ Mountpoint: '/one' }) });
    const reg = new LocalPluginRegistry({ dirs: [dir] });
    const h = await reg.get('phoenix', 'VolumeDriver');
    assert.deepEqual(await h.call('VolumeDriver.Path', {}), { Mountpoint: '/one' });
    await first.close();
    await assert.rejects(h.call('VolumeDriver.Path', {}, { timeoutMs: 2_000 }), (err: unknown) => err instanceof PluginCallError && err.transport && /phoenix/.test(err.message));
    const second = await serve({ socketPath: sock }, ['VolumeDriver'], { 'VolumeDriver.Path': () => ({ Mountpoint: '/two' }) });
    assert.deepEqual(await h.call('VolumeDriver.Path', {}), { Mountpoint: '/two' });
    assert.deepEqual(second.requests.map((r) => r.method), ['Plugin.Activate', 'VolumeDriver.Path']);
  });
});

describe('TLS', () => {
  test('a .json plugin with TLSConfig is called over TLS with its client certificate', async () => {
    const { createCerts } = await import('../../src/tools/certs.js');
    const https = await import('node:https');
    const { readFileSync } = await import('node:fs');
    const certs = path.join(root, 'certs');
    await createCerts({ hosts: ['localhost'], ips: ['127.0.0.1'], out: certs, days: 1, keyType: 'ecdsa', force: true });
    const file = (f: string) => readFileSync(path.join(certs, f));
    const server = https.createServer({ cert: file('server-cert.pem'), key: file('server-key.pem'), ca: file('ca.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const cn = (req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN;
      res.end(req.url === '/Plugin.Activate' ? JSON.stringify({ Implements: ['authz'] }) : JSON.stringify({ Allow: true, Msg: String(cn) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const dir = freshDir();
    const tlsConfig = { InsecureSkipVerify: false, CAFile: path.join(certs, 'ca.pem'), CertFile: path.join(certs, 'cert.pem'), KeyFile: path.join(certs, 'key.pem') };
    writeFileSync(path.join(dir, 'secure.json'), JSON.stringify({ Name: 'secure', Addr: `tcp://127.0.0.1:${port}`, TLSConfig: tlsConfig }));
    writeFileSync(path.join(dir, 'nocert.json'), JSON.stringify({ Name: 'nocert', Addr: `tcp://127.0.0.1:${port}`, TLSConfig: { CAFile: tlsConfig.CAFile } }));
    writeFileSync(path.join(dir, 'plain.spec'), `tcp://127.0.0.1:${port}`);
    const reg = new LocalPluginRegistry({ dirs: [dir], timeoutMs: 3_000 });
    const h = await reg.get('secure', 'authz');
    assert.deepEqual(await h.call('AuthZPlugin.AuthZReq', {}), { Allow: true, Msg: 'client' });
    // Without a client certificate the server refuses; plain HTTP to a TLS port gets no answer it can read.
    await assert.rejects(reg.get('nocert', 'authz'), /Plugin.Activate: plugin "nocert"/);
    await assert.rejects(reg.get('plain', 'authz'), /Plugin.Activate/);
  });
});
