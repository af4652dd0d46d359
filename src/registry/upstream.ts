/**
 * A small client of an upstream registry for the pull-through cache: GET with the auth the upstream asks
 * for (basic, or a bearer token from its realm, cached per scope until it expires).
 */
import { regError, RegistryError } from './errors.js';

export interface UpstreamOptions {
  remote: string;
  username?: string;
  password?: string;
}

function parseChallenge(header: string): { scheme: string; params: Record<string, string> } | undefined {
  const m = /^(\w+)\s+(.*)$/.exec(header.trim());
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

export class UpstreamClient {
  private readonly base: string;
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(private readonly options: UpstreamOptions) {
    this.base = options.remote.replace(/\/+$/, '');
  }

  private basic(): string | undefined {
    if (this.options.username === undefined) return undefined;
    return 'Basic ' + Buffer.from(`${this.options.username}:${this.options.password ?? ''}`).toString('base64');
  }

  private async token(challenge: Record<string, string>, scope: string): Promise<string> {
    const key = `${challenge.realm}|${challenge.service}|${scope}`;
    const known = this.tokens.get(key);
    if (known && known.until > Date.now()) return known.token;
    const url = new URL(challenge.realm!);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    url.searchParams.set('scope', challenge.scope ?? scope);
    const headers: Record<string, string> = {};
    const basic = this.basic();
    if (basic) headers.Authorization = basic;
    const r = await fetch(url, { headers, redirect: 'follow' });
    if (!r.ok) throw regError('UNAUTHORIZED', `upstream token endpoint answered ${r.status}`);
    const body = (await r.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown; expires_in?: unknown };
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!token) throw regError('UNAUTHORIZED', 'upstream token endpoint sent no token');
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    this.tokens.set(key, { token, until: Date.now() + Math.max(ttl - 10, 5) * 1000 });
    return token;
  }

  /** GET (or HEAD) of a path under the upstream's /v2/, answering its auth challenge once. */
  async get(pathname: string, repo: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
    const url = `${this.base}${pathname}`;
    const scope = `repository:${repo}:pull`;
    let r: Response;
    try {
      r = await fetch(url, { method, headers, redirect: 'follow' });
      if (r.status !== 401) return r;
      const challenge = parseChallenge(r.headers.get('www-authenticate') ?? '');
      await r.body?.cancel().catch(() => {});
      let auth: string | undefined;
      if (challenge?.scheme === 'bearer' && challenge.params.realm) auth = `Bearer ${await this.token(challenge.params, scope)}`;
      else if (challenge?.scheme === 'basic') auth = this.basic();
      if (!auth) return r;
      return await fetch(url, { method, headers: { ...headers, Authorization: auth }, redirect: 'follow' });
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      throw regError('UNKNOWN', `upstream ${this.base} is unreachable: ${err instanceof Error ? err.message : String(err)}`, undefined, 502);
    }
  }
}
