/**
 * Certificates for etcd members until the swarm's own CA exists: one CA and, per member, a
 * certificate usable as server and as client (etcd presents the same one on both sides of peer
 * mutual TLS, and berthd uses it to talk to its member), with the member's addresses as
 * subjectAltNames. ECDSA P-256 keys (fast to make). Made through the openssl adapter.
 *
 * Files in `dir`: ca.pem, ca-key.pem, and <name>.pem / <name>-key.pem per member.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { generateKey, issue, selfSign } from '../../lib/openssl.js';
import type { EtcdTlsFiles } from './member.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function config(ips: string[]): string {
  const sans = ['DNS:localhost', ...ips.map((ip) => `IP:${ip}`)];
  return `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[ member_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = ${sans.join(', ')}
`;
}

/** Makes the CA in `dir` (if absent) and a certificate for each member; resolves with their TLS files. */
export async function createEtcdCerts(dir: string, members: { name: string; ips: string[] }[], days = 365): Promise<Map<string, EtcdTlsFiles>> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca-key.pem');
  const allIps = [...new Set(members.flatMap((m) => m.ips))];
  for (const m of members) {
    if (!NAME.test(m.name)) throw new Error(`invalid etcd member name: ${JSON.stringify(m.name)}`);
    for (const ip of m.ips) if (!net.isIP(ip)) throw new Error(`invalid IP address: ${JSON.stringify(ip)}`);
  }
  const cnf = path.join(dir, 'openssl.cnf');
  await fs.writeFile(cnf, config(allIps), { mode: 0o600 });
  try {
    const haveCa = await fs.access(ca).then(() => true, () => false);
    if (!haveCa) {
      await generateKey(caKey, 'ecdsa');
      await selfSign({ key: caKey, out: ca, commonName: 'Berth etcd CA', days, config: cnf, extensions: 'ca_ext' });
    }
    const out = new Map<string, EtcdTlsFiles>();
    for (const m of members) {
      await fs.writeFile(cnf, config(m.ips), { mode: 0o600 });
      const keyFile = path.join(dir, `${m.name}-key.pem`);
      const certFile = path.join(dir, `${m.name}.pem`);
      await generateKey(keyFile, 'ecdsa');
      await issue({ key: keyFile, csr: path.join(dir, `${m.name}.csr`), out: certFile, commonName: m.name, days, caCert: ca, caKey, config: cnf, extensions: 'member_ext' });
      await fs.rm(path.join(dir, `${m.name}.csr`), { force: true });
      out.set(m.name, { certFile, keyFile, caFile: ca });
    }
    return out;
  } finally {
    await fs.rm(cnf, { force: true });
  }
}
