/**
 * HTTP(S)_PROXY and NO_PROXY for registry traffic, read from berthd's environment as dockerd (Go's
 * ProxyFromEnvironment) reads them: HTTPS goes through a CONNECT tunnel, HTTP as an absolute-URI request;
 * localhost and loopback addresses are never proxied.
 */
import http from 'node:http';
import net from 'node:net';
import { inCidr } from './endpoints.js';

/** The proxy for `url`, or undefined to connect directly. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const raw = url.protocol === 'https:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!raw) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || (net.isIP(host) && (inCidr(host, '127.0.0.0/8') || host === '::1'))) return undefined;
  if (noProxy(host, url.port, env.NO_PROXY ?? env.no_proxy ?? '')) return undefined;
  try {
    return new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    return undefined; // an unparsable proxy setting: connect directly, as Go does for an invalid one
  }
}

function noProxy(host: string, port: string, list: string): boolean {
  for (let entry of list.split(',').map((e) => e.trim().toLowerCase()).filter(Boolean)) {
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (net.isIP(host) && inCidr(host, entry)) return true;
      continue;
    }
    const m = /^(.*?)(?::(\d+))?$/.exec(entry)!;
    if (m[2] && m[2] !== port) continue;
    entry = m[1]!.replace(/^\*?\./, '.');
    const h = host.toLowerCase();
    if (h === entry.replace(/^\./, '') || (entry.startsWith('.') ? h.endsWith(entry) : h.endsWith(`.${entry}`))) return true;
  }
  return false;
}

/** Proxy-Authorization for a proxy URL with credentials. */
export function proxyAuth(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'Proxy-Authorization': `Basic ${Buffer.from(creds).toString('base64')}` };
}

/** Opens a CONNECT tunnel to `target` through `proxy`. */
export function tunnel(proxy: URL, target: URL, signal?: AbortSignal): Promise<net.Socket> {
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: proxy.hostname,
      port: proxy.port || 80,
      method: 'CONNECT',
      path: `${target.hostname}:${port}`,
      headers: { Host: `${target.hostname}:${port}`, ...proxyAuth(proxy) },
      signal,
    });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`proxyconnect tcp: proxy ${proxy.host} answered ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      resolve(socket);
    });
    req.on('error', (err) => reject(new Error(`proxyconnect tcp: ${err.message}`)));
    req.end();
  });
}
