/**
 * Promote/demote on the manager that served `docker node update --role` (the NodeApi's onRoleChange):
 * a demoted manager's etcd member is removed at once (its quorum was checked by the NodeApi) and its
 * ManagerStatus cleared; the node learns its new role from cert-keeper.ts and restarts as a worker.
 * A promoted node asks for its manager certificate itself (CertAuthority.renew adds its etcd member
 * then, when it can give its peer URL), so promotion needs nothing here.
 */
import { log } from '../../lib/log.js';
import type { SwarmStore } from '../contracts.js';
import { EtcdError, type EtcdClient } from '../etcd/client.js';
import type { NodeRole } from '../types.js';

export async function applyRoleChange(d: { store: SwarmStore; etcd: EtcdClient }, nodeId: string, role: NodeRole): Promise<void> {
  if (role !== 'worker') return;
  const member = (await d.etcd.memberList()).find((m) => m.name === nodeId);
  if (member) {
    try {
      await removeMember(d.etcd, member.id);
    } catch (err) {
      // The spec says worker already: put it back, or the node would leave a dead member behind.
      await d.store.nodes.modify(nodeId, (n) => ({ ...n, Spec: { ...n.Spec, Role: 'manager' } })).catch(() => undefined);
      throw err;
    }
  } else log.warn('swarm demote: the node has no etcd member', { node: nodeId });
  await d.store.nodes.modify(nodeId, (n) => {
    if (!n.ManagerStatus) return undefined;
    const { ManagerStatus: _gone, ...rest } = n;
    return rest;
  });
}

/** etcd refuses a removal ("unhealthy cluster") until every member has been connected for 5 s, as right after a promotion: retried for 15 s. */
async function removeMember(etcd: EtcdClient, id: string): Promise<void> {
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      await etcd.memberRemove(id);
      return;
    } catch (err) {
      if (!(err instanceof EtcdError && /unhealthy cluster/.test(err.message)) || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
