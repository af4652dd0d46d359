import { readFileSync } from 'node:fs';
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

const HOSTS_HEADER = `127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::\tip6-localnet
ff00::\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
`;

/** Docker's fallback when the host's resolv.conf has no usable (non-loopback) name server. */
const DEFAULT_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

export function etcFilesFor(opts: {
  hostname: string;
  domainname?: string;
  networkMode: string;
  extraHosts?: string[];
  ip?: string;
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
  const hostNetwork = opts.networkMode === 'host';
  let hosts = hostNetwork ? readOr('/etc/hosts', HOSTS_HEADER) : HOSTS_HEADER;
  for (const entry of opts.extraHosts ?? []) {
    const i = entry.lastIndexOf(':');
    const addr = entry.slice(i + 1) === 'host-gateway' && opts.hostGateway ? opts.hostGateway : entry.slice(i + 1);
    hosts += `${addr}\t${entry.slice(0, i)}\n`;
  }
  if (opts.ip) hosts += `${opts.ip}\t${fqdn === opts.hostname ? opts.hostname : `${fqdn} ${opts.hostname}`}\n`;
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
    return fallback;
  }
}
