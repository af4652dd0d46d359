/**
 * Published ports: HostConfig.PortBindings / PublishAllPorts and Config.ExposedPorts turned into the
 * bindings to make, and the shapes Docker reports them in (inspect's NetworkSettings.Ports and the Ports
 * list of GET /containers/json). Pure functions; the network service binds and wires them.
 */
import { invalidArgument } from '../lib/errors.js';
import { formatIPv4, parseIPv4 } from './ipam.js';
import { formatIPv6, parseIPv6 } from './ipv6.js';

export type Proto = 'tcp' | 'udp';

/** One binding to make: a host address and port range for a container port. */
export interface PortRequest {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  /** 0..0 = any port from ip_local_port_range. */
  hostPortStart: number;
  hostPortEnd: number;
  /** The IPv6 half ("::") of a binding without a host address: it takes the port the IPv4 half ("0.0.0.0", just before it) got. */
  twin?: boolean;
}

/** A binding in place. */
export interface PortMapping {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

/** "80", "80/tcp", "53/udp" -> port and protocol. */
export function parsePortKey(key: string): { port: number; proto: Proto } {
  const [p, proto = 'tcp'] = key.split('/');
  const port = Number(p);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`invalid port specification: "${key}"`);
  if (proto !== 'tcp' && proto !== 'udp') {
    if (proto === 'sctp') throw invalidArgument('sctp port publishing is not supported');
    throw invalidArgument(`invalid proto: ${proto}`);
  }
  return { port, proto };
}

function parseHostPort(raw: string | undefined): { start: number; end: number } {
  const s = (raw ?? '').trim();
  if (s === '' || s === '0') return { start: 0, end: 0 };
  // dockerd's validatePortBindings wording for a HostPort that is not a port or range.
  const invalidSpec = () => invalidArgument(`invalid port specification: ${JSON.stringify(raw ?? '')}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw invalidSpec();
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : start;
  if (start < 1 || end > 65535 || end < start) throw invalidSpec();
  return { start, end };
}

/**
 * The bindings a container asks for, in Docker's order (sorted by container port, then as given). As
 * Docker 28 does, a binding without a host address is made on 0.0.0.0 and, when the host has IPv6
 * (`dualStack`), on [::] too with the same port.
 */
export function portRequests(portBindings: unknown, publishAll: boolean, exposed: unknown, defaultHostIp = '0.0.0.0', dualStack = false): PortRequest[] {
  const out: PortRequest[] = [];
  const bindings = (portBindings && typeof portBindings === 'object' ? portBindings : {}) as Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;
  const keys = new Set(Object.keys(bindings));
  if (publishAll) for (const k of Object.keys((exposed && typeof exposed === 'object' ? exposed : {}) as object)) keys.add(k);
  const sorted = [...keys].map((k) => ({ k, ...parsePortKey(k) })).sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
  for (const { k, port, proto } of sorted) {
    const list = bindings[k]?.length ? bindings[k]! : publishAll ? [{ HostIp: '', HostPort: '' }] : [];
    for (const b of list) {
      const given = (b?.HostIp ?? '').trim();
      const hostIp = canonicalHostIp(given || defaultHostIp);
      const { start, end } = parseHostPort(b?.HostPort);
      out.push({ proto, containerPort: port, hostIp, hostPortStart: start, hostPortEnd: end });
      if (!given && dualStack && hostIp === '0.0.0.0') out.push({ proto, containerPort: port, hostIp: '::', hostPortStart: start, hostPortEnd: end, twin: true });
    }
  }
  return out;
}

/** A host address in its canonical text ("[::1]" -> "::1", "0:0::1" -> "::1"); Docker's error otherwise. */
function canonicalHostIp(raw: string): string {
  const bare = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  const v4 = parseIPv4(bare);
  if (v4 !== undefined) return formatIPv4(v4);
  const v6 = bare.includes(':') ? parseIPv6(bare) : undefined;
  if (v6 !== undefined) return formatIPv6(v6);
  throw invalidArgument(`invalid host IP address: ${raw}`);
}

/** Checks PortBindings at create (so that `docker create` fails, not start). */
export function validatePortBindings(portBindings: unknown): void {
  portRequests(portBindings, false, {});
}

/** inspect's NetworkSettings.Ports: every exposed or published port; null when not published. */
export function portsView(exposed: unknown, mappings: PortMapping[]): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const k of Object.keys((exposed && typeof exposed === 'object' ? exposed : {}) as object)) {
    const { port, proto } = parsePortKey(k);
    out[`${port}/${proto}`] = null;
  }
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.proto}`;
    (out[key] ??= []).push({ HostIp: m.hostIp, HostPort: String(m.hostPort) });
  }
  return out;
}

/** The Ports list of GET /containers/json. */
export function portsSummary(exposed: unknown, mappings: PortMapping[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const published = new Set(mappings.map((m) => `${m.containerPort}/${m.proto}`));
  for (const m of mappings) out.push({ IP: m.hostIp, PrivatePort: m.containerPort, PublicPort: m.hostPort, Type: m.proto });
  for (const k of Object.keys((exposed && typeof exposed === 'object' ? exposed : {}) as object)) {
    const { port, proto } = parsePortKey(k);
    if (!published.has(`${port}/${proto}`)) out.push({ PrivatePort: port, Type: proto });
  }
  return out;
}
