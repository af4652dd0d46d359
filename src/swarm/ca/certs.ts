/**
 * The swarm's certificate authority: the root CA a cluster is made with (ECDSA P-256, CN "swarm-ca",
 * 20 years, as Docker), node certificates signed from a node's CSR with the identity the CA decides
 * (CN=<node ID>, OU=swarm-manager|swarm-worker, O=<cluster ID>), cross-signing for a root rotation,
 * and reading certificates back (certInfo, tlsInfo). Keys are made with node:crypto; signing goes
 * through the openssl adapter (src/lib/openssl.ts), in a private temporary directory removed after.
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BerthError, invalidArgument } from '../../lib/errors.js';
import { createRequest, requestFromCert, selfSign, signRequest } from '../../lib/openssl.js';
import type { TLSInfo } from '../types.js';
import { certificateParts } from './der.js';

export interface RootCA {
  /** PEM of the CA certificate (or a bundle, the first being the signing one). */
  cert: string;
  /** PEM (PKCS#8) of the CA's private key. */
  key: string;
}

export type NodeRole = 'manager' | 'worker';

/** Docker's defaults: the root CA lives 20 years, node certificates 90 days. */
export const ROOT_CA_EXPIRY_SECONDS = 20 * 365 * 24 * 3600;
export const NODE_CERT_EXPIRY_SECONDS = 90 * 24 * 3600;
export const ROOT_CN = 'swarm-ca';
export const roleOU = (role: NodeRole): string => (role === 'manager' ? 'swarm-manager' : 'swarm-worker');

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function opensslConfig(sans: string[] = []): string {
  return `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[ cross_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ node_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${sans.length ? `subjectAltName = ${sans.join(', ')}` : ''}
`;
}

/** Runs `fn` with a private temporary directory holding openssl.cnf; removes it afterwards. */
async function inTempDir<T>(sans: string[], fn: (p: (f: string) => string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-swarm-ca-'));
  try {
    await fs.chmod(dir, 0o700);
    const p = (f: string) => path.join(dir, f);
    await fs.writeFile(p('openssl.cnf'), opensslConfig(sans), { mode: 0o600 });
    return await fn(p);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const daysOf = (seconds: number) => Math.max(1, Math.ceil(seconds / 86400));

function newEcKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The certificates of a PEM bundle, each as its own PEM. */
export function splitPems(pem: string): string[] {
  return (pem.match(PEM_CERT) ?? []).map((c) => c + '\n');
}

function firstCert(pem: string): X509Certificate {
  const first = splitPems(pem)[0];
  if (!first) throw invalidArgument('no certificate found in PEM data');
  try {
    return new X509Certificate(first);
  } catch (err) {
    throw invalidArgument(`invalid certificate: ${(err as Error).message}`);
  }
}

/** A new root CA (ECDSA P-256, CN "swarm-ca"). */
export async function createRootCA(o: { expirySeconds?: number } = {}): Promise<RootCA> {
  const key = newEcKey();
  return inTempDir([], async (p) => {
    await fs.writeFile(p('ca.key'), key, { mode: 0o600 });
    await selfSign({ key: p('ca.key'), out: p('ca.crt'), commonName: ROOT_CN, days: daysOf(o.expirySeconds ?? ROOT_CA_EXPIRY_SECONDS), config: p('openssl.cnf'), extensions: 'ca_ext' });
    return { cert: await fs.readFile(p('ca.crt'), 'utf8'), key };
  });
}

/** A node's new private key (ECDSA P-256, PKCS#8 PEM) and a CSR for it with subject CN=`cn`. */
export async function createKeyAndCsr(cn: string): Promise<{ key: string; csr: string }> {
  if (!NAME.test(cn)) throw invalidArgument(`invalid certificate name: ${JSON.stringify(cn)}`);
  const key = newEcKey();
  return inTempDir([], async (p) => {
    await fs.writeFile(p('node.key'), key, { mode: 0o600 });
    await createRequest({ key: p('node.key'), out: p('node.csr'), commonName: cn, config: p('openssl.cnf') });
    return { key, csr: await fs.readFile(p('node.csr'), 'utf8') };
  });
}

/**
 * Signs a node's CSR. The subject is the CA's choice (CN=<nodeId>, OU=swarm-<role>, O=<clusterId>),
 * whatever the CSR asked; usable as TLS server and client; SANs DNS swarm-<role> and the node ID,
 * the given IPs and 127.0.0.1.
 */
export async function issueNodeCert(
  ca: RootCA,
  csr: string,
  o: { nodeId: string; role: NodeRole; clusterId: string; expirySeconds?: number; ips: string[] },
): Promise<string> {
  if (!NAME.test(o.nodeId)) throw invalidArgument(`invalid node ID: ${JSON.stringify(o.nodeId)}`);
  if (!NAME.test(o.clusterId)) throw invalidArgument(`invalid cluster ID: ${JSON.stringify(o.clusterId)}`);
  if (o.role !== 'manager' && o.role !== 'worker') throw invalidArgument(`invalid role: ${JSON.stringify(o.role)}`);
  for (const ip of o.ips) if (!net.isIP(ip)) throw invalidArgument(`invalid IP address: ${JSON.stringify(ip)}`);
  if (!/-----BEGIN CERTIFICATE REQUEST-----/.test(csr)) throw invalidArgument('invalid certificate signing request');
  const sans = [`DNS:${roleOU(o.role)}`, `DNS:${o.nodeId}`, ...[...new Set([...o.ips, '127.0.0.1'])].map((ip) => `IP:${ip}`)];
  return inTempDir(sans, async (p) => {
    await fs.writeFile(p('ca.crt'), splitPems(ca.cert)[0] ?? ca.cert);
    await fs.writeFile(p('ca.key'), ca.key, { mode: 0o600 });
    await fs.writeFile(p('node.csr'), csr);
    try {
      await signRequest({
        csr: p('node.csr'), out: p('node.crt'), caCert: p('ca.crt'), caKey: p('ca.key'), days: daysOf(o.expirySeconds ?? NODE_CERT_EXPIRY_SECONDS),
        config: p('openssl.cnf'), extensions: 'node_ext',
        // Go's order of a pkix.Name: O, OU, CN.
        subject: [['O', o.clusterId], ['OU', roleOU(o.role)], ['CN', o.nodeId]],
      });
    } catch (err) {
      throw new BerthError('InvalidArgument', `could not sign the certificate request: ${(err as Error).message}`, { cause: err });
    }
    return fs.readFile(p('node.crt'), 'utf8');
  });
}

/**
 * The new root's certificate signed by the old root (same subject and key as the new root), so that
 * nodes still trusting only the old root accept certificates of the new one during `ca --rotate`:
 * a node presents [its cert, this cross-signed cert].
 */
export async function crossSignRoot(oldCa: RootCA, newCa: RootCA): Promise<string> {
  const oldCert = firstCert(oldCa.cert);
  const remaining = (Date.parse(oldCert.validTo) - Date.now()) / 1000;
  if (remaining <= 0) throw invalidArgument('the old root CA certificate has expired');
  return inTempDir([], async (p) => {
    await fs.writeFile(p('old.crt'), oldCert.toString());
    await fs.writeFile(p('old.key'), oldCa.key, { mode: 0o600 });
    await fs.writeFile(p('new.crt'), splitPems(newCa.cert)[0] ?? newCa.cert);
    await fs.writeFile(p('new.key'), newCa.key, { mode: 0o600 });
    await requestFromCert({ cert: p('new.crt'), key: p('new.key'), out: p('new.csr') });
    await signRequest({ csr: p('new.csr'), out: p('cross.crt'), caCert: p('old.crt'), caKey: p('old.key'), days: Math.max(1, Math.floor(remaining / 86400)), config: p('openssl.cnf'), extensions: 'cross_ext' });
    return fs.readFile(p('cross.crt'), 'utf8');
  });
}

export interface CertInfo {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  notBefore: Date;
  notAfter: Date;
  /** base64 of the DER issuer name (TLSInfo.CertIssuerSubject). */
  issuerSubject: string;
  /** base64 of the issuer's DER SubjectPublicKeyInfo (TLSInfo.CertIssuerPublicKey); '' when the issuer is not known. */
  issuerPublicKey: string;
}

/** The subject's attributes (node prints them one a line, "CN=x"). */
function subjectAttrs(cert: X509Certificate): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of cert.subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** The swarm identity in a node certificate: CN node ID, OU role, O cluster ID. */
export function peerIdentity(cert: X509Certificate): { nodeId: string; role: NodeRole; clusterId: string } | undefined {
  const a = subjectAttrs(cert);
  const ou = a.get('OU');
  const role = ou === 'swarm-manager' ? 'manager' : ou === 'swarm-worker' ? 'worker' : undefined;
  const nodeId = a.get('CN');
  if (!role || !nodeId) return undefined;
  return { nodeId, role, clusterId: a.get('O') ?? '' };
}

/**
 * What a node certificate says. `pem` may carry the issuer after the node certificate (the chain a
 * node presents); else the issuer is looked for in `issuers` (a CA bundle) by who signed it.
 */
export function certInfo(pem: string, issuers = ''): CertInfo {
  const chain = splitPems(pem);
  const cert = firstCert(pem);
  const id = peerIdentity(cert);
  if (!id) throw invalidArgument('not a swarm node certificate (its subject has no swarm-manager or swarm-worker OU)');
  const parts = certificateParts(cert.raw);
  const candidates = [...chain.slice(1), ...splitPems(issuers)].map((c) => new X509Certificate(c));
  const issuer = candidates.find((c) => cert.checkIssued(c) && cert.verify(c.publicKey));
  return {
    ...id,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    issuerSubject: parts.issuer.toString('base64'),
    issuerPublicKey: issuer ? certificateParts(issuer.raw).subjectPublicKeyInfo.toString('base64') : '',
  };
}

/** TLSInfo as GET /swarm shows it: the trust root and the root's raw subject and public key. */
export function tlsInfo(caCertPem: string): TLSInfo {
  const parts = certificateParts(firstCert(caCertPem).raw);
  return {
    TrustRoot: splitPems(caCertPem).join(''),
    CertIssuerSubject: parts.subject.toString('base64'),
    CertIssuerPublicKey: parts.subjectPublicKeyInfo.toString('base64'),
  };
}

/** sha256 (hex) of the DER of the first certificate in `caCertPem`: what join tokens carry. */
export function caDigest(caCertPem: string): string {
  return createHash('sha256').update(firstCert(caCertPem).raw).digest('hex');
}

/** sha256 (hex) of a DER certificate. */
export function derDigest(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** True when `certPem`'s first certificate was signed by one of the certificates of `caPem` and is valid now. */
export function isSignedBy(certPem: string, caPem: string): boolean {
  const cert = firstCert(certPem);
  const now = Date.now();
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) return false;
  return splitPems(caPem).some((c) => {
    const ca = new X509Certificate(c);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  });
}
