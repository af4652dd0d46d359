/**
 * Ports and network endpoints as the docker 28 CLI reads them: `-p/--publish` (long syntax
 * converted to the short one, then go-connections' nat.ParsePortSpecs), `--expose`, the
 * checks of `--mac-address` (net.ParseMAC) and `--link`, and `berth port`, which prints a
 * container's published ports as `docker port` does.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { PROGRAM, type CommandDef } from '../args.js';
import { pathName } from '../client.js';
import { CliError } from '../errors.js';

// ---- -p/--publish and --expose -----------------------------------------------------------

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** net.ParseIP: dotted IPv4 (no leading zeros) or IPv6 without a zone. */
function isGoIP(s: string): boolean {
  return isIPv4(s) || (isIPv6(s) && !s.includes('%'));
}

/** Go's net.SplitHostPort, for the "[v6]" form; returns the host or throws Go's AddrError text. */
function splitHostPort(hostport: string): string {
  const fail = (why: string): never => {
    throw new Error(`address ${hostport}: ${why}`);
  };
  const i = hostport.lastIndexOf(':');
  if (i < 0) fail('missing port in address');
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport[0] === '[') {
    const end = hostport.indexOf(']');
    if (end < 0) fail("missing ']' in address");
    if (end + 1 === hostport.length) fail('missing port in address');
    else if (end + 1 !== i) fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) fail('too many colons in address');
  }
  if (hostport.slice(j).includes('[')) fail("unexpected '[' in address");
  if (hostport.slice(k).includes(']')) fail("unexpected ']' in address");
  return host;
}

/** strconv.ParseUint(s, 10, 16), with Go's error text. */
function parseUint16(s: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n > 65535) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** nat.ParsePortRange: "80" or "8000-9000" (only the first two parts of "a-b-c" count). */
export function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('empty string specified for ports');
  if (!ports.includes('-')) {
    const n = parseUint16(ports);
    return [n, n];
  }
  const parts = ports.split('-');
  const start = parseUint16(parts[0]!);
  const end = parseUint16(parts[1]!);
  if (end < start) throw new Error(`invalid range specified for port: ${ports}`);
  return [start, end];
}

/** nat.SplitProtoPort: "80/udp" into ["udp", "80"]; tcp when no protocol is given. */
export function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw === '' || parts[0] === '') return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1] === '') return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** The long syntax (`published=8080,target=80,protocol=udp`) as "8080:80/udp"; others as given. */
export function convertToStandardNotation(ports: readonly string[]): string[] {
  return ports.map((publish) => {
    if (!publish.includes('=')) return publish;
    const params = new Map<string, string>([['protocol', 'tcp']]);
    for (const param of publish.split(',')) {
      const eq = param.indexOf('=');
      if (eq <= 0) throw new Error(`invalid publish opts format (should be name=value but got '${param}')`);
      params.set(param.slice(0, eq), param.slice(eq + 1));
    }
    return `${params.get('published') ?? ''}:${params.get('target') ?? ''}/${params.get('protocol')}`;
  });
}

/** nat.ParsePortSpec: one "[ip:][hostPort:]containerPort[/proto]" into (port, binding) pairs. */
export function parsePortSpec(rawPort: string): Array<[string, PortBinding]> {
  const parts = rawPort.split(':');
  const n = parts.length;
  let ip = '';
  let hostPort = '';
  let containerPort = parts[n - 1]!;
  if (n === 2) hostPort = parts[0]!;
  else if (n >= 3) {
    ip = parts.slice(0, n - 2).join(':');
    hostPort = parts[n - 2]!;
  }
  let proto: string;
  [proto, containerPort] = splitProtoPort(containerPort);

  if (ip !== '' && ip[0] === '[') {
    try {
      ip = splitHostPort(ip + ':');
    } catch (err) {
      throw new Error(`invalid IP address ${ip}: ${(err as Error).message}`);
    }
  }
  if (ip !== '' && !isGoIP(ip)) throw new Error(`invalid IP address: ${ip}`);
  if (containerPort === '') throw new Error(`no port specified: ${rawPort}<empty>`);

  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new Error(`invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0;
  let hostEnd = 0;
  if (hostPort !== '') {
    try {
      [hostStart, hostEnd] = parsePortRange(hostPort);
    } catch {
      throw new Error(`invalid hostPort: ${hostPort}`);
    }
  }
  if (hostPort !== '' && end - start !== hostEnd - hostStart && end !== start) {
    throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw new Error(`invalid proto: ${proto}`);

  const out: Array<[string, PortBinding]> = [];
  for (let i = 0; i <= end - start; i++) {
    if (hostPort !== '') hostPort = String(hostStart + i);
    if (start === end && hostStart !== hostEnd) hostPort = `${hostPort}-${hostEnd}`;
    out.push([`${start + i}/${proto.toLowerCase()}`, { HostIp: ip, HostPort: hostPort }]);
  }
  return out;
}

function sortedKeys<T>(map: Map<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of [...map.keys()].sort()) out[k] = map.get(k)!;
  return out;
}

/**
 * -p and --expose into Config.ExposedPorts (undefined when empty, as omitempty leaves it out)
 * and HostConfig.PortBindings, with docker's errors.
 */
export function parsePorts(
  publish: readonly string[],
  expose: readonly string[],
): { exposed: Record<string, Record<string, never>> | undefined; bindings: Record<string, PortBinding[]> } {
  const exposed = new Map<string, Record<string, never>>();
  const bindings = new Map<string, PortBinding[]>();
  for (const raw of convertToStandardNotation(publish)) {
    for (const [port, binding] of parsePortSpec(raw)) {
      exposed.set(port, {});
      bindings.set(port, [...(bindings.get(port) ?? []), binding]);
    }
  }
  for (const e of expose) {
    if (e.includes(':')) throw new Error(`invalid port format for --expose: ${e}`);
    const [proto, port] = splitProtoPort(e);
    let start: number;
    let end: number;
    try {
      [start, end] = parsePortRange(port);
    } catch (err) {
      throw new Error(`invalid range format for --expose: ${e}, error: ${(err as Error).message}`);
    }
    for (let p = start; p <= end; p++) exposed.set(`${p}/${proto}`, {});
  }
  return { exposed: exposed.size ? sortedKeys(exposed) : undefined, bindings: sortedKeys(bindings) };
}

// ---- endpoint options ----------------------------------------------------------------------

/** net.ParseMAC: 6, 8 or 20 bytes as xx:xx:..., xx-xx-... or xxxx.xxxx.xxxx. */
export function isValidMac(s: string): boolean {
  const hex2 = '[0-9A-Fa-f]{2}';
  const m = /^[0-9A-Fa-f]{2}([:-])/.exec(s);
  if (m) {
    const sep = m[1] === '-' ? '-' : ':';
    const re = new RegExp(`^${hex2}(?:${sep}${hex2})+$`);
    const n = (s.length + 1) / 3;
    return re.test(s) && [6, 8, 20].includes(n);
  }
  if (!/^[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4})+$/.test(s)) return false;
  return [6, 8, 20].includes((2 * (s.length + 1)) / 5);
}

/** opts.ValidateLink: "name[:alias]". */
export function checkLink(val: string): string | undefined {
  if (val === '') return 'empty string specified for links';
  if (val.split(':').length > 2) return `bad format for links: ${val}`;
  return undefined;
}

// ---- berth port ----------------------------------------------------------------------------

/** sortorder.NaturalLess: runs of digits compared as numbers, everything else bytewise. */
export function naturalLess(a: string, b: string): boolean {
  const digit = (c: number) => c >= 48 && c <= 57;
  const s1 = Buffer.from(a);
  const s2 = Buffer.from(b);
  let i = 0;
  let j = 0;
  while (i < s1.length && j < s2.length) {
    const c1 = s1[i]!;
    const c2 = s2[j]!;
    const d1 = digit(c1);
    const d2 = digit(c2);
    if (d1 !== d2) return d1;
    if (!d1) {
      if (c1 !== c2) return c1 < c2;
      i++;
      j++;
      continue;
    }
    while (i < s1.length && s1[i] === 48) i++;
    while (j < s2.length && s2[j] === 48) j++;
    const nz1 = i;
    const nz2 = j;
    while (i < s1.length && digit(s1[i]!)) i++;
    while (j < s2.length && digit(s2[j]!)) j++;
    if (i - nz1 !== j - nz2) return i - nz1 < j - nz2;
    const n1 = s1.subarray(nz1, i).toString();
    const n2 = s2.subarray(nz2, j).toString();
    if (n1 !== n2) return n1 < n2;
    if (nz1 !== nz2) return nz1 < nz2;
  }
  return s1.length < s2.length;
}

/** net.JoinHostPort. */
function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

type PortMap = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null | undefined;

/**
 * What `port` prints for a container's NetworkSettings.Ports: every mapping as
 * "80/tcp -> 0.0.0.0:8080", or only the addresses of `privatePort`; naturally sorted.
 * Throws docker's error for a bad or unpublished port.
 */
export function formatPorts(ports: PortMap, container: string, privatePort = ''): string {
  const out: string[] = [];
  if (privatePort !== '') {
    const slash = privatePort.indexOf('/');
    const port = slash === -1 ? privatePort : privatePort.slice(0, slash);
    const proto = (slash === -1 ? '' : privatePort.slice(slash + 1)) || 'tcp';
    try {
      parseUint16(port);
    } catch (err) {
      throw new CliError(`Error: invalid port (${port}): ${(err as Error).message}`);
    }
    const frontends = ports?.[`${port}/${proto}`];
    if (!frontends?.length) throw new CliError(`Error: No public port '${privatePort}' published for ${container}`);
    for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
  } else {
    for (const [from, frontends] of Object.entries(ports ?? {})) {
      for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
    }
  }
  out.sort((x, y) => (naturalLess(x, y) ? -1 : naturalLess(y, x) ? 1 : 0));
  return out.length ? `${out.join('\n')}\n` : '';
}

const PORT_USAGE = 'CONTAINER [PRIVATE_PORT[/PROTO]]';

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`: GET /containers/{id}/json, then its Ports. */
export function portCommand(name: string): CommandDef {
  return {
    name,
    usage: PORT_USAGE,
    short: 'List port mappings or a specific mapping for the container',
    aliasPaths: [`container ${name}`, name],
    run: async (inv, cli) => {
      if (inv.args.length < 1 || inv.args.length > 2) {
        // cli.RequiresRangeArgs(1, 2), worded as docker 28 words it.
        throw new CliError(
          `${PROGRAM}: '${inv.path}' requires at least 1 and at most 2 arguments\n\nUsage:  ${inv.path} ${PORT_USAGE}\n\nRun '${inv.path} --help' for more information`,
        );
      }
      const [container, privatePort] = inv.args as [string, string | undefined];
      const info = await cli.client().json<{ NetworkSettings?: { Ports?: PortMap } | null }>('GET', `/containers/${pathName(container)}/json`);
      cli.out.write(formatPorts(info?.NetworkSettings?.Ports, container, privatePort ?? ''));
    },
  };
}
