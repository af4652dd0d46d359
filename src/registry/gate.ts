/**
 * The door: which access a request needs, and whether its credentials grant it. Three modes: open,
 * htpasswd basic auth, and bearer tokens from the server's own token endpoint.
 */
import type { IncomingMessage } from 'node:http';
import { readBody } from './http-util.js';
import { covers, formatScope, grant, parseBasic, parseScope, type Access, type Htpasswd, type TokenIssuer } from './auth.js';
import { regError, RegistryError } from './errors.js';

export interface AccessGate {
  /** Throws UNAUTHORIZED (with its challenge) unless the request may do all of `needed`. */
  check(req: IncomingMessage, needed: Access[]): void;
}

export const openGate: AccessGate = { check: () => {} };

export class BasicGate implements AccessGate {
  constructor(
    private readonly users: Htpasswd,
    private readonly realm = 'Berth Registry',
  ) {}

  check(req: IncomingMessage): void {
    const creds = parseBasic(req.headers.authorization);
    if (creds && this.users.verify(creds.user, creds.password)) return;
    const e = regError('UNAUTHORIZED');
    e.headers['WWW-Authenticate'] = `Basic realm="${this.realm}"`;
    throw e;
  }
}

export class TokenGate implements AccessGate {
  constructor(
    private readonly issuer: TokenIssuer,
    /** The token endpoint's URL; undefined to derive it from the request's Host. */
    private readonly realm: string | undefined,
    private readonly scheme: 'http' | 'https',
  ) {}

  private challenge(req: IncomingMessage, needed: Access[], error?: string): RegistryError {
    const realm = this.realm ?? `${this.scheme}://${req.headers.host ?? 'localhost'}/token`;
    let value = `Bearer realm="${realm}",service="${this.issuer.service}"`;
    if (needed.length) value += `,scope="${needed.map(formatScope).join(' ')}"`;
    if (error) value += `,error="${error}"`;
    const e = regError('UNAUTHORIZED', error === 'insufficient_scope' ? 'authentication required' : undefined, needed.length ? needed.map((a) => ({ Type: a.type, Name: a.name, Action: a.actions.join(',') })) : undefined);
    e.headers['WWW-Authenticate'] = value;
    return e;
  }

  check(req: IncomingMessage, needed: Access[]): void {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw this.challenge(req, needed);
    const claims = this.issuer.verify(m[1]);
    if (!claims) throw this.challenge(req, needed, 'invalid_token');
    if (!covers(claims.access, needed)) throw this.challenge(req, needed, 'insufficient_scope');
  }
}

/** The token endpoint's answer: credentials checked against htpasswd (when configured), scopes granted. */
export function issueToken(
  issuer: TokenIssuer,
  users: Htpasswd | undefined,
  authorization: string | undefined,
  scopes: string[],
): { status: number; body: unknown; headers?: Record<string, string> } {
  const creds = parseBasic(authorization);
  let subject = 'anonymous';
  if (users) {
    if (!creds || !users.verify(creds.user, creds.password)) {
      const e = regError('UNAUTHORIZED', 'authentication required');
      return { status: 401, body: JSON.parse(e.body()), headers: { 'WWW-Authenticate': 'Basic realm="Berth Registry token"' } };
    }
    subject = creds.user;
  } else if (creds) {
    subject = creds.user;
  }
  const requested = scopes.flatMap((s) => s.split(' ')).map(parseScope).filter((a): a is Access => a !== undefined);
  const t = issuer.issue(subject, grant(requested));
  return { status: 200, body: { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt } };
}

type TokenAnswer = { status: number; body: unknown; headers?: Record<string, string> };

/** GET /token (Docker's flow: basic credentials, scopes in the query) and POST /token (OAuth2 password grant, as containerd tries first). */
export function tokenEndpoint(issuer: TokenIssuer, users: Htpasswd | undefined): (req: IncomingMessage, url: URL) => Promise<TokenAnswer> {
  return async (req, url) => {
    if (req.method === 'GET') return issueToken(issuer, users, req.headers.authorization, url.searchParams.getAll('scope'));
    if (req.method !== 'POST') return { status: 405, body: { errors: [{ code: 'UNSUPPORTED', message: 'use GET or POST', detail: {} }] } };
    const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
    if (form.get('grant_type') !== 'password') return { status: 400, body: { error: 'unsupported_grant_type' } };
    const basic = 'Basic ' + Buffer.from(`${form.get('username') ?? ''}:${form.get('password') ?? ''}`).toString('base64');
    return issueToken(issuer, users, basic, form.getAll('scope'));
  };
}
