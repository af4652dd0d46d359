/**
 * Addresses on cluster networks. There is no separate IPAM state: every address in use is written in
 * the objects that hold it (service Endpoint.VirtualIPs, task NetworksAttachments, node BerthIngress),
 * so the store is the one source of truth and a scan finds what is taken.
 */
import { contains, formatIPv4, lastOf, parseCidr, parseIPv4, parseIfaceCidr, type Cidr } from '../../networks/ipam.js';
import type { SwarmStore } from '../contracts.js';
import type { ClusterNetwork, Service, SwarmNode, Task } from '../types.js';

export interface NetworkPool {
  subnet: Cidr;
  gateway: number;
}

/** The allocated subnet and gateway of a cluster network. */
export function poolOf(n: ClusterNetwork): NetworkPool | undefined {
  const cfg = n.IPAMOptions?.Configs?.[0];
  const subnet = cfg && parseCidr(cfg.Subnet);
  if (!subnet) return undefined;
  return { subnet, gateway: parseIPv4(cfg.Gateway) ?? subnet.addr + 1 };
}

/** "10.0.1.5/24" -> the address as a number (undefined when not an IPv4 CIDR address). */
export function addressOf(cidrAddr: string): number | undefined {
  return parseIfaceCidr(cidrAddr)?.ip;
}

export function withPrefix(ip: number, pool: NetworkPool): string {
  return `${formatIPv4(ip)}/${pool.subnet.prefix}`;
}

/** Every address an object holds, as [networkId, address] pairs. */
export function addressesOfService(s: Service): Array<[string, number]> {
  return (s.Endpoint?.VirtualIPs ?? []).flatMap((v) => pair(v.NetworkID, v.Addr));
}

export function addressesOfTask(t: Task): Array<[string, number]> {
  return (t.NetworksAttachments ?? []).flatMap((a) => a.Addresses.flatMap((addr) => pair(a.Network.ID, addr)));
}

export function addressesOfNode(n: SwarmNode): Array<[string, number]> {
  return [
    ...(n.BerthIngress ? pair(n.BerthIngress.NetworkID, n.BerthIngress.Address) : []),
    ...(n.BerthAttachments ?? []).flatMap((a) => pair(a.NetworkID, a.Address)),
  ];
}

function pair(networkId: string, addr: string): Array<[string, number]> {
  const ip = addressOf(addr);
  return ip === undefined ? [] : [[networkId, ip]];
}

/** A scan of the store: the addresses taken on each network. */
export async function usedAddresses(store: SwarmStore): Promise<Map<string, Set<number>>> {
  const [services, tasks, nodes] = await Promise.all([store.services.list(), store.tasks.list(), store.nodes.list()]);
  const used = new Map<string, Set<number>>();
  const add = ([net, ip]: [string, number]) => {
    let set = used.get(net);
    if (!set) used.set(net, (set = new Set()));
    set.add(ip);
  };
  services.flatMap(addressesOfService).forEach(add);
  tasks.flatMap(addressesOfTask).forEach(add);
  nodes.flatMap(addressesOfNode).forEach(add);
  return used;
}

/**
 * A free address of the subnet: neither its network/broadcast address, the gateway, nor taken. Tasks
 * and nodes (the leader's allocator) take the lowest; service VIPs (any manager serving the request)
 * take the highest, so the two allocators, which do not see each other's allocations in flight, only
 * meet when the subnet is nearly full.
 */
export function pickFree(pool: NetworkPool, taken: ReadonlySet<number>, from: 'low' | 'high' = 'low'): number | undefined {
  const first = pool.subnet.addr + 1;
  const last = lastOf(pool.subnet) - 1;
  const free = (ip: number) => ip !== pool.gateway && !taken.has(ip);
  if (from === 'low') {
    for (let ip = first; ip <= last; ip++) if (free(ip)) return ip;
  } else {
    for (let ip = last; ip >= first; ip--) if (free(ip)) return ip;
  }
  return undefined;
}

export function inPool(pool: NetworkPool, ip: number): boolean {
  return contains(pool.subnet, ip);
}
