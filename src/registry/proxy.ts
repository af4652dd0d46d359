/**
 * The pull-through cache: what the storage does not hold is fetched from the upstream registry, verified
 * and kept. Tags are looked up upstream again once older than the tag TTL (the cached manifest is served
 * when the upstream cannot be reached). A blob is streamed to the client while it is written to a temp
 * file; only a blob whose digest checks out is moved into the store.
 */
import { createWriteStream, promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES } from '../oci/media-types.js';
import { ManifestError, parseManifest, sha256Digest } from '../oci/manifest.js';
import { log } from '../lib/log.js';
import { regError, RegistryError } from './errors.js';
import type { BlobSource, PullThrough, Reference } from './service.js';
import type { RegistryStorage, StoredManifest } from './storage.js';
import { UpstreamClient } from './upstream.js';
import { isTag } from './names.js';

export interface ProxyOptions {
  remote: string;
  username?: string;
  password?: string;
  /** How long a cached tag is served before the upstream is asked again (default 5 min). */
  tagTtlMs?: number;
  /** Cached manifests not pulled for this long are forgotten at the next collection (0: kept forever). */
  cacheTtlMs?: number;
}

function bodyStream(r: Response): Readable {
  if (!r.body) return Readable.from([]);
  return Readable.fromWeb(r.body as unknown as WebReadableStream<Uint8Array>);
}

export class ProxyCache implements PullThrough {
  private readonly upstream: UpstreamClient;
  private readonly tagTtlMs: number;
  private readonly cacheTtlMs: number;

  constructor(
    private readonly storage: RegistryStorage,
    options: ProxyOptions,
  ) {
    this.upstream = new UpstreamClient(options);
    this.tagTtlMs = options.tagTtlMs ?? 5 * 60_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 7 * 24 * 3_600_000;
  }

  /**
   * Forgets manifests (and their tags) not pulled within the cache TTL, so the collection that follows
   * frees their blobs. A pull after that fetches them from the upstream again.
   */
  async expire(now = Date.now()): Promise<number> {
    if (this.cacheTtlMs <= 0) return 0;
    let removed = 0;
    for (const repo of await this.storage.repositories()) {
      for (const digest of await this.storage.revisions(repo)) {
        if (now - (await this.storage.manifestTime(repo, digest)) > this.cacheTtlMs && (await this.storage.deleteManifest(repo, digest))) removed++;
      }
    }
    if (removed) log.info('pull-through cache forgot manifests not pulled within its TTL', { removed });
    return removed;
  }

  async manifest(name: string, ref: Reference): Promise<StoredManifest> {
    if ('digest' in ref) {
      const local = await this.storage.getManifest(name, ref.digest);
      if (local) {
        await this.storage.touchManifest(name, ref.digest);
        return local;
      }
      return this.fetchManifest(name, ref.digest, ref.digest);
    }
    const cachedDigest = await this.storage.resolveTag(name, ref.tag);
    const cached = cachedDigest ? await this.storage.getManifest(name, cachedDigest) : undefined;
    if (cached && Date.now() - (await this.storage.tagTime(name, ref.tag)) < this.tagTtlMs) {
      await this.storage.touchManifest(name, cached.digest);
      return cached;
    }
    try {
      return await this.fetchManifest(name, ref.tag, undefined);
    } catch (err) {
      // An upstream that cannot be reached (not one that says the tag is gone) leaves the cached copy usable.
      if (cached && err instanceof RegistryError && err.status >= 500) {
        log.warn('upstream unreachable; serving the cached manifest', { name, tag: ref.tag, error: err.message });
        await this.storage.touchManifest(name, cached.digest);
        return cached;
      }
      throw err;
    }
  }

  async tags(name: string): Promise<string[] | undefined> {
    // Followed page by page through the upstream's Link headers, at most 100 pages.
    const all: string[] = [];
    let pathname: string | undefined = `/v2/${name}/tags/list`;
    for (let page = 0; pathname && page < 100; page++) {
      let r: Response;
      try {
        r = await this.upstream.get(pathname, name);
      } catch {
        return undefined;
      }
      if (r.status === 404) {
        await r.body?.cancel().catch(() => {});
        throw regError('NAME_UNKNOWN', undefined, { name });
      }
      if (!r.ok) {
        await r.body?.cancel().catch(() => {});
        return undefined;
      }
      const body = (await r.json().catch(() => undefined)) as { tags?: unknown } | undefined;
      if (!body || (body.tags !== null && body.tags !== undefined && !Array.isArray(body.tags))) return undefined;
      for (const t of (body.tags as unknown[] | null | undefined) ?? []) if (typeof t === 'string' && isTag(t)) all.push(t);
      const next = /<([^>]+)>;\s*rel="?next"?/.exec(r.headers.get('link') ?? '')?.[1];
      pathname = next && next.startsWith('/v2/') ? next : undefined;
    }
    return all;
  }

  private async fetchManifest(name: string, reference: string, expectedDigest: string | undefined): Promise<StoredManifest> {
    const r = await this.upstream.get(`/v2/${name}/manifests/${reference}`, name, { Accept: MANIFEST_MEDIA_TYPES.join(', ') });
    if (r.status === 404) {
      await r.body?.cancel().catch(() => {});
      throw regError('MANIFEST_UNKNOWN', undefined, expectedDigest ? { digest: expectedDigest } : { tag: reference });
    }
    if (r.status === 401 || r.status === 403) {
      await r.body?.cancel().catch(() => {});
      throw regError('UNAUTHORIZED', `the upstream registry refused access (${r.status})`);
    }
    if (!r.ok) {
      await r.body?.cancel().catch(() => {});
      throw regError('UNKNOWN', `the upstream registry answered ${r.status}`, undefined, 502);
    }
    const declared = Number(r.headers.get('content-length'));
    if (declared > MAX_MANIFEST_BYTES) {
      await r.body?.cancel().catch(() => {});
      throw regError('MANIFEST_INVALID', 'the upstream manifest is over the size limit', undefined, 502);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of bodyStream(r)) {
      total += (c as Buffer).length;
      if (total > MAX_MANIFEST_BYTES) throw regError('MANIFEST_INVALID', 'the upstream manifest is over the size limit', undefined, 502);
      chunks.push(c as Buffer);
    }
    const bytes = Buffer.concat(chunks);
    const digest = sha256Digest(bytes);
    const header = r.headers.get('docker-content-digest');
    if ((expectedDigest && digest !== expectedDigest) || (header && header.startsWith('sha256:') && header !== digest)) {
      throw regError('DIGEST_INVALID', 'the upstream manifest does not match its digest', { expected: expectedDigest ?? header, actual: digest }, 502);
    }
    let parsed;
    try {
      parsed = parseManifest(bytes, r.headers.get('content-type')?.split(';')[0]?.trim());
    } catch (err) {
      if (err instanceof ManifestError) throw regError('MANIFEST_INVALID', `the upstream manifest is invalid: ${err.message}`, undefined, 502);
      throw err;
    }
    await this.storage.putManifest(name, parsed, expectedDigest ? [] : [reference]);
    return { digest, mediaType: parsed.mediaType, size: bytes.length, bytes };
  }

  async blob(name: string, digest: string, needWhole: boolean): Promise<BlobSource> {
    // Held by the store already (another repository pulled it): link it, no need to ask the upstream.
    const held = await this.storage.blobSize(digest);
    if (held !== undefined) {
      await this.storage.linkBlob(name, digest);
      return { digest, size: held, open: (range) => this.storage.readBlob(digest, range) };
    }
    const r = await this.upstream.get(`/v2/${name}/blobs/${digest}`, name);
    if (r.status === 404) {
      await r.body?.cancel().catch(() => {});
      throw regError('BLOB_UNKNOWN', undefined, { digest });
    }
    if (!r.ok) {
      await r.body?.cancel().catch(() => {});
      throw regError('UNKNOWN', `the upstream registry answered ${r.status}`, undefined, 502);
    }
    const size = Number(r.headers.get('content-length'));
    const tmp = this.storage.tempPath();
    await fs.mkdir(this.storage.tmpDir, { recursive: true });
    const hash = createHash(digest.split(':')[0] === 'sha512' ? 'sha512' : 'sha256');
    const hasher = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    const commit = async () => {
      const actual = `${digest.split(':')[0]}:${hash.digest('hex')}`;
      if (actual !== digest) throw regError('DIGEST_INVALID', 'the upstream blob does not match its digest', { expected: digest, actual }, 502);
      await this.storage.commitBlobFile(tmp, digest);
      await this.storage.linkBlob(name, digest);
    };
    if (needWhole || !Number.isSafeInteger(size) || size < 0) {
      try {
        await pipeline(bodyStream(r), hasher, createWriteStream(tmp));
        await commit();
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        throw regError('UNKNOWN', `fetching the blob from the upstream failed: ${err instanceof Error ? err.message : String(err)}`, { digest }, 502);
      } finally {
        await fs.rm(tmp, { force: true });
      }
      const stored = await this.storage.blobSize(digest);
      return { digest, size: stored!, open: (range) => this.storage.readBlob(digest, range) };
    }
    // Stream to the client while storing, at the client's pace (a client that goes away no longer holds
    // the download back). The last chunk is held until the digest is checked, so a client never receives a
    // whole (Content-Length) body of a blob that turned out wrong.
    const toClient = new PassThrough();
    toClient.on('error', () => {});
    let lastChunk: Buffer | undefined;
    const tee = new Transform({
      transform(chunk: Buffer, _e, cb) {
        const previous = lastChunk;
        lastChunk = chunk;
        if (!previous || toClient.destroyed || toClient.write(previous)) return cb(null, chunk);
        const go = () => {
          toClient.off('drain', go);
          toClient.off('close', go);
          cb(null, chunk);
        };
        toClient.on('drain', go);
        toClient.on('close', go);
      },
    });
    pipeline(bodyStream(r), hasher, tee, createWriteStream(tmp))
      .then(commit)
      .then(
        () => {
          if (lastChunk) toClient.write(lastChunk);
          toClient.end();
        },
        (err) => {
          log.warn('pull-through blob failed', { name, digest, error: err instanceof Error ? err.message : String(err) });
          toClient.destroy(err instanceof Error ? err : new Error(String(err)));
          void fs.rm(tmp, { force: true });
        },
      );
    return { digest, size, open: () => toClient };
  }
}
