/**
 * The cluster's secrets key and what it does (docs/swarm.md "Secrets and configs"): secret data is
 * stored in the cluster store only sealed with it, AES-256-GCM with a fresh 96-bit nonce per seal, as
 * base64(nonce | tag | ciphertext). The key is 32 random bytes made at `swarm init`; every manager keeps
 * it (secrets-key.ts), workers never see it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretSealer } from '../contracts.js';

export const SECRETS_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function newSecretsKey(): Buffer {
  return randomBytes(SECRETS_KEY_BYTES);
}

export function createSealer(key: Buffer): SecretSealer {
  if (key.length !== SECRETS_KEY_BYTES) throw new Error(`a secrets key has ${SECRETS_KEY_BYTES} bytes, not ${key.length}`);
  const k = Buffer.from(key); // the caller's buffer may be reused or wiped
  return {
    seal(clear: Buffer): string {
      const nonce = randomBytes(NONCE_BYTES);
      const c = createCipheriv('aes-256-gcm', k, nonce);
      const body = Buffer.concat([c.update(clear), c.final()]);
      return Buffer.concat([nonce, c.getAuthTag(), body]).toString('base64');
    },
    open(sealed: string): Buffer {
      const raw = Buffer.from(String(sealed), 'base64');
      if (raw.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed secret data is malformed');
      try {
        const d = createDecipheriv('aes-256-gcm', k, raw.subarray(0, NONCE_BYTES));
        d.setAuthTag(raw.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
        return Buffer.concat([d.update(raw.subarray(NONCE_BYTES + TAG_BYTES)), d.final()]);
      } catch {
        throw new Error('sealed secret data was not made with this swarm\'s secrets key (or was altered)');
      }
    },
  };
}
