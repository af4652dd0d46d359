/**
 * A small HTTP client for the conformance suite: one request, the whole answer in memory.
 * It speaks only node:http/https so the suite stays a plain client of any registry.
 */
import http from 'node:http';
import https from 'node:https';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The absolute URL the request went to. */
  url: string;
  /** Set when the connection ended before the body the headers announced (a framing error of the server's). */
  truncated?: string;
}

export interface RequestOptions {
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  /** Stop reading the body after this many bytes (a guard against a registry that streams forever). */
  maxBody?: number;
}

export interface ClientTarget {
  url: string;
  ca?: string;
  auth?: { username: string; password: string };
}

/** A WWW-Authenticate challenge: scheme and its parameters (realm, service, scope, ...). */
export function parseChallenge(value: string): { scheme: string; params: Record<string, string> } | undefined {
  const m = /^\s*(\w+)\s*(.*)$/.exec(value);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme: m[1]!.toLowerCase(), params };
}

export class RegistryClient {
  private readonly base: URL;
  /** Bearer token flow (Docker's token auth): the token, and every scope asked for so far, so one token covers them all. */
  private token?: string;
  private readonly scopes = new Set<string>();
  private readonly agentHttp = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly agentHttps: https.Agent;

  constructor(private readonly target: ClientTarget) {
    this.base = new URL(target.url);
    this.agentHttps = new https.Agent({ keepAlive: true, maxSockets: 4, ca: target.ca });
  }

  /** Resolves a path or a Location (absolute or relative) against the registry's URL. */
  resolve(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.base);
  }

  /** One request; on a 401 with a Bearer challenge, fetches a token from its realm and tries once more. */
  async request(method: string, pathOrUrl: string, o: RequestOptions = {}): Promise<Answer> {
    const a = await this.send(method, pathOrUrl, o);
    if (a.status !== 401) return a;
    const challenge = parseChallenge(header(a, 'WWW-Authenticate'));
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm) return a;
    for (const s of (challenge.params.scope ?? '').split(' ').filter(Boolean)) this.scopes.add(s);
    const token = await this.fetchToken(challenge.params.realm, challenge.params.service);
    if (!token) return a;
    this.token = token;
    return this.send(method, pathOrUrl, o);
  }

  private async fetchToken(realm: string, service: string | undefined): Promise<string | undefined> {
    const u = new URL(realm, this.base);
    if (service) u.searchParams.set('service', service);
    for (const s of this.scopes) u.searchParams.append('scope', s);
    const a = await this.send('GET', u.href, {}, this.basic());
    if (a.status !== 200) return undefined;
    try {
      const body = JSON.parse(a.body.toString('utf8')) as { token?: string; access_token?: string };
      return body.token ?? body.access_token;
    } catch {
      return undefined;
    }
  }

  private basic(): string | undefined {
    if (!this.target.auth) return undefined;
    const { username, password } = this.target.auth;
    return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
  }

  private send(method: string, pathOrUrl: string, o: RequestOptions, authorization = this.token ? `Bearer ${this.token}` : this.basic()): Promise<Answer> {
    const url = this.resolve(pathOrUrl);
    const headers: Record<string, string | number> = { ...o.headers };
    if (authorization) headers.Authorization = authorization;
    const body = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body);
    if (body !== undefined && headers['Content-Length'] === undefined) headers['Content-Length'] = body.length;
    if (body === undefined && (method === 'PUT' || method === 'POST' || method === 'PATCH') && headers['Content-Length'] === undefined) {
      headers['Content-Length'] = 0;
    }
    const mod = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.agentHttps : this.agentHttp;
    const maxBody = o.maxBody ?? 64 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBody) {
            res.destroy(new Error(`answer body over ${maxBody} bytes`));
            return;
          }
          chunks.push(c);
        });
        const answer = (truncated?: string): Answer => ({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url: url.href, truncated });
        res.on('end', () => resolve(answer()));
        res.on('error', (e) => {
          if (size > maxBody) reject(e);
          else resolve(answer(`${e.message} after ${size} of ${res.headers['content-length'] ?? '?'} bytes`));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer within 30s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agentHttp.destroy();
    this.agentHttps.destroy();
  }
}

/** One header's value as a string ('' when absent; joined when repeated). */
export function header(a: Answer, name: string): string {
  const v = a.headers[name.toLowerCase()];
  if (v === undefined) return '';
  return Array.isArray(v) ? v.join(', ') : String(v);
}
