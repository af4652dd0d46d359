/**
 * Makes what `berthd --tlsverify` and its clients need, the steps of Docker's "Protect the Docker
 * daemon socket" guide in one go: a CA, a server certificate (subjectAltName with the daemon's
 * names and addresses, extendedKeyUsage serverAuth) and a client certificate (extendedKeyUsage
 * clientAuth), all signed by that CA.
 *
 * Files, in one directory: ca.pem, ca-key.pem, server-cert.pem, server-key.pem, cert.pem, key.pem.
 * Keys are mode 0400, certificates 0444. Everything is made in a private temporary directory inside
 * the target and renamed into place at the end, so a failure leaves no partial set; existing files
 * are only replaced with `force`.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { generateKey, issue, selfSign, verify, type KeyType } from '../lib/openssl.js';

export const CERT_FILES = ['ca.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem', 'cert.pem', 'key.pem'] as const;
const KEY_FILES = new Set(['ca-key.pem', 'server-key.pem', 'key.pem']);

export interface CertsOptions {
  /** DNS names (or IP addresses) clients use to reach the daemon; the first is the server's CN. */
  hosts: string[];
  ips: string[];
  out: string;
  days: number;
  keyType: KeyType;
  force: boolean;
}

export interface CertsResult {
  dir: string;
  serverName: string;
  /** subjectAltName entries of the server certificate, e.g. "DNS:myhost", "IP:127.0.0.1". */
  altNames: string[];
}

export class CertsError extends Error {}

const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;

/** The server certificate's names: the given ones plus localhost and 127.0.0.1 (as Docker's guide). */
export function altNames(hosts: string[], ips: string[]): { serverName: string; altNames: string[] } {
  const names: string[] = [];
  const addrs: string[] = [];
  for (const h of hosts) {
    if (net.isIP(h)) addrs.push(h);
    else if (DNS_NAME.test(h) && h.length <= 253) names.push(h.replace(/\.$/, ''));
    else throw new CertsError(`invalid host name: ${JSON.stringify(h)}`);
  }
  for (const ip of ips) {
    if (!net.isIP(ip)) throw new CertsError(`invalid IP address: ${JSON.stringify(ip)}`);
    addrs.push(ip);
  }
  const serverName = names[0] ?? addrs[0] ?? 'localhost';
  const all = [...new Set([...names, 'localhost'])].map((n) => `DNS:${n}`).concat([...new Set([...addrs, '127.0.0.1'])].map((a) => `IP:${a}`));
  return { serverName, altNames: all };
}

/** This machine's name, when it is usable as a DNS name. */
export function defaultHostName(): string | undefined {
  const h = os.hostname();
  return DNS_NAME.test(h) ? h : undefined;
}

function opensslConfig(sans: string[]): string {
  return `# Written by berth certs create; used once and removed.
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${sans.join(', ')}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
`;
}

export async function createCerts(o: CertsOptions): Promise<CertsResult> {
  if (!Number.isInteger(o.days) || o.days < 1) throw new CertsError(`invalid number of days: ${o.days}`);
  const { serverName, altNames: sans } = altNames(o.hosts, o.ips);
  const dir = path.resolve(o.out);
  await fs.mkdir(dir, { recursive: true });
  const existing: string[] = [];
  for (const f of CERT_FILES) {
    try {
      await fs.lstat(path.join(dir, f));
      existing.push(f);
    } catch {
      // free
    }
  }
  if (existing.length && !o.force) {
    throw new CertsError(`${dir} already has ${existing.join(', ')}: choose another directory with --out, or replace them with --force (clients holding certificates of the old CA will stop working)`);
  }

  const tmp = await fs.mkdtemp(path.join(dir, '.berth-certs-'));
  try {
    const p = (f: string) => path.join(tmp, f);
    const config = p('openssl.cnf');
    await fs.writeFile(config, opensslConfig(sans), { mode: 0o600 });
    const days = o.days;
    await generateKey(p('ca-key.pem'), o.keyType);
    // A name of its own, so that clients never mistake another berth CA for this one (Go picks the
    // client certificate to send by the issuer names the daemon asks for).
    await selfSign({ key: p('ca-key.pem'), out: p('ca.pem'), commonName: `Berth CA ${randomBytes(4).toString('hex')} for ${serverName}`, days, config, extensions: 'ca_ext' });
    await generateKey(p('server-key.pem'), o.keyType);
    await issue({
      key: p('server-key.pem'), csr: p('server.csr'), out: p('server-cert.pem'), commonName: serverName, days,
      caCert: p('ca.pem'), caKey: p('ca-key.pem'), config, extensions: 'server_ext',
    });
    await generateKey(p('key.pem'), o.keyType);
    await issue({
      key: p('key.pem'), csr: p('client.csr'), out: p('cert.pem'), commonName: 'client', days,
      caCert: p('ca.pem'), caKey: p('ca-key.pem'), config, extensions: 'client_ext',
    });
    await verify(p('ca.pem'), p('server-cert.pem'), 'sslserver');
    await verify(p('ca.pem'), p('cert.pem'), 'sslclient');
    for (const f of CERT_FILES) {
      await fs.chmod(p(f), KEY_FILES.has(f) ? 0o400 : 0o444);
      if (o.force) await fs.rm(path.join(dir, f), { force: true });
      await fs.rename(p(f), path.join(dir, f));
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return { dir, serverName, altNames: sans };
}
