/**
 * What a node should have for the cluster's overlays, derived from its NodeView, and the commands that
 * take the VXLAN forwarding table from what it has to that. Pure, so it is unit-tested alone.
 *
 * Per cluster network (every one of view.networks, on every node: `network ls` shows them, an attachable
 * overlay is usable at once, and a task placed here later finds its network ready):
 *  - the local twin network record (same ID and name, driver overlay, scope swarm, no NAT);
 *  - a bridge and a VXLAN device (VNI, DataPathPort, the node's own underlay address as VTEP);
 *  - the bridge's address: none, except on the ingress network, where it is the node's ingress address
 *    (the routing mesh reaches the tasks through it); Docker does not route overlay traffic through
 *    the host either (its gateway lives on docker_gwbridge);
 *  - the forwarding entries of the VXLAN device: one flood entry (all-zero MAC) per other node, so
 *    broadcasts (ARP) and unknown destinations reach every peer, and one static entry per remote task
 *    endpoint (its MAC, derived from its address, -> its node), so unicast to tasks is never flooded.
 *    The device also learns (VXLAN learning on): containers outside services (attachable overlays) and
 *    the other nodes' ingress addresses are in no view, and learned entries never override static ones.
 *    No ARP proxy (and so no neighbour entries): with it the kernel answers ARP only from its neighbour
 *    table and drops requests for addresses it does not know, which would cut those same containers off.
 */
import type { NodeView } from '../../swarm/contracts.js';
import type { ClusterNetwork } from '../../swarm/types.js';
import type { NetworkRecord } from '../model.js';
import { parseCidr } from '../ipam.js';
import { OVERLAY_MTU, addressOnly, bridgeName, overlayMac, underlayAddress, vniOf, vxlanName } from './names.js';

export const FLOOD_MAC = '00:00:00:00:00:00';

export interface FdbEntry {
  mac: string;
  /** The peer's underlay address. */
  dst: string;
}

export interface OverlayPlan {
  networkId: string;
  record: NetworkRecord;
  vni: number;
  bridge: string;
  vxlan: string;
  /** "10.0.0.2/24" on the ingress network's bridge; none on the others. */
  bridgeAddress?: string;
  fdb: FdbEntry[];
}

export interface NodePlan {
  /** The node's own underlay address (the VTEP), from the view. */
  local?: string;
  overlays: OverlayPlan[];
  /** Cluster networks that cannot be made here, with why (logged, not fatal). */
  skipped: Array<{ networkId: string; reason: string }>;
}

/** The local twin of a cluster network, as `network ls/inspect` on the node show it. */
export function twinRecord(cn: ClusterNetwork): NetworkRecord | { error: string } {
  const cfg = (cn.IPAMOptions?.Configs ?? []).find((c) => c.Subnet && !c.Subnet.includes(':'));
  if (!cfg || !parseCidr(cfg.Subnet)) return { error: 'no IPv4 subnet allocated' };
  if (vniOf(cn) === undefined) return { error: 'no VXLAN ID allocated' };
  return {
    id: cn.ID,
    name: cn.Spec.Name,
    created: cn.CreatedAt,
    driver: 'overlay',
    scope: 'swarm',
    internal: Boolean(cn.Spec.Internal),
    attachable: Boolean(cn.Spec.Attachable),
    ingress: Boolean(cn.Spec.Ingress),
    enableIPv6: false,
    ipam: { Driver: cn.IPAMOptions?.Driver?.Name || 'default', Options: null, Config: [{ Subnet: cfg.Subnet, Gateway: cfg.Gateway }] },
    // The cluster chose it: a task's static address (and --ip on an attachable overlay) is accepted.
    userSubnet: true,
    options: { ...(cn.Spec.DriverConfiguration?.Options ?? {}), ...(cn.DriverState?.Options ?? {}) },
    labels: { ...(cn.Spec.Labels ?? {}) },
    bridge: bridgeName(cn.ID),
    predefined: false,
  };
}

export function planNode(view: NodeView): NodePlan {
  const local = underlayAddress(view.nodes.find((n) => n.ID === view.nodeId)?.Addr);
  const underlayOf = new Map(view.nodes.flatMap((n) => {
    const a = underlayAddress(n.Addr);
    return a ? [[n.ID, a] as const] : [];
  }));
  const peers = [...new Set(view.nodes.filter((n) => n.ID !== view.nodeId).flatMap((n) => underlayOf.get(n.ID) ?? []))].filter((a) => a !== local).sort();
  const overlays: OverlayPlan[] = [];
  const skipped: NodePlan['skipped'] = [];
  for (const cn of view.networks) {
    const record = twinRecord(cn);
    if ('error' in record) {
      skipped.push({ networkId: cn.ID, reason: record.error });
      continue;
    }
    const vni = vniOf(cn)!;
    const statics = new Map<string, string>();
    for (const svc of view.endpoints) {
      for (const t of svc.Tasks) {
        if (t.NodeID === view.nodeId) continue;
        const dst = underlayOf.get(t.NodeID);
        if (!dst || dst === local) continue;
        for (const a of t.Addresses) if (a.NetworkID === cn.ID) statics.set(overlayMac(addressOnly(a.Addr)), dst);
      }
    }
    let bridgeAddress: string | undefined;
    if (record.ingress && view.ingress?.NetworkID === cn.ID && view.ingress.Address) {
      const prefix = parseCidr(record.ipam.Config[0]!.Subnet!)!.prefix;
      bridgeAddress = view.ingress.Address.includes('/') ? view.ingress.Address : `${view.ingress.Address}/${prefix}`;
    }
    overlays.push({
      networkId: cn.ID,
      record,
      vni,
      bridge: record.bridge!,
      vxlan: vxlanName(vni, cn.ID),
      bridgeAddress,
      fdb: [...peers.map((dst) => ({ mac: FLOOD_MAC, dst })), ...[...statics].sort().map(([mac, dst]) => ({ mac, dst }))],
    });
  }
  return { local, overlays, skipped };
}

/**
 * `bridge` commands (for `bridge -batch`) taking the device's entries of ours (permanent ones with a
 * destination) to the desired ones; learned entries are left to age out.
 */
export function fdbCommands(dev: string, current: Array<{ mac: string; dst?: string; state?: string }>, desired: FdbEntry[]): string[] {
  const ours = current.filter((e): e is FdbEntry & { state: string } => Boolean(e.dst) && e.state === 'permanent');
  const key = (e: FdbEntry) => `${e.mac} ${e.dst}`;
  const want = new Set(desired.map(key));
  const have = new Set(ours.map(key));
  const add: string[] = [];
  const del: string[] = [];
  for (const e of desired) {
    if (have.has(key(e))) continue;
    // A flood entry is one of a list (append); a static one replaces whatever the MAC pointed at.
    add.push(e.mac === FLOOD_MAC ? `fdb append ${e.mac} dev ${dev} dst ${e.dst}` : `fdb replace ${e.mac} dev ${dev} dst ${e.dst} self permanent`);
  }
  const replaced = new Set(desired.filter((e) => e.mac !== FLOOD_MAC).map((e) => e.mac));
  for (const e of ours) {
    if (want.has(key(e))) continue;
    if (e.mac !== FLOOD_MAC && replaced.has(e.mac)) continue; // the replace above moved it
    del.push(`fdb del ${e.mac} dev ${dev} dst ${e.dst}`);
  }
  return [...add, ...del];
}

/** The `ip` command that makes the VXLAN device. */
export function vxlanAddCommand(o: { name: string; vni: number; port: number; local: string }): string {
  return `link add ${o.name} mtu ${OVERLAY_MTU} type vxlan id ${o.vni} dstport ${o.port} local ${o.local} learning`;
}

/** Whether an existing VXLAN device (`ip -d -j link show`'s info_data) is the one wanted. */
export function vxlanMatches(info: Record<string, unknown> | undefined, o: { vni: number; port: number; local: string }): boolean {
  return Boolean(info) && info!.id === o.vni && info!.port === o.port && info!.local === o.local && info!.learning === true;
}
