/**
 * The bridge driver's host side: one Linux bridge per bridge network, with the gateway address on it.
 * Every bridge the daemon makes carries the interface alias "berth:<tag>", which is how the daemon
 * (and a test harness after a crash) tells its own bridges from anyone else's; a bridge of that name
 * without the alias is never changed or deleted.
 *
 * Lifecycle: `ensureBridge` at daemon start and at network create; `deleteBridge` at network rm and,
 * without live-restore, at daemon shutdown.
 */
import { writeFile } from 'node:fs/promises';
import * as ip from './ip.js';
import { conflict, invalidArgument } from '../lib/errors.js';
import { debugIgnored } from '../lib/log.js';

export function bridgeAlias(tag: string): string {
  return `berth:${tag}`;
}

export function validBridgeName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

/**
 * Makes the bridge with this address (e.g. "172.18.0.1/16"; none for an overlay's bridge, which the
 * host does not route through) and brings it up, or brings an existing bridge of ours to that state.
 */
export async function ensureBridge(opts: { name: string; address: string | undefined; tag: string; mtu?: number; address6?: string }): Promise<void> {
  if (!validBridgeName(opts.name)) throw invalidArgument(`invalid bridge name: ${opts.name}`);
  const alias = bridgeAlias(opts.tag);
  const existing = await ip.linkExists(opts.name);
  if (existing) {
    if (existing.ifalias !== alias) throw conflict(`cannot use bridge ${opts.name}: the interface exists and was not created by this daemon`);
    const addrs = await ip.addresses(opts.name);
    const cmds: string[] = [];
    for (const a of addrs) if (`${a.local}/${a.prefixlen}` !== opts.address) cmds.push(`addr del ${a.local}/${a.prefixlen} dev ${opts.name}`);
    if (opts.address && !addrs.some((a) => `${a.local}/${a.prefixlen}` === opts.address)) cmds.push(`addr add ${opts.address} dev ${opts.name}`);
    cmds.push(`link set ${opts.name} up`);
    await ip.batch(cmds);
    await setIPv6(opts.name, opts.address6);
    return;
  }
  const mtu = opts.mtu ? ` mtu ${opts.mtu}` : '';
  try {
    await ip.batch([
      `link add ${opts.name}${mtu} type bridge`,
      `link set dev ${opts.name} alias ${alias}`,
      ...(opts.address ? [`addr add ${opts.address} dev ${opts.name}`] : []),
      `link set ${opts.name} up`,
    ]);
  } catch (err) {
    await deleteBridge(opts.name, opts.tag).catch(debugIgnored('removing a half-made bridge failed'));
    throw err;
  }
  try {
    await setIPv6(opts.name, opts.address6);
  } catch (err) {
    await deleteBridge(opts.name, opts.tag).catch(debugIgnored('removing a half-made bridge failed'));
    throw err;
  }
}

/**
 * An IPv6 network's bridge carries its IPv6 gateway (without duplicate address detection, so it
 * answers at once); other bridges have IPv6 off: Docker's bridges do not learn IPv6 link-local
 * addresses the containers would see as routers.
 */
async function setIPv6(name: string, address6: string | undefined): Promise<void> {
  if (!address6) {
    await writeFile(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1').catch(() => {}); // no IPv6 in this kernel: nothing to disable
    return;
  }
  await writeFile(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '0');
  const stale = (await ip.addresses6(name)).filter((a) => a.scope === 'global' && `${a.local}/${a.prefixlen}` !== address6);
  await ip.batch([...stale.map((a) => `addr del ${a.local}/${a.prefixlen} dev ${name}`), `addr replace ${address6} dev ${name} nodad`]);
}

/** Deletes the bridge (and any veth still on it) if it is ours. */
export async function deleteBridge(name: string, tag: string): Promise<void> {
  const existing = await ip.linkExists(name);
  if (!existing || existing.ifalias !== bridgeAlias(tag)) return;
  const ports = await ip.links({ master: name }).catch(debugIgnored('listing the ports of a bridge failed', []));
  await ip.batch([...ports.map((p) => `link del ${p.ifname}`), `link del ${name}`], { force: true });
}

/** Lets DNAT to the bridge work for loopback destinations (userland proxy off). */
export async function setRouteLocalnet(name: string, on: boolean): Promise<void> {
  await writeFile(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, on ? '1' : '0');
}
