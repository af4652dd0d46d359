/**
 * TEMPORARY stand-in for src/swarm/ca/ (helper ca-control), with the API CONTRACTS.md declares, so the
 * manager runs before it lands. Deleted once main has the real one (seams.ts switches the import).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openssl } from '../../../lib/openssl.js';
import { invalidArgument } from '../../../lib/errors.js';
import type { TLSInfo } from '../../types.js';
import { newSwarmId } from '../../ids.js';

export interface RootCA {
  cert: string;
  key: string;
}

async function inTemp<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-ca-'));
  try {
    return await f(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const serial = () => '0x' + randomBytes(16).toString('hex').replace(/^./, '1');
const days = (seconds: number) => String(Math.max(1, Math.ceil(seconds / 86400)));

export async function createRootCA(o: { expirySeconds?: number } = {}): Promise<RootCA> {
  return inTemp(async (dir) => {
    const key = path.join(dir, 'ca.key');
    const cert = path.join(dir, 'ca.crt');
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    await openssl(['req', '-new', '-x509', '-key', key, '-subj', '/CN=swarm-ca', '-days', days(o.expirySeconds ?? 20 * 365 * 86400), '-sha256', '-set_serial', serial(),
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', cert]);
    return { cert: await fs.readFile(cert, 'utf8'), key: await fs.readFile(key, 'utf8') };
  });
}

export async function createKeyAndCsr(cn: string): Promise<{ key: string; csr: string }> {
  return inTemp(async (dir) => {
    const key = path.join(dir, 'n.key');
    const csr = path.join(dir, 'n.csr');
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    await openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn.replace(/[^A-Za-z0-9.-]/g, '')}`, '-out', csr]);
    return { key: await fs.readFile(key, 'utf8'), csr: await fs.readFile(csr, 'utf8') };
  });
}

export async function issueNodeCert(ca: RootCA, csr: string, o: { nodeId: string; role: 'manager' | 'worker'; clusterId: string; expirySeconds: number; ips: string[] }): Promise<string> {
  return inTemp(async (dir) => {
    const f = (n: string) => path.join(dir, n);
    await fs.writeFile(f('ca.crt'), ca.cert);
    await fs.writeFile(f('ca.key'), ca.key, { mode: 0o600 });
    await fs.writeFile(f('n.csr'), csr);
    const ips = [...new Set([...o.ips, '127.0.0.1'])].map((ip) => `IP:${ip}`);
    await fs.writeFile(f('ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,${ips.join(',')}\n`);
    const ou = o.role === 'manager' ? 'swarm-manager' : 'swarm-worker';
    await openssl(['x509', '-req', '-in', f('n.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', serial(), '-days', days(o.expirySeconds), '-sha256',
      '-extfile', f('ext'), '-subj', `/O=${o.clusterId}/OU=${ou}/CN=${o.nodeId}`, '-out', f('n.crt')]);
    return fs.readFile(f('n.crt'), 'utf8');
  });
}

export function certInfo(pem: string): { nodeId: string; role: 'manager' | 'worker'; clusterId: string; notBefore: Date; notAfter: Date; issuerSubject: string; issuerPublicKey: string } {
  const x = new X509Certificate(pem);
  const field = (k: string) => x.subject.split('\n').find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
  return {
    nodeId: field('CN'),
    role: field('OU') === 'swarm-manager' ? 'manager' : 'worker',
    clusterId: field('O'),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    issuerSubject: '',
    issuerPublicKey: '',
  };
}

export function tlsInfo(caCertPem: string): TLSInfo {
  const x = new X509Certificate(caCertPem);
  return { TrustRoot: caCertPem, CertIssuerSubject: '', CertIssuerPublicKey: (x.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64') };
}

export function caDigest(caCertPem: string): string {
  return createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex');
}

export function makeJoinToken(caCertPem: string, secret = newSwarmId()): string {
  const digest = BigInt('0x' + caDigest(caCertPem)).toString(36).padStart(50, '0');
  return `SWMTKN-1-${digest}-${secret}`;
}

export function parseJoinToken(token: string): { caDigest: string; secret: string } {
  const m = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/.exec(token);
  if (!m) throw invalidArgument('invalid join token');
  let n = 0n;
  for (const ch of m[1]!) n = n * 36n + BigInt(parseInt(ch, 36));
  return { caDigest: n.toString(16).padStart(64, '0'), secret: m[2]! };
}

export function makeUnlockKey(): string {
  return `SWMKEY-1-${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
}

function keyBytes(unlockKey: string): Buffer {
  const m = /^SWMKEY-1-([A-Za-z0-9+/]+=*)$/.exec(unlockKey.trim());
  if (!m) throw invalidArgument('invalid key format');
  return createHash('sha256').update(Buffer.from(m[1]!, 'base64')).digest();
}

export function encryptKey(pem: string, unlockKey: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', keyBytes(unlockKey), iv);
  const body = Buffer.concat([c.update(pem, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
}

export function decryptKey(blob: string, unlockKey: string): string {
  const raw = Buffer.from(blob, 'base64');
  try {
    const d = createDecipheriv('aes-256-gcm', keyBytes(unlockKey), raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch (err) {
    if ((err as { kind?: string }).kind) throw err;
    throw invalidArgument('swarm could not be unlocked: invalid key provided');
  }
}
