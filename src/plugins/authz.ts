/**
 * Authorization plugins (--authorization-plugin), as moby's pkg/authorization: each API request is
 * shown to every plugin in turn (AuthZPlugin.AuthZReq) before its handler runs, and its answer
 * (AuthZPlugin.AuthZRes) before the client sees it. A plugin's {Allow: false, Msg} denies with 403
 * and dockerd's words; a plugin that fails, hangs past its deadline or is gone fails the request
 * with 500; neither ever ends the daemon.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { BerthError, forbidden, internal, messageOf } from '../lib/errors.js';
import type { PluginRegistry } from './contracts.js';

export const AUTHZ_CAPABILITY = 'authz';
export const AUTHZ_REQUEST = 'AuthZPlugin.AuthZReq';
export const AUTHZ_RESPONSE = 'AuthZPlugin.AuthZRes';
/** JSON request and response bodies up to this size are shown to the plugins. */
export const AUTHZ_MAX_BODY = 1024 * 1024;

/** moby's authorization.Request on the wire (empty fields are left out, as Go's omitempty). */
export interface AuthzRequest {
  User?: string;
  UserAuthNMethod?: string;
  RequestMethod?: string;
  RequestUri?: string;
  /** base64, as Go's []byte. */
  RequestBody?: string;
  RequestHeaders?: Record<string, string>;
  ResponseStatusCode?: number;
  ResponseBody?: string;
  ResponseHeaders?: Record<string, string>;
}

export interface AuthzAnswer {
  Allow?: boolean;
  Msg?: string;
  Err?: string;
}

/** Credentials never shown to plugins (dockerd's list). */
const HIDDEN_HEADERS = new Set(['authorization', 'x-registry-config', 'x-registry-auth']);

/** Go's canonical header key (content-type -> Content-Type), as the plugins see them from dockerd. */
function canonicalHeader(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

export function headersForPlugin(headers: Record<string, string | string[] | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HIDDEN_HEADERS.has(k.toLowerCase())) continue;
    out[canonicalHeader(k)] = Array.isArray(v) ? v[v.length - 1]! : String(v);
  }
  return out;
}

/** Bodies are shown only for JSON, and never for the /auth endpoint (it carries passwords). */
export function sendsBody(requestUri: string, contentType: string | undefined): boolean {
  const pathname = requestUri.split('?')[0] ?? '';
  if (/^[^/]*\/(v\d[\d.]*\/)?auth/.test(pathname)) return false;
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

const deniedBy = (plugin: string, msg: string) => forbidden(`authorization denied by plugin ${plugin}: ${msg}`);
const failedIn = (plugin: string, err: unknown) => internal(`plugin ${plugin} failed with error: ${messageOf(err)}`, err);

/**
 * The chain of authorization plugins. `check*` resolve when every plugin allows, and reject with a
 * Forbidden (denied) or Internal (a plugin failed) BerthError otherwise.
 */
export class AuthzChain {
  private readonly names: () => readonly string[];

  /** `names` may be a getter: the daemon's list, which a SIGHUP reload replaces (as dockerd's). */
  constructor(
    private readonly registry: PluginRegistry,
    names: readonly string[] | (() => readonly string[]),
    private readonly timeoutMs = 30_000,
  ) {
    this.names = typeof names === 'function' ? names : () => names;
  }

  /** The plugins in order, each once. */
  get plugins(): string[] {
    return [...new Set(this.names())];
  }

  get enabled(): boolean {
    return this.plugins.length > 0;
  }

  private async ask(message: AuthzRequest, method: string): Promise<void> {
    for (const name of this.plugins) {
      let answer: AuthzAnswer;
      try {
        const plugin = await this.registry.get(name, AUTHZ_CAPABILITY, { timeoutMs: this.timeoutMs });
        answer = await plugin.call<AuthzAnswer>(method, message, { timeoutMs: this.timeoutMs });
      } catch (err) {
        throw failedIn(name, err);
      }
      if (!answer || answer.Allow !== true) throw deniedBy(name, answer?.Msg ?? '');
    }
  }

  /** The request as the plugins see it (its body, when given, is JSON the caller read). */
  describeRequest(req: IncomingMessage, body: Buffer | undefined): AuthzRequest {
    const message: AuthzRequest = {
      RequestMethod: req.method ?? 'GET',
      RequestUri: req.url ?? '/',
      RequestHeaders: headersForPlugin(req.headers),
    };
    const cn = peerCommonName(req);
    if (cn) {
      message.User = cn;
      message.UserAuthNMethod = 'TLS';
    }
    if (body?.length) message.RequestBody = body.toString('base64');
    return message;
  }

  checkRequest(message: AuthzRequest): Promise<void> {
    return this.ask(message, AUTHZ_REQUEST);
  }

  checkResponse(message: AuthzRequest, status: number, headers: Record<string, string>, body: Buffer | undefined): Promise<void> {
    const full: AuthzRequest = { ...message, ResponseStatusCode: status, ResponseHeaders: headers };
    if (body?.length) full.ResponseBody = body.toString('base64');
    return this.ask(full, AUTHZ_RESPONSE);
  }
}

/** The client certificate's CN of a TLS connection (dockerd's User for authz), if any. */
function peerCommonName(req: IncomingMessage): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  try {
    const cn = socket.getPeerCertificate()?.subject?.CN;
    return Array.isArray(cn) ? cn[0] : cn || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a JSON request body for the plugins (up to AUTHZ_MAX_BODY; more is refused, as dockerd
 * refuses bodies over its limit). The handler later reads the same bytes (api/http.ts readJson).
 */
export async function readBodyForAuthz(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > AUTHZ_MAX_BODY) throw internal(`request body too large for authorization plugin: size exceeds ${AUTHZ_MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

type Op = () => void;

/**
 * Holds a response back until the plugins have seen it (AuthZRes). A response ended in one go (the
 * usual JSON answer) is shown with its body; a streamed one (events, logs, pulls) is shown when it
 * starts, without its body, so streams keep streaming. A denial replaces the answer with a 403
 * (or 500 when a plugin failed) as long as nothing was sent yet.
 */
export function gateResponse(res: ServerResponse, check: (status: number, headers: Record<string, string>, body: Buffer | undefined) => Promise<void>): void {
  const real = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  let head: unknown[] | undefined;
  const queue: Op[] = [];
  let state: 'waiting' | 'checking' | 'done' = 'waiting';

  const restore = () => {
    res.writeHead = real.writeHead;
    res.write = real.write;
    res.end = real.end;
    res.flushHeaders = real.flushHeaders;
  };
  const start = (body: Buffer | undefined) => {
    state = 'checking';
    const status = typeof head?.[0] === 'number' ? (head[0] as number) : res.statusCode;
    const headers = headersForPlugin({ ...res.getHeaders(), ...headersOf(head) });
    const shown = body && body.length <= AUTHZ_MAX_BODY && sendsBody(res.req?.url ?? '', headers['Content-Type']) ? body : undefined;
    check(status, headers, shown).then(
      () => {
        restore();
        state = 'done';
        try {
          if (head) (real.writeHead as (...a: unknown[]) => unknown).apply(res, head);
          for (const op of queue) op();
        } catch (err) {
          // A handler's late mistake (e.g. a second writeHead) must not escape as an unhandled rejection.
          res.destroy(err as Error);
        }
      },
      (err: unknown) => {
        restore();
        state = 'done';
        const kind = err instanceof BerthError ? err.kind : 'Internal';
        const text = JSON.stringify({ message: messageOf(err) }) + '\n';
        try {
          // Headers the handler set are for the answer that is not sent.
          for (const name of res.getHeaderNames()) if (!['api-version', 'server', 'docker-experimental', 'ostype'].includes(name)) res.removeHeader(name);
          res.writeHead(kind === 'Forbidden' ? 403 : 500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
          res.end(text);
        } catch (writeErr) {
          res.destroy(writeErr as Error);
        }
        // Whatever the handler still writes goes nowhere.
        res.write = (() => true) as typeof res.write;
        res.end = (() => res) as typeof res.end;
      },
    );
  };

  res.writeHead = ((...args: unknown[]) => {
    if (state === 'waiting') head = args;
    else queue.push(() => void (res.headersSent || (real.writeHead as (...a: unknown[]) => unknown).apply(res, args)));
    return res;
  }) as typeof res.writeHead;
  res.flushHeaders = () => {
    if (state === 'waiting') start(undefined);
    queue.push(() => real.flushHeaders.apply(res));
  };
  res.write = ((...args: unknown[]) => {
    if (state === 'waiting') start(undefined);
    queue.push(() => (real.write as (...a: unknown[]) => unknown).apply(res, args));
    return true;
  }) as typeof res.write;
  res.end = ((...args: unknown[]) => {
    if (state === 'waiting') start(typeof args[0] === 'string' ? Buffer.from(args[0]) : Buffer.isBuffer(args[0]) ? args[0] : undefined);
    queue.push(() => (real.end as (...a: unknown[]) => unknown).apply(res, args));
    return res;
  }) as typeof res.end;
}

/** The headers given to writeHead(status, [message], headers). */
function headersOf(head: unknown[] | undefined): Record<string, string | string[] | number> {
  const h = head?.find((a, i) => i > 0 && a && typeof a === 'object');
  if (!h) return {};
  if (Array.isArray(h)) {
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < h.length; i += 2) out[String(h[i])] = String(h[i + 1]);
    return out;
  }
  return h as Record<string, string | string[] | number>;
}

/**
 * The API server's hook (api/server.ts): shows the request to the plugins and holds its answer for
 * them. Rejects (Forbidden or Internal) when the request may not run; nothing was answered then.
 */
export async function authorizeApiRequest(
  chain: AuthzChain,
  req: IncomingMessage,
  res: ServerResponse,
  upgraded: boolean,
  /** Keeps the body read for the plugins, for the handler to read again (api/http.ts replayBody). */
  keepBody: (body: Buffer) => void,
): Promise<void> {
  let body: Buffer | undefined;
  // An upgraded request's body is read from the socket by its handler (api/streams/hijack.ts).
  if (!upgraded && sendsBody(req.url ?? '/', req.headers['content-type'])) {
    body = await readBodyForAuthz(req);
    keepBody(body);
  }
  const message = chain.describeRequest(req, body);
  await chain.checkRequest(message);
  gateResponse(res, (status, headers, responseBody) => chain.checkResponse(message, status, headers, responseBody));
}
