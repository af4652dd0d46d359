import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import {
  caDigest, certInfo, createKeyAndCsr, createRootCA, crossSignRoot, decryptKey, encryptKey, isSignedBy, issueNodeCert,
  makeJoinToken, makeUnlockKey, parseJoinToken, parseUnlockKey, splitPems, tlsInfo, type RootCA,
} from '../../src/swarm/ca/index.js';
import { certificateParts } from '../../src/swarm/ca/der.js';
import { BerthError } from '../../src/lib/errors.js';

let rootPromise: Promise<RootCA> | undefined;
const root = () => (rootPromise ??= createRootCA());

test('root CA: ECDSA P-256, CN swarm-ca, a CA for 20 years', async () => {
  const ca = await root();
  const x = new X509Certificate(ca.cert);
  assert.equal(x.subject, 'CN=swarm-ca');
  assert.equal(x.issuer, 'CN=swarm-ca');
  assert.ok(x.ca);
  assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const years = (Date.parse(x.validTo) - Date.now()) / (365 * 86400e3);
  assert.ok(years > 19.9 && years < 20.1, `validity ${years} years`);
  assert.match(ca.key, /BEGIN PRIVATE KEY/);
});

test('node certificate: identity decided by the CA, server+client usage, SANs', async () => {
  const ca = await root();
  const { key, csr } = await createKeyAndCsr('whatever-the-node-asks');
  assert.match(key, /BEGIN PRIVATE KEY/);
  const pem = await issueNodeCert(ca, csr, { nodeId: 'n0de1d', role: 'manager', clusterId: 'clu5ter', expirySeconds: 3 * 86400, ips: ['10.1.2.3'] });
  const x = new X509Certificate(pem);
  assert.equal(x.subject, 'O=clu5ter\nOU=swarm-manager\nCN=n0de1d');
  assert.equal(x.subjectAltName, 'DNS:swarm-manager, DNS:n0de1d, IP Address:10.1.2.3, IP Address:127.0.0.1');
  assert.deepEqual(x.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.ok(!x.ca);
  assert.ok(x.checkPrivateKey((await import('node:crypto')).createPrivateKey(key)));
  assert.ok(isSignedBy(pem, ca.cert));
  const info = certInfo(pem, ca.cert);
  assert.equal(info.nodeId, 'n0de1d');
  assert.equal(info.role, 'manager');
  assert.equal(info.clusterId, 'clu5ter');
  const days = (info.notAfter.getTime() - info.notBefore.getTime()) / 86400e3;
  assert.ok(days > 2.9 && days < 3.1);
  // The issuer fields are the root's subject and key, as TLSInfo shows them.
  const t = tlsInfo(ca.cert);
  assert.equal(info.issuerSubject, t.CertIssuerSubject);
  assert.equal(info.issuerPublicKey, t.CertIssuerPublicKey);
  // A worker gets the worker OU and SAN.
  const w = new X509Certificate(await issueNodeCert(ca, csr, { nodeId: 'w1', role: 'worker', clusterId: 'clu5ter', ips: [] }));
  assert.equal(w.subject, 'O=clu5ter\nOU=swarm-worker\nCN=w1');
  assert.equal(w.subjectAltName, 'DNS:swarm-worker, DNS:w1, IP Address:127.0.0.1');
  // Default node certificate life: 90 days.
  assert.ok(Math.abs((Date.parse(w.validTo) - Date.now()) / 86400e3 - 90) < 1.1);
});

test('node certificate: bad input is refused with InvalidArgument and nothing signed', async () => {
  const ca = await root();
  const { csr } = await createKeyAndCsr('x');
  const base = { nodeId: 'n', role: 'worker' as const, clusterId: 'c', ips: [] as string[] };
  for (const o of [{ ...base, nodeId: 'a/b' }, { ...base, clusterId: 'x=y' }, { ...base, ips: ['1.2.3'] }, { ...base, role: 'boss' as 'worker' }]) {
    await assert.rejects(issueNodeCert(ca, csr, o), (e: unknown) => e instanceof BerthError && e.kind === 'InvalidArgument');
  }
  await assert.rejects(issueNodeCert(ca, 'garbage', base), /invalid certificate signing request/);
  // A request whose self-signature does not hold (a byte of its public key flipped).
  const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 80]! ^= 0x01;
  const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(issueNodeCert(ca, broken, base), /could not sign/);
  await assert.rejects(createKeyAndCsr('bad name'), /invalid certificate name/);
});

test('tlsInfo: trust root PEM and base64 DER of the root subject and SPKI', async () => {
  const ca = await root();
  const t = tlsInfo(ca.cert);
  assert.equal(t.TrustRoot, ca.cert.trim() + '\n');
  const x = new X509Certificate(ca.cert);
  assert.equal(t.CertIssuerPublicKey, x.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'));
  // The subject DER of "CN=swarm-ca": SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "swarm-ca" } } }.
  const subj = Buffer.from(t.CertIssuerSubject, 'base64');
  assert.equal(subj[0], 0x30);
  assert.ok(subj.includes(Buffer.from('swarm-ca')));
  assert.ok(subj.includes(Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03])));
  assert.deepEqual(certificateParts(x.raw).issuer, subj);
});

test('join tokens: format, digest of the CA DER, round trip, dockerd errors', async () => {
  const ca = await root();
  const token = makeJoinToken(ca.cert);
  assert.match(token, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  const digest = createHash('sha256').update(new X509Certificate(ca.cert).raw).digest('hex');
  assert.equal(caDigest(ca.cert), digest);
  const parsed = parseJoinToken(token);
  assert.equal(parsed.caDigest, digest);
  assert.equal(parsed.secret, token.slice(-25));
  assert.notEqual(makeJoinToken(ca.cert), token, 'fresh secrets');
  assert.equal(makeJoinToken(ca.cert, parsed.secret), token, 'kept secret');
  // The digest in base 36 is the number of the sha256.
  assert.equal(BigInt('0x' + digest).toString(36).padStart(50, '0'), token.split('-')[2]);
  // v2 (FIPS) tokens parse too.
  assert.equal(parseJoinToken(`SWMTKN-2-1-${token.split('-')[2]}-${parsed.secret}`).caDigest, digest);
  for (const bad of ['', 'SWMTKN', 'SWMTKN-1-abc-def', token + '-x', token.replace('SWMTKN', 'SWMTKX'), token.replace('-1-', '-3-'),
    token.slice(0, -1), token.slice(0, -1) + 'Z', `SWMTKN-1-${'z'.repeat(50)}-${parsed.secret}`, `SWMTKN-2-2-${token.split('-')[2]}-${parsed.secret}`]) {
    assert.throws(() => parseJoinToken(bad), (e: unknown) => e instanceof BerthError && e.kind === 'InvalidArgument' && e.message === 'invalid join token', bad);
  }
});

test('unlock keys: SWMKEY-1 format, AES-256-GCM round trip, dockerd wrong-key error', () => {
  const key = makeUnlockKey();
  assert.match(key, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
  assert.equal(parseUnlockKey(key).length, 32);
  assert.throws(() => parseUnlockKey('SWMKEY-2-abc'), /^InvalidArgument: invalid key string$/);
  assert.throws(() => parseUnlockKey('SWMKEY-1-abc'), /invalid key string/);
  const secret = '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n';
  const blob = encryptKey(secret, key);
  assert.ok(!blob.includes('abc'));
  assert.notEqual(encryptKey(secret, key), blob, 'fresh IV');
  assert.equal(decryptKey(blob, key), secret);
  const wrong = (e: unknown) => e instanceof BerthError && e.kind === 'Unauthorized' && e.message === 'swarm could not be unlocked: invalid key provided';
  assert.throws(() => decryptKey(blob, makeUnlockKey()), wrong);
  assert.throws(() => decryptKey(blob, 'not a key'), wrong);
  const raw = Buffer.from(blob.split(':')[1]!, 'base64');
  raw[raw.length - 1]! ^= 1;
  assert.throws(() => decryptKey(`berth-aes256gcm-1:${raw.toString('base64')}`, key), wrong, 'tampered');
});

test('cross-signed root: certificates of the new root chain to the old one', async () => {
  const oldCa = await root();
  const newCa = await createRootCA();
  const cross = await crossSignRoot(oldCa, newCa);
  const c = new X509Certificate(cross);
  const n = new X509Certificate(newCa.cert);
  assert.equal(c.subject, n.subject);
  assert.equal(c.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), n.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'));
  assert.ok(c.ca);
  assert.ok(isSignedBy(cross, oldCa.cert));
  assert.ok(!isSignedBy(newCa.cert, oldCa.cert));
  const { csr } = await createKeyAndCsr('x');
  const leaf = await issueNodeCert(newCa, csr, { nodeId: 'n', role: 'worker', clusterId: 'c', ips: [] });
  assert.ok(isSignedBy(leaf, newCa.cert));
  assert.ok(isSignedBy(leaf, cross), 'same key and subject: the cross-signed cert is an issuer too');
  assert.equal(splitPems(leaf + cross).length, 2);
  // certInfo finds the issuer in the presented chain.
  assert.equal(certInfo(leaf + cross).issuerPublicKey, tlsInfo(newCa.cert).CertIssuerPublicKey);
});
