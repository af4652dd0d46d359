import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { DIGEST_RE } from '../lib/ids.js';
import { invalidArgument, notFound } from '../lib/errors.js';

export interface BlobInfo {
  digest: string;
  size: number;
}

/**
 * Where an uncompressed layer tar that is not stored itself can be made from: a compressed blob of this
 * store whose decompression was verified against the tar's digest (a pulled layer keeps only the blob
 * it was pulled as, as dockerd does not keep a second copy either).
 */
export interface TarSource {
  /** The compressed blob (sha256:...), in this store. */
  blob: string;
  compression: 'gzip' | 'zstd';
  /** Bytes of the uncompressed tar. */
  size: number;
}

/**
 * Blobs addressed by sha256 digest under <root>/sha256/<hex>. A blob is written to <root>/ingest first,
 * verified, then renamed into place, so a visible blob is always whole and matches its name. Blobs are
 * immutable; the image service decides when one is no longer referenced and deletes it.
 */
export class ContentStore {
  private readonly blobDir: string;
  private readonly ingestDir: string;
  private readonly sourceDir: string;

  constructor(root: string) {
    this.blobDir = path.join(root, 'sha256');
    this.ingestDir = path.join(root, 'ingest');
    this.sourceDir = path.join(root, 'tar-sources');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.blobDir, { recursive: true });
    await fs.mkdir(this.sourceDir, { recursive: true });
    // Anything left in ingest was interrupted by a crash: it was never visible, so drop it.
    await fs.rm(this.ingestDir, { recursive: true, force: true });
    await fs.mkdir(this.ingestDir, { recursive: true });
  }

  pathOf(digest: string): string {
    if (!DIGEST_RE.test(digest)) throw invalidArgument(`invalid digest: ${digest}`);
    return path.join(this.blobDir, digest.slice('sha256:'.length));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fs.access(this.pathOf(digest));
      return true;
    } catch {
      return false; // not there (or unreadable): missing
    }
  }

  async put(data: Uint8Array | string, expected?: string): Promise<BlobInfo> {
    const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
    const digest = 'sha256:' + createHash('sha256').update(buf).digest('hex');
    if (expected && expected !== digest) throw invalidArgument(`digest mismatch: expected ${expected}, got ${digest}`);
    if (!(await this.has(digest))) {
      const tmp = this.ingestPath();
      await fs.writeFile(tmp, buf);
      await fs.rename(tmp, this.pathOf(digest));
    }
    return { digest, size: buf.length };
  }

  /** Streams into the store, hashing on the way; rejects (and keeps nothing) if `expected` does not match. */
  async putStream(input: Readable, expected?: string): Promise<BlobInfo> {
    const tmp = this.ingestPath();
    const hash = createHash('sha256');
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(input, hasher, createWriteStream(tmp));
      const digest = 'sha256:' + hash.digest('hex');
      if (expected && expected !== digest) throw invalidArgument(`digest mismatch: expected ${expected}, got ${digest}`);
      await fs.rename(tmp, this.pathOf(digest));
      return { digest, size };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async get(digest: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.pathOf(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`content ${digest}: not found`);
      throw err;
    }
  }

  stream(digest: string): Readable {
    return createReadStream(this.pathOf(digest), { highWaterMark: 1024 * 1024 });
  }

  async size(digest: string): Promise<number> {
    return (await fs.stat(this.pathOf(digest))).size;
  }

  async delete(digest: string): Promise<void> {
    await fs.rm(this.pathOf(digest), { force: true });
  }

  async list(): Promise<string[]> {
    return (await fs.readdir(this.blobDir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Records that the tar `digest` is the verified decompression of `source.blob` (written whole or not at all). */
  async setTarSource(digest: string, source: TarSource): Promise<void> {
    const tmp = this.ingestPath();
    await fs.writeFile(tmp, JSON.stringify(source));
    await fs.rename(tmp, this.sourcePath(digest));
  }

  /** The compressed blob the tar `digest` can be made from, if one was recorded and that blob is here. */
  async tarSource(digest: string): Promise<TarSource | undefined> {
    let source: TarSource;
    try {
      source = JSON.parse(await fs.readFile(this.sourcePath(digest), 'utf8')) as TarSource;
    } catch {
      return undefined; // none recorded (or unreadable): no source
    }
    return (await this.has(source.blob)) ? source : undefined;
  }

  async deleteTarSource(digest: string): Promise<void> {
    await fs.rm(this.sourcePath(digest), { force: true });
  }

  /**
   * Garbage collection: drops the records of tars not in `used` (a failed pull's, say), and returns the
   * compressed blobs the others are made from, which must stay.
   */
  async pruneTarSources(used: ReadonlySet<string>): Promise<string[]> {
    const out: string[] = [];
    for (const name of await fs.readdir(this.sourceDir)) {
      const digest = `sha256:${name}`;
      if (!DIGEST_RE.test(digest)) continue;
      if (!used.has(digest)) {
        await this.deleteTarSource(digest);
        continue;
      }
      const source = await this.tarSource(digest);
      if (source) out.push(source.blob);
    }
    return out;
  }

  private sourcePath(digest: string): string {
    if (!DIGEST_RE.test(digest)) throw invalidArgument(`invalid digest: ${digest}`);
    return path.join(this.sourceDir, digest.slice('sha256:'.length));
  }

  private ingestPath(): string {
    return path.join(this.ingestDir, randomBytes(8).toString('hex'));
  }
}
