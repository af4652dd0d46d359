/**
 * Real registries for tests: Debian's docker-registry (Distribution 2.8) on 127.0.0.1 and a free port,
 * with its storage in a temp dir, optionally behind htpasswd basic auth and TLS. Shared by the pull,
 * push, interop and conformance tests so each starts the peer the same way.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { createCerts } from '../../src/tools/certs.js';

export const DOCKER_REGISTRY = '/usr/bin/docker-registry';
export const hasDockerRegistry = existsSync(DOCKER_REGISTRY);
export const SKOPEO = '/usr/bin/skopeo';
export const hasSkopeo = existsSync(SKOPEO);

/** A TCP port nobody listens on now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A CA and a server certificate for 127.0.0.1 and localhost (ca.pem, server-cert.pem, server-key.pem, cert.pem, key.pem). */
export async function makeTestCerts(dir: string): Promise<{ ca: string; cert: string; key: string; clientCert: string; clientKey: string }> {
  await createCerts({ hosts: ['localhost'], ips: ['127.0.0.1'], out: dir, days: 2, keyType: 'ecdsa', force: true });
  return {
    ca: path.join(dir, 'ca.pem'),
    cert: path.join(dir, 'server-cert.pem'),
    key: path.join(dir, 'server-key.pem'),
    clientCert: path.join(dir, 'cert.pem'),
    clientKey: path.join(dir, 'key.pem'),
  };
}

export interface PeerOptions {
  /** Users for htpasswd basic auth (bcrypt, as Distribution requires). */
  users?: Record<string, string>;
  /** Serve HTTPS with a fresh CA; the CA is in `ca` of the result. */
  tls?: boolean;
  /** Allow DELETE (Distribution's storage.delete.enabled). Default true. */
  deletes?: boolean;
  /** Run as a pull-through cache of this upstream URL. */
  proxyRemote?: string;
}

export interface DistributionPeer {
  /** http(s)://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, as an image reference names it. */
  host: string;
  port: number;
  /** Its storage root (and the temp dir with config, htpasswd, certs). */
  dir: string;
  /** PEM of the CA that signed its certificate, when tls. */
  ca?: string;
  certs?: Awaited<ReturnType<typeof makeTestCerts>>;
  stop(): Promise<void>;
  logs(): string;
}

/** Starts Debian's docker-registry and waits until /v2/ answers. */
export async function startDistribution(o: PeerOptions = {}): Promise<DistributionPeer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-distribution-'));
  const port = await freePort();
  let certs: DistributionPeer['certs'];
  if (o.tls) certs = await makeTestCerts(path.join(dir, 'certs'));
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    `    enabled: ${o.deletes !== false}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ...(certs ? ['  tls:', `    certificate: ${certs.cert}`, `    key: ${certs.key}`] : []),
  ];
  if (o.users) {
    const file = path.join(dir, 'htpasswd');
    writeFileSync(file, '');
    for (const [user, pass] of Object.entries(o.users)) {
      const r = spawnSync('htpasswd', ['-Bb', file, user, pass], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
    }
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${file}`);
  }
  if (o.proxyRemote) lines.push('proxy:', `  remoteurl: ${o.proxyRemote}`);
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, lines.join('\n') + '\n');
  let out = '';
  const proc: ChildProcess = spawn(DOCKER_REGISTRY, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const scheme = certs ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}`;
  const peer: DistributionPeer = {
    url,
    host: `127.0.0.1:${port}`,
    port,
    dir,
    ca: certs ? readFileSync(certs.ca, 'utf8') : undefined,
    certs,
    logs: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) {
      await peer.stop();
      throw new Error(`docker-registry exited ${proc.exitCode}: ${out}`);
    }
    const status = await probe(`${url}/v2/`, peer.ca).catch(() => 0);
    if (status === 200 || status === 401) return peer;
    await new Promise((r) => setTimeout(r, 50));
  }
  await peer.stop();
  throw new Error(`docker-registry did not answer within 10s: ${out}`);
}

function probe(url: string, ca?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ca, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}
