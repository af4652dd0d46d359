/**
 * A bridge the administrator made before the daemon started and named with `--bridge` (dockerd's `-b`):
 * the default network uses it as it is. Its IPv4 address gives the default network's subnet and gateway
 * (unless it has none, when the daemon's chosen address is added); the daemon never renames, readdresses
 * or deletes it, since it does not carry the daemon's alias (bridge.ts).
 */
import * as ip from './ip.js';
import { bridgeAlias } from './bridge.js';
import { invalidArgument } from '../lib/errors.js';
import { formatIPv4, parseIfaceCidr, type Cidr } from './ipam.js';

export interface ExternalBridge {
  name: string;
  /** Its first IPv4 address, if it has one. */
  address?: { ip: number; cidr: Cidr };
}

/** The bridge of that name if it exists and this daemon did not make it; undefined otherwise. */
export async function findExternalBridge(name: string, tag: string): Promise<ExternalBridge | undefined> {
  const link = await ip.linkExists(name);
  if (!link || link.ifalias === bridgeAlias(tag)) return undefined;
  if (link.linkinfo?.info_kind !== 'bridge') throw invalidArgument(`existing interface ${name} is not a bridge`);
  const first = (await ip.addresses(name))[0];
  return { name, address: first ? parseIfaceCidr(`${first.local}/${first.prefixlen}`) : undefined };
}

/** dockerd's check of --bip against the address the bridge already has. */
export function checkBip(bridge: ExternalBridge, bip: { ip: number } | undefined): void {
  if (bip && bridge.address && bridge.address.ip !== bip.ip) {
    throw invalidArgument(`bridge IPv4 (${formatIPv4(bridge.address.ip)}) does not match requested configuration ${formatIPv4(bip.ip)}`);
  }
}

/** Brings the bridge up, adding the address only if it has none; nothing else of it changes. */
export async function useExternalBridge(bridge: ExternalBridge, address: string): Promise<void> {
  await ip.batch([...(bridge.address ? [] : [`addr add ${address} dev ${bridge.name}`]), `link set ${bridge.name} up`]);
}
