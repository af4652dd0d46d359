import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, mkdirSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { progressBar, humanSize, progressOf, idStatus, throttled } from '../../src/distribution/progress.js';
import { normalizePlatform, parsePlatformSpec, selectManifest, formatPlatform } from '../../src/distribution/platform.js';
import { parseChallenges, parseRegistryAuth, credentialsOf } from '../../src/distribution/auth.js';
import { endpointsFor, isInsecure, inCidr, certsFor, registryInfo, validateRegistryOptions, type RegistrySettings } from '../../src/distribution/endpoints.js';
import { describeErrors, parseErrorBody, responseError } from '../../src/distribution/errors.js';
import { loginDomain } from '../../src/distribution/service.js';
import { send, readBody } from '../../src/distribution/transport.js';
import { createCerts } from '../../src/tools/certs.js';

const settings = (o: Partial<RegistrySettings> = {}): RegistrySettings => ({ insecureRegistries: [], registryMirrors: [], registryMirrorsFor: {}, registryCertsDir: '/nonexistent', ...o });

test('progress bars and sizes are drawn as dockerd draws them (width 200, no time left)', () => {
  assert.equal(humanSize(527), '527B');
  assert.equal(humanSize(2152262), '2.152MB');
  assert.equal(humanSize(22048), '22.05kB');
  assert.equal(humanSize(1_000_000), '1MB');
  assert.equal(progressBar(22048, 2152262), `[>${' '.repeat(50)}]  22.05kB/2.152MB`);
  assert.equal(progressBar(2152262, 2152262), `[${'='.repeat(50)}>]  2.152MB/2.152MB`);
  assert.equal(progressBar(1076131, 2152262), `[${'='.repeat(25)}>${' '.repeat(25)}]  1.076MB/2.152MB`);
  assert.equal(progressBar(0, 0), '');
  assert.equal(progressBar(5000, 0), '     5kB');
  assert.deepEqual(progressOf('abc', 'Downloading', 1, 2).progressDetail, { current: 1, total: 2 });
  let clock = 0;
  const seen: number[] = [];
  const report = throttled(1000, (n) => seen.push(n), () => clock);
  report(5); // the first update goes out
  report(100); // too soon
  clock = 150;
  report(101);
  report(150); // too soon again
  report(1000); // the last always goes out
  assert.deepEqual(seen, [5, 101, 1000]);
  assert.deepEqual(idStatus('abc', 'Pull complete'), { status: 'Pull complete', progressDetail: {}, id: 'abc' });
});

test('platforms normalise as containerd\'s and the index entry is chosen by them', () => {
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'x86_64' }), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' }), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armhf' }), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armel' }), { os: 'linux', architecture: 'arm', variant: 'v6' });
  assert.deepEqual(parsePlatformSpec('linux/arm/7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatformSpec('arm64'), { os: 'linux', architecture: 'arm64' });
  assert.throws(() => parsePlatformSpec('linux/amd64/v1/x'), /unknown operating system or architecture/);
  const d = (architecture: string, variant?: string, extra: object = {}) => ({
    mediaType: 'm',
    digest: `sha256:${architecture}${variant ?? ''}`,
    size: 1,
    platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
    ...extra,
  });
  const entries = [d('arm', 'v6'), d('arm', 'v7'), d('arm64', 'v8'), d('amd64'), d('amd64', undefined, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } })];
  assert.equal(selectManifest(entries, parsePlatformSpec('linux/amd64')).digest, 'sha256:amd64');
  assert.equal(selectManifest(entries, parsePlatformSpec('linux/aarch64')).digest, 'sha256:arm64v8');
  assert.equal(selectManifest(entries, parsePlatformSpec('linux/arm')).digest, 'sha256:armv7');
  assert.equal(selectManifest([d('arm', 'v6')], parsePlatformSpec('linux/arm/v7')).digest, 'sha256:armv6');
  assert.throws(() => selectManifest(entries, parsePlatformSpec('linux/s390x')), /^NotFound: no matching manifest for linux\/s390x in the manifest list entries$/);
  assert.throws(() => selectManifest([entries[4]!], parsePlatformSpec('linux/amd64')), /no matching manifest/);
  assert.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
});

test('WWW-Authenticate challenges and X-Registry-Auth are read as Docker writes them', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="berth-test"'), [{ scheme: 'basic', params: { realm: 'berth-test' } }]);
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges('Bearer realm="a\\"b"'), [{ scheme: 'bearer', params: { realm: 'a"b' } }]);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  assert.deepEqual(parseRegistryAuth(enc({ username: 'u', password: 'p', serveraddress: 'x' })), { username: 'u', password: 'p' });
  assert.deepEqual(parseRegistryAuth(enc({ identitytoken: 't' })), { identityToken: 't' });
  assert.deepEqual(parseRegistryAuth('e30='), {});
  assert.deepEqual(parseRegistryAuth(undefined), {});
  assert.deepEqual(parseRegistryAuth('%%%not base64'), {});
  assert.deepEqual(credentialsOf({ auth: Buffer.from('me:secret:colon').toString('base64') }), { username: 'me', password: 'secret:colon' });
  assert.throws(() => credentialsOf({ username: 5 }), /username must be a string/);
});

test('endpoints: Docker Hub, mirrors first, loopback and listed registries insecure (HTTPS then HTTP)', async () => {
  assert.deepEqual((await endpointsFor('docker.io', settings(), 'pull')).map((e) => e.url), ['https://registry-1.docker.io']);
  const withMirror = await endpointsFor('docker.io', settings({ registryMirrors: ['http://127.0.0.1:5555/'] }), 'pull');
  assert.deepEqual(withMirror.map((e) => [e.url, e.mirror]), [['http://127.0.0.1:5555', true], ['https://registry-1.docker.io', false]]);
  assert.equal((await endpointsFor('docker.io', settings({ registryMirrors: ['http://m/'] }), 'push')).length, 1, 'push never uses mirrors');
  const local = await endpointsFor('localhost:5000', settings(), 'pull');
  assert.deepEqual(local.map((e) => [e.url, !!e.tls.skipVerify]), [['https://localhost:5000', true], ['http://localhost:5000', false]]);
  assert.deepEqual((await endpointsFor('ghcr.io', settings(), 'pull')).map((e) => e.url), ['https://ghcr.io']);
  assert.equal((await endpointsFor('ghcr.io', settings({ insecureRegistries: ['ghcr.io'] }), 'pull')).length, 2);
  assert.equal(await isInsecure('[::1]:5000', []), true);
  assert.equal(await isInsecure('127.3.4.5:80', []), true);
  assert.equal(await isInsecure('10.1.2.3:5000', ['10.0.0.0/8']), true);
  assert.equal(await isInsecure('10.1.2.3:5000', ['10.1.2.3']), true);
  assert.equal(await isInsecure('11.1.2.3:5000', ['10.0.0.0/8']), false);
  assert.equal(inCidr('192.168.1.9', '192.168.1.0/24'), true);
  assert.equal(inCidr('192.168.2.9', '192.168.1.0/24'), false);
  assert.equal(inCidr('::1', '127.0.0.0/8'), false);
  assert.equal(loginDomain('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(loginDomain('http://127.0.0.1:5000/'), '127.0.0.1:5000');
  assert.equal(loginDomain(undefined), 'docker.io');
});

test('registry options are validated and shown as dockerd shows them', () => {
  const v = validateRegistryOptions(settings({ registryMirrors: ['https://m.example'], registryMirrorsFor: { 'index.docker.io': ['http://h/'], 'r:5000': ['http://r-mirror'] } }));
  assert.deepEqual(v.registryMirrors, ['https://m.example/']);
  assert.deepEqual(v.registryMirrorsFor, { 'docker.io': ['http://h/'], 'r:5000': ['http://r-mirror/'] });
  assert.throws(() => validateRegistryOptions(settings({ registryMirrors: ['nope'] })), /invalid mirror: "nope" is not a valid URI/);
  assert.throws(() => validateRegistryOptions(settings({ registryMirrors: ['https://u:p@m/'] })), /username\/password not allowed/);
  assert.throws(() => validateRegistryOptions(settings({ insecureRegistries: ['10.0.0.0/x'] })), /not a valid CIDR/);
  const info = registryInfo(v);
  assert.deepEqual(info.Mirrors, ['https://m.example/', 'http://h/']);
  assert.deepEqual((info.IndexConfigs as any)['r:5000'], { Name: 'r:5000', Mirrors: ['http://r-mirror/'], Secure: true, Official: false });
});

test('registry error bodies keep the registry\'s words', () => {
  const body = Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}');
  assert.deepEqual(parseErrorBody(body), [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }]);
  assert.equal(describeErrors(parseErrorBody(body)), 'manifest unknown: manifest unknown');
  assert.deepEqual(parseErrorBody(Buffer.from('<html>')), []);
  const e = responseError('GET', 'http://h/v2/x/blobs/y', 502, Buffer.from('<html>bad gateway</html>'));
  assert.equal(e.message, 'error from registry: Get "http://h/v2/x/blobs/y": 502 Bad Gateway');
  assert.equal(responseError('HEAD', 'http://h/v2/', 401, Buffer.alloc(0)).message, 'unauthorized: authentication required');
});

test('certs.d: a registry\'s CA verifies its certificate; without it the connection is refused; a key without its cert is an error', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-certsd-'));
  try {
    await createCerts({ hosts: ['localhost'], ips: ['127.0.0.1'], out: path.join(dir, 'pki'), days: 1, keyType: 'ecdsa', force: true });
    const server = https.createServer(
      { cert: readFileSync(path.join(dir, 'pki/server-cert.pem')), key: readFileSync(path.join(dir, 'pki/server-key.pem')) },
      (_req, res) => res.end('{}'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const certsDir = path.join(dir, 'certs.d');
      mkdirSync(path.join(certsDir, host), { recursive: true });
      copyFileSync(path.join(dir, 'pki/ca.pem'), path.join(certsDir, host, 'ca.crt'));
      const tls = await certsFor(certsDir, host);
      assert.equal(tls.ca?.length, 1);
      const ok = await send({ method: 'GET', url: new URL(`https://${host}/v2/`), tls });
      assert.equal((await readBody(ok, 100)).toString(), '{}');
      await assert.rejects(send({ method: 'GET', url: new URL(`https://${host}/v2/`), tls: {} }), /certificate/);
      writeFileSync(path.join(certsDir, host, 'client.key'), 'x');
      await assert.rejects(certsFor(certsDir, host), /missing client certificate client\.cert for key client\.key/);
      assert.deepEqual(await certsFor(certsDir, 'no-such-host:1'), {});
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a body larger than its limit is refused while it is read', async () => {
  const { Readable } = await import('node:stream');
  const res = { status: 200, headers: {}, url: new URL('http://x/'), body: Readable.from([Buffer.alloc(600), Buffer.alloc(600)]) as any };
  await assert.rejects(readBody(res, 1000, 'manifest'), /manifest is too large: more than 1000 bytes/);
  const declared = { status: 200, headers: { 'content-length': '5000' }, url: new URL('http://x/'), body: Readable.from([]) as any };
  await assert.rejects(readBody(declared, 1000, 'manifest'), /manifest is too large: 5000 bytes/);
});

test('proxies come from the environment as Go reads them; loopback and NO_PROXY go direct', async () => {
  const { proxyFor, proxyAuth } = await import('../../src/distribution/proxy.js');
  const env = { HTTPS_PROXY: 'http://u:p%40ss@proxy:3128', HTTP_PROXY: 'proxy:8080', NO_PROXY: '.internal.example,10.0.0.0/8,exact.host:5000' };
  assert.equal(proxyFor(new URL('https://ghcr.io/v2/'), env)?.href, 'http://u:p%40ss@proxy:3128/');
  assert.equal(proxyFor(new URL('http://ghcr.io/v2/'), env)?.href, 'http://proxy:8080/');
  assert.equal(proxyFor(new URL('https://127.0.0.1:5000/v2/'), env), undefined);
  assert.equal(proxyFor(new URL('https://localhost:5000/v2/'), env), undefined);
  assert.equal(proxyFor(new URL('https://[::1]:5000/v2/'), env), undefined);
  assert.equal(proxyFor(new URL('https://reg.internal.example/v2/'), env), undefined);
  assert.equal(proxyFor(new URL('https://10.1.2.3/v2/'), env), undefined);
  assert.equal(proxyFor(new URL('https://exact.host:5000/v2/'), env), undefined);
  assert.ok(proxyFor(new URL('https://exact.host:6000/v2/'), env));
  assert.equal(proxyFor(new URL('https://ghcr.io/v2/'), {}), undefined);
  assert.equal(proxyFor(new URL('https://ghcr.io/v2/'), { ...env, NO_PROXY: '*' }), undefined);
  assert.deepEqual(proxyAuth(new URL(env.HTTPS_PROXY)), { 'Proxy-Authorization': `Basic ${Buffer.from('u:p@ss').toString('base64')}` });
});
