/**
 * Who may do what: htpasswd users (bcrypt, as `htpasswd -B` writes them), and bearer tokens (JWTs, HS256,
 * signed with a key made at start) that the server issues itself from GET /token, as Docker's token
 * servers do. Access is named as Distribution names it: repository:<name>:pull,push,delete and
 * registry:catalog:*.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export class Htpasswd {
  private readonly users = new Map<string, string>();
  /** Verified passwords by a hash of user and password, so bcrypt runs once per credential, not per request. */
  private readonly verified = new Map<string, number>();

  constructor(text: string) {
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const i = line.indexOf(':');
      if (i <= 0) continue;
      this.users.set(line.slice(0, i), line.slice(i + 1));
    }
  }

  static load(file: string): Htpasswd {
    return new Htpasswd(readFileSync(file, 'utf8'));
  }

  get size(): number {
    return this.users.size;
  }

  verify(user: string, password: string): boolean {
    const hash = this.users.get(user);
    if (!hash || !/^\$2[aby]\$/.test(hash)) return false; // only bcrypt, as Distribution accepts
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    const until = this.verified.get(key);
    if (until && until > Date.now()) return true;
    let ok = false;
    try {
      ok = bcrypt.compareSync(password, hash);
    } catch {
      ok = false;
    }
    if (ok) this.verified.set(key, Date.now() + 60_000);
    return ok;
  }
}

export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** A scope string (`repository:a/b:pull,push`) as access; undefined when malformed. */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const actions = scope.slice(last + 1).split(',').filter(Boolean);
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

export function formatScope(a: Access): string {
  return `${a.type}:${a.name}:${a.actions.join(',')}`;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: Access[];
}

export class TokenIssuer {
  private readonly key = randomBytes(32);

  constructor(
    readonly service: string,
    readonly issuer = 'berth-registry',
    readonly ttlSeconds = 300,
  ) {}

  issue(subject: string, access: Access[], now = Date.now()): { token: string; expiresIn: number; issuedAt: string } {
    const iat = Math.floor(now / 1000);
    const claims: TokenClaims = { iss: this.issuer, sub: subject, aud: this.service, exp: iat + this.ttlSeconds, nbf: iat - 1, iat, jti: randomUUID(), access };
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    const sig = createHmac('sha256', this.key).update(`${head}.${body}`).digest('base64url');
    return { token: `${head}.${body}.${sig}`, expiresIn: this.ttlSeconds, issuedAt: new Date(iat * 1000).toISOString() };
  }

  /** The token's claims if it is ours, unexpired and for this service. */
  verify(token: string, now = Date.now()): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const expected = createHmac('sha256', this.key).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2], 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return undefined;
    }
    const t = Math.floor(now / 1000);
    if (typeof claims.exp !== 'number' || claims.exp < t || (typeof claims.nbf === 'number' && claims.nbf > t + 60)) return undefined;
    if (claims.aud !== this.service || !Array.isArray(claims.access)) return undefined;
    return claims;
  }
}

/** Whether `granted` covers every action of every `needed` access. */
export function covers(granted: Access[], needed: Access[]): boolean {
  return needed.every((n) =>
    n.actions.every((action) => granted.some((g) => g.type === n.type && g.name === n.name && Array.isArray(g.actions) && (g.actions.includes(action) || g.actions.includes('*')))),
  );
}

/** What an authenticated user is granted of what they asked for: every user may pull, push and delete. */
export function grant(requested: Access[]): Access[] {
  const out: Access[] = [];
  for (const r of requested) {
    if (r.type === 'repository') {
      const actions = r.actions.filter((a) => a === 'pull' || a === 'push' || a === 'delete' || a === '*');
      if (actions.length) out.push({ type: r.type, name: r.name, actions });
    } else if (r.type === 'registry' && r.name === 'catalog') {
      out.push({ type: r.type, name: r.name, actions: ['*'] });
    }
  }
  return out;
}
