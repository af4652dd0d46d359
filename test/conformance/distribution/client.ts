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

export class RegistryClient {
  private readonly base: URL;
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

  request(method: string, pathOrUrl: string, o: RequestOptions = {}): Promise<Answer> {
    const url = this.resolve(pathOrUrl);
    const headers: Record<string, string | number> = { ...o.headers };
    if (this.target.auth) {
      const { username, password } = this.target.auth;
      headers.Authorization = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
    }
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
