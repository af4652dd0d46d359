import { randomBytes } from 'node:crypto';

/**
 * A 25-char lowercase base36 id, as swarmkit's identity.NewID (128 random bits). A local copy until the
 * manager's src/swarm/ids.ts (newSwarmId) lands; the format is the same.
 */
export function newTaskId(): string {
  const n = BigInt('0x' + randomBytes(16).toString('hex'));
  return n.toString(36).padStart(25, '0');
}
