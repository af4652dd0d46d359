import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../lib/atomic.js';

/**
 * /etc/hostname, /etc/hosts and /etc/resolv.conf as Docker writes them for a container. They live in
 * the container's directory and are bind-mounted in, so they can be rewritten while it runs.
 */
export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

/** Docker 28's defaults (netip's forms: fe00::, not fe00::0); the IPv6 lines only where IPv6 works. */
const HOSTS_HEADER_V4 = '127.0.0.1\tlocalhost\n';
const HOSTS_HEADER_V6 = `::1\tlocalhost ip6-localhost ip6-loopback
fe00::\tip6-localnet
ff00::\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
`;
const HOSTS_HEADER = HOSTS_HEADER_V4 + HOSTS_HEADER_V6;

/** Docker's fallback when the host's resolv.conf has no usable (non-loopback) name server. */
const DEFAULT_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

/**
 * Whether the container will have IPv6 (dockerd probes ::1 on its loopback): not on a host without
 * IPv6, nor when its sysctls disable IPv6 for all interfaces or for lo.
 */
export function ipv6InContainer(sysctls: Record<string, string> | null | undefined): boolean {
  if (!existsSync('/proc/sys/net/ipv6')) return false;
  const off = (key: string) => sysctls?.[key]?.trim() === '1';
  return !off('net.ipv6.conf.all.disable_ipv6') && !off('net.ipv6.conf.lo.disable_ipv6');
}

export function etcFilesFor(opts: {
  hostname: string;
  domainname?: string;
  networkMode: string;
  extraHosts?: string[];
  /** The container's addresses (IPv4 and IPv6, every network): each gets a line with its host names. */
  addresses?: string[];
  /** False when IPv6 is off in the container (a disable_ipv6 sysctl): no IPv6 lines, as dockerd's BuildNoIPv6. */
  ipv6?: boolean;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  hostResolvConf?: string;
  /** The embedded DNS (127.0.0.11) serves the container: user-defined networks (networks/dns.ts). */
  internalResolver?: boolean;
  /** What "host-gateway" in --add-host stands for (the default bridge's gateway). */
  hostGateway?: string;
}): EtcFiles {
  const fqdn = opts.domainname ? `${opts.hostname}.${opts.domainname}` : opts.hostname;
  // As libnetwork: the full name, then the part before its first dot when there is one.
  const names = fqdn.includes('.') ? `${fqdn} ${fqdn.slice(0, fqdn.indexOf('.'))}` : fqdn;
  const hostNetwork = opts.networkMode === 'host';
  const ipv6 = opts.ipv6 !== false;
  const lines: Array<[string, string]> = [];
  for (const entry of opts.extraHosts ?? []) {
    // "name:address", cut at the first colon as dockerd does (the address may be IPv6).
    const i = entry.indexOf(':');
    const given = entry.slice(i + 1).replace(/^\[(.*)\]$/, '$1');
    const addr = given === 'host-gateway' && opts.hostGateway ? opts.hostGateway : given;
    lines.push([addr, entry.slice(0, i)]);
  }
  for (const addr of opts.addresses ?? []) if (addr) lines.push([addr, names]);
  // Docker 28 copies the host's file for host networking, unless there are extra hosts to add.
  let hosts = hostNetwork && !lines.length ? readOr('/etc/hosts', HOSTS_HEADER) : ipv6 ? HOSTS_HEADER : HOSTS_HEADER_V4;
  for (const [addr, name] of lines) if (ipv6 || !addr.includes(':')) hosts += `${addr}\t${name}\n`;
  return {
    hostname: `${opts.hostname}\n`,
    hosts,
    resolvConf: resolvConfFor(opts.hostResolvConf ?? readOr('/etc/resolv.conf', ''), hostNetwork, opts),
  };
}

function resolvConfFor(host: string, hostNetwork: boolean, opts: { dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[]; internalResolver?: boolean }): string {
  const lines = host.split('\n');
  let nameservers = lines.filter((l) => /^\s*nameserver\s/.test(l)).map((l) => l.trim().split(/\s+/)[1]!);
  let search = lines.filter((l) => /^\s*(search|domain)\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  let options = lines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  if (!hostNetwork) {
    // A loopback name server on the host is not reachable from the container's own network namespace.
    nameservers = nameservers.filter((ns) => !ns.startsWith('127.') && ns !== '::1');
    if (!nameservers.length) nameservers = DEFAULT_NAMESERVERS;
  }
  if (opts.dns?.length) nameservers = opts.dns;
  if (opts.dnsSearch?.length) search = opts.dnsSearch.filter((s) => s !== '.');
  if (opts.dnsOptions?.length) options = opts.dnsOptions;
  if (opts.internalResolver) {
    // As Docker on user-defined networks: the embedded DNS, which forwards to --dns or the host's servers.
    nameservers = ['127.0.0.11'];
    if (!options.some((o) => o.startsWith('ndots:'))) options = [...options, 'ndots:0'];
  }
  let out = '';
  for (const ns of nameservers) out += `nameserver ${ns}\n`;
  if (search.length) out += `search ${search.join(' ')}\n`;
  if (options.length) out += `options ${options.join(' ')}\n`;
  return out;
}

export async function writeEtcFiles(paths: { hostname: string; hosts: string; resolvConf: string }, files: EtcFiles): Promise<void> {
  // Rewritten at every start, so no fsync; atomic still, as a running container may read them.
  await Promise.all([
    writeFileAtomic(paths.hostname, files.hostname, 0o644, { durable: false }),
    writeFileAtomic(paths.hosts, files.hosts, 0o644, { durable: false }),
    writeFileAtomic(paths.resolvConf, files.resolvConf, 0o644, { durable: false }),
  ]);
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback; // missing on the host: the default
  }
}
