/**
 * The registry's storage on disk, content-addressed:
 *
 *   blobs/<alg>/<hex[0:2]>/<hex>                       every blob and every manifest's bytes, once
 *   repositories/<name>/_layers/<alg>/<hex>            the blobs a repository may serve (a link: the digest)
 *   repositories/<name>/_manifests/revisions/<alg>/<hex>  its manifests (JSON: digest, mediaType, size)
 *   repositories/<name>/_manifests/tags/<tag>          a tag (the digest it points to)
 *   repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  a referrer of a subject (its descriptor)
 *   uploads/<uuid>/                                    upload sessions (see uploads.ts)
 *   tmp/                                               files being written, renamed into place when whole
 *
 * Every file appears by rename, so a reader sees a whole thing or nothing. Repository path components
 * start with [a-z0-9] by the name grammar, so the `_` directories cannot clash with a nested repository.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic.js';
import type { Descriptor, ParsedManifest } from '../oci/manifest.js';
import { isDigest, parseManifest, referrerArtifactType, subjectOf } from '../oci/manifest.js';
import { regError } from './errors.js';

export interface ManifestRecord {
  digest: string;
  mediaType: string;
  size: number;
}

export interface StoredManifest extends ManifestRecord {
  bytes: Buffer;
}

/** writeFileAtomic's temp names (`<file>.tmp-<12 hex>`), skipped when listing. */
const TEMP = /\.tmp-[0-9a-f]{12}$/;

function split(digest: string): [string, string] {
  const i = digest.indexOf(':');
  return [digest.slice(0, i), digest.slice(i + 1)];
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function readOptional(p: string): Promise<string | undefined> {
  try {
    return await fs.readFile(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function listDir(p: string): Promise<string[]> {
  try {
    return await fs.readdir(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

async function removeOptional(p: string): Promise<boolean> {
  try {
    await fs.unlink(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export class RegistryStorage {
  readonly blobsDir: string;
  readonly reposDir: string;
  readonly uploadsDir: string;
  readonly tmpDir: string;

  constructor(readonly root: string) {
    this.blobsDir = path.join(root, 'blobs');
    this.reposDir = path.join(root, 'repositories');
    this.uploadsDir = path.join(root, 'uploads');
    this.tmpDir = path.join(root, 'tmp');
  }

  async init(): Promise<void> {
    for (const d of [this.blobsDir, this.reposDir, this.uploadsDir, this.tmpDir]) await fs.mkdir(d, { recursive: true });
  }

  // ---- blobs (global, content-addressed)

  blobPath(digest: string): string {
    const [alg, hex] = split(digest);
    return path.join(this.blobsDir, alg, hex.slice(0, 2), hex);
  }

  async blobSize(digest: string): Promise<number | undefined> {
    try {
      const st = await fs.stat(this.blobPath(digest));
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  /** Marks a blob as just used, so a garbage collection within its grace period leaves it alone. */
  async touchBlob(digest: string): Promise<void> {
    const now = new Date();
    await fs.utimes(this.blobPath(digest), now, now).catch(() => {});
  }

  /** A fresh path under tmp/ on the same filesystem as the blobs, for a file renamed into place later. */
  tempPath(): string {
    return path.join(this.tmpDir, randomBytes(12).toString('hex'));
  }

  /** Moves a verified file into the blob store; if the blob is already there, the copy is dropped. */
  async commitBlobFile(file: string, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    if (await exists(target)) {
      await fs.rm(file, { force: true });
      await this.touchBlob(digest);
      return;
    }
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(file, target);
  }

  async writeBlob(bytes: Buffer, digest: string): Promise<void> {
    if ((await this.blobSize(digest)) !== undefined) return this.touchBlob(digest);
    const tmp = this.tempPath();
    await writeFileAtomic(tmp, bytes);
    await this.commitBlobFile(tmp, digest);
  }

  readBlob(digest: string, range?: { start: number; end: number }): NodeJS.ReadableStream {
    return createReadStream(this.blobPath(digest), range);
  }

  async removeBlob(digest: string): Promise<boolean> {
    return removeOptional(this.blobPath(digest));
  }

  /** Every blob in the store with its modification time. */
  async *allBlobs(): AsyncGenerator<{ digest: string; mtimeMs: number; size: number }> {
    for (const alg of await listDir(this.blobsDir)) {
      for (const prefix of await listDir(path.join(this.blobsDir, alg))) {
        for (const hex of await listDir(path.join(this.blobsDir, alg, prefix))) {
          const digest = `${alg}:${hex}`;
          if (!isDigest(digest)) continue;
          try {
            const st = await fs.stat(path.join(this.blobsDir, alg, prefix, hex));
            yield { digest, mtimeMs: st.mtimeMs, size: st.size };
          } catch {
            // removed meanwhile
          }
        }
      }
    }
  }

  // ---- repositories

  repoDir(name: string): string {
    return path.join(this.reposDir, ...name.split('/'));
  }

  async repoExists(name: string): Promise<boolean> {
    const dir = this.repoDir(name);
    return (await exists(path.join(dir, '_manifests'))) || (await exists(path.join(dir, '_layers')));
  }

  /** Every repository's name, sorted. */
  async repositories(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string, prefix: string[]): Promise<void> => {
      const entries = await listDir(dir);
      if (prefix.length && (entries.includes('_manifests') || entries.includes('_layers'))) found.push(prefix.join('/'));
      for (const e of entries) {
        if (e.startsWith('_')) continue;
        const st = await fs.stat(path.join(dir, e)).catch(() => undefined);
        if (st?.isDirectory()) await walk(path.join(dir, e), [...prefix, e]);
      }
    };
    await walk(this.reposDir, []);
    return found.sort();
  }

  private layerLink(name: string, digest: string): string {
    const [alg, hex] = split(digest);
    return path.join(this.repoDir(name), '_layers', alg, hex);
  }

  async linkBlob(name: string, digest: string): Promise<void> {
    const link = this.layerLink(name, digest);
    if ((await readOptional(link)) === digest) return;
    await writeFileAtomic(link, digest);
  }

  async blobLinked(name: string, digest: string): Promise<boolean> {
    return (await readOptional(this.layerLink(name, digest))) === digest;
  }

  async unlinkBlob(name: string, digest: string): Promise<boolean> {
    return removeOptional(this.layerLink(name, digest));
  }

  /** The blobs linked to a repository. */
  async linkedBlobs(name: string): Promise<string[]> {
    const out: string[] = [];
    const dir = path.join(this.repoDir(name), '_layers');
    for (const alg of await listDir(dir)) for (const hex of await listDir(path.join(dir, alg))) if (!TEMP.test(hex)) out.push(`${alg}:${hex}`);
    return out;
  }

  // ---- manifests

  private revisionPath(name: string, digest: string): string {
    const [alg, hex] = split(digest);
    return path.join(this.repoDir(name), '_manifests', 'revisions', alg, hex);
  }

  private tagPath(name: string, tag: string): string {
    return path.join(this.repoDir(name), '_manifests', 'tags', tag);
  }

  private referrerPath(name: string, subject: string, digest: string): string {
    const [alg, hex] = split(subject);
    return path.join(this.repoDir(name), '_referrers', alg, hex, digest.replace(':', '-'));
  }

  async manifestRecord(name: string, digest: string): Promise<ManifestRecord | undefined> {
    const text = await readOptional(this.revisionPath(name, digest));
    if (text === undefined) return undefined;
    try {
      const rec = JSON.parse(text) as ManifestRecord;
      return rec.digest === digest ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  /** Marks a manifest as just pulled (the pull-through cache's last use of it). */
  async touchManifest(name: string, digest: string): Promise<void> {
    const now = new Date();
    await fs.utimes(this.revisionPath(name, digest), now, now).catch(() => {});
  }

  /** When a manifest was last stored or pulled through the cache (0 when it is not there). */
  async manifestTime(name: string, digest: string): Promise<number> {
    const st = await fs.stat(this.revisionPath(name, digest)).catch(() => undefined);
    return st?.mtimeMs ?? 0;
  }

  async resolveTag(name: string, tag: string): Promise<string | undefined> {
    const d = (await readOptional(this.tagPath(name, tag)))?.trim();
    return d && isDigest(d) ? d : undefined;
  }

  /** A manifest by digest, with its bytes; undefined when the repository does not hold it. */
  async getManifest(name: string, digest: string): Promise<StoredManifest | undefined> {
    const rec = await this.manifestRecord(name, digest);
    if (!rec) return undefined;
    try {
      return { ...rec, bytes: await fs.readFile(this.blobPath(digest)) };
    } catch {
      return undefined;
    }
  }

  /** Stores a parsed manifest's exact bytes, its revision, its referrer entry and its tags. */
  async putManifest(name: string, parsed: ParsedManifest, tags: string[]): Promise<void> {
    await this.writeBlob(parsed.bytes, parsed.digest);
    const subject = subjectOf(parsed);
    if (subject) {
      const desc: Descriptor = { mediaType: parsed.mediaType, digest: parsed.digest, size: parsed.bytes.length };
      const artifactType = referrerArtifactType(parsed);
      if (artifactType) desc.artifactType = artifactType;
      const annotations = parsed.kind === 'index' ? parsed.index.annotations : parsed.manifest.annotations;
      if (annotations && typeof annotations === 'object') desc.annotations = annotations;
      await writeFileAtomic(this.referrerPath(name, subject.digest, parsed.digest), JSON.stringify(desc));
    }
    const rec: ManifestRecord = { digest: parsed.digest, mediaType: parsed.mediaType, size: parsed.bytes.length };
    await writeFileAtomic(this.revisionPath(name, parsed.digest), JSON.stringify(rec));
    for (const tag of tags) await writeFileAtomic(this.tagPath(name, tag), parsed.digest);
  }

  /** When a tag was last written (0 when it is not there): the pull-through cache's age of a tag. */
  async tagTime(name: string, tag: string): Promise<number> {
    const st = await fs.stat(this.tagPath(name, tag)).catch(() => undefined);
    return st?.mtimeMs ?? 0;
  }

  async tags(name: string): Promise<Array<{ tag: string; digest: string }>> {
    const dir = path.join(this.repoDir(name), '_manifests', 'tags');
    const out: Array<{ tag: string; digest: string }> = [];
    for (const tag of await listDir(dir)) {
      if (TEMP.test(tag)) continue;
      const digest = await this.resolveTag(name, tag);
      if (digest) out.push({ tag, digest });
    }
    return out.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  }

  async revisions(name: string): Promise<string[]> {
    const dir = path.join(this.repoDir(name), '_manifests', 'revisions');
    const out: string[] = [];
    for (const alg of await listDir(dir)) {
      for (const hex of await listDir(path.join(dir, alg))) if (!TEMP.test(hex)) out.push(`${alg}:${hex}`);
    }
    return out;
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    return removeOptional(this.tagPath(name, tag));
  }

  /** Deletes a manifest from a repository: its revision, the tags on it and its referrer entry. */
  async deleteManifest(name: string, digest: string): Promise<boolean> {
    const stored = await this.getManifest(name, digest);
    if (!stored) return false;
    for (const t of await this.tags(name)) if (t.digest === digest) await this.deleteTag(name, t.tag);
    try {
      const subject = subjectOf(parseManifest(stored.bytes, stored.mediaType));
      if (subject) await removeOptional(this.referrerPath(name, subject.digest, digest));
    } catch {
      // bytes that no longer parse have no referrer entry worth finding
    }
    return removeOptional(this.revisionPath(name, digest));
  }

  /** The referrers of a subject in a repository, as descriptors (those whose manifest is still there). */
  async referrers(name: string, subject: string): Promise<Descriptor[]> {
    const [alg, hex] = split(subject);
    const dir = path.join(this.repoDir(name), '_referrers', alg, hex);
    const out: Descriptor[] = [];
    for (const f of (await listDir(dir)).sort()) {
      if (TEMP.test(f)) continue;
      const text = await readOptional(path.join(dir, f));
      if (!text) continue;
      try {
        const desc = JSON.parse(text) as Descriptor;
        if (await this.manifestRecord(name, desc.digest)) out.push(desc);
      } catch {
        // a damaged entry is skipped, not served
      }
    }
    return out;
  }
}

export function notFoundIfAbsent<T>(value: T | undefined, code: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN', detail: unknown): T {
  if (value === undefined) throw regError(code, undefined, detail);
  return value;
}
