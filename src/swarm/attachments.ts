/**
 * Addresses on attachable overlays for containers outside services (`docker run --network <overlay>`
 * on any node): swarmkit's network attachment tasks. A manager hands them out from the cluster's view
 * of every address in use (services/addresses.ts) and records each one on the container's node
 * (SwarmNode.BerthAttachments), so the leader's allocator never gives it to a task and it goes with
 * the node if the node is removed. Workers ask a manager over the control plane (`attachmentRoutes`).
 *
 * The other nodes need no record to reach the container: the VXLAN devices flood to every peer and learn
 * (networks/overlay/plan.ts), and the MAC is derived from the address.
 */
import { forbidden, invalidArgument, notFound, unavailable } from '../lib/errors.js';
import { KeyedMutex } from '../lib/mutex.js';
import type { SwarmStore } from './contracts.js';
import type { SwarmNode } from './types.js';
import type { ControlServer, Peer } from './control/index.js';
import { pickFree, poolOf, usedAddresses, withPrefix } from './services/addresses.js';

export interface AttachmentRequest {
  networkId: string;
  containerId: string;
  /** The node the container runs on. */
  nodeId: string;
}

/** One at a time per manager: each allocation scans the store and then writes it. */
const allocations = new KeyedMutex();

/** The container's address on the network (CIDR), the one it holds already if it has one. */
export async function allocateAttachment(store: SwarmStore, req: AttachmentRequest): Promise<string> {
  return allocations.run('all', async () => {
    const network = await store.networks.get(req.networkId);
    if (!network) throw notFound(`network ${req.networkId} not found`);
    if (!network.Spec.Attachable) throw forbidden(`Could not attach to network ${network.Spec.Name}: rpc error: code = PermissionDenied desc = network ${network.Spec.Name} not manually attachable`);
    const pool = poolOf(network);
    if (!pool) throw unavailable(`network ${network.Spec.Name} has no subnet`);
    const node = await store.nodes.get(req.nodeId);
    if (!node) throw notFound(`node ${req.nodeId} not found`);
    const held = heldBy(node.BerthAttachments, req);
    if (held) return held.Address;
    const ip = pickFree(pool, (await usedAddresses(store)).get(network.ID) ?? new Set<number>());
    if (ip === undefined) throw unavailable(`could not allocate IP from IPAM: no available IPv4 addresses on network ${network.Spec.Name}`);
    const wanted = { NetworkID: req.networkId, ContainerID: req.containerId, Address: withPrefix(ip, pool) };
    const stored = await store.nodes.modify(req.nodeId, (n) => (heldBy(n.BerthAttachments, req) ? undefined : { ...n, BerthAttachments: [...(n.BerthAttachments ?? []), wanted] }));
    if (!stored) throw notFound(`node ${req.nodeId} not found`);
    return heldBy(stored.BerthAttachments, req)?.Address ?? wanted.Address;
  });
}

/** Gives the container's address back (nothing to do when it holds none). */
export async function releaseAttachment(store: SwarmStore, req: AttachmentRequest): Promise<void> {
  await allocations.run('all', async () => {
    const node = await store.nodes.get(req.nodeId);
    if (!node || !heldBy(node.BerthAttachments, req)) return;
    await store.nodes.modify(req.nodeId, (n) => {
      if (!heldBy(n.BerthAttachments, req)) return undefined;
      const rest = (n.BerthAttachments ?? []).filter((a) => !(a.NetworkID === req.networkId && a.ContainerID === req.containerId));
      const { BerthAttachments: _old, ...node } = n;
      return rest.length ? { ...node, BerthAttachments: rest } : node;
    });
  });
}

function heldBy(list: SwarmNode['BerthAttachments'], req: AttachmentRequest) {
  return list?.find((a) => a.NetworkID === req.networkId && a.ContainerID === req.containerId);
}

/** The managers' control-plane routes: a node asks for (and gives back) its containers' addresses. */
export function attachmentRoutes(control: ControlServer, store: () => SwarmStore): void {
  const request = (body: unknown, peer: Peer | undefined): AttachmentRequest => {
    const b = (body ?? {}) as Partial<AttachmentRequest>;
    if (!peer) throw forbidden('a node certificate is needed');
    if (typeof b.networkId !== 'string' || typeof b.containerId !== 'string' || !b.networkId || !b.containerId) throw invalidArgument('networkId and containerId are required');
    // A node speaks for its own containers only.
    return { networkId: b.networkId, containerId: b.containerId, nodeId: peer.nodeId };
  };
  control.handle('POST', '/attachments', async (req) => ({ Address: await allocateAttachment(store(), request(req.body, req.peer)) }));
  control.handle('POST', '/attachments/release', async (req) => {
    await releaseAttachment(store(), request(req.body, req.peer));
    return {};
  });
}
