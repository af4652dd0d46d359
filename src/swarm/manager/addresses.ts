/**
 * Listen, advertise and data-path addresses as dockerd resolves them (moby daemon/cluster/listen_addr.go):
 * an interface name or an IP, with or without a port; without an advertise address, the one global
 * unicast address of the system's physical devices, or dockerd's "could not choose" errors.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { invalidArgument } from '../../lib/errors.js';

export const DEFAULT_LISTEN = '0.0.0.0:2377';
const BAD_LISTEN = 'listen address must be an IP address or network interface (with optional port number)';
const BAD_ADVERTISE = 'advertise address must be a non-zero IP address or network interface (with optional port number)';
const BAD_DATA_PATH = 'data path address must be a non-zero IP address or network interface (without a port number)';

export interface HostPort {
  host: string;
  port: number;
}

export function splitHostPort(addr: string): { host: string; port?: string } {
  const m = /^\[([^\]]+)\]:(\d*)$/.exec(addr) ?? /^([^:]*):(\d*)$/.exec(addr);
  if (m) return { host: m[1]!, port: m[2] };
  return { host: addr };
}

export const joinHostPort = (host: string, port: number | string): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** dockerd's validateAddr: "" is an error; a bare host gets the default port. */
export function normalizeAddr(addr: string | undefined, what: string): string {
  if (!addr) throw invalidArgument(`invalid ${what} "": invalid empty address`);
  const { host, port } = splitHostPort(addr.replace(/^tcp:\/\//, ''));
  return joinHostPort(host || '0.0.0.0', port || '2377');
}

function interfaceAddress(name: string): string | undefined | Error {
  const addrs = os.networkInterfaces()[name];
  if (!addrs) return undefined;
  const v4 = addrs.filter((a) => a.family === 'IPv4').map((a) => a.address);
  const v6 = addrs.filter((a) => a.family === 'IPv6').map((a) => a.address);
  if (v4.length > 1) return invalidArgument(`interface ${name} has more than one IPv4 address (${v4[0]} and ${v4[1]})`);
  if (v6.length > 1 && !v4.length) return invalidArgument(`interface ${name} has more than one IPv6 address (${v6[0]} and ${v6[1]})`);
  if (!v4.length && !v6.length) return invalidArgument(`interface ${name} has no usable IPv4 or IPv6 address`);
  return v4[0] ?? v6[0];
}

function resolveInput(input: string, unspecifiedValid: boolean, bad: string): string {
  const fromInterface = interfaceAddress(input);
  if (fromInterface instanceof Error) throw fromInterface;
  if (fromInterface) return fromInterface;
  if (net.isIP(input) && (unspecifiedValid || !['0.0.0.0', '::'].includes(input))) return input;
  throw invalidArgument(bad);
}

export function resolveListenAddr(addr: string): HostPort {
  const { host, port } = splitHostPort(addr);
  if (port === undefined || port === '') throw invalidArgument(`could not parse listen address ${addr}`);
  return { host: resolveInput(host, true, BAD_LISTEN), port: Number(port) };
}

const globalUnicast = (ip: string) => !/^(127\.|169\.254\.|0\.|22[4-9]\.|23\d\.|fe80:|::1$|ff)/i.test(ip) && ip !== '::';

/** The one global unicast IPv4 address of the system's physical (device-backed) interfaces. */
export function systemAddress(): string {
  let found: { ip: string; ifname: string } | undefined;
  for (const [ifname, addrs] of Object.entries(os.networkInterfaces())) {
    if (!existsSync(`/sys/class/net/${ifname}/device`)) continue; // bridges, veths, vxlans, loopback
    const v4 = (addrs ?? []).filter((a) => a.family === 'IPv4' && globalUnicast(a.address)).map((a) => a.address);
    if (v4.length > 1) throw invalidArgument(`could not choose an IP address to advertise since this system has multiple addresses on interface ${ifname} (${v4[0]} and ${v4[1]})`);
    if (!v4.length) continue;
    if (found) throw invalidArgument(`could not choose an IP address to advertise since this system has multiple addresses on different interfaces (${found.ip} on ${found.ifname} and ${v4[0]} on ${ifname})`);
    found = { ip: v4[0]!, ifname };
  }
  if (!found) throw invalidArgument("could not find the system's IP address");
  return found.ip;
}

export function resolveAdvertiseAddr(addr: string | undefined, listenPort: number): HostPort {
  if (!addr) return { host: systemAddress(), port: listenPort };
  const { host, port } = splitHostPort(addr);
  return { host: resolveInput(host, false, BAD_ADVERTISE), port: port ? Number(port) : listenPort };
}

export function resolveDataPathAddr(addr: string | undefined): string {
  return addr ? resolveInput(addr, false, BAD_DATA_PATH) : '';
}

/** The address this host uses to reach `remote` (host:port): what a joining node advertises by default. */
export function localAddressTowards(remote: string): Promise<string> {
  const { host, port } = splitHostPort(remote);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port || 2377), timeout: 3_000 }, () => {
      const ip = s.localAddress!;
      s.destroy();
      resolve(ip.replace(/^::ffff:/, ''));
    });
    s.once('timeout', () => s.destroy(new Error(`timeout connecting to ${remote}`)));
    s.once('error', reject);
  });
}

export function validateAddrPool(pool: string[] | undefined, size: number | undefined): void {
  if (!pool?.length) return;
  const s = size || 24;
  if (s > 29) throw invalidArgument(`subnet size is out of range: ${s}`);
  for (const cidr of pool) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
    if (!m || !net.isIPv4(m[1]!) || Number(m[2]) > 32) throw invalidArgument(`invalid CIDR address: ${cidr}`);
    if (s < Number(m[2])) throw invalidArgument(`invalid CIDR: "${cidr}". Subnet size is too small for pool: ${s}`);
  }
}

export function dataPathPort(port: number | undefined): number {
  if (!port) return 4789;
  if (port < 1024 || port > 49151) throw invalidArgument(`Datapath port number is not in valid range (1024-49151) : ${port}`);
  return port;
}
