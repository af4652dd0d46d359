/**
 * The control plane's server: HTTPS with mutual TLS on a node's --listen-addr. Callers are known by
 * their client certificate (CN node ID, OU role, O cluster ID) signed by the swarm CA; routes may be
 * limited to roles (403 otherwise) or be public (no client certificate: the join request only).
 * Bodies are JSON; `stream` routes answer JSON lines until the handler ends or the caller goes
 * (then its AbortSignal fires); `raw` routes write bytes themselves (logs). Nothing a client sends
 * or does (garbage, hanging up) takes the server down.
 */
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { BerthError, invalidArgument, notFound } from '../../lib/errors.js';
import { splitPems } from '../ca/index.js';
import { peerFromCert, toWire, ROLE_OU, type ControlTls, type Peer, type Role } from './wire.js';

export type Method = 'GET' | 'POST' | 'DELETE';

export interface ControlRequest {
  body: unknown;
  query: URLSearchParams;
  params: Record<string, string>;
  /** Absent only on public routes called without a client certificate. */
  peer?: Peer;
}

export interface RouteOptions {
  /** Callers without a client certificate are let in (join). */
  public?: boolean;
  /** Only these roles may call (403 for others). */
  roles?: Role[];
}

type Kind =
  | { type: 'json'; h: (req: ControlRequest) => Promise<unknown> }
  | { type: 'stream'; h: (req: ControlRequest, send: (msg: unknown) => void, signal: AbortSignal) => Promise<void> }
  | { type: 'raw'; h: (req: ControlRequest, res: http.ServerResponse) => Promise<void> };

interface Route {
  methods: Method[];
  segments: string[];
  kind: Kind;
  o: RouteOptions;
}

/** Built in, public: GET answers {ca: PEM bundle of the trusted roots}. */
export const CA_PATH = '/ca';

/** Bodies above this are refused (413). */
export const MAX_BODY = 16 * 1024 * 1024;

function splitPath(p: string): string[] {
  return p.split('/').filter(Boolean);
}

function match(route: Route, segs: string[]): Record<string, string> | undefined {
  if (route.segments.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segs.length; i++) {
    const want = route.segments[i]!;
    let got: string;
    try {
      got = decodeURIComponent(segs[i]!);
    } catch {
      return undefined;
    }
    if (want.startsWith('{') && want.endsWith('}')) params[want.slice(1, -1)] = got;
    else if (want !== got) return undefined;
  }
  return params;
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new BerthError('TooLarge', `request body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('client went away')));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text.trim()) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(invalidArgument(`invalid JSON in request body: ${(err as Error).message}`));
      }
    });
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(body === undefined && status === 200 ? 204 : status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: unknown): void {
  const { status, body } = toWire(err);
  sendJson(res, status, body);
}

export class ControlServer {
  private readonly routes: Route[] = [];
  private server?: https.Server;
  private readonly sockets = new Set<Socket>();
  private tls: ControlTls;
  private ownCluster?: string;
  /** The port really listened on (useful with port 0). */
  port: number;

  constructor(private readonly o: { host: string; port: number; tls: ControlTls }) {
    this.tls = o.tls;
    this.port = o.port;
    this.ownCluster = clusterOf(o.tls);
    // The roots this node trusts, for a joining node to pin by its token's digest (requestJoin).
    this.handle('GET', CA_PATH, async () => ({ ca: this.tls.ca }), { public: true });
  }

  handle(method: Method, path: string, h: (req: ControlRequest) => Promise<unknown>, o: RouteOptions = {}): void {
    this.routes.push({ methods: [method], segments: splitPath(path), kind: { type: 'json', h }, o });
  }

  /** A JSON-lines stream (GET, or POST with a JSON body). `signal` aborts when the caller goes. */
  stream(path: string, h: (req: ControlRequest, send: (msg: unknown) => void, signal: AbortSignal) => Promise<void>, o: RouteOptions = {}): void {
    this.routes.push({ methods: ['GET', 'POST'], segments: splitPath(path), kind: { type: 'stream', h }, o });
  }

  /** A route that writes its own answer (GET). */
  raw(path: string, h: (req: ControlRequest, res: http.ServerResponse) => Promise<void>, o: RouteOptions = {}): void {
    this.routes.push({ methods: ['GET'], segments: splitPath(path), kind: { type: 'raw', h }, o });
  }

  async listen(): Promise<void> {
    if (this.server) return;
    const server = https.createServer({ ...this.secureOptions(), requestCert: true, rejectUnauthorized: false });
    server.on('request', (req, res) => {
      this.dispatch(req, res).catch((err) => {
        try {
          sendError(res, err);
        } catch {
          res.destroy();
        }
      });
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    // A failed handshake or a malformed request only costs that connection.
    server.on('tlsClientError', (_err, s) => s.destroy());
    server.on('clientError', (_err, s) => s.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    const addr = server.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** New certificates (renewal, role change, CA rotation) for connections made from now on. */
  setTls(tls: ControlTls): void {
    this.tls = tls;
    this.ownCluster = clusterOf(tls);
    this.server?.setSecureContext(this.secureOptions());
  }

  private secureOptions() {
    return { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key };
  }

  private peerOf(req: http.IncomingMessage): Peer | undefined {
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) return undefined;
    const peer = peerFromCert(socket.getPeerCertificate());
    if (!peer) return undefined;
    // A certificate of another cluster signed by the same roots is still not one of ours.
    if (this.ownCluster && peer.clusterId !== this.ownCluster) return undefined;
    return peer;
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://control');
    const segs = splitPath(url.pathname);
    let params: Record<string, string> | undefined;
    let route: Route | undefined;
    let pathMatched = false;
    for (const r of this.routes) {
      const p = match(r, segs);
      if (!p) continue;
      pathMatched = true;
      if (r.methods.includes(req.method as Method)) {
        route = r;
        params = p;
        break;
      }
    }
    if (!route || !params) {
      req.resume();
      if (pathMatched) return sendJson(res, 405, { message: `method ${req.method} not allowed on ${url.pathname}`, kind: 'InvalidArgument' });
      return sendError(res, notFound(`page not found: ${url.pathname}`));
    }
    const peer = this.peerOf(req);
    if (!peer && !route.o.public) {
      req.resume();
      return sendError(res, new BerthError('Unauthorized', 'Permission denied: a valid swarm node certificate is required'));
    }
    if (peer && route.o.roles && !route.o.roles.includes(peer.role)) {
      req.resume();
      return sendError(res, new BerthError('Forbidden', `Permission denied: unauthorized peer role: rpc access denied for role ${ROLE_OU[peer.role]}`));
    }
    const body = await readBody(req);
    const request: ControlRequest = { body, query: url.searchParams, params, ...(peer ? { peer } : {}) };
    const kind = route.kind;
    if (kind.type === 'json') {
      const result = await kind.h(request);
      sendJson(res, 200, result);
    } else if (kind.type === 'raw') {
      await kind.h(request, res);
    } else {
      await this.runStream(kind.h, request, res);
    }
  }

  private async runStream(
    h: (req: ControlRequest, send: (msg: unknown) => void, signal: AbortSignal) => Promise<void>,
    request: ControlRequest,
    res: http.ServerResponse,
  ): Promise<void> {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
      res.flushHeaders();
    };
    const send = (msg: unknown) => {
      if (ac.signal.aborted || res.writableEnded || res.destroyed) return;
      start();
      res.write(JSON.stringify({ message: msg }) + '\n');
    };
    try {
      // Headers go out at once so the caller knows the stream is open.
      start();
      await h(request, send, ac.signal);
      if (!res.writableEnded && !res.destroyed) res.end();
    } catch (err) {
      if (res.writableEnded || res.destroyed) return;
      res.end(JSON.stringify({ error: toWire(err).body }) + '\n');
    }
  }
}

function clusterOf(tls: ControlTls): string | undefined {
  try {
    return tlsClusterFromPem(tls.cert);
  } catch {
    return undefined;
  }
}

/** The O of the first certificate of `pem` (the cluster ID of a node certificate). */
export function tlsClusterFromPem(pem: string): string | undefined {
  const first = splitPems(pem)[0];
  if (!first) return undefined;
  const line = new X509Certificate(first).subject.split('\n').find((l) => l.startsWith('O='));
  return line?.slice(2) || undefined;
}
