import { randomBytes } from 'node:crypto';

/**
 * A swarm object ID as Docker's identity.NewID makes them: 25 lowercase base36 characters from a
 * random 128-bit number (left-padded with zeros).
 */
export function newSwarmId(): string {
  const n = BigInt('0x' + randomBytes(16).toString('hex'));
  return n.toString(36).padStart(25, '0');
}
