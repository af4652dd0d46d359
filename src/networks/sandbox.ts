/**
 * A container's network sandbox on the host: a named network namespace (/run/netns/<tag>-<id12>, made
 * with `ip netns add`; runc joins it by that path) and veth pairs whose host end sits on a bridge and
 * whose other end is the container's eth0, eth1, ...
 *
 * Lifecycle: `createNetns` before the container starts; `addInterface` per network joined (at start, or
 * on connect while it runs); `removeInterface` on disconnect; `deleteNetns` after it stops. Deleting
 * the host end of a veth deletes the pair at once, which is what cuts a running container off.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ip from './ip.js';
import { debugIgnored } from '../lib/log.js';

export function netnsName(tag: string, containerId: string): string {
  return `${tag}-${containerId.slice(0, 12)}`;
}

/** Matches the namespace names of the daemon with this tag. */
export function isOurNetns(tag: string, name: string): boolean {
  return name.startsWith(`${tag}-`) && /^[0-9a-f]{12}$/.test(name.slice(tag.length + 1));
}

export function netnsPath(name: string): string {
  return path.join(ip.NETNS_DIR, name);
}

export function netnsExists(name: string): boolean {
  return existsSync(netnsPath(name));
}

/** A fresh host-side interface name, as Docker's veth + 7 hex digits. */
export function vethName(): string {
  return `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
}

/** Docker's classic MAC for an address: 02:42 followed by the four address bytes. */
export function macFor(ipv4: string): string {
  return ['02', '42', ...ipv4.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

/**
 * Makes the namespace (replacing one left by an earlier run) with its loopback up: one `ip` process
 * (the `netns exec` line forks an `ip` of its own, much cheaper than a second spawn from the daemon).
 */
export async function createNetns(name: string): Promise<void> {
  await ip.batch([...(netnsExists(name) ? [`netns del ${name}`] : []), `netns add ${name}`, `netns exec ${name} ip link set lo up`]);
}

export interface InterfaceSpec {
  netns: string;
  bridge: string;
  veth: string;
  ifname: string;
  mac: string;
  /** "172.18.0.2/16" */
  address: string;
  mtu?: number;
  /** Gateway to route through by default, if this interface carries the default route. */
  defaultGateway?: string;
  /** "fd00:1::2/64", on networks with IPv6 (added without duplicate address detection, usable at once). */
  address6?: string;
  /** IPv6 gateway for the default IPv6 route. */
  defaultGateway6?: string;
}

/** Creates the veth pair, puts the host end on the bridge and configures the container end. */
export async function addInterface(s: InterfaceSpec): Promise<void> {
  const mtu = s.mtu ? ` mtu ${s.mtu}` : '';
  // One netlink request: the host end is made on the bridge and up (the kernel undoes the pair if
  // joining the bridge fails), the other end goes into the namespace.
  await ip.batch([`link add ${s.veth}${mtu} master ${s.bridge} up type veth peer name ${s.ifname} address ${s.mac}${mtu} netns ${s.netns}`]);
  try {
    await ip.batch(
      [
        `addr add ${s.address} dev ${s.ifname}`,
        // As dockerd: no IPv6 on the interface of an IPv4-only network (not even a link-local address).
        s.address6 ? `addr add ${s.address6} dev ${s.ifname} nodad` : `link set ${s.ifname} addrgenmode none`,
        `link set ${s.ifname} up`,
        ...(s.defaultGateway ? [`route replace default via ${s.defaultGateway} dev ${s.ifname}`] : []),
        // The family follows from the gateway's address.
        ...(s.defaultGateway6 ? [`route replace default via ${s.defaultGateway6} dev ${s.ifname}`] : []),
      ],
      { netns: s.netns },
    );
  } catch (err) {
    await ip.batch([`link del ${s.veth}`], { force: true }).catch(debugIgnored('removing a half-made veth failed'));
    throw err;
  }
}

export async function setDefaultRoute(netns: string, gateway: string | undefined, ifname?: string): Promise<void> {
  if (gateway) await ip.batch([`route replace default via ${gateway}${ifname ? ` dev ${ifname}` : ''}`], { netns });
  else await ip.batch(['route del default'], { netns, force: true }).catch(() => {}); // no default route: nothing to delete
}

/** The default IPv6 route: through this gateway, or none. */
export async function setDefaultRoute6(netns: string, gateway: string | undefined, ifname?: string): Promise<void> {
  if (gateway) await ip.batch([`route replace default via ${gateway}${ifname ? ` dev ${ifname}` : ''}`], { netns });
  else await ip.batch(['route del default'], { netns, family: 6, force: true }).catch(() => {}); // no default route: nothing to delete
}

export async function removeInterface(veth: string): Promise<void> {
  await ip.batch([`link del ${veth}`], { force: true }).catch((err) => {
    if (!/Cannot find device|does not exist/.test((err as Error).message)) throw err;
  });
}

/** Deletes the host ends and the namespace; whatever is already gone is fine. */
export async function deleteNetns(name: string, veths: string[]): Promise<void> {
  const cmds = veths.map((v) => `link del ${v}`);
  if (netnsExists(name)) cmds.push(`netns del ${name}`);
  await ip.batch(cmds, { force: true }).catch((err) => {
    const msg = (err as Error).message;
    if (!/Cannot find device|does not exist|No such file/.test(msg)) throw err;
  });
}

/** What a network driver plugin made on the host (its Join's SrcName) and how the container sees it. */
export interface AdoptedInterfaceSpec {
  netns: string;
  /** The plugin's interface on the host. */
  src: string;
  ifname: string;
  mac: string;
  address: string;
  mtu?: number;
  defaultGateway?: string;
  /** The plugin's StaticRoutes: RouteType 0 through NextHop, 1 directly connected. */
  routes: Array<{ Destination: string; RouteType: number; NextHop?: string }>;
}

/**
 * Moves a plugin's interface into the namespace, renames it and configures it, as libnetwork's sandbox
 * does with a Join's InterfaceName. On failure it goes back to the host under its own name.
 */
export async function adoptInterface(s: AdoptedInterfaceSpec): Promise<void> {
  await ip.batch([`link set dev ${s.src} down`, `link set dev ${s.src} netns ${s.netns}`]);
  try {
    await ip.batch(
      [
        `link set dev ${s.src} name ${s.ifname}`,
        `link set dev ${s.ifname} address ${s.mac}`,
        ...(s.mtu ? [`link set dev ${s.ifname} mtu ${s.mtu}`] : []),
        `addr add ${s.address} dev ${s.ifname}`,
        `link set dev ${s.ifname} up`,
        ...s.routes.map((r) => (r.RouteType === 1 || !r.NextHop ? `route replace ${r.Destination} dev ${s.ifname}` : `route replace ${r.Destination} via ${r.NextHop} dev ${s.ifname}`)),
        ...(s.defaultGateway ? [`route replace default via ${s.defaultGateway} dev ${s.ifname}`] : []),
      ],
      { netns: s.netns },
    );
  } catch (err) {
    await releaseAdopted(s.netns, s.ifname, s.src).catch(debugIgnored('giving a plugin its interface back failed'));
    throw err;
  }
}

/**
 * Gives a plugin's interface back to the host under its own name (the daemon's namespace: the plugin
 * deletes it at DeleteEndpoint), whichever of the two names it has now.
 */
export async function releaseAdopted(netns: string, ifname: string, src: string): Promise<void> {
  if (!netnsExists(netns)) return;
  const back = (name: string) => [`link set dev ${name} down`, `link set dev ${name} netns ${process.pid} name ${src}`];
  await ip.batch([...back(ifname), ...back(src)], { netns, force: true }).catch((err) => {
    if (!/Cannot find device|does not exist/.test((err as Error).message)) throw err;
  });
}
