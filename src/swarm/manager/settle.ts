/**
 * The wait at the end of `swarm init`: dockerd answers once its node is registered and leads, so a client
 * that reads the node and updates it at once (docker-py's tests do) holds its current version. Berth's
 * leader writes the node right after init: its duties' start (the node's ingress address), then the Leader
 * flag (leadership.ts calls onChange after the duties started). init waits for the flag, within a bound
 * (it never fails because of it).
 */
import type { SwarmStore } from '../contracts.js';
import type { SwarmNode } from '../types.js';
import { sleep } from '../../lib/sleep.js';

export const nodeSettled = (n: SwarmNode | undefined): boolean => Boolean(n?.ManagerStatus?.Leader);

export async function waitNodeSettled(store: SwarmStore, nodeId: string, o: { timeoutMs?: number; pollMs?: number } = {}): Promise<boolean> {
  const end = Date.now() + (o.timeoutMs ?? 5_000);
  for (;;) {
    const node = await store.nodes.get(nodeId).catch(() => undefined);
    if (nodeSettled(node)) return true;
    if (Date.now() >= end) return false;
    await sleep(o.pollMs ?? 20);
  }
}
