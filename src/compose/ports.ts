/**
 * `ports` in both forms. The short form `[[IP:]HOST:]CONTAINER[/PROTOCOL]` (IPv6 hosts in brackets,
 * ranges on either side) becomes one long-form entry per container port, as docker compose expands it.
 */
import { ComposeError } from './errors.js';
import type { PortConfig } from './types.js';

function range(text: string, what: 'containerPort' | 'hostPort'): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const low = m ? Number(m[1]) : NaN;
  const high = m?.[2] !== undefined ? Number(m[2]) : low;
  if (!m || low > 65535 || high > 65535 || high < low || (what === 'containerPort' && low === 0)) {
    throw new ComposeError(`invalid ${what}: ${text}`);
  }
  return [low, high];
}

function splitHost(spec: string): { ip?: string; host?: string; container: string } {
  let ip: string | undefined;
  let rest = spec;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw new ComposeError(`invalid IP address: ${spec}`);
    ip = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  if (ip !== undefined) {
    if (parts.length !== 2) throw new ComposeError(`invalid port specification: ${spec}`);
    return { ip, host: parts[0], container: parts[1] };
  }
  if (parts.length === 1) return { container: parts[0] };
  if (parts.length === 2) return { host: parts[0], container: parts[1] };
  if (parts.length === 3) return { ip: parts[0], host: parts[1], container: parts[2] };
  throw new ComposeError(`invalid port specification: ${spec}`);
}

export function parsePortShort(spec: string | number): PortConfig[] {
  const text = String(spec);
  const slash = text.lastIndexOf('/');
  const protocol = slash >= 0 ? text.slice(slash + 1).toLowerCase() : 'tcp';
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new ComposeError(`invalid proto: ${protocol}`);
  const { ip, host, container } = splitHost(slash >= 0 ? text.slice(0, slash) : text);
  if (ip !== undefined && ip !== '' && !/^[0-9.]+$|:/.test(ip)) throw new ComposeError(`invalid IP address: ${ip}`);
  const [cLow, cHigh] = range(container, 'containerPort');
  const hostRange = host !== undefined && host !== '' ? range(host, 'hostPort') : undefined;
  const count = cHigh - cLow + 1;
  const base = (target: number, published?: string): PortConfig => ({
    mode: 'ingress',
    ...(ip ? { host_ip: ip } : {}),
    target,
    ...(published !== undefined ? { published } : {}),
    protocol,
  });
  if (!hostRange) return Array.from({ length: count }, (_, i) => base(cLow + i));
  const hostCount = hostRange[1] - hostRange[0] + 1;
  if (count === 1 && hostCount > 1) return [base(cLow, `${hostRange[0]}-${hostRange[1]}`)];
  if (hostCount !== count) throw new ComposeError(`invalid ranges specified for container and host Ports: ${container} and ${host}`);
  return Array.from({ length: count }, (_, i) => base(cLow + i, String(hostRange[0] + i)));
}

export function parsePortLong(raw: Record<string, unknown>): PortConfig {
  const target = Number(raw.target);
  if (!Number.isInteger(target) || target < 1 || target > 65535) throw new ComposeError(`invalid containerPort: ${String(raw.target)}`);
  // Key order as docker compose prints a port.
  const ordered = { mode: typeof raw.mode === 'string' ? raw.mode : 'ingress' } as PortConfig;
  if (raw.host_ip !== undefined) ordered.host_ip = String(raw.host_ip);
  ordered.target = target;
  if (raw.published !== undefined && raw.published !== null && raw.published !== '') ordered.published = String(raw.published);
  ordered.protocol = typeof raw.protocol === 'string' ? raw.protocol : 'tcp';
  if (raw.app_protocol !== undefined) ordered.app_protocol = String(raw.app_protocol);
  if (raw.name !== undefined) ordered.name = String(raw.name);
  return ordered;
}

export function parsePorts(list: unknown[]): PortConfig[] {
  return list.flatMap((item) =>
    typeof item === 'string' || typeof item === 'number' ? parsePortShort(item) : [parsePortLong(item as Record<string, unknown>)],
  );
}

/** The merge key of a port: {ip, target, published, protocol}. */
export function portKey(port: PortConfig): string {
  return `${port.host_ip ?? ''}|${port.target}|${port.published ?? ''}|${port.protocol}`;
}
