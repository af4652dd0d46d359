/**
 * The registry's operations, independent of HTTP: manifests, blobs, uploads, listings and referrers over
 * the storage. The HTTP layer (server.ts) only translates requests to these calls.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isManifestMediaType } from '../oci/media-types.js';
import { ManifestError, parseManifest, subjectOf, type Descriptor, type ParsedManifest } from '../oci/manifest.js';
import { regError } from './errors.js';
import { isTag } from './names.js';
import type { RwLock } from './rwlock.js';
import type { RegistryStorage, StoredManifest } from './storage.js';
import type { UploadManager } from './uploads.js';

export type Reference = { digest: string } | { tag: string };

/** A blob ready to be sent: its size and a way to read it (whole or a byte range). */
export interface BlobSource {
  digest: string;
  size: number;
  open(range?: { start: number; end: number }): NodeJS.ReadableStream | Readable;
}

/** Where a pull-through cache gets what the storage does not hold yet (proxy.ts). */
export interface PullThrough {
  manifest(name: string, ref: Reference): Promise<StoredManifest>;
  /** The upstream's tags of a repository (all of them; undefined when it cannot be asked). */
  tags(name: string): Promise<string[] | undefined>;
  blob(name: string, digest: string, needWhole: boolean): Promise<BlobSource>;
}

export interface PutManifestResult {
  digest: string;
  subject?: string;
  tags: string[];
}

export interface Page<T> {
  items: T[];
  /** The last item returned, when more follow (for the Link header). */
  next?: string;
}

/** n/last pagination over a sorted list, as the spec describes it for tags and the catalog. */
export function paginate(sorted: string[], n: number | undefined, last: string | undefined): Page<string> {
  let items = last === undefined ? sorted : sorted.filter((s) => s > last);
  if (n === undefined) return { items };
  if (n === 0) return { items: [] };
  const more = items.length > n;
  items = items.slice(0, n);
  return more ? { items, next: items[items.length - 1] } : { items };
}

function digestOf(bytes: Buffer, algorithm: string): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export class RegistryService {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly uploads: UploadManager,
    private readonly lock: RwLock,
    private readonly proxy?: PullThrough,
    /** Maintenance mode: pulls only. */
    private readonly readOnly = false,
  ) {}

  get isProxy(): boolean {
    return this.proxy !== undefined;
  }

  private refuseWrites(): void {
    if (this.proxy) throw regError('UNSUPPORTED', 'this registry is a pull-through cache: pushes and deletes are not accepted');
    if (this.readOnly) throw regError('UNSUPPORTED', 'this registry is read-only: pushes and deletes are not accepted');
  }

  async getManifest(name: string, ref: Reference): Promise<StoredManifest> {
    if (this.proxy) return this.proxy.manifest(name, ref);
    if (!(await this.storage.repoExists(name))) throw regError('NAME_UNKNOWN', undefined, { name });
    const digest = 'digest' in ref ? ref.digest : await this.storage.resolveTag(name, ref.tag);
    const stored = digest ? await this.storage.getManifest(name, digest) : undefined;
    if (!stored) throw regError('MANIFEST_UNKNOWN', undefined, 'digest' in ref ? { digest: ref.digest } : { tag: ref.tag });
    return stored;
  }

  async putManifest(name: string, ref: Reference, bytes: Buffer, contentType: string | undefined, extraTags: string[]): Promise<PutManifestResult> {
    this.refuseWrites();
    for (const t of extraTags) if (!isTag(t)) throw regError('TAG_INVALID', 'invalid tag', { tag: t });
    let parsed: ParsedManifest;
    const declared = contentType && isManifestMediaType(contentType) ? contentType : undefined;
    try {
      parsed = parseManifest(bytes, declared);
    } catch (err) {
      if (err instanceof ManifestError) throw regError('MANIFEST_INVALID', err.message);
      throw err;
    }
    if (declared && parsed.mediaType !== declared) {
      throw regError('MANIFEST_INVALID', `manifest media type ${parsed.mediaType} does not match Content-Type ${declared}`);
    }
    if ('digest' in ref) {
      const algorithm = ref.digest.split(':')[0];
      const actual = algorithm === 'sha256' ? parsed.digest : algorithm === 'sha512' ? digestOf(bytes, 'sha512') : undefined;
      if (actual !== ref.digest) throw regError('DIGEST_INVALID', 'manifest digest did not match the digest in the URL', { expected: ref.digest, actual: parsed.digest });
    }
    const tags = 'tag' in ref ? [ref.tag, ...extraTags] : extraTags;
    await this.lock.shared(async () => {
      await this.checkReferences(name, parsed);
      await this.storage.putManifest(name, parsed, tags);
    });
    return { digest: parsed.digest, subject: subjectOf(parsed)?.digest, tags };
  }

  /**
   * Every blob and manifest the manifest lists must be in the repository, with the size its descriptor
   * says (the subject need not be there).
   */
  private async checkReferences(name: string, parsed: ParsedManifest): Promise<void> {
    const blobs: Descriptor[] = parsed.kind === 'manifest' ? [parsed.manifest.config, ...parsed.manifest.layers.filter((l) => !l.urls?.length)] : [];
    const children: Descriptor[] = parsed.kind === 'index' ? parsed.index.manifests : [];
    const sizeMismatch = (d: Descriptor, actual: number) =>
      regError('SIZE_INVALID', `descriptor of ${d.digest} says ${d.size} bytes, the registry holds ${actual}`, { digest: d.digest, size: d.size, actual });
    for (const d of blobs) {
      const size = (await this.storage.blobLinked(name, d.digest)) ? await this.storage.blobSize(d.digest) : undefined;
      if (size === undefined) throw regError('MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${d.digest}`, { digest: d.digest });
      if (size !== d.size) throw sizeMismatch(d, size);
      await this.storage.touchBlob(d.digest);
    }
    for (const d of children) {
      let size: number | undefined;
      if (isManifestMediaType(d.mediaType)) size = (await this.storage.manifestRecord(name, d.digest))?.size;
      else if (await this.storage.blobLinked(name, d.digest)) size = await this.storage.blobSize(d.digest);
      if (size === undefined) throw regError('MANIFEST_BLOB_UNKNOWN', `manifest unknown to registry: ${d.digest}`, { digest: d.digest });
      if (size !== d.size) throw sizeMismatch(d, size);
      await this.storage.touchBlob(d.digest);
    }
  }

  async deleteManifest(name: string, ref: Reference): Promise<void> {
    this.refuseWrites();
    if (!(await this.storage.repoExists(name))) throw regError('NAME_UNKNOWN', undefined, { name });
    if ('tag' in ref) {
      if (!(await this.storage.deleteTag(name, ref.tag))) throw regError('MANIFEST_UNKNOWN', undefined, { tag: ref.tag });
      return;
    }
    if (!(await this.storage.deleteManifest(name, ref.digest))) throw regError('MANIFEST_UNKNOWN', undefined, { digest: ref.digest });
  }

  /** A blob the repository holds (linked, or one of its manifests), for HEAD and GET. */
  async blob(name: string, digest: string, needWhole = false): Promise<BlobSource> {
    const linked = (await this.storage.blobLinked(name, digest)) || (await this.storage.manifestRecord(name, digest)) !== undefined;
    const size = linked ? await this.storage.blobSize(digest) : undefined;
    if (size === undefined) {
      if (this.proxy) return this.proxy.blob(name, digest, needWhole);
      throw regError('BLOB_UNKNOWN', undefined, { digest });
    }
    return { digest, size, open: (range) => this.storage.readBlob(digest, range) };
  }

  /** HEAD of a blob: also marks it as used, since a push that finds it will not upload it again. */
  async statBlob(name: string, digest: string): Promise<BlobSource> {
    // Found and touched under the shared lock: a sweep cannot remove it between the two.
    const local = await this.lock.shared(async () => {
      const linked = (await this.storage.blobLinked(name, digest)) || (await this.storage.manifestRecord(name, digest)) !== undefined;
      const size = linked ? await this.storage.blobSize(digest) : undefined;
      if (size !== undefined) await this.storage.touchBlob(digest);
      return size;
    });
    if (local !== undefined) return { digest, size: local, open: (range) => this.storage.readBlob(digest, range) };
    return this.blob(name, digest, true);
  }

  async deleteBlob(name: string, digest: string): Promise<void> {
    this.refuseWrites();
    if (!(await this.storage.unlinkBlob(name, digest))) throw regError('BLOB_UNKNOWN', undefined, { digest });
  }

  /** Links a blob another repository holds; false when it cannot (the client then uploads it). */
  async mount(name: string, digest: string, from: string | undefined): Promise<boolean> {
    this.refuseWrites();
    if (!from) return false;
    return this.lock.shared(async () => {
      if (!(await this.storage.blobLinked(from, digest)) || (await this.storage.blobSize(digest)) === undefined) return false;
      await this.storage.touchBlob(digest);
      await this.storage.linkBlob(name, digest);
      return true;
    });
  }

  async startUpload(name: string, algorithm?: string): Promise<string> {
    this.refuseWrites();
    return this.uploads.start(name, algorithm);
  }

  async uploadOffset(name: string, uuid: string): Promise<number> {
    return this.uploads.offset(name, uuid);
  }

  async cancelUpload(name: string, uuid: string): Promise<void> {
    await this.uploads.cancel(name, uuid);
  }

  /** A single-request upload (POST ?digest=): a session that is closed at once, or removed on failure. */
  async uploadWhole(name: string, digest: string, body: NodeJS.ReadableStream, length?: number): Promise<void> {
    const uuid = await this.startUpload(name, digest.split(':')[0]);
    try {
      await this.finishUpload(name, uuid, digest, body, undefined, length);
    } catch (err) {
      await this.uploads.cancel(name, uuid).catch(() => {});
      throw err;
    }
  }

  async appendUpload(name: string, uuid: string, body: NodeJS.ReadableStream, range?: { start: number; end: number }, length?: number): Promise<number> {
    this.refuseWrites();
    return this.uploads.append(name, uuid, body, range, length);
  }

  /** Closes an upload; under the shared lock, as the commit may touch a blob the collector is sweeping. */
  async finishUpload(name: string, uuid: string, digest: string, body?: NodeJS.ReadableStream, range?: { start: number; end: number }, length?: number): Promise<void> {
    this.refuseWrites();
    // The final chunk is written outside the lock: a long body must not hold up a collection.
    if (body) await this.uploads.append(name, uuid, body, range, length);
    await this.lock.shared(() => this.uploads.finish(name, uuid, digest));
  }

  async tags(name: string, n: number | undefined, last: string | undefined): Promise<Page<string>> {
    const upstream = this.proxy ? await this.proxy.tags(name) : undefined;
    if (upstream) return paginate([...upstream].sort(), n, last);
    if (!(await this.storage.repoExists(name))) throw regError('NAME_UNKNOWN', undefined, { name });
    return paginate((await this.storage.tags(name)).map((t) => t.tag), n, last);
  }

  async catalog(n: number | undefined, last: string | undefined): Promise<Page<string>> {
    return paginate(await this.storage.repositories(), n, last);
  }

  async referrers(name: string, digest: string, artifactType: string | undefined): Promise<Descriptor[]> {
    const all = await this.storage.referrers(name, digest);
    return artifactType === undefined ? all : all.filter((d) => d.artifactType === artifactType);
  }
}
