/**
 * The CLI's HTTP client for the Engine API: the same requests any Docker client makes, over a
 * unix socket or TCP. API versions are negotiated like docker's client does: ping once, then
 * prefix every path with /v{min(ours, daemon's)}.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { CliError, ConnectError, DaemonError } from './errors.js';
import { CLIENT_VERSION } from './version.js';
import { newAgent, tlsErrorText, tlsRequestOptions, type ClientTls } from './tls.js';

export const MAX_API_VERSION = '1.50';
/** Docker assumes this when a daemon does not say which version it speaks. */
const FALLBACK_API_VERSION = '1.24';
export const DEFAULT_SOCKET = '/run/berth/berth.sock';
export const DEFAULT_HOST = `unix://${DEFAULT_SOCKET}`;
const DEFAULT_TCP_PORT = 2375;
/** docker's default host when TLS is on and no host is given (its ParseHost with defaultToTLS). */
export const DEFAULT_TLS_HOST = 'tcp://localhost:2376';

export type Endpoint =
  | { proto: 'unix'; path: string; display: string }
  | { proto: 'tcp'; host: string; port: number; display: string };

/** Picks the daemon address: -H, then BERTH_HOST, then DOCKER_HOST, then the default socket. */
export function resolveHost(flags: string[], env: NodeJS.ProcessEnv, tls = false): string {
  if (flags.length > 1) throw new CliError('Failed to initialize: unable to resolve berth endpoint: Specify only one -H');
  return flags[0] || env.BERTH_HOST || env.DOCKER_HOST || (tls ? DEFAULT_TLS_HOST : DEFAULT_HOST);
}

/** Parses a -H value as docker's opts.ParseHost does ("foo" means tcp://foo:2375). */
export function parseHost(raw: string, tls = false): Endpoint {
  const invalid = () => new CliError(`Failed to initialize: unable to resolve berth endpoint: invalid bind address format: ${raw}`);
  let s = raw.trim();
  if (s === '') s = tls ? DEFAULT_TLS_HOST : DEFAULT_HOST;
  if (!s.includes('://')) s = `tcp://${s}`;
  const scheme = s.slice(0, s.indexOf('://'));
  const rest = s.slice(scheme.length + 3);
  if (scheme === 'unix') {
    const path = rest || DEFAULT_SOCKET;
    return { proto: 'unix', path, display: `unix://${path}` };
  }
  if (scheme !== 'tcp') throw invalid();
  const hostPort = rest.replace(/\/.*$/, '');
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
  if (!m) throw invalid();
  const host = (m[1] || 'localhost').replace(/^\[(.*)\]$/, '$1');
  // An out-of-range port fails when dialing, as it does for docker.
  const port = m[2] ? Number(m[2]) : DEFAULT_TCP_PORT;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { proto: 'tcp', host, port, display: `tcp://${shown}:${port}` };
}

/** The one place where connections are set up: https with certificates for tcp with TLS. */
function transport(ep: Endpoint, agent: http.Agent, tls?: ClientTls): { request: typeof http.request; options: http.RequestOptions } {
  if (ep.proto === 'unix') return { request: http.request, options: { socketPath: ep.path, agent } };
  if (tls) return { request: https.request, options: { host: ep.host, port: ep.port, agent, ...tlsRequestOptions(tls) } };
  return { request: http.request, options: { host: ep.host, port: ep.port, agent } };
}

export type QueryValue = string | number | boolean | string[] | undefined;

/** url.Values.Encode: keys sorted, Go's QueryEscape (space as '+', only -_.~ left bare). */
export function encodeQuery(query: Record<string, QueryValue>): string {
  const esc = (v: string) =>
    encodeURIComponent(v)
      .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
      .replace(/%20/g, '+');
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [typeof value === 'boolean' ? (value ? '1' : '0') : String(value)];
    for (const v of values) parts.push(`${esc(key)}=${esc(v)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Escapes an object name for a path segment; '/', ':' and '@' stay as docker sends them. */
export function pathName(name: string): string {
  return encodeURIComponent(name).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/g, '@');
}

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** A JSON body. */
  json?: unknown;
  /** A raw body; a stream is sent chunked. */
  body?: string | Uint8Array | Readable;
  headers?: Record<string, string>;
}

export interface ClientOptions {
  /** DOCKER_API_VERSION: use this version and skip negotiation. */
  apiVersion?: string;
  /** TLS for tcp:// hosts (--tls/--tlsverify); see tls.ts. */
  tls?: ClientTls;
  /** What connection errors call the daemon: "Berth", or "Docker" for the docker CLI plugin. */
  daemonName?: string;
}

export class ApiClient {
  private version: string | undefined;
  private negotiation: Promise<string> | undefined;
  private readonly agent: http.Agent;
  private readonly tls: ClientTls | undefined;
  private readonly daemonName: string;

  constructor(
    readonly endpoint: Endpoint,
    opts: ClientOptions = {},
  ) {
    this.version = opts.apiVersion?.replace(/^v/, '') || undefined;
    this.tls = endpoint.proto === 'tcp' ? opts.tls : undefined;
    this.daemonName = opts.daemonName ?? 'Berth';
    this.agent = newAgent(this.tls, true);
  }

  /** The API version in use, negotiating with the daemon first if needed. */
  async apiVersion(): Promise<string> {
    if (this.version) return this.version;
    this.negotiation ??= this.negotiate();
    return this.negotiation;
  }

  /** The version used without contacting the daemon (before negotiation: our maximum). */
  get currentVersion(): string {
    return this.version ?? MAX_API_VERSION;
  }

  private async negotiate(): Promise<string> {
    let res = await this.send('HEAD', '/_ping', {});
    if (res.statusCode !== 200) {
      res.resume();
      res = await this.send('GET', '/_ping', {});
    }
    res.resume();
    const header = res.headers['api-version'];
    const server = (Array.isArray(header) ? header[0] : header) || FALLBACK_API_VERSION;
    this.version = compareVersions(server, MAX_API_VERSION) < 0 ? server : MAX_API_VERSION;
    return this.version;
  }

  /** Sends a versioned request; resolves with the response once its status is a success. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const version = await this.apiVersion();
    const res = await this.send(method, `/v${version}${path}${encodeQuery(opts.query ?? {})}`, opts);
    const status = res.statusCode ?? 0;
    if (status >= 400) throw await daemonError(res);
    return res;
  }

  async json<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const text = await this.text(method, path, opts);
    return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
  }

  /** The body as text, for callers that must keep the daemon's exact JSON (inspect). */
  async text(method: string, path: string, opts: RequestOptions = {}): Promise<string> {
    return readBody(await this.request(method, path, opts));
  }

  /**
   * A request the daemon answers by switching protocols (attach): resolves with the raw
   * connection once the daemon has answered 101, plus any bytes that arrived with that answer.
   * A daemon that answers 200 without upgrading gives its body instead (read-only). Failures
   * are reported as request() reports them.
   */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<Hijacked> {
    const version = await this.apiVersion();
    const fullPath = `/v${version}${path}${encodeQuery(opts.query ?? {})}`;
    // A connection of its own: once upgraded it leaves the pool for good.
    const agent = newAgent(this.tls, false);
    const { request, options } = transport(this.endpoint, agent, this.tls);
    const headers: Record<string, string> = {
      'User-Agent': `Berth-Client/${CLIENT_VERSION} (${process.platform})`,
      'Content-Type': 'text/plain',
      'Content-Length': '0',
      Connection: 'Upgrade',
      Upgrade: 'tcp',
      ...opts.headers,
    };
    const body = opts.json !== undefined ? JSON.stringify(opts.json) : undefined;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = request({ ...options, method, path: fullPath, headers });
      req.on('upgrade', (_res: IncomingMessage, socket: Socket, head: Buffer) => {
        agent.destroy();
        resolve({ stream: socket, head, upgraded: true });
      });
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 400) {
          daemonError(res).then(reject, reject);
          agent.destroy();
          return;
        }
        res.on('close', () => agent.destroy());
        resolve({ stream: res, head: Buffer.alloc(0), upgraded: false });
      });
      req.on('error', (err) => {
        agent.destroy();
        reject(this.connectError(err, method, fullPath));
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
    const ep = this.endpoint;
    if (ep.proto === 'tcp' && (ep.port < 1 || ep.port > 65535)) {
      return Promise.reject(this.connectError(Object.assign(new Error(`dial tcp: address ${ep.port}: invalid port`), { code: 'EBADPORT' }), method, path));
    }
    const { request, options } = transport(ep, this.agent, this.tls);
    const headers: Record<string, string> = { 'User-Agent': `Berth-Client/${CLIENT_VERSION} (${process.platform})`, ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] ??= 'application/json';
    }
    if (typeof body === 'string' || body instanceof Uint8Array) headers['Content-Length'] = String(Buffer.byteLength(body));
    else if (method === 'POST' && body === undefined) headers['Content-Length'] = '0';
    return new Promise((resolve, reject) => {
      const req = request({ ...options, method, path, headers }, resolve);
      req.on('error', (err) => reject(this.connectError(err, method, path)));
      if (body instanceof Readable) {
        body.on('error', (err) => req.destroy(err));
        body.pipe(req);
      } else {
        req.end(body);
      }
    });
  }

  private connectError(err: NodeJS.ErrnoException, method: string, path: string): Error {
    if (err instanceof CliError) return err;
    const ep = this.endpoint;
    if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') {
      return new ConnectError(`Cannot connect to the ${this.daemonName} daemon at ${ep.display}. Is the ${this.daemonName.toLowerCase()} daemon running?`);
    }
    const base = ep.proto === 'unix' ? `http://${encodeURIComponent(ep.path)}` : `${this.tls ? 'https' : 'http'}://${ep.host}:${ep.port}`;
    const url = `${base}${path}`;
    if (err.code === 'EACCES') {
      return new ConnectError(
        `permission denied while trying to connect to the ${this.daemonName} daemon socket at ${ep.display}: ${verb(method)} "${url}": dial unix ${ep.proto === 'unix' ? ep.path : ''}: connect: permission denied`,
      );
    }
    const why = err.code === 'ENOTFOUND' && ep.proto === 'tcp' ? `dial tcp: lookup ${ep.host}: no such host` : (tlsErrorText(err) ?? err.message);
    return new ConnectError(`error during connect: ${verb(method)} "${url}": ${why}`);
  }
}

function verb(method: string): string {
  return method[0] + method.slice(1).toLowerCase();
}

export interface Hijacked {
  /** The connection: output from the daemon to read, input for it to write (when upgraded). */
  stream: Duplex | IncomingMessage;
  /** Bytes received with the 101 answer, before `stream` reads anything. */
  head: Buffer;
  upgraded: boolean;
}

export async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function daemonError(res: IncomingMessage): Promise<DaemonError> {
  const status = res.statusCode ?? 0;
  const text = (await readBody(res)).trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: show the body as it is
  }
  if (message === '') message = `${status} ${res.statusMessage ?? ''}`.trim();
  return new DaemonError(status, message);
}

/** Compares "1.41"-style versions numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
