/**
 * Registry authentication: the credentials the docker CLI sends (X-Registry-Auth), the challenges of
 * WWW-Authenticate, and the two schemes Docker speaks: Basic (credentials on every request) and Bearer
 * (a token from the challenge's realm, for a scope such as repository:NAME:pull,push, cached until it
 * expires).
 */
import { send, readBody, type TlsSettings } from './transport.js';
import { describeErrors, parseErrorBody, unauthorized } from './errors.js';
import { invalidArgument } from '../lib/errors.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** A refresh token (from an earlier login) used instead of a password. */
  identityToken?: string;
  /** A bearer token sent as is. */
  registryToken?: string;
}

/** Decodes X-Registry-Auth: base64url (or base64) JSON; absent or "e30=" ({}) is anonymous. */
export function parseRegistryAuth(header: string | undefined): Credentials {
  if (!header) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    // dockerd ignores an undecodable header and pulls anonymously.
    return {};
  }
  return credentialsOf(parsed);
}

/** Credentials from a decoded auth config ({username,password,identitytoken,registrytoken}). */
export function credentialsOf(v: unknown): Credentials {
  if (!v || typeof v !== 'object') return {};
  const o = v as Record<string, unknown>;
  const str = (k: string): string | undefined => {
    const x = o[k] ?? o[k[0]!.toUpperCase() + k.slice(1)];
    if (x !== undefined && x !== null && typeof x !== 'string') throw invalidArgument(`invalid auth configuration: ${k} must be a string`);
    return x || undefined;
  };
  const c: Credentials = {};
  const username = str('username');
  const password = str('password');
  const identityToken = str('identitytoken');
  const registryToken = str('registrytoken');
  if (username) c.username = username;
  if (password) c.password = password;
  if (identityToken) c.identityToken = identityToken;
  if (registryToken) c.registryToken = registryToken;
  // `auth` is base64 "user:password", as in ~/.docker/config.json.
  const auth = str('auth');
  if (auth && !username) {
    const text = Buffer.from(auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i > 0) {
      c.username = text.slice(0, i);
      c.password = text.slice(i + 1);
    }
  }
  return c;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses WWW-Authenticate: `Bearer realm="...",service="...",scope="..."` (one or more challenges). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  const out: Challenge[] = [];
  for (const value of values) {
    const re = /\s*([A-Za-z][\w-]*)(?:\s+|$)((?:[\w-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?\s*)*)/gy;
    let m: RegExpExecArray | null;
    while ((m = re.exec(value)) && m[0].length) {
      const params: Record<string, string> = {};
      const pr = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
      let p: RegExpExecArray | null;
      while ((p = pr.exec(m[2] ?? ''))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      out.push({ scheme: m[1]!.toLowerCase(), params });
    }
  }
  return out;
}

interface CachedToken {
  header: string;
  expires: number;
}

/**
 * Authorization for one registry endpoint with one set of credentials. Lifecycle: made per operation
 * (pull, push, login), so tokens never cross users; within it, tokens are cached per scope.
 */
export class Authorizer {
  private challenge?: Challenge;
  private readonly tokens = new Map<string, CachedToken>();
  /** A refresh token the token server returned (login answers it as IdentityToken). */
  refreshToken?: string;

  constructor(
    private readonly creds: Credentials,
    private readonly tls: TlsSettings,
    private readonly signal?: AbortSignal,
  ) {}

  /** Takes the challenges of a 401; returns false when none is one Berth can answer. */
  setChallenges(header: string | string[] | undefined): boolean {
    const all = parseChallenges(header);
    const chosen = all.find((c) => c.scheme === 'bearer' && c.params.realm) ?? all.find((c) => c.scheme === 'basic');
    if (!chosen) return false;
    this.challenge = chosen;
    return true;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  hasCredentials(): boolean {
    return !!(this.creds.username || this.creds.identityToken || this.creds.registryToken);
  }

  /** The Authorization header for requests needing `scopes`, or undefined when anonymous access is all there is. */
  async header(scopes: string[], requestUrl: string): Promise<string | undefined> {
    if (this.creds.registryToken) return `Bearer ${this.creds.registryToken}`;
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') {
      if (!this.creds.username) return undefined;
      return basic(this.creds.username, this.creds.password ?? '');
    }
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return cached.header;
    const token = await this.fetchToken(c.params, scopes, requestUrl);
    this.tokens.set(key, token);
    return token.header;
  }

  private async fetchToken(params: Record<string, string>, scopes: string[], requestUrl: string): Promise<CachedToken> {
    let realm: URL;
    try {
      realm = new URL(params.realm!);
    } catch {
      throw new Error(`invalid token realm ${JSON.stringify(params.realm)} from ${requestUrl}`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new Error(`unsupported token realm ${realm.href}`);
    const started = Date.now();
    let res;
    if (this.creds.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.creds.identityToken, client_id: 'docker', access_type: 'offline' });
      if (params.service) form.set('service', params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await send({ method: 'POST', url: realm, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()), tls: this.tls, signal: this.signal });
    } else {
      const url = new URL(realm);
      if (params.service) url.searchParams.set('service', params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (this.creds.username) {
        url.searchParams.set('account', this.creds.username);
        url.searchParams.set('client_id', 'docker');
        url.searchParams.set('offline_token', 'true');
        headers.Authorization = basic(this.creds.username, this.creds.password ?? '');
      }
      res = await send({ method: 'GET', url, headers, tls: this.tls, signal: this.signal });
    }
    const body = await readBody(res, 1024 * 1024, 'token response');
    if (res.status === 401 || res.status === 403) {
      const errors = parseErrorBody(body);
      const detail = errors.length ? describeErrors(errors) : tokenErrorText(body) ?? 'unauthorized: authentication required';
      throw unauthorized(`Get ${JSON.stringify(requestUrl)}: ${detail.startsWith('unauthorized') || detail.startsWith('denied') ? detail : `unauthorized: ${detail}`}`);
    }
    if (res.status !== 200) throw new Error(`token server ${realm.origin} answered ${res.status} for ${requestUrl}`);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown; refresh_token?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw new Error(`token server ${realm.origin} answered invalid JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : '';
    if (!token) throw new Error(`token server ${realm.origin} answered no token`);
    if (typeof parsed.refresh_token === 'string') this.refreshToken = parsed.refresh_token;
    // The spec's default lifetime is 60 s; refresh a little early.
    const expiresIn = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    return { header: `Bearer ${token}`, expires: started + Math.max(expiresIn - 5, 1) * 1000 };
  }
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Token servers sometimes answer {"details": "..."} (Docker Hub) instead of an errors list. */
function tokenErrorText(body: Buffer): string | undefined {
  try {
    const o = JSON.parse(body.toString('utf8')) as { details?: unknown; error?: unknown };
    if (typeof o.details === 'string') return o.details;
    if (typeof o.error === 'string') return o.error;
  } catch {
    // not JSON
  }
  return undefined;
}
