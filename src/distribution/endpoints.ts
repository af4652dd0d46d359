/**
 * Where a registry is reached: its endpoints in the order a pull tries them (mirrors first), HTTP or
 * HTTPS, and the TLS material of Docker's certs.d layout. Settings are read on every call, so a SIGHUP
 * reload of insecure-registries or mirrors applies to the next pull.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import dns from 'node:dns/promises';
import type { TlsSettings } from './transport.js';

export interface RegistrySettings {
  /** --insecure-registry / "insecure-registries": host[:port] names or CIDRs. */
  insecureRegistries: string[];
  /** --registry-mirror / "registry-mirrors": mirrors of Docker Hub. */
  registryMirrors: string[];
  /** "registry-mirrors-for": mirrors of any registry, by host[:port] (a Berth extension). */
  registryMirrorsFor: Record<string, string[]>;
  /** Docker's certs.d: <dir>/<host[:port]>/ca.crt, client.cert, client.key. */
  registryCertsDir: string;
  /** dockerd's max-concurrent-downloads (3), max-concurrent-uploads (5), max-download-attempts (5; Berth 3). */
  maxConcurrentDownloads?: number;
  maxConcurrentUploads?: number;
  maxDownloadAttempts?: number;
}

export interface Endpoint {
  /** Base URL, e.g. https://registry-1.docker.io (no trailing slash, no /v2). */
  url: string;
  tls: TlsSettings;
  mirror: boolean;
  /** The next endpoint is the plain-HTTP fallback of this one (insecure registries). */
  insecure: boolean;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ENDPOINT = 'https://registry-1.docker.io';
const LOOPBACK_CIDRS = ['::1/128', '127.0.0.0/8'];

/** The endpoints for a registry domain ('docker.io', 'localhost:5000', ...), in the order to try. */
export async function endpointsFor(domain: string, s: RegistrySettings, purpose: 'pull' | 'push'): Promise<Endpoint[]> {
  const out: Endpoint[] = [];
  if (purpose === 'pull') {
    const mirrors = [...(domain === DOCKER_HUB ? s.registryMirrors : []), ...(s.registryMirrorsFor[domain] ?? [])];
    for (const m of mirrors) {
      const url = new URL(m);
      out.push({ url: url.href.replace(/\/+$/, ''), tls: await certsFor(s.registryCertsDir, url.host), mirror: true, insecure: url.protocol === 'http:' });
    }
  }
  if (domain === DOCKER_HUB) {
    out.push({ url: DOCKER_HUB_ENDPOINT, tls: await certsFor(s.registryCertsDir, DOCKER_HUB), mirror: false, insecure: false });
    return out;
  }
  const tlsFiles = await certsFor(s.registryCertsDir, domain);
  if (await isInsecure(domain, s.insecureRegistries)) {
    // As dockerd: HTTPS without verification first, plain HTTP when that fails.
    out.push({ url: `https://${domain}`, tls: { ...tlsFiles, skipVerify: true }, mirror: false, insecure: true });
    out.push({ url: `http://${domain}`, tls: {}, mirror: false, insecure: true });
  } else {
    out.push({ url: `https://${domain}`, tls: tlsFiles, mirror: false, insecure: false });
  }
  return out;
}

/** True when a registry may be reached without verified TLS: loopback, or named by the insecure list. */
export async function isInsecure(domain: string, insecure: string[]): Promise<boolean> {
  if (insecure.includes(domain)) return true;
  const host = hostOf(domain);
  if (insecure.includes(host)) return true;
  const cidrs = [...LOOPBACK_CIDRS, ...insecure.filter((e) => e.includes('/'))];
  let addresses: string[];
  if (net.isIP(host)) addresses = [host];
  else if (host === 'localhost') return true;
  else {
    // Only names can be in a CIDR through DNS; without CIDRs beyond loopback there is no need to ask.
    if (cidrs.length === LOOPBACK_CIDRS.length) return false;
    try {
      addresses = (await dns.lookup(host, { all: true })).map((a) => a.address);
    } catch {
      return false; // unresolvable: the connection will say so
    }
  }
  return addresses.some((a) => cidrs.some((c) => inCidr(a, c)));
}

/** The host without the port: 'localhost:5000' → 'localhost', '[::1]:5000' → '::1'. */
export function hostOf(domain: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(domain);
  if (v6) return v6[1]!;
  return domain.replace(/:\d+$/, '');
}

export function inCidr(address: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!base || !Number.isInteger(bits)) return false;
  const family = net.isIP(base);
  if (family !== net.isIP(address) || !family) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(base, bits, family === 6 ? 'ipv6' : 'ipv4');
  } catch {
    return false; // not a valid subnet: matches nothing
  }
  return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** CA certificates and a client key pair from <certsDir>/<host>/ as Docker's certs.d holds them. */
export async function certsFor(certsDir: string, host: string): Promise<TlsSettings> {
  // ':' in a directory name is fine on Linux; Docker uses the host:port as it is.
  const dir = path.join(certsDir, host.replace(/[/\\]/g, '_'));
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch {
    return {};
  }
  const tls: TlsSettings = {};
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith('.crt')) (tls.ca ??= []).push(await fs.readFile(file));
    else if (name.endsWith('.cert')) {
      const keyName = name.slice(0, -'.cert'.length) + '.key';
      if (!names.includes(keyName)) throw new Error(`missing key ${keyName} for client certificate ${name}. CA certificates must use the extension .crt`);
      tls.cert = await fs.readFile(file);
      tls.key = await fs.readFile(path.join(dir, keyName));
    } else if (name.endsWith('.key')) {
      const certName = name.slice(0, -'.key'.length) + '.cert';
      if (!names.includes(certName)) throw new Error(`missing client certificate ${certName} for key ${name}`);
    }
  }
  return tls;
}

/** Checks daemon options as dockerd does at start-up and reload; returns the normalised settings. */
export function validateRegistryOptions(s: RegistrySettings): RegistrySettings {
  const mirror = (m: string): string => {
    let url: URL;
    try {
      url = new URL(m);
    } catch {
      throw new Error(`invalid mirror: "${m}" is not a valid URI`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`invalid mirror: unsupported scheme "${url.protocol.slice(0, -1)}" in "${m}"`);
    if (url.username || url.password) throw new Error(`invalid mirror: username/password not allowed in URI "${m}"`);
    if (url.search || url.hash) throw new Error(`invalid mirror: query or fragment at end of the URI "${m}"`);
    return url.href.endsWith('/') ? url.href : `${url.href}/`;
  };
  for (const r of s.insecureRegistries) {
    if (/^[a-z]+:\/\//i.test(r)) throw new Error(`insecure registry ${r} should not contain '://'`);
    if (r.includes('/') && !inCidrShape(r)) throw new Error(`insecure registry ${r} is not a valid CIDR or host`);
  }
  const mirrorsFor: Record<string, string[]> = {};
  for (const [host, list] of Object.entries(s.registryMirrorsFor)) {
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new Error(`registry-mirrors-for: the mirrors of ${host} must be a list of URLs`);
    mirrorsFor[host === 'index.docker.io' ? DOCKER_HUB : host] = list.map(mirror);
  }
  return { ...s, registryMirrors: s.registryMirrors.map(mirror), registryMirrorsFor: mirrorsFor };
}

function inCidrShape(r: string): boolean {
  const [base, bits] = r.split('/');
  return !!base && net.isIP(base) !== 0 && /^\d+$/.test(bits ?? '');
}

/** GET /info's RegistryConfig, filled as dockerd fills it. */
export function registryInfo(s: RegistrySettings): Record<string, unknown> {
  const cidrs = [...LOOPBACK_CIDRS];
  const indexConfigs: Record<string, unknown> = {};
  for (const r of s.insecureRegistries) {
    if (r.includes('/')) {
      if (!cidrs.includes(r)) cidrs.push(r);
    } else indexConfigs[r] = { Name: r, Mirrors: s.registryMirrorsFor[r] ?? [], Secure: false, Official: false };
  }
  for (const [host, mirrors] of Object.entries(s.registryMirrorsFor)) {
    if (host !== DOCKER_HUB && !indexConfigs[host]) indexConfigs[host] = { Name: host, Mirrors: mirrors, Secure: true, Official: false };
  }
  const hubMirrors = [...s.registryMirrors, ...(s.registryMirrorsFor[DOCKER_HUB] ?? [])];
  indexConfigs[DOCKER_HUB] = { Name: DOCKER_HUB, Mirrors: hubMirrors, Secure: true, Official: true };
  return {
    AllowNondistributableArtifactsCIDRs: null,
    AllowNondistributableArtifactsHostnames: null,
    InsecureRegistryCIDRs: cidrs,
    IndexConfigs: indexConfigs,
    Mirrors: hubMirrors.length ? hubMirrors : null,
  };
}
