/**
 * HTTP(S) requests to registries: TLS settings per endpoint, redirects (blob storage often answers with
 * one) with a limit, cancellation, and bounded body reads. Nothing here knows about the Distribution API.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import net from 'node:net';
import { proxyFor, proxyAuth, tunnel } from './proxy.js';
import type { Readable } from 'node:stream';

export interface TlsSettings {
  /** Extra CA certificates (PEM) trusted beside the system's (certs.d/<host>/*.crt). */
  ca?: Buffer[];
  /** Client certificate and key (certs.d/<host>/*.cert and *.key). */
  cert?: Buffer;
  key?: Buffer;
  /** Insecure registries reached over HTTPS: any certificate is accepted. */
  skipVerify?: boolean;
}

export interface RequestOptions {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  tls?: TlsSettings;
  signal?: AbortSignal;
  /** Redirects followed for GET and HEAD (Go's client follows 10). */
  maxRedirects?: number;
  /** Headers sent only to the first host (credentials must not follow a redirect to another one). */
  authHeaders?: Record<string, string>;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  url: URL;
  body: http.IncomingMessage;
}

/** How long a connection may stay silent before the request fails. */
const IDLE_TIMEOUT_MS = 60_000;

/** Sends one request, following redirects; the caller reads (or discards) the body. */
export async function send(o: RequestOptions): Promise<Response> {
  let url = o.url;
  const limit = o.maxRedirects ?? 10;
  for (let hop = 0; ; hop++) {
    const sameHost = url.host === o.url.host;
    const res = await once({ ...o, url, headers: { ...o.headers, ...(sameHost ? o.authHeaders : {}) } });
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.status) || !location || (o.method !== 'GET' && o.method !== 'HEAD')) {
      return { ...res, url };
    }
    discard({ ...res, url });
    if (hop >= limit) throw new Error(`${o.method} ${JSON.stringify(o.url.href)}: stopped after ${limit} redirects`);
    url = new URL(location, url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${o.method} ${JSON.stringify(o.url.href)}: redirect to unsupported protocol ${url.protocol}`);
  }
}

async function once(o: RequestOptions): Promise<Omit<Response, 'url'>> {
  const isHttps = o.url.protocol === 'https:';
  const proxy = proxyFor(o.url);
  let tunnelled: net.Socket | undefined;
  if (proxy && isHttps) {
    try {
      tunnelled = await tunnel(proxy, o.url, o.signal);
    } catch (err) {
      throw wrapError(o, err as Error);
    }
  }
  return new Promise((resolve, reject) => {
    const common = { method: o.method, headers: { 'User-Agent': 'berth/1 (docker-compatible)', ...o.headers }, signal: o.signal };
    const tlsOptions = {
      ca: o.tls?.ca?.length ? [...tlsRootCertificates(), ...o.tls.ca] : undefined,
      cert: o.tls?.cert,
      key: o.tls?.key,
      rejectUnauthorized: !o.tls?.skipVerify,
    };
    const servername = net.isIP(o.url.hostname.replace(/^\[|\]$/g, '')) ? undefined : o.url.hostname;
    let req: http.ClientRequest;
    if (isHttps && tunnelled) {
      const socket = tunnelled;
      req = https.request(o.url, { ...common, ...tlsOptions, createConnection: () => tls.connect({ ...tlsOptions, socket, servername }) });
    } else if (isHttps) {
      req = https.request(o.url, { ...common, ...tlsOptions });
    } else if (proxy) {
      // Plain HTTP through a proxy: the absolute URI goes to the proxy.
      req = http.request({ ...common, host: proxy.hostname, port: proxy.port || 80, path: o.url.href, headers: { ...common.headers, Host: o.url.host, ...proxyAuth(proxy) } });
    } else {
      req = http.request(o.url, common);
    }
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`${o.method} ${JSON.stringify(o.url.href)}: timeout after ${IDLE_TIMEOUT_MS / 1000}s without data`)));
    req.on('error', (err) => {
      tunnelled?.destroy(); // a tunnel the request never took over must not stay open
      reject(wrapError(o, err));
    });
    req.on('response', (res) => {
      res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(new Error(`${o.method} ${JSON.stringify(o.url.href)}: timeout after ${IDLE_TIMEOUT_MS / 1000}s without data`)));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    const body = o.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

/** Go's client error shape: `Get "https://host/v2/": dial tcp ...: connection refused`. */
function wrapError(o: RequestOptions, err: Error): Error {
  if (err.name === 'AbortError') return err;
  const method = o.method[0] + o.method.slice(1).toLowerCase();
  const e = new Error(`${method} ${JSON.stringify(o.url.href)}: ${err.message}`);
  (e as NodeJS.ErrnoException).code = (err as NodeJS.ErrnoException).code;
  return e;
}

/** Node replaces its default CAs when `ca` is given; the system's stay trusted beside certs.d's. */
function tlsRootCertificates(): readonly string[] {
  return tls.rootCertificates;
}

/** Reads a whole body, failing when it is longer than `limit` bytes. */
export async function readBody(res: Response, limit: number, what = 'response'): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.body.destroy();
    throw new Error(`${what} is too large: ${declared} bytes (limit ${limit})`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.body.destroy();
      throw new Error(`${what} is too large: more than ${limit} bytes (limit ${limit})`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Discards a body so the connection can be reused. */
export function discard(res: Response): void {
  // Nobody reads it any more, so a connection reset on it must not become an unhandled error.
  res.body.on('error', () => undefined);
  res.body.resume();
}
