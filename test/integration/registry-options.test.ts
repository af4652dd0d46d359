/**
 * berthd's registry options: --registry-mirror for Docker Hub, "registry-mirrors-for" (mirrors of any
 * registry), --insecure-registry and daemon.json "insecure-registries" in GET /info, reloaded on SIGHUP
 * without a restart, and bad option values refused at start.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { TestDaemon, run, BERTHD } from './harness.js';
import { startDistribution, hasDockerRegistry, freePort, type DistributionPeer } from './registry-peers.js';

const skip = !hasDockerRegistry && 'Debian docker-registry is not installed';
let mirror: DistributionPeer;
let seeder: TestDaemon;
const started: TestDaemon[] = [];

async function daemon(args: string[] = [], daemonJson?: object): Promise<TestDaemon> {
  const d = new TestDaemon(args);
  started.push(d);
  if (daemonJson) writeFileSync(path.join(d.root, 'daemon.json'), JSON.stringify(daemonJson));
  return d.start();
}

async function pushTo(name: string): Promise<void> {
  assert.equal((await seeder.request('POST', `/images/busybox/tag?repo=${name}&tag=latest`)).status, 201);
  const r = await seeder.request('POST', `/images/${name}/push?tag=latest`, undefined, { 'X-Registry-Auth': 'e30=' });
  assert.doesNotMatch(r.text, /"error"/, r.text);
}

before(async () => {
  if (skip) return;
  mirror = await startDistribution();
  seeder = await daemon();
  await seeder.seedBusybox();
  // What a Docker Hub mirror holds for "busybox", and what a mirror of some other registry holds.
  await pushTo(`${mirror.host}/library/busybox`);
  await pushTo(`${mirror.host}/team/tool`);
});

after(async () => {
  for (const d of started) await d.stop();
  await mirror?.stop();
});

test('--registry-mirror serves docker.io pulls (nothing else is reachable here)', { skip }, async () => {
  const d = await daemon(['--registry-mirror', mirror.url]);
  const r = await d.request('POST', '/images/create?fromImage=busybox&tag=latest');
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /"Pulling from library\/busybox"/);
  assert.match(r.text, /Status: Downloaded newer image for busybox:latest/);
  const info = (await d.request('GET', '/info')).json();
  assert.deepEqual(info.RegistryConfig.Mirrors, [`${mirror.url}/`]);
  assert.deepEqual(info.RegistryConfig.IndexConfigs['docker.io'].Mirrors, [`${mirror.url}/`]);
});

test('"registry-mirrors-for" serves pulls of another registry, which is down', { skip }, async () => {
  const down = `127.0.0.1:${await freePort()}`;
  const d = await daemon([], { 'registry-mirrors-for': { [down]: [mirror.url] } });
  const r = await d.request('POST', `/images/create?fromImage=${down}/team/tool&tag=latest`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, new RegExp(`Status: Downloaded newer image for ${down.replace(/\./g, '\\.')}/team/tool:latest`));
  // Without the mirror, the same pull fails: the registry is not there.
  const plain = await daemon();
  const fail = await plain.request('POST', `/images/create?fromImage=${down}/team/tool&tag=latest`);
  assert.equal(fail.status, 500, fail.text);
  assert.match(fail.text, /ECONNREFUSED|connect/);
});

test('insecure registries show in /info and a SIGHUP reload changes them without a restart', { skip }, async () => {
  const d = await daemon(['--insecure-registry', '10.20.0.0/16', '--insecure-registry', 'myreg.example:5000']);
  let rc = (await d.request('GET', '/info')).json().RegistryConfig;
  assert.deepEqual(rc.InsecureRegistryCIDRs, ['::1/128', '127.0.0.0/8', '10.20.0.0/16']);
  assert.deepEqual(rc.IndexConfigs['myreg.example:5000'], { Name: 'myreg.example:5000', Mirrors: [], Secure: false, Official: false });
  assert.equal(rc.Mirrors, null);

  const json = await daemon();
  writeFileSync(path.join(json.root, 'daemon.json'), JSON.stringify({ 'insecure-registries': ['other.example:443', '192.168.7.0/24'], 'registry-mirrors': ['https://mirror.example'] }));
  const pid = Number(readFileSync(path.join(json.execRoot, 'berthd.pid'), 'utf8'));
  process.kill(pid, 'SIGHUP');
  // The reload is asynchronous to this request: wait until /info shows it (no timing is asserted).
  for (let i = 0; i < 200; i++) {
    rc = (await json.request('GET', '/info')).json().RegistryConfig;
    if (rc.IndexConfigs['other.example:443']) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.deepEqual(rc.InsecureRegistryCIDRs, ['::1/128', '127.0.0.0/8', '192.168.7.0/24']);
  assert.equal(rc.IndexConfigs['other.example:443'].Secure, false);
  assert.deepEqual(rc.Mirrors, ['https://mirror.example/']);
});

test('bad registry options are refused at start with a message', { skip }, async () => {
  const bad = await run(BERTHD, ['--registry-mirror', 'ftp://x', '--data-root', '/nonexistent-berth', '-H', 'unix:///nonexistent-berth/s'], {});
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid mirror: unsupported scheme "ftp"/);
  const insecure = await run(BERTHD, ['--insecure-registry', 'http://x:5000', '--data-root', '/nonexistent-berth', '-H', 'unix:///nonexistent-berth/s'], {});
  assert.notEqual(insecure.code, 0);
  assert.match(insecure.stderr, /insecure registry http:\/\/x:5000 should not contain ':\/\/'/);
  const downloads = await run(BERTHD, ['--max-concurrent-downloads', '0', '--data-root', '/nonexistent-berth', '-H', 'unix:///nonexistent-berth/s'], {});
  assert.notEqual(downloads.code, 0);
  assert.match(downloads.stderr, /invalid max concurrent downloads: 0/);
});

test('a mirror without the image falls back to the registry itself', { skip }, async () => {
  const empty = await startDistribution();
  try {
    const d = await daemon([], { 'registry-mirrors-for': { [mirror.host]: [empty.url] } });
    const r = await d.request('POST', `/images/create?fromImage=${mirror.host}/team/tool&tag=latest`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /Status: Downloaded newer image/);
  } finally {
    await empty.stop();
  }
});

test('HTTPS_PROXY / HTTP_PROXY in berthd\'s environment carry registry traffic (CONNECT, then plain HTTP)', { skip }, async () => {
  const seen: string[] = [];
  const target = (hostPort: string) => (hostPort.startsWith('registry.test:') ? { host: '127.0.0.1', port: mirror.port } : undefined);
  const proxy = http.createServer((req, res) => {
    const url = new URL(req.url!);
    seen.push(`${req.method} ${url.host}`);
    const t = target(url.host);
    if (!t) return void res.writeHead(502).end();
    const up = http.request({ ...t, method: req.method, path: url.pathname + url.search, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const tunnels: net.Socket[] = [];
  proxy.on('connect', (req, client) => {
    seen.push(`CONNECT ${req.url}`);
    tunnels.push(client as net.Socket);
    const t = target(req.url!);
    if (!t) return void client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    const up = net.connect(t.port, t.host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  const saved = { HTTP_PROXY: process.env.HTTP_PROXY, HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };
  try {
    Object.assign(process.env, { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, NO_PROXY: '' });
    const d = await daemon(['--insecure-registry', 'registry.test:5000']);
    for (const [k, v] of Object.entries(saved)) (v === undefined ? delete process.env[k] : (process.env[k] = v));
    const r = await d.request('POST', '/images/create?fromImage=registry.test:5000/team/tool&tag=latest');
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /Status: Downloaded newer image for registry\.test:5000\/team\/tool:latest/);
    // HTTPS was tried first through a tunnel (the registry speaks plain HTTP), then HTTP through the proxy.
    assert.ok(seen.includes('CONNECT registry.test:5000'), JSON.stringify(seen));
    assert.ok(seen.includes('GET registry.test:5000'), JSON.stringify(seen));
    // Loopback registries are never proxied.
    const before = seen.length;
    const direct = await d.request('POST', `/images/create?fromImage=${mirror.host}/team/tool&tag=latest`);
    assert.equal(direct.status, 200, direct.text);
    assert.equal(seen.length, before);
  } finally {
    for (const [k, v] of Object.entries(saved)) (v === undefined ? delete process.env[k] : (process.env[k] = v));
    proxy.closeAllConnections();
    for (const t of tunnels) t.destroy();
    await new Promise((r) => proxy.close(r));
  }
});
