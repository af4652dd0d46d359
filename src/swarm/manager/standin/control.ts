/**
 * TEMPORARY stand-in for src/swarm/control/ (helper ca-control), with the API CONTRACTS.md declares:
 * HTTPS with mutual TLS between nodes, JSON in and out. Deleted once main has the real one.
 */
import https from 'node:https';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { BerthError, invalidArgument, unavailable, type ErrorKind } from '../../../lib/errors.js';
import { caDigest, parseJoinToken } from './ca.js';

export interface ControlTls {
  ca: string;
  cert: string;
  key: string;
}
export type Peer = { nodeId: string; role: 'manager' | 'worker' };
type Req = { body: unknown; query: URLSearchParams; params: Record<string, string>; peer?: Peer };
type Handler = (req: Req) => Promise<unknown>;
interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  h: Handler;
  o: { public?: boolean; roles?: Peer['role'][] };
}

function peerOf(socket: TLSSocket): Peer | undefined {
  if (!socket.authorized) return undefined;
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw) return undefined;
  const x = new X509Certificate(raw);
  const field = (k: string) => x.subject.split('\n').find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
  return { nodeId: field('CN'), role: field('OU') === 'swarm-manager' ? 'manager' : 'worker' };
}

function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch {
        reject(invalidArgument('invalid JSON'));
      }
    });
    req.on('error', reject);
  });
}

export class ControlServer {
  private readonly routes: Route[] = [];
  private server: https.Server | undefined;

  constructor(private readonly o: { host: string; port: number; tls: ControlTls }) {}

  handle(method: 'GET' | 'POST' | 'DELETE', path: string, h: Handler, o: Route['o'] = {}): void {
    const names: string[] = [];
    const source = path.replace(/\{(\w+)\}/g, (_m, n: string) => (names.push(n), '([^/]+)'));
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, h, o });
  }

  setTls(tls: ControlTls): void {
    this.o.tls = tls;
    this.server?.setSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key });
  }

  async listen(): Promise<void> {
    const tls = this.o.tls;
    const server = https.createServer({ ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false }, (req, res) => void this.serve(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://x');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? null));
    };
    try {
      for (const r of this.routes) {
        const m = r.pattern.exec(url.pathname);
        if (!m || r.method !== req.method) continue;
        const peer = peerOf(req.socket as TLSSocket);
        if (!r.o.public && !peer) return send(401, { kind: 'Unauthorized', message: 'a node certificate is required' });
        if (r.o.roles && (!peer || !r.o.roles.includes(peer.role))) return send(403, { kind: 'Forbidden', message: 'permission denied' });
        const params: Record<string, string> = {};
        r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
        const body = await readJsonBody(req);
        return send(200, await r.h({ body, query: url.searchParams, params, ...(peer ? { peer } : {}) }));
      }
      send(404, { kind: 'NotFound', message: `no route ${req.method} ${url.pathname}` });
    } catch (err) {
      const kind = err instanceof BerthError ? err.kind : 'Internal';
      send(kind === 'Internal' ? 500 : 400, { kind, message: (err as Error).message });
    }
  }
}

function post(addr: string, method: string, path: string, body: unknown, tls: Partial<ControlTls>, timeoutMs: number, check?: (s: TLSSocket) => void): Promise<unknown> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: host.replace(/^\[|\]$/g, ''), port, method, path, headers: { 'content-type': 'application/json' }, ...tls, rejectUnauthorized: !check, checkServerIdentity: () => undefined, timeout: timeoutMs, agent: false },
      (res) => {
        if (check) {
          try {
            check(res.socket as TLSSocket);
          } catch (err) {
            res.destroy();
            return reject(err);
          }
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let j: any;
          try {
            j = text ? JSON.parse(text) : null;
          } catch {
            return reject(new BerthError('Internal', `bad answer from ${addr}`));
          }
          if (res.statusCode === 200) resolve(j);
          else reject(new BerthError((j?.kind as ErrorKind) ?? 'Internal', j?.message ?? `HTTP ${res.statusCode}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timeout talking to ${addr}`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const connectFailure = (err: unknown) => !(err instanceof BerthError);

export class ControlClient {
  constructor(private readonly o: { addrs: string[]; tls: ControlTls; timeoutMs?: number }) {}
  setAddrs(addrs: string[]): void {
    this.o.addrs = addrs;
  }
  setTls(tls: ControlTls): void {
    this.o.tls = tls;
  }
  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let last: unknown;
    for (const addr of this.o.addrs) {
      try {
        return (await post(addr, method, path, body, this.o.tls, this.o.timeoutMs ?? 5_000)) as T;
      } catch (err) {
        if (!connectFailure(err)) throw err;
        last = err;
      }
    }
    throw unavailable(`no manager answered (${this.o.addrs.join(', ')}): ${(last as Error)?.message ?? 'no address'}`);
  }
}

/** POST /join without a client certificate, trusting the server only if its CA matches the token's digest. */
export async function requestJoin(addrs: string[], token: string, body: unknown): Promise<unknown> {
  const want = parseJoinToken(token).caDigest;
  let serverCert: Buffer | undefined;
  const check = (s: TLSSocket) => {
    serverCert = s.getPeerCertificate()?.raw;
  };
  let last: unknown;
  for (const addr of addrs) {
    try {
      const answer = (await post(addr, 'POST', '/join', body, {}, 10_000, check)) as { caCert?: string };
      const ca = answer?.caCert;
      if (!ca || caDigest(ca) !== want || !serverCert || !new X509Certificate(serverCert).verify(new X509Certificate(ca).publicKey)) {
        throw unavailable("the manager's CA does not match the join token");
      }
      return answer;
    } catch (err) {
      if (!connectFailure(err)) throw err;
      last = err;
    }
  }
  throw unavailable(`could not connect to any manager (${addrs.join(', ')}): ${(last as Error)?.message ?? ''}`);
}
