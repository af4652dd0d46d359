/**
 * IPv6 address management, the counterpart of ipam.ts: addresses as 128-bit bigints, Docker's checks
 * of an IPv6 IPAM config, the default ULA pool dockerd (27+) allocates from when `--ipv6` comes without
 * a subnet, and the per-network allocator.
 *
 * Lifecycle: pure functions plus `Ipam6`, in memory, owned by the network service and rebuilt at start
 * from the recorded endpoints, as `Ipam` is. Nothing here touches the host.
 */
import { createHash } from 'node:crypto';
import { forbidden, invalidArgument, unavailable } from '../lib/errors.js';

const ALL = (1n << 128n) - 1n;

export interface Cidr6 {
  addr: bigint;
  prefix: number;
}

export function isIPv6Text(s: string): boolean {
  return s.includes(':');
}

/** Parses an IPv6 address (with :: and an embedded IPv4 tail); brackets and zones are refused. */
export function parseIPv6(s: string): bigint | undefined {
  const text = s.trim();
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.split('::').length > 2) return undefined;
  const expand = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(g);
        if (!m) return undefined;
        const b = m.slice(1).map(Number);
        if (b.some((x) => x > 255)) return undefined;
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  let words: number[];
  if (text.includes('::')) {
    const [head, tail] = text.split('::') as [string, string];
    const h = expand(head);
    const t = expand(tail);
    if (!h || !t || h.length + t.length > 7) return undefined;
    words = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  } else {
    const w = expand(text);
    if (!w || w.length !== 8) return undefined;
    words = w;
  }
  return words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

/** RFC 5952 text, as Go's net.IP prints it: lower case, the longest run of zero words as "::". */
export function formatIPv6(n: bigint): string {
  if (n >> 32n === 0xffffn) return `::ffff:${[24n, 16n, 8n, 0n].map((sh) => Number((n >> sh) & 0xffn)).join('.')}`;
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

export function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

/** "fd00:1::/64" -> Cidr6 (host bits cleared); also gives the address as written. */
export function parseCidr6(s: string): { cidr: Cidr6; ip: bigint } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const ip = parseIPv6(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 128) return undefined;
  return { ip, cidr: { addr: ip & mask6(prefix), prefix } };
}

export function formatCidr6(c: Cidr6): string {
  return `${formatIPv6(c.addr)}/${c.prefix}`;
}

export function lastOf6(c: Cidr6): bigint {
  return c.addr | (~mask6(c.prefix) & ALL);
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.prefix)) === c.addr;
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.addr & mask6(p)) === (b.addr & mask6(p));
}

/**
 * dockerd's default IPv6 pool: a /48 ULA prefix (fd00::/8 plus 40 bits derived from the host's
 * identity, so it is stable across restarts and differs between hosts), handed out as /64s.
 */
export function defaultUlaPool(seed: string): Cidr6 {
  const h = createHash('sha256').update(seed).digest();
  let addr = 0xfdn;
  for (let i = 0; i < 5; i++) addr = (addr << 8n) | BigInt(h[i]!);
  return { addr: addr << 80n, prefix: 48 };
}

/** The first /64 of the default ULA pool that overlaps none of `taken`. */
export function pickSubnet6(seed: string, taken: Cidr6[]): Cidr6 | undefined {
  const base = defaultUlaPool(seed);
  for (let i = 0n; i < 65536n; i++) {
    const c = { addr: base.addr | (i << 64n), prefix: 64 };
    if (!taken.some((t) => overlaps6(t, c))) return c;
  }
  return undefined;
}

export interface Pool6 {
  subnet: Cidr6;
  gateway: bigint;
  range: Cidr6;
}

/** Checks an IPv6 IPAM config entry as dockerd does, with its wording; `auto` picks a subnet when none is given. */
export function pool6From(cfg: { Subnet?: string; Gateway?: string; IPRange?: string }, auto: () => Cidr6 | undefined): Pool6 {
  const errs: string[] = [];
  let subnet: Cidr6;
  if (cfg.Subnet) {
    const p = parseCidr6(cfg.Subnet);
    if (!p) throw invalidArgument(`invalid network config:\ninvalid subnet ${cfg.Subnet}: invalid CIDR block notation`);
    if (p.ip !== p.cidr.addr) errs.push(`invalid subnet ${cfg.Subnet}: it should be ${formatCidr6(p.cidr)}`);
    subnet = p.cidr;
  } else {
    const picked = auto();
    if (!picked) throw invalidArgument('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
    subnet = picked;
  }
  let range = subnet;
  if (cfg.IPRange) {
    const r = parseCidr6(cfg.IPRange);
    if (!r) errs.push(`invalid ip-range ${cfg.IPRange}: invalid CIDR block notation`);
    else {
      if (r.cidr.prefix < subnet.prefix) errs.push(`invalid ip-range ${cfg.IPRange}: CIDR block is bigger than its parent subnet ${formatCidr6(subnet)}`);
      if (r.ip !== r.cidr.addr) errs.push(`invalid ip-range ${cfg.IPRange}: it should be ${formatCidr6(r.cidr)}`);
      if (!overlaps6(r.cidr, subnet)) errs.push(`invalid ip-range ${cfg.IPRange}: parent subnet ${formatCidr6(subnet)} doesn't contain ip-range`);
      range = r.cidr;
    }
  }
  let gateway = subnet.addr + 1n;
  if (cfg.Gateway) {
    const g = parseIPv6(cfg.Gateway);
    if (g === undefined) errs.push(`invalid gateway ${cfg.Gateway}: invalid address`);
    else if (!contains6(subnet, g)) errs.push(`invalid gateway ${cfg.Gateway}: parent subnet ${formatCidr6(subnet)} doesn't contain this address`);
    else gateway = g;
  }
  if (errs.length) throw invalidArgument(`invalid network config:\n${errs.join('\n')}`);
  if (subnet.prefix > 126) throw invalidArgument(`invalid network config:\nsubnet ${formatCidr6(subnet)} is too small`);
  return { subnet, gateway, range };
}

/**
 * IPv6 addresses for all networks. Reserved in each: the subnet-router anycast address (the subnet's
 * first) and the gateway. Dynamic requests take the first free address of the range, as Docker does.
 */
export class Ipam6 {
  private readonly used = new Map<string, Set<bigint>>();
  private readonly pools = new Map<string, Pool6>();

  addNetwork(networkId: string, pool: Pool6): void {
    this.pools.set(networkId, pool);
    if (!this.used.has(networkId)) this.used.set(networkId, new Set());
  }

  removeNetwork(networkId: string): void {
    this.pools.delete(networkId);
    this.used.delete(networkId);
  }

  has(networkId: string): boolean {
    return this.pools.has(networkId);
  }

  pool(networkId: string): Pool6 | undefined {
    return this.pools.get(networkId);
  }

  claim(networkId: string, ip: bigint): void {
    this.used.get(networkId)?.add(ip);
  }

  allocate(networkId: string, requested?: bigint): bigint {
    const pool = this.pools.get(networkId);
    const used = this.used.get(networkId);
    if (!pool || !used) throw invalidArgument(`network ${networkId} has no IPv6 address pool`);
    const reserved = (ip: bigint) => ip === pool.subnet.addr || ip === pool.gateway;
    if (requested !== undefined) {
      if (!contains6(pool.subnet, requested)) throw invalidArgument(`no configured subnet or ip-range contain the IP address ${formatIPv6(requested)}`);
      if (used.has(requested) || reserved(requested)) throw forbidden('Address already in use');
      used.add(requested);
      return requested;
    }
    const first = pool.range.addr > pool.subnet.addr ? pool.range.addr : pool.subnet.addr + 1n;
    const last = lastOf6(pool.range);
    // Bounded: a /64 has more addresses than any host will ever hand out.
    for (let ip = first, n = 0; ip <= last && n < 1 << 20; ip++, n++) {
      if (!used.has(ip) && !reserved(ip)) {
        used.add(ip);
        return ip;
      }
    }
    throw unavailable('no available addresses on this pool');
  }

  release(networkId: string, ip: bigint): void {
    this.used.get(networkId)?.delete(ip);
  }
}
