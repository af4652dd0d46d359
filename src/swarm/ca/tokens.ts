/**
 * Join tokens and autolock (unlock) keys, in Docker's formats.
 *
 * Join token: `SWMTKN-1-<sha256 of the root CA, base36, zero-padded to 50>-<16 random bytes, base36,
 * zero-padded to 25>` (swarmkit's v1 format). A joining node pins the CA by the digest; the managers
 * compare the secret. Berth's digest is of the CA certificate's DER (swarmkit hashes its PEM).
 *
 * Unlock key: `SWMKEY-1-<32 random bytes, base64 without padding>`. It encrypts the node's TLS key
 * (and the CA key in the store) with AES-256-GCM while autolock is on.
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import { BerthError, invalidArgument } from '../../lib/errors.js';
import { caDigest } from './certs.js';

const DIGEST_LEN = 50;
const SECRET_LEN = 25;
const BASE36 = /^[0-9a-z]+$/;

function base36(bytes: Buffer, width: number): string {
  return BigInt('0x' + (bytes.toString('hex') || '0')).toString(36).padStart(width, '0');
}

/** A fresh join-token secret (25 base36 characters). */
export function newJoinSecret(): string {
  return base36(randomBytes(16), SECRET_LEN);
}

/** A join token for the cluster whose root CA is `caCertPem`; `secret` keeps an existing one. */
export function makeJoinToken(caCertPem: string, secret = newJoinSecret()): string {
  if (secret.length !== SECRET_LEN || !BASE36.test(secret)) throw invalidArgument('invalid join token secret');
  return `SWMTKN-1-${base36(Buffer.from(caDigest(caCertPem), 'hex'), DIGEST_LEN)}-${secret}`;
}

/** The CA digest (hex sha256) and secret of a join token; dockerd's "invalid join token" otherwise. */
export function parseJoinToken(token: string): { caDigest: string; secret: string } {
  const bad = () => invalidArgument('invalid join token');
  const parts = String(token).trim().split('-');
  if (parts[0] !== 'SWMTKN') throw bad();
  // v1: SWMTKN-1-<digest>-<secret>; v2 (FIPS) SWMTKN-2-<0|1>-<digest>-<secret>.
  if (parts[1] === '1') {
    if (parts.length !== 4) throw bad();
  } else if (parts[1] === '2') {
    if (parts.length !== 5 || (parts[2] !== '0' && parts[2] !== '1')) throw bad();
  } else throw bad();
  const secret = parts[parts.length - 1]!;
  const digest = parts[parts.length - 2]!;
  if (digest.length !== DIGEST_LEN || secret.length !== SECRET_LEN || !BASE36.test(digest) || !BASE36.test(secret)) throw bad();
  let n = 0n;
  for (const ch of digest) n = n * 36n + BigInt(parseInt(ch, 36));
  const hex = n.toString(16);
  if (hex.length > 64) throw bad();
  return { caDigest: hex.padStart(64, '0'), secret };
}

/** Constant-time comparison of two join-token secrets. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// ---------------------------------------------------------------- unlock keys

const KEY_PREFIX = 'SWMKEY-1-';

export function makeUnlockKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64').replace(/=+$/, '');
}

/** The 32 key bytes; InvalidArgument "invalid key string" as dockerd (swarmkit's ParseHumanReadableKey). */
export function parseUnlockKey(key: string): Buffer {
  const s = String(key).trim();
  const body = s.slice(KEY_PREFIX.length);
  if (!s.startsWith(KEY_PREFIX) || !/^[A-Za-z0-9+/]*$/.test(body)) throw invalidArgument('invalid key string');
  const bytes = Buffer.from(body, 'base64');
  if (bytes.length !== 32) throw invalidArgument('invalid key string');
  return bytes;
}

/** dockerd's answer to a wrong unlock key (401). */
export const invalidUnlockKey = () => new BerthError('Unauthorized', 'swarm could not be unlocked: invalid key provided');

const BLOB_PREFIX = 'berth-aes256gcm-1:';

/** `pem` encrypted with the unlock key: "berth-aes256gcm-1:" + base64(iv | tag | ciphertext). */
export function encryptKey(pem: string, unlockKey: string): string {
  const key = parseUnlockKey(unlockKey);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(pem, 'utf8'), c.final()]);
  return BLOB_PREFIX + Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
}

/** True when `blob` is what encryptKey made (not a plain PEM). */
export function isEncryptedKey(blob: string): boolean {
  return blob.startsWith(BLOB_PREFIX);
}

/** The PEM back; a wrong (or malformed) key gets dockerd's "swarm could not be unlocked: invalid key provided". */
export function decryptKey(blob: string, unlockKey: string): string {
  let key: Buffer;
  try {
    key = parseUnlockKey(unlockKey);
  } catch {
    throw invalidUnlockKey();
  }
  if (!isEncryptedKey(blob)) throw invalidArgument('the key is not encrypted');
  const raw = Buffer.from(blob.slice(BLOB_PREFIX.length), 'base64');
  if (raw.length < 29) throw invalidUnlockKey();
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch {
    throw invalidUnlockKey();
  }
}
