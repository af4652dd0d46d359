/**
 * The control plane's client: calls another node's ControlServer with this node's certificate.
 * Servers are trusted by the swarm CA chain and by the role and cluster in their certificate, not by
 * host name (nodes are reached by IP). A request that cannot connect moves on to the next address
 * (the managers' list); an answer, an error too, is final. Remote errors come back as BerthError of
 * the kind and message the server threw.
 */
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { createSecureContext, type PeerCertificate } from 'node:tls';
import { BerthError, unavailable } from '../../lib/errors.js';
import { tlsClusterFromPem } from './server.js';
import { fromWire, peerFromCert, type ControlTls, type Role } from './wire.js';

export interface ControlClientOptions {
  /** host:port (IPv6 as [addr]:port). */
  addrs: string[];
  tls: ControlTls;
  /** Connect + answer deadline of `call` (default 10 s); connecting alone gets at most this too. */
  timeoutMs?: number;
  /** Accept only servers of this role (default: any swarm node of the same cluster). */
  serverRole?: Role;
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(addr) ?? /^([^:]+):(\d+)$/.exec(addr);
  if (!m) throw new BerthError('InvalidArgument', `invalid address ${JSON.stringify(addr)}: want host:port`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** The request never reached the server (no connection or no trusted TLS session): try the next address. */
class ConnectError extends Error {
  constructor(readonly addr: string, override readonly cause: Error) {
    super(`${addr}: ${cause.message}`);
  }
}

interface Opened {
  res: IncomingMessage;
  abort: () => void;
}

export class ControlClient {
  private addrs: string[];
  private tls: ControlTls;
  private agent: https.Agent;
  /** The address that answered last: tried first next time. */
  private preferred = 0;
  private readonly timeoutMs: number;

  constructor(private readonly o: ControlClientOptions) {
    this.addrs = [...o.addrs];
    this.tls = o.tls;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.agent = this.makeAgent();
  }

  setAddrs(addrs: string[]): void {
    this.addrs = [...addrs];
    this.preferred = 0;
  }

  setTls(tls: ControlTls): void {
    this.tls = tls;
    const old = this.agent;
    this.agent = this.makeAgent();
    // Idle connections of the old identity go; running streams finish on their own.
    for (const list of Object.values(old.freeSockets)) for (const s of list ?? []) s.destroy();
  }

  /** Drops every connection (running streams end). */
  close(): void {
    this.agent.destroy();
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const { res } = await this.open(method, path, payload, this.timeoutMs);
    const text = await readAll(res, this.timeoutMs);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new BerthError('Internal', `invalid answer from the control server (status ${res.statusCode})`);
    }
    if ((res.statusCode ?? 500) >= 300) throw fromWire(res.statusCode ?? 500, parsed);
    return parsed as T;
  }

  /**
   * Opens a JSON-lines stream; `onMessage` gets each message, `onEnd` once when it ends (with the
   * error the server sent or the connection's), never after `close()`.
   */
  stream(path: string, onMessage: (msg: unknown) => void, onEnd: (err?: Error) => void, o: { body?: unknown } = {}): { close(): void } {
    let closed = false;
    let abort: (() => void) | undefined;
    let ended = false;
    const end = (err?: Error) => {
      if (ended || closed) return;
      ended = true;
      onEnd(err);
    };
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    this.open(payload === undefined ? 'GET' : 'POST', path, payload, undefined).then(
      async ({ res, abort: a }) => {
        abort = a;
        if (closed) return a();
        if ((res.statusCode ?? 500) >= 300) {
          const text = await readAll(res, this.timeoutMs).catch(() => '');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          return end(fromWire(res.statusCode ?? 500, parsed));
        }
        let buf = '';
        let failure: Error | undefined;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim() || closed) continue;
            let m: { message?: unknown; error?: unknown };
            try {
              m = JSON.parse(line);
            } catch {
              failure = new BerthError('Internal', 'invalid line in control stream');
              a();
              return;
            }
            if (m.error) failure = fromWire(500, m.error);
            else {
              try {
                onMessage(m.message);
              } catch (err) {
                failure = err as Error;
                a();
                return;
              }
            }
          }
        });
        res.on('end', () => end(failure));
        res.on('error', (err) => end(failure ?? unavailable(`control stream broken: ${err.message}`)));
        res.on('close', () => end(failure ?? (res.complete ? undefined : unavailable('control stream broken'))));
      },
      (err: Error) => end(err),
    );
    return {
      close: () => {
        closed = true;
        abort?.();
      },
    };
  }

  /** GET a byte stream (logs); errors the server answers with are thrown. */
  async raw(path: string): Promise<IncomingMessage> {
    const { res } = await this.open('GET', path, undefined, undefined);
    if ((res.statusCode ?? 500) >= 300) {
      const text = await readAll(res, this.timeoutMs).catch(() => '');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      throw fromWire(res.statusCode ?? 500, parsed);
    }
    return res;
  }

  private makeAgent(): https.Agent {
    const ownCluster = safe(() => tlsClusterFromPem(this.tls.cert));
    const wantRole = this.o.serverRole;
    return new https.Agent({
      keepAlive: true,
      maxFreeSockets: 4,
      // Made once per agent, not per connection (parsing the key and CA per connection costs ~10 ms).
      secureContext: createSecureContext({ ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key }),
      rejectUnauthorized: true,
      // The chain was checked against the swarm CA; what matters then is who the server is.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const peer = peerFromCert(cert);
        if (!peer) return new Error('the server certificate is not a swarm node certificate');
        if (wantRole && peer.role !== wantRole) return new Error(`the server is a ${peer.role}, not a ${wantRole}`);
        if (ownCluster && peer.clusterId !== ownCluster) return new Error(`the server belongs to another swarm (${peer.clusterId ?? 'none'})`);
        return undefined;
      },
    });
  }

  /** Sends the request to the first address that accepts a connection. */
  private async open(method: string, path: string, payload: string | undefined, timeoutMs: number | undefined): Promise<Opened> {
    const addrs = this.addrs;
    if (!addrs.length) throw unavailable('no control address known');
    const errors: string[] = [];
    for (let i = 0; i < addrs.length; i++) {
      const idx = (this.preferred + i) % addrs.length;
      const addr = addrs[idx]!;
      try {
        const opened = await this.openOne(addr, method, path, payload, timeoutMs);
        this.preferred = idx;
        return opened;
      } catch (err) {
        if (!(err instanceof ConnectError)) throw err;
        errors.push(err.message);
      }
    }
    throw unavailable(`could not reach any swarm node: ${errors.join('; ')}`);
  }

  private openOne(addr: string, method: string, path: string, payload: string | undefined, timeoutMs: number | undefined, retried = false): Promise<Opened> {
    const { host, port } = splitHostPort(addr);
    return new Promise<Opened>((resolve, reject) => {
      let connected = false;
      let settled = false;
      const req = https.request({
        host, port, method, path, agent: this.agent,
        headers: { Accept: 'application/json', ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) },
      });
      const connectBudget = Math.min(timeoutMs ?? this.timeoutMs, this.timeoutMs);
      const connectTimer = setTimeout(() => {
        if (!connected) req.destroy(Object.assign(new Error(`connect timed out after ${connectBudget} ms`), { code: 'CONNECT_TIMEOUT' }));
      }, connectBudget);
      const answerTimer = timeoutMs === undefined ? undefined : setTimeout(() => req.destroy(unavailable(`control request ${method} ${path} to ${addr} timed out`)), timeoutMs);
      const done = () => {
        clearTimeout(connectTimer);
        if (answerTimer) clearTimeout(answerTimer);
      };
      req.on('socket', (s) => {
        if (req.reusedSocket) connected = true;
        else s.once('secureConnect', () => (connected = true));
      });
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        settled = true;
        // The answer timer keeps running for `call` until the body is read (readAll has its own).
        if (answerTimer) clearTimeout(answerTimer);
        resolve({ res, abort: () => req.destroy() });
      });
      req.on('error', (err: Error & { code?: string }) => {
        done();
        if (settled) return;
        settled = true;
        // A kept-alive socket the server had closed: resend once on a fresh one.
        if (req.reusedSocket && err.code === 'ECONNRESET' && !retried) {
          this.openOne(addr, method, path, payload, timeoutMs, true).then(resolve, reject);
          return;
        }
        // Before the TLS session stood (refused, unreachable, timed out, a server that is not one of ours), the request never left.
        if (!connected) reject(new ConnectError(addr, err));
        else if (err instanceof BerthError) reject(err);
        else reject(unavailable(`control request ${method} ${path} to ${addr} failed: ${err.message}`));
      });
      req.end(payload);
    });
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

export function readAll(res: IncomingMessage, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      res.destroy();
      reject(unavailable('control answer timed out'));
    }, timeoutMs);
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    res.on('error', (err) => {
      clearTimeout(timer);
      reject(unavailable(`control answer broken: ${err.message}`));
    });
    res.on('aborted', () => {
      clearTimeout(timer);
      reject(unavailable('control answer broken'));
    });
  });
}
