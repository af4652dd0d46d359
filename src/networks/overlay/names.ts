/**
 * Names and numbers of an overlay on a node: its bridge and VXLAN device (Linux allows 15 characters),
 * its VNI, the MAC a container gets for an address, the underlay address of a peer.
 *
 * Lifecycle: pure functions.
 */
import type { ClusterNetwork } from '../../swarm/types.js';
import { macFor } from '../sandbox.js';

export { OVERLAY_MTU } from '../contracts.js';
/** VXLAN's IANA port, Docker's default DataPathPort. */
export const DEFAULT_DATA_PATH_PORT = 4789;
/** Where Docker's overlay driver keeps a network's VNI(s), comma-separated. */
export const OPT_VXLANID = 'com.docker.network.driver.overlay.vxlanid_list';

/** The overlay's Linux bridge: "ov-" and the first 12 characters of the network ID (15 characters). */
export function bridgeName(networkId: string): string {
  return `ov-${networkId.slice(0, 12)}`;
}

/** The VXLAN device, named as Docker's: "vx-", the VNI in 6 hex digits, "-", 5 characters of the ID. */
export function vxlanName(vni: number, networkId: string): string {
  return `vx-${vni.toString(16).padStart(6, '0')}-${networkId.slice(0, 5)}`;
}

/** The network's VNI (the first of the list), or undefined if it has none. */
export function vniOf(n: Pick<ClusterNetwork, 'DriverState'>): number | undefined {
  const first = n.DriverState?.Options?.[OPT_VXLANID]?.split(',')[0]?.trim();
  const vni = first ? Number(first) : NaN;
  return Number.isInteger(vni) && vni > 0 && vni < 2 ** 24 ? vni : undefined;
}

/** A container's MAC on an overlay: 02:42 and its address, as Docker's; peers derive it the same way. */
export function overlayMac(ipv4: string): string {
  return macFor(ipv4);
}

/** "10.0.0.5/24" or "10.0.0.5" -> "10.0.0.5". */
export function addressOnly(cidrOrIp: string): string {
  return cidrOrIp.split('/')[0]!;
}

/** A node's underlay address: "10.1.2.3", "10.1.2.3:2377" -> "10.1.2.3"; undefined when unusable. */
export function underlayAddress(addr: string | undefined): string | undefined {
  const host = (addr ?? '').trim().replace(/:\d+$/, '');
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host === '0.0.0.0') return undefined;
  return host;
}
