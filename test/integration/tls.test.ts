/**
 * The daemon on the network: tcp:// listeners beside the unix socket, plain, --tls and
 * --tlsverify; certificates made by openssl as Docker's guide does and by `berth certs create`;
 * Node https clients, the berth CLI and the official docker CLI. Only 127.0.0.1 is ever used.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { BERTH, DOCKER, TestDaemon, freeSubnet24, hasDocker, run, type RunResult } from './harness.js';
import { parseHost } from '../../src/daemon/listeners.js';
import { INSECURE_LONG_PAUSE_MS, INSECURE_PAUSE_MS, resolveTls, warnInsecureTcp } from '../../src/daemon/tls.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'berth-tls-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A port nothing listens on: bind port 0, note it, let it go. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The steps of Docker's "Protect the Docker daemon socket" guide (without the CA passphrase). */
function opensslCerts(dir: string): string {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  ossl('genrsa', '-out', 'ca-key.pem', '2048');
  ossl('req', '-new', '-x509', '-days', '365', '-key', 'ca-key.pem', '-sha256', '-out', 'ca.pem', '-subj', '/CN=Test CA');
  ossl('genrsa', '-out', 'server-key.pem', '2048');
  ossl('req', '-subj', '/CN=localhost', '-sha256', '-new', '-key', 'server-key.pem', '-out', 'server.csr');
  writeFileSync(path.join(dir, 'extfile.cnf'), 'subjectAltName = DNS:localhost,IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  ossl('x509', '-req', '-days', '365', '-sha256', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server-cert.pem', '-extfile', 'extfile.cnf');
  ossl('genrsa', '-out', 'key.pem', '2048');
  ossl('req', '-subj', '/CN=client', '-new', '-key', 'key.pem', '-out', 'client.csr');
  writeFileSync(path.join(dir, 'extfile-client.cnf'), 'extendedKeyUsage = clientAuth\n');
  ossl('x509', '-req', '-days', '365', '-sha256', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-extfile', 'extfile-client.cnf');
  return dir;
}

function dirIn(name: string): string {
  return mkdtempSync(path.join(work, `${name}-`));
}

const NO_TLS_ENV = { DOCKER_TLS_VERIFY: '', DOCKER_TLS: '', DOCKER_CERT_PATH: '', BERTH_HOST: '', DOCKER_HOST: '' };

function berth(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(BERTH, args, { ...NO_TLS_ENV, DOCKER_CONFIG: path.join(work, 'no-config'), ...env });
}

function docker(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(DOCKER, args, { ...NO_TLS_ENV, DOCKER_CONFIG: path.join(work, 'docker-config'), ...env });
}

interface Creds {
  ca?: string;
  cert?: string;
  key?: string;
}

/** GET over https with these files; rejects when the handshake (or the connection) fails. */
function httpsGet(port: number, urlPath: string, creds: Creds, extra: https.RequestOptions = {}): Promise<{ status: number; body: string; protocol: string }> {
  const read = (f?: string) => (f ? readFileSync(f) : undefined);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: urlPath, method: 'GET', agent: false, ca: read(creds.ca), cert: read(creds.cert), key: read(creds.key), ...extra },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, protocol: (res.socket as tls.TLSSocket).getProtocol?.() ?? '' }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const files = (dir: string) => ({ ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') });
const serverFlags = (dir: string) => [`--tlscacert=${dir}/ca.pem`, `--tlscert=${dir}/server-cert.pem`, `--tlskey=${dir}/server-key.pem`];

// Certificates shared by the suites: one set as Docker's guide makes them, one by berth, and one
// of another CA whose client certificate the daemons must refuse.
let docs: string;
let made: string;
let other: string;
before(async () => {
  docs = opensslCerts(dirIn('openssl'));
  made = dirIn('berth');
  const r = await berth(['certs', 'create', '--host', 'localhost', '--ip', '127.0.0.1', '--out', made, '--key-type', 'ecdsa']);
  assert.equal(r.code, 0, r.stderr);
  other = dirIn('other');
  const o = await berth(['certs', 'create', '--host', 'localhost', '--out', other, '--key-type', 'ecdsa']);
  assert.equal(o.code, 0, o.stderr);
});

describe('plain tcp beside the unix socket', () => {
  let d: TestDaemon;
  let port: number;
  before(async () => {
    port = await freePort();
    d = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`]);
    await d.start();
  });
  after(() => d.stop());

  test('both listeners answer', async () => {
    assert.equal((await d.request('GET', '/_ping')).status, 200);
    const r = await httpGet(port, '/_ping');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'OK');
  });

  test('the log carries dockerd’s warnings; loopback skips the long pause', () => {
    assert.match(d.logs, /level=warn msg="Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network\." host="tcp:\/\/127\.0\.0\.1:\d+"/);
    assert.match(d.logs, /Binding to an IP address, even on localhost, can also give access to scripts run in a browser\. Be safe out there!/);
    assert.doesNotMatch(d.logs, /Startup is intentionally being slowed down/);
  });

  test('berth and docker reach it with -H and DOCKER_HOST', async () => {
    const b = await berth(['-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.Os}}']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout.trim(), 'linux');
    const e = await berth(['version', '--format', '{{.Server.Os}}'], { DOCKER_HOST: `tcp://127.0.0.1:${port}` });
    assert.equal(e.stdout.trim(), 'linux', e.stderr);
    if (hasDocker) {
      const r = await docker(['-H', `127.0.0.1:${port}`, 'version', '--format', '{{.Server.Os}}']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'linux');
    }
  });
});

describe('--tls without client verification (--tlsverify=false)', () => {
  let d: TestDaemon;
  let port: number;
  before(async () => {
    port = await freePort();
    d = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`, '--tls', '--tlsverify=false', `--tlscert=${docs}/server-cert.pem`, `--tlskey=${docs}/server-key.pem`]);
    await d.start();
  });
  after(() => d.stop());

  test('encrypts (TLS 1.2 or later) and lets clients without a certificate in', async () => {
    const r = await httpsGet(port, '/_ping', { ca: files(docs).ca });
    assert.equal(r.status, 200);
    assert.match(r.protocol, /^TLSv1\.[23]$/);
    const tls12 = await httpsGet(port, '/_ping', { ca: files(docs).ca }, { maxVersion: 'TLSv1.2' });
    assert.equal(tls12.protocol, 'TLSv1.2');
  });

  test('still warns: anyone who can connect is root', () => {
    assert.match(d.logs, /Binding to IP address without --tlsverify is insecure/);
  });

  test('a plain HTTP request is answered as Go’s server answers it', async () => {
    const r = await httpGet(port, '/_ping');
    assert.equal(r.status, 400);
    assert.equal(r.body, 'Client sent an HTTP request to an HTTPS server.\n');
    if (hasDocker) {
      const c = await docker(['-H', `127.0.0.1:${port}`, 'version']);
      assert.notEqual(c.code, 0);
      assert.match(c.stderr, /Client sent an HTTP request to an HTTPS server/);
    }
  });

  test('berth --tls connects without checking the daemon (docker’s --tls)', async () => {
    const r = await berth(['--tls', `--tlscacert=${other}/ca.pem`, '-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.Os}}']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'linux');
  });
});

for (const [label, certs] of [
  ['made by openssl as Docker’s guide does', () => docs],
  ['made by berth certs create', () => made],
] as const) {
  describe(`--tlsverify with certificates ${label}`, () => {
    let d: TestDaemon;
    let port: number;
    let dir: string;
    before(async () => {
      dir = certs();
      port = await freePort();
      d = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', ...serverFlags(dir)]);
      await d.start();
    });
    after(() => d.stop());

    test('a client with a certificate from the CA gets in; no insecurity warning', async () => {
      const r = await httpsGet(port, '/version', files(dir));
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).Os, 'linux');
      assert.doesNotMatch(d.logs, /without --tlsverify/);
    });

    test('clients without a certificate, or with one of another CA, are refused in the handshake', async () => {
      await assert.rejects(httpsGet(port, '/version', { ca: files(dir).ca }));
      await assert.rejects(httpsGet(port, '/version', { ca: files(dir).ca, cert: files(other).cert, key: files(other).key }));
      // The client also checks the daemon: another CA's ca.pem does not trust it.
      await assert.rejects(httpsGet(port, '/version', { ...files(dir), ca: files(other).ca }), /self[- ]signed|unable to verify|unable to get/i);
      assert.match(d.logs, /TLS handshake error from 127\.0\.0\.1:\d+: tls: client didn't provide a certificate/);
      assert.match(d.logs, /TLS handshake error from 127\.0\.0\.1:\d+: tls: client certificate refused/);
    });

    test('bad handshakes and garbage do not disturb the daemon', async () => {
      const bad = [];
      for (let i = 0; i < 10; i++) {
        bad.push(httpsGet(port, '/_ping', { ca: files(dir).ca }).catch(() => 'refused'));
        bad.push(httpsGet(port, '/_ping', { ca: files(dir).ca, cert: files(other).cert, key: files(other).key }).catch(() => 'refused'));
      }
      // Garbage that is not TLS, a connection closed at once, and a half-sent ClientHello.
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.end(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3])));
        s.on('close', () => resolve());
        s.on('error', () => resolve());
        s.resume();
      });
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.destroy());
        s.on('close', () => resolve());
      });
      assert.deepEqual(new Set(await Promise.all(bad)), new Set(['refused']));
      const good = await Promise.all([1, 2, 3].map(() => httpsGet(port, '/_ping', files(dir))));
      assert.deepEqual(good.map((g) => g.status), [200, 200, 200]);
      assert.equal((await d.request('GET', '/_ping')).status, 200);
    });

    test('berth CLI: --tlsverify flags, then DOCKER_TLS_VERIFY + DOCKER_CERT_PATH; the daemon is checked', async () => {
      const host = `tcp://127.0.0.1:${port}`;
      const f = files(dir);
      const flags = await berth(['--tlsverify', `--tlscacert=${f.ca}`, `--tlscert=${f.cert}`, `--tlskey=${f.key}`, `-H=${host}`, 'version', '--format', '{{.Server.Os}}']);
      assert.equal(flags.code, 0, flags.stderr);
      assert.equal(flags.stdout.trim(), 'linux');
      const env = await berth(['info', '--format', '{{.OSType}}'], { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir });
      assert.equal(env.code, 0, env.stderr);
      assert.equal(env.stdout.trim(), 'linux');
      const noCert = await berth(['--tlsverify', `--tlscacert=${f.ca}`, `-H=${host}`, 'version']);
      assert.notEqual(noCert.code, 0);
      assert.match(noCert.stderr, /error during connect: Head "https:\/\/127\.0\.0\.1:\d+\/_ping": remote error: tls: certificate required/);
      const wrongCa = await berth(['--tlsverify', `--tlscacert=${files(other).ca}`, `--tlscert=${f.cert}`, `--tlskey=${f.key}`, `-H=${host}`, 'version']);
      assert.notEqual(wrongCa.code, 0);
      assert.match(wrongCa.stderr, /x509: certificate signed by unknown authority/);
      const missing = await berth(['--tlsverify', `--tlscacert=${dir}/nope.pem`, `-H=${host}`, 'version']);
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr.trim(), `Failed to initialize: unable to resolve berth endpoint: open ${dir}/nope.pem: no such file or directory`);
    });

    test('the official docker CLI works with --tlsverify and is refused without a client certificate', { skip: !hasDocker }, async () => {
      const f = files(dir);
      const ok = await docker(['--tlsverify', `--tlscacert=${f.ca}`, `--tlscert=${f.cert}`, `--tlskey=${f.key}`, `-H=127.0.0.1:${port}`, 'version']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /Server: Berth Engine/);
      const env = await docker(['info', '--format', '{{.OSType}}'], { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir });
      assert.equal(env.code, 0, env.stderr);
      assert.equal(env.stdout.trim(), 'linux');
      const refused = await docker(['--tlsverify', `--tlscacert=${f.ca}`, `-H=127.0.0.1:${port}`, 'version']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /remote error: tls: (certificate required|bad certificate)/);
      const wrong = await docker(['--tlsverify', `--tlscacert=${f.ca}`, `--tlscert=${files(other).cert}`, `--tlskey=${files(other).key}`, `-H=127.0.0.1:${port}`, 'version']);
      assert.notEqual(wrong.code, 0);
      // Go sends no certificate whose issuer the daemon does not name (then: certificate required);
      // one it sends and the daemon refuses ends in a close without an alert (Node's way).
      assert.match(wrong.stderr, /remote error: tls: certificate required|: EOF|connection reset by peer/);
      assert.equal((await d.request('GET', '/_ping')).status, 200);
    });
  });
}

describe('containers over --tlsverify', () => {
  let d: TestDaemon;
  let port: number;
  before(async () => {
    port = await freePort();
    d = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', ...serverFlags(made)]);
    await d.start();
    await d.seedBusybox();
  });
  after(() => d.stop());

  // Attach and exec are hijacked connections; the client's close_notify/CloseWrite after stdin must
  // end only the input, not the output still to come.
  test('run -i and exec -i carry stdin and output both ways (docker and berth)', { skip: !hasDocker }, async () => {
    const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: made };
    const echo = await docker(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hello over tls'], env);
    assert.equal(echo.stdout, 'hello over tls\n', echo.stderr);
    const cat = await run(DOCKER, ['run', '--rm', '-i', '--network', 'none', 'busybox', 'cat'], { ...NO_TLS_ENV, DOCKER_CONFIG: path.join(work, 'docker-config'), ...env }, 'piped in\n');
    assert.equal(cat.stdout, 'piped in\n', cat.stderr);
    const b = await run(BERTH, ['run', '--rm', '-i', '--network', 'none', 'busybox', 'cat'], { ...NO_TLS_ENV, DOCKER_CONFIG: path.join(work, 'no-config'), ...env }, 'berth piped\n');
    assert.equal(b.stdout, 'berth piped\n', b.stderr);
    assert.equal((await docker(['run', '-d', '--name', 'sleeper', '--network', 'none', 'busybox', 'sleep', '60'], env)).code, 0);
    const exec = await run(DOCKER, ['exec', '-i', 'sleeper', 'cat'], { ...NO_TLS_ENV, DOCKER_CONFIG: path.join(work, 'docker-config'), ...env }, 'to exec\n');
    assert.equal(exec.stdout, 'to exec\n', exec.stderr);
    assert.equal((await docker(['rm', '-f', 'sleeper'], env)).code, 0);
  });
});

describe('berth certs create', () => {
  test('writes the six files with Docker’s modes and the right extensions', () => {
    const mode = (f: string) => statSync(path.join(made, f)).mode & 0o777;
    for (const f of ['ca-key.pem', 'server-key.pem', 'key.pem']) assert.equal(mode(f), 0o400, f);
    for (const f of ['ca.pem', 'server-cert.pem', 'cert.pem']) assert.equal(mode(f), 0o444, f);
    const load = (f: string) => new X509Certificate(readFileSync(path.join(made, f)));
    const ca = load('ca.pem');
    const server = load('server-cert.pem');
    const client = load('cert.pem');
    assert.equal(ca.ca, true);
    assert.equal(server.ca, false);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey));
    assert.ok(client.checkIssued(ca) && client.verify(ca.publicKey));
    assert.match(server.subjectAltName ?? '', /DNS:localhost/);
    assert.match(server.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.ok(server.checkIP('127.0.0.1'));
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']); // serverAuth
    assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2']); // clientAuth
    // Certificates of another CA do not chain to this one.
    assert.ok(!client.verify(new X509Certificate(readFileSync(path.join(other, 'ca.pem'))).publicKey));
  });

  test('prints the flags to use, and refuses to replace a CA without --force', async () => {
    const dir = dirIn('again');
    const first = await berth(['certs', 'create', '--ip', '127.0.0.1', '--out', dir, '--key-type', 'ecdsa']);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(first.stdout.includes(`berthd --tlsverify --tlscacert=${dir}/ca.pem --tlscert=${dir}/server-cert.pem --tlskey=${dir}/server-key.pem`));
    assert.ok(first.stdout.includes(`DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${dir}`));
    const ca = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    const second = await berth(['certs', 'create', '--out', dir, '--key-type', 'ecdsa']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /already has ca\.pem, ca-key\.pem, server-cert\.pem, server-key\.pem, cert\.pem, key\.pem: .*--force/);
    assert.equal(readFileSync(path.join(dir, 'ca.pem'), 'utf8'), ca);
    const forced = await berth(['certs', 'create', '--out', dir, '--key-type', 'rsa', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(path.join(dir, 'ca.pem'), 'utf8'), ca);
    assert.equal(new X509Certificate(readFileSync(path.join(dir, 'ca.pem'))).publicKey.asymmetricKeyType, 'rsa');
    const bad = await berth(['certs', 'create', '--host', 'bad name/x', '--out', dirIn('bad')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid host name/);
  });
});

describe('TLS settings in daemon.json', () => {
  test('hosts and tls keys from the file: both listeners, client certificates required', async () => {
    const port = await freePort();
    const d = new TestDaemon();
    writeFileSync(
      path.join(d.root, 'daemon.json'),
      JSON.stringify({
        hosts: [d.host, `tcp://127.0.0.1:${port}`],
        tlsverify: true,
        tlscacert: `${made}/ca.pem`,
        tlscert: `${made}/server-cert.pem`,
        tlskey: `${made}/server-key.pem`,
      }),
    );
    // Its own bridge and subnet, as every test daemon has, so it never meets another daemon's berth0.
    const bip = `${freeSubnet24().replace(/\.0\/24$/, '.1')}/24`;
    d.args = () => ['--data-root', d.dataRoot, '--exec-root', d.execRoot, '--config-file', path.join(d.root, 'daemon.json'), '--bridge', d.bridge, '--bip', bip];
    try {
      await d.start();
      assert.equal((await httpsGet(port, '/_ping', files(made))).status, 200);
      await assert.rejects(httpsGet(port, '/_ping', { ca: files(made).ca }));
    } finally {
      await d.stop();
    }
  });

  test('tlsverify as a flag and in the file is the flag-vs-file conflict', async () => {
    const d = new TestDaemon(['--tlsverify', ...serverFlags(made)]);
    writeFileSync(path.join(d.root, 'daemon.json'), JSON.stringify({ tlsverify: false }));
    await assert.rejects(d.start(), /the following directives are specified both as a flag and in the configuration file: tlsverify: \(from flag: true, from file: false\)/);
    await d.stop();
  });

  test('a missing CA stops the daemon at start with dockerd’s words', async () => {
    const port = await freePort();
    const d = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`, '--tlsverify', `--tlscacert=${made}/missing.pem`, `--tlscert=${made}/server-cert.pem`, `--tlskey=${made}/server-key.pem`]);
    await assert.rejects(d.start(), new RegExp(`invalid TLS configuration: could not read CA certificate "${made}/missing\\.pem": open ${made}/missing\\.pem: no such file or directory`));
    await d.stop();
  });

  test('--tls alone verifies clients too (dockerd since 20.10)', async () => {
    const port = await freePort();
    const noCa = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`, '--tls', `--tlscacert=${made}/none.pem`, `--tlscert=${made}/server-cert.pem`, `--tlskey=${made}/server-key.pem`]);
    await assert.rejects(noCa.start(), /--tls verifies client certificates against it; --tlsverify=false encrypts without them/);
    await noCa.stop();
    const d = new TestDaemon(['-H', `tcp://127.0.0.1:${port}`, '--tls', ...serverFlags(made)]);
    try {
      await d.start();
      await assert.rejects(httpsGet(port, '/_ping', { ca: files(made).ca }));
      assert.equal((await httpsGet(port, '/_ping', files(made))).status, 200);
    } finally {
      await d.stop();
    }
  });
});

describe('dockerd’s rules, without a daemon', () => {
  test('-H values parse as dockerd’s ParseHost', () => {
    assert.deepEqual(parseHost('tcp://127.0.0.1:2376'), { kind: 'tcp', address: '127.0.0.1', port: 2376, url: 'tcp://127.0.0.1:2376' });
    // Without a port: 2375, TLS or not (dockerd's ParseTCPAddr); only an empty -H defaults by TLS.
    assert.equal((parseHost('tcp://127.0.0.1', true) as { url: string }).url, 'tcp://127.0.0.1:2375');
    assert.equal((parseHost('127.0.0.1:4243') as { url: string }).url, 'tcp://127.0.0.1:4243');
    assert.equal((parseHost('tcp://:2376') as { url: string }).url, 'tcp://localhost:2376');
    assert.equal((parseHost('tcp://[::1]:2376') as { url: string }).url, 'tcp://[::1]:2376');
    assert.equal((parseHost('', true) as { url: string }).url, 'tcp://localhost:2376');
    assert.deepEqual(parseHost(''), { kind: 'unix', path: '/run/berth/berth.sock' });
    assert.throws(() => parseHost('udp://127.0.0.1:1'), /invalid bind address \(udp:\/\/127\.0\.0\.1:1\): unsupported proto 'udp'/);
    assert.throws(() => parseHost('tcp://127.0.0.1:2375/path'), /should not contain a path element/);
  });

  test('tls settings: tlsverify at all turns TLS on; tls alone verifies; paths from DOCKER_CERT_PATH', () => {
    const env = { DOCKER_CERT_PATH: '/certs' };
    assert.deepEqual(resolveTls({}, env), { enabled: false, verify: false, verifyImplied: false, explicit: false, ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' });
    assert.equal(resolveTls({ tlsverify: false }, env).enabled, true);
    assert.equal(resolveTls({ tlsverify: false }, env).verify, false);
    assert.equal(resolveTls({ tls: true }, env).verify, true);
    assert.equal(resolveTls({ tls: false }, env).explicit, true);
    assert.equal(resolveTls({ tls: false, tlsverify: true }, env).enabled, true);
    assert.equal(resolveTls({}, { DOCKER_CONFIG: '/cfg' }).ca, '/cfg/ca.pem');
  });

  test('the pauses: 1 s for any unauthenticated TCP; 15 s more unless loopback or explicit', async () => {
    const pauses = async (address: string, explicit: boolean) => {
      const slept: number[] = [];
      await warnInsecureTcp(`tcp://${address}:2375`, address, explicit, async (ms) => void slept.push(ms));
      return slept;
    };
    assert.deepEqual(await pauses('127.0.0.1', false), [INSECURE_PAUSE_MS]);
    assert.deepEqual(await pauses('localhost', false), [INSECURE_PAUSE_MS]);
    assert.deepEqual(await pauses('::1', false), [INSECURE_PAUSE_MS]);
    // Addresses only compared, never bound.
    assert.deepEqual(await pauses('0.0.0.0', false), [INSECURE_PAUSE_MS, INSECURE_LONG_PAUSE_MS]);
    assert.deepEqual(await pauses('192.0.2.10', false), [INSECURE_PAUSE_MS, INSECURE_LONG_PAUSE_MS]);
    assert.deepEqual(await pauses('192.0.2.10', true), [INSECURE_PAUSE_MS]);
  });
});
