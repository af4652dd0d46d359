/**
 * What a network's IPv6 side is, read from its record, and the host settings IPv6 networks need. The
 * network service calls these; the IPv6 subnet lives in the network's IPAM Config next to the IPv4 one
 * (Docker lists IPv4 first), so records of daemons without IPv6 read the same.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { EndpointState, IpamConfigEntry, NetworkRecord } from './model.js';
import { parseCidr6, parseIPv6, type Cidr6, type Pool6 } from './ipv6.js';
import * as ip from './ip.js';
import { debugIgnored } from '../lib/log.js';

/** The network's IPv6 IPAM entry, if it has IPv6 enabled. */
export function v6ConfigOf(n: NetworkRecord): IpamConfigEntry | undefined {
  if (!n.enableIPv6) return undefined;
  return n.ipam.Config.find((c) => (c.Subnet ?? '').includes(':'));
}

/** The IPv4 entry (what Config[0] was before IPv6). */
export function v4ConfigOf(n: NetworkRecord): IpamConfigEntry | undefined {
  return n.ipam.Config.find((c) => !(c.Subnet ?? '').includes(':'));
}

export function pool6Of(n: NetworkRecord): Pool6 | undefined {
  const cfg = v6ConfigOf(n);
  const subnet = cfg?.Subnet ? parseCidr6(cfg.Subnet)?.cidr : undefined;
  if (!cfg || !subnet) return undefined;
  return {
    subnet,
    gateway: (cfg.Gateway && parseIPv6(cfg.Gateway)) || subnet.addr + 1n,
    range: (cfg.IPRange && parseCidr6(cfg.IPRange)?.cidr) || subnet,
  };
}

/** The address a published port's proxy forwards to: IPv6 for an IPv6 host address when the container has one. */
export function proxyTarget(hostIp: string, ep: EndpointState): string {
  return hostIp.includes(':') && ep.ip6 ? ep.ip6 : ep.ip;
}

/** Whether the host has IPv6 at all (Docker publishes ports on [::] too only then). */
export async function hostHasIPv6(): Promise<boolean> {
  return (await readFile('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').catch(() => '1')).trim() === '0';
}

/** IPv6 forwarding, which IPv6 networks need (as dockerd, only once there is one). */
export async function enableIPv6Forwarding(): Promise<void> {
  const file = '/proc/sys/net/ipv6/conf/all/forwarding';
  if ((await readFile(file, 'utf8').catch(() => '')).trim() !== '1') await writeFile(file, '1');
}

/** IPv6 subnets a new IPv6 network must not overlap: host routes not on our bridges. */
export async function hostRoutes6(ourBridges: Set<string>): Promise<Cidr6[]> {
  const routes = await ip.routes6().catch(debugIgnored('listing host IPv6 routes failed', []));
  return routes.flatMap((r) => {
    if (r.dst === 'default' || (r.dev && ourBridges.has(r.dev)) || r.dst.startsWith('fe80:')) return [];
    const c = parseCidr6(r.dst.includes('/') ? r.dst : `${r.dst}/128`);
    return c ? [c.cidr] : [];
  });
}
