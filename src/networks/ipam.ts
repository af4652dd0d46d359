/**
 * IPv4 address management: address arithmetic, subnet choice from Docker's default pools, and the
 * per-network allocator that hands out container addresses.
 *
 * Lifecycle: pure functions plus `Ipam`, an in-memory allocator owned by the network service. The
 * service rebuilds it at start from the endpoints recorded in the database (the source of truth), then
 * keeps it in step as endpoints are attached and released. Nothing here touches the host.
 */
import { forbidden, invalidArgument, unavailable } from '../lib/errors.js';

/** An IPv4 subnet: network address (as a number) and prefix length. */
export interface Cidr {
  addr: number;
  prefix: number;
}

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.1.0.0/16" -> Cidr; `strict` refuses host bits set ("10.1.0.1/16"). */
export function parseCidr(s: string, opts: { strict?: boolean } = {}): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  if (!m) return undefined;
  const addr = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === undefined || prefix > 32) return undefined;
  const masked = (addr & maskOf(prefix)) >>> 0;
  if (opts.strict && masked !== addr) return undefined;
  return { addr: masked, prefix };
}

/** Like parseCidr but keeps the host part: "172.18.0.1/16" -> { ip: 172.18.0.1, cidr: 172.18.0.0/16 }. */
export function parseIfaceCidr(s: string): { ip: number; cidr: Cidr } | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  if (!m) return undefined;
  const ip = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  return { ip, cidr: { addr: (ip & maskOf(prefix)) >>> 0, prefix } };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.addr)}/${c.prefix}`;
}

export function lastOf(c: Cidr): number {
  return (c.addr | (~maskOf(c.prefix) >>> 0)) >>> 0;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.addr;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.addr & maskOf(p)) >>> 0) === ((b.addr & maskOf(p)) >>> 0);
}

/** Docker's default local address pools: 172.17-31.0.0/16 each, then 192.168.0.0/16 in /20 steps. */
export function defaultPools(): Cidr[] {
  const out: Cidr[] = [];
  for (let b = 17; b <= 31; b++) out.push({ addr: parseIPv4(`172.${b}.0.0`)!, prefix: 16 });
  for (let c = 0; c < 256; c += 16) out.push({ addr: parseIPv4(`192.168.${c}.0`)!, prefix: 20 });
  return out;
}

/** The first default pool that overlaps none of `taken` (routes on the host, other networks' subnets). */
export function pickSubnet(taken: Cidr[]): Cidr | undefined {
  return defaultPools().find((p) => !taken.some((t) => overlaps(p, t)));
}

/** What a network's addresses are: its subnet, gateway and the range containers get addresses from. */
export interface Pool {
  subnet: Cidr;
  gateway: number;
  /** Where dynamic addresses come from (IPRange, or --fixed-cidr); defaults to the subnet. */
  range: Cidr;
  /** IPAM AuxiliaryAddresses: reserved, never given to containers. */
  aux?: number[];
}

/** The addresses of an IPAM config's AuxiliaryAddresses that parse (create has checked them). */
export function auxAddresses(cfg: { AuxiliaryAddresses?: Record<string, string> | null } | undefined): number[] {
  return Object.values(cfg?.AuxiliaryAddresses ?? {}).flatMap((v) => {
    const ip = parseIPv4(v);
    return ip === undefined ? [] : [ip];
  });
}

/**
 * Checks a network's IPAM config as dockerd does (ValidateIPAM), with its wording; returns the pool.
 * Without a subnet, `auto` chooses one.
 */
export function poolFrom(cfg: { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> | null }, auto: () => Cidr | undefined): Pool {
  let subnet: Cidr | undefined;
  const errs: string[] = [];
  if (cfg.Subnet) {
    const loose = parseCidr(cfg.Subnet);
    if (!loose || cfg.Subnet.includes(':')) throw invalidArgument(`invalid network config:\ninvalid subnet ${cfg.Subnet}: invalid CIDR block notation`);
    const given = parseIfaceCidr(cfg.Subnet)!;
    if (given.ip !== loose.addr) errs.push(`invalid subnet ${cfg.Subnet}: it should be ${formatCidr(loose)}`);
    subnet = loose;
  } else {
    if (cfg.Gateway || cfg.IPRange) {
      // Docker needs a subnet to place a gateway or range in; it reports the pool as missing.
      throw invalidArgument('invalid network config:\nip-range and gateway require a subnet');
    }
    subnet = auto();
    if (!subnet) throw invalidArgument('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  }
  let range = subnet;
  if (cfg.IPRange) {
    const r = parseCidr(cfg.IPRange);
    const given = parseIfaceCidr(cfg.IPRange);
    if (!r || !given) errs.push(`invalid ip-range ${cfg.IPRange}: invalid CIDR block notation`);
    else {
      if (r.prefix < subnet.prefix) errs.push(`invalid ip-range ${cfg.IPRange}: CIDR block is bigger than its parent subnet ${formatCidr(subnet)}`);
      if (given.ip !== r.addr) errs.push(`invalid ip-range ${cfg.IPRange}: it should be ${formatCidr(r)}`);
      if (!overlaps(r, subnet)) errs.push(`invalid ip-range ${cfg.IPRange}: parent subnet ${formatCidr(subnet)} doesn't contain ip-range`);
      range = r;
    }
  }
  let gateway = subnet.addr + 1;
  if (cfg.Gateway) {
    const g = parseIPv4(cfg.Gateway);
    if (g === undefined) errs.push(`invalid gateway ${cfg.Gateway}: invalid address`);
    else if (!contains(subnet, g)) errs.push(`invalid gateway ${cfg.Gateway}: parent subnet ${formatCidr(subnet)} doesn't contain this address`);
    else gateway = g;
  }
  for (const v of Object.values(cfg.AuxiliaryAddresses ?? {})) {
    const a = parseIPv4(v);
    if (a === undefined) errs.push(`invalid auxiliary address ${v}: invalid address`);
    else if (!contains(subnet, a)) errs.push(`invalid auxiliary address ${v}: parent subnet ${formatCidr(subnet)} doesn't contain this address`);
  }
  if (errs.length) throw invalidArgument(`invalid network config:\n${errs.join('\n')}`);
  if (subnet.prefix > 30) throw invalidArgument(`invalid network config:\nsubnet ${formatCidr(subnet)} is too small`);
  return { subnet, gateway, range, aux: auxAddresses(cfg) };
}

/**
 * Address allocation for all networks. Reserved in each: the network address, the broadcast address
 * and the gateway. Dynamic requests take the first free address of the range, as Docker's default
 * allocator does; static requests must lie in the subnet and be free.
 */
export class Ipam {
  private readonly used = new Map<string, Set<number>>();
  private readonly pools = new Map<string, Pool>();

  addNetwork(networkId: string, pool: Pool): void {
    this.pools.set(networkId, pool);
    if (!this.used.has(networkId)) this.used.set(networkId, new Set());
  }

  removeNetwork(networkId: string): void {
    this.pools.delete(networkId);
    this.used.delete(networkId);
  }

  /** Marks an address as taken (restoring state at start). */
  claim(networkId: string, ip: number): void {
    this.used.get(networkId)?.add(ip);
  }

  inUse(networkId: string): number {
    return this.used.get(networkId)?.size ?? 0;
  }

  allocate(networkId: string, requested?: number): number {
    const pool = this.pools.get(networkId);
    const used = this.used.get(networkId);
    if (!pool || !used) throw invalidArgument(`network ${networkId} has no address pool`);
    const reserved = (ip: number) => ip === pool.subnet.addr || ip === lastOf(pool.subnet) || ip === pool.gateway || !!pool.aux?.includes(ip);
    if (requested !== undefined) {
      if (!contains(pool.subnet, requested)) throw invalidArgument(`no configured subnet or ip-range contain the IP address ${formatIPv4(requested)}`);
      if (used.has(requested) || reserved(requested)) throw forbidden('Address already in use');
      used.add(requested);
      return requested;
    }
    const first = Math.max(pool.range.addr, pool.subnet.addr + 1);
    const last = Math.min(lastOf(pool.range), lastOf(pool.subnet) - 1);
    for (let ip = first; ip <= last; ip++) {
      if (!used.has(ip) && !reserved(ip)) {
        used.add(ip);
        return ip;
      }
    }
    throw unavailable('no available addresses on this pool');
  }

  release(networkId: string, ip: number): void {
    this.used.get(networkId)?.delete(ip);
  }
}
