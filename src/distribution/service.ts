/**
 * The registry client as the API uses it: pull, push, login and the descriptor of a remote image.
 * Lifecycle: made once by the daemon; it reads the registry settings through `settings` on every call,
 * so a SIGHUP reload of insecure-registries and mirrors applies to the next operation.
 */
import type { ImageService } from '../images/service.js';
import type { Db } from '../store/db.js';
import { parseReference, familiarName, type ImageReference } from '../images/reference.js';
import { DistributionMetadata } from './metadata.js';
import { endpointsFor, registryInfo, DOCKER_HUB, type RegistrySettings } from './endpoints.js';
import { openRepository, RepositoryClient } from './client.js';
import { Authorizer, type Credentials } from './auth.js';
import { pull } from './pull.js';
import { push, pushTargets } from './push.js';
import type { ProgressSink } from './progress.js';
import { send, discard, readBody } from './transport.js';
import { RegistryResponseError, statusText, unauthorized } from './errors.js';
import { parseManifest } from '../oci/manifest.js';
import { asSpec } from './platform.js';
import { BerthError, internal, invalidArgument, notFound } from '../lib/errors.js';

export interface LoginRequest extends Credentials {
  serveraddress?: string;
}

export class DistributionService {
  readonly meta: DistributionMetadata;

  constructor(
    private readonly images: ImageService,
    db: Db,
    private readonly settings: () => RegistrySettings,
    /** <data-root>/tmp: partial downloads (emptied at start). */
    private readonly scratchDir: string,
  ) {
    this.meta = new DistributionMetadata(db);
  }

  /** POST /images/create?fromImage=: `name` and `tag` as the API gives them (tag may be a digest; none means all tags). */
  async pull(o: { name: string; tag?: string; platform?: string; creds: Credentials; signal?: AbortSignal }, out: ProgressSink): Promise<void> {
    const ref = pullReference(o.name, o.tag);
    await pull({ images: this.images, meta: this.meta, settings: this.settings, scratchDir: this.scratchDir }, { ref, platform: o.platform, creds: o.creds, signal: o.signal }, out);
  }

  /** Throws (before a stream starts) when there is nothing to push. */
  checkPush(name: string, tag?: string): ImageReference {
    const ref = pushReference(name, tag);
    pushTargets(this.images, ref);
    return ref;
  }

  async push(o: { name: string; tag?: string; creds: Credentials; signal?: AbortSignal }, out: ProgressSink): Promise<void> {
    const ref = pushReference(o.name, o.tag);
    await push({ images: this.images, meta: this.meta, settings: this.settings }, { ref, creds: o.creds, signal: o.signal }, out);
  }

  /** POST /auth: checks credentials against the registry's /v2/ (basic or token flow). */
  async login(req: LoginRequest): Promise<{ Status: string; IdentityToken: string }> {
    const domain = loginDomain(req.serveraddress);
    const endpoints = await endpointsFor(domain, this.settings(), 'push');
    let lastError: unknown;
    for (const endpoint of endpoints) {
      const url = `${endpoint.url}/v2/`;
      let res;
      try {
        res = await send({ method: 'GET', url: new URL(url), tls: endpoint.tls });
      } catch (err) {
        lastError = err;
        continue; // the next endpoint (plain HTTP for an insecure registry)
      }
      discard(res);
      if (res.status === 200) return { Status: 'Login Succeeded', IdentityToken: '' };
      if (res.status !== 401) throw internal(`login attempt to ${url} failed with status: ${res.status} ${statusText(res.status)}`);
      const auth = new Authorizer(req, endpoint.tls);
      if (!auth.setChallenges(res.headers['www-authenticate'])) throw unauthorized(`login attempt to ${url} failed with status: 401 Unauthorized`);
      const header = await auth.header([], url);
      if (!header) throw unauthorized(`Get ${JSON.stringify(url)}: no basic auth credentials`);
      const check = await send({ method: 'GET', url: new URL(url), tls: endpoint.tls, authHeaders: { Authorization: header } });
      discard(check);
      if (check.status === 200) return { Status: 'Login Succeeded', IdentityToken: auth.refreshToken ?? '' };
      throw unauthorized(`login attempt to ${url} failed with status: ${check.status} ${statusText(check.status)}`);
    }
    throw internal(lastError instanceof Error ? lastError.message : `cannot reach ${domain}`, lastError);
  }

  /** GET /distribution/{name}/json: the manifest's descriptor and the platforms it serves. */
  async inspect(name: string, creds: Credentials): Promise<{ Descriptor: { mediaType: string; digest: string; size: number }; Platforms: unknown[] }> {
    let ref: ImageReference;
    try {
      ref = parseReference(name);
    } catch (err) {
      throw invalidArgument((err as Error).message);
    }
    const reference = ref.digest ?? ref.tag ?? 'latest';
    try {
      const { client } = await openRepository(await endpointsFor(ref.domain, this.settings(), 'push'), ref.path, creds, ['pull']);
      const m = await client.getManifest(reference);
      const parsed = parseManifest(m.bytes, m.contentType || undefined);
      const descriptor = { mediaType: parsed.mediaType, digest: m.digest, size: m.bytes.length };
      if (parsed.kind === 'index') {
        const platforms = parsed.index.manifests.filter((d) => d.platform && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest').map((d) => d.platform!);
        return { Descriptor: descriptor, Platforms: platforms };
      }
      return { Descriptor: descriptor, Platforms: [await this.configPlatform(client, parsed.manifest.config.digest, parsed.manifest.config.size)] };
    } catch (err) {
      if (err instanceof BerthError) throw err;
      if (err instanceof RegistryResponseError) {
        if (err.status === 401 || err.status === 403 || err.has('UNAUTHORIZED', 'DENIED')) throw unauthorized(err.message);
        if (err.status === 404) throw notFound(`${familiarName(ref)}: ${err.message}`);
      }
      throw internal((err as Error).message, err);
    }
  }

  private async configPlatform(client: RepositoryClient, digest: string, size: number): Promise<unknown> {
    if (size > 8 * 1024 * 1024) return {};
    const res = await client.getBlob(digest);
    const bytes = await readBody(res, 8 * 1024 * 1024, 'image config');
    try {
      const c = JSON.parse(bytes.toString('utf8')) as { os?: string; architecture?: string; variant?: string };
      return asSpec({ os: c.os ?? '', architecture: c.architecture ?? '', variant: c.variant });
    } catch {
      return {};
    }
  }

  /** GET /info's RegistryConfig. */
  registryConfig(): Record<string, unknown> {
    return registryInfo(this.settings());
  }
}

function pullReference(name: string, tag?: string): ImageReference {
  const ref = parseReference(name);
  if (tag) {
    if (/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(tag)) return { domain: ref.domain, path: ref.path, digest: parseReference(`${familiarName(ref)}@${tag}`).digest };
    return { domain: ref.domain, path: ref.path, tag: parseReference(`${familiarName(ref)}:${tag}`).tag };
  }
  return ref;
}

function pushReference(name: string, tag?: string): ImageReference {
  const ref = parseReference(name);
  if (tag) return { domain: ref.domain, path: ref.path, tag: parseReference(`${familiarName(ref)}:${tag}`).tag };
  return ref;
}

/** The registry a login names: 'https://index.docker.io/v1/' → docker.io; 'http://host:5000/' → host:5000. */
export function loginDomain(address: string | undefined): string {
  if (!address) return DOCKER_HUB;
  const host = address.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'docker.io') return DOCKER_HUB;
  if (!host) throw invalidArgument(`invalid registry address ${JSON.stringify(address)}`);
  return host;
}
