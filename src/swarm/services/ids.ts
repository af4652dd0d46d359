/**
 * Swarm object IDs as Docker's identity.NewID: 25 lowercase base36 characters from 128 random bits.
 * (A copy of the manager part's src/swarm/ids.ts until it lands; same function.)
 */
import { randomBytes } from 'node:crypto';

export function newSwarmId(): string {
  const n = BigInt('0x' + randomBytes(16).toString('hex'));
  return n.toString(36).padStart(25, '0');
}
