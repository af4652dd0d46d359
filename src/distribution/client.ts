/**
 * A client of one repository on one registry endpoint: the Distribution API calls a pull or push makes
 * (ping, manifests, blobs, uploads, mounts, tags), with authorization added per request. Lifecycle: made
 * per operation by `openRepository`, which pings the endpoints in order and keeps the first that answers.
 */
import type { Readable } from 'node:stream';
import { Authorizer, type Credentials } from './auth.js';
import type { Endpoint } from './endpoints.js';
import { send, readBody, discard, type Response } from './transport.js';
import { responseError } from './errors.js';
import { MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES } from '../oci/media-types.js';
import { sha256Digest } from '../oci/manifest.js';

export interface FetchedManifest {
  bytes: Buffer;
  /** The Content-Type the registry sent. */
  contentType: string;
  digest: string;
}

type Action = 'pull' | 'push';

export class RepositoryClient {
  readonly authorizer: Authorizer;

  constructor(
    readonly endpoint: Endpoint,
    /** Repository path in the registry: 'library/busybox'. */
    readonly repo: string,
    creds: Credentials,
    private readonly actions: Action[],
    private readonly signal?: AbortSignal,
  ) {
    this.authorizer = new Authorizer(creds, endpoint.tls, signal);
  }

  /** GET /v2/: learns how to authenticate. Throws on a network error or an answer that is no registry's. */
  async ping(): Promise<void> {
    const url = `${this.endpoint.url}/v2/`;
    const res = await send({ method: 'GET', url: new URL(url), tls: this.endpoint.tls, signal: this.signal });
    discard(res);
    if (res.status === 401) {
      this.authorizer.setChallenges(res.headers['www-authenticate']);
      return;
    }
    if (res.status !== 200) throw new Error(`Get ${JSON.stringify(url)}: unexpected status ${res.status} from /v2/`);
  }

  private scopes(extra: string[] = []): string[] {
    return [`repository:${this.repo}:${this.actions.join(',')}`, ...extra];
  }

  /** One request to `path` (below the endpoint) with authorization; a 401 is answered once with fresh challenges. */
  async request(method: string, path: string, o: { headers?: Record<string, string>; body?: Buffer | Readable; extraScopes?: string[]; absolute?: URL } = {}): Promise<Response> {
    const url = o.absolute ?? new URL(`${this.endpoint.url}${path}`);
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authorizer.header(this.scopes(o.extraScopes), url.href);
      if (!auth && this.authorizer.scheme === 'basic' && !this.authorizer.hasCredentials()) {
        // A plain error (500), as dockerd's: a 401 would make the docker CLI prompt for a login.
        throw new Error(`${method[0]}${method.slice(1).toLowerCase()} ${JSON.stringify(url.href)}: no basic auth credentials`);
      }
      const res = await send({ method, url, headers: o.headers, authHeaders: auth ? { Authorization: auth } : {}, body: o.body, tls: this.endpoint.tls, signal: this.signal });
      const replayable = o.body === undefined || Buffer.isBuffer(o.body);
      if (res.status === 401 && attempt === 0 && replayable && !auth && this.authorizer.setChallenges(res.headers['www-authenticate'])) {
        discard(res);
        continue;
      }
      return res;
    }
  }

  private async fail(method: string, res: Response): Promise<never> {
    const body = await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0));
    throw responseError(method, res.url.href, res.status, body);
  }

  /** GET a manifest by tag or digest, size-limited; a digest reference is verified. */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const res = await this.request('GET', `/v2/${this.repo}/manifests/${reference}`, { headers: { Accept: MANIFEST_MEDIA_TYPES.join(', ') } });
    if (res.status !== 200) return this.fail('GET', res);
    let bytes: Buffer;
    try {
      bytes = await readBody(res, MAX_MANIFEST_BYTES, 'manifest');
    } catch (err) {
      throw new Error(`${(err as Error).message} for ${this.repo}:${reference}`);
    }
    const digest = sha256Digest(bytes);
    if (reference.includes(':') && reference !== digest) {
      throw new Error(`manifest verification failed for digest ${reference}`);
    }
    const told = res.headers['docker-content-digest'];
    if (typeof told === 'string' && /^sha256:/.test(told) && told !== digest) {
      throw new Error(`manifest verification failed for ${this.repo}:${reference}: registry said ${told}, content is ${digest}`);
    }
    return { bytes, contentType: String(res.headers['content-type'] ?? '').split(';')[0]!.trim(), digest };
  }

  /** HEAD a manifest: its descriptor without the body (for GET /distribution). */
  async headManifest(reference: string): Promise<{ digest?: string; size?: number; contentType: string }> {
    const res = await this.request('HEAD', `/v2/${this.repo}/manifests/${reference}`, { headers: { Accept: MANIFEST_MEDIA_TYPES.join(', ') } });
    discard(res);
    if (res.status !== 200) return this.fail('HEAD', res);
    const digest = res.headers['docker-content-digest'];
    const size = Number(res.headers['content-length']);
    return { digest: typeof digest === 'string' ? digest : undefined, size: Number.isFinite(size) ? size : undefined, contentType: String(res.headers['content-type'] ?? '').split(';')[0]!.trim() };
  }

  /** GET a blob (from byte `offset` on, when the registry honours Range); the caller verifies what it reads. */
  async getBlob(digest: string, offset = 0): Promise<Response & { from: number }> {
    const res = await this.request('GET', `/v2/${this.repo}/blobs/${digest}`, offset > 0 ? { headers: { Range: `bytes=${offset}-` } } : {});
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (start && Number(start[1]) === offset) return { ...res, from: offset };
      discard(res);
      return this.getBlob(digest, 0);
    }
    if (res.status !== 200) return this.fail('GET', res);
    return { ...res, from: 0 };
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${this.repo}/blobs/${digest}`);
    discard(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail('HEAD', res);
  }

  /**
   * Tries a cross-repository mount of `digest` from `from`. True when mounted; otherwise the upload
   * session the registry opened instead (or undefined) is returned for the caller to use.
   */
  async mountBlob(digest: string, from: string): Promise<true | URL | undefined> {
    const res = await this.request('POST', `/v2/${this.repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, {
      body: Buffer.alloc(0),
      extraScopes: [`repository:${from}:pull`],
    });
    discard(res);
    if (res.status === 201) return true;
    if (res.status === 202 && res.headers.location) return new URL(res.headers.location, res.url);
    return undefined;
  }

  /** Uploads a blob monolithically: POST for a session (unless given), then PUT with the digest. */
  async uploadBlob(digest: string, size: number, body: () => Readable, session?: URL): Promise<void> {
    let location = session;
    if (!location) {
      const res = await this.request('POST', `/v2/${this.repo}/blobs/uploads/`, { body: Buffer.alloc(0), headers: { 'Content-Length': '0' } });
      if (res.status !== 202) return this.fail('POST', res);
      discard(res);
      if (!res.headers.location) throw new Error(`registry opened an upload for ${this.repo} without a Location`);
      location = new URL(res.headers.location, res.url);
    }
    location.searchParams.set('digest', digest);
    const res = await this.request('PUT', '', {
      absolute: location,
      body: body(),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    });
    if (res.status !== 201 && res.status !== 204) return this.fail('PUT', res);
    discard(res);
  }

  /** PUT a manifest under a tag or digest; returns the digest the registry stored it as. */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', `/v2/${this.repo}/manifests/${reference}`, { body: bytes, headers: { 'Content-Type': mediaType } });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) return this.fail('PUT', res);
    discard(res);
    return sha256Digest(bytes);
  }

  /** Every tag of the repository, following Link pagination. */
  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${this.repo}/tags/list`;
    for (let page = 0; next && page < 1000; page++) {
      const res = await this.request('GET', next);
      if (res.status !== 200) return this.fail('GET', res);
      const body = await readBody(res, 16 * 1024 * 1024, 'tag list');
      let parsed: { tags?: unknown };
      try {
        parsed = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      } catch {
        throw new Error(`registry answered an invalid tag list for ${this.repo}`);
      }
      if (Array.isArray(parsed.tags)) tags.push(...parsed.tags.filter((t): t is string => typeof t === 'string'));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      next = link ? new URL(link[1]!, res.url).pathname + new URL(link[1]!, res.url).search : undefined;
    }
    return tags;
  }
}

/**
 * Pings `endpoints` in order and returns a client for the first that answers, with the endpoints after
 * it (for a pull to fall back to when a mirror fails). Throws the last error when none answers.
 */
export async function openRepository(
  endpoints: Endpoint[],
  repo: string,
  creds: Credentials,
  actions: Action[],
  signal?: AbortSignal,
): Promise<{ client: RepositoryClient; rest: Endpoint[] }> {
  let lastError: unknown;
  for (const [i, endpoint] of endpoints.entries()) {
    const client = new RepositoryClient(endpoint, repo, creds, actions, signal);
    try {
      await client.ping();
      return { client, rest: endpoints.slice(i + 1) };
    } catch (err) {
      if (signal?.aborted) throw err;
      lastError = err;
    }
  }
  throw lastError ?? new Error('no registry endpoint');
}
