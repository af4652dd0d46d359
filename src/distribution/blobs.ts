/**
 * Verified blob transfer into the content store (resumable downloads), and layer decompression.
 */
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { ContentStore } from '../content/store.js';
import { invalidArgument } from '../lib/errors.js';

/** Counts bytes as they pass, failing as soon as there are more than `limit`. */
export function counter(limit: number, onBytes: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      if (total > limit) return cb(new Error(`blob is larger than the ${limit} bytes its descriptor says`));
      onBytes(total);
      cb(null, chunk);
    },
  });
}

/**
 * One blob's download into the content store, resumable: the bytes received so far stay in a scratch
 * file (hashed as they arrive), so a retry asks the registry only for the rest (HTTP Range). The blob
 * becomes visible only when its size and digest match; `discard` removes whatever was not committed.
 */
export class BlobDownload {
  private received = 0;
  private hash = createHash('sha256');
  private readonly file: string;
  private committed = false;

  constructor(
    private readonly content: ContentStore,
    scratchDir: string,
    readonly digest: string,
    readonly size: number,
  ) {
    this.file = path.join(scratchDir, `blob-${randomBytes(8).toString('hex')}`);
  }

  /** Bytes already held: where a resumed request starts. */
  get offset(): number {
    return this.received;
  }

  /** Writes `body`, which holds the blob from byte `from` on (0 when the registry ignored the Range). */
  async append(body: Readable, from: number, onBytes: (n: number) => void): Promise<void> {
    if (from !== this.received) {
      // The registry sent the blob from the start: begin again.
      this.received = 0;
      this.hash = createHash('sha256');
      await fs.rm(this.file, { force: true });
    }
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const hash = this.hash;
    const limit = this.size;
    const count = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        if (this.received + chunk.length > limit) return cb(new Error(`blob ${this.digest} is larger than the ${limit} bytes its descriptor says`));
        this.received += chunk.length;
        hash.update(chunk);
        onBytes(this.received);
        cb(null, chunk);
      },
    });
    body.on('error', (err) => count.destroy(err));
    try {
      await pipeline(body, count, createWriteStream(this.file, { flags: 'a' }));
    } catch (err) {
      const msg = (err as Error).message;
      if (msg === 'pull cancelled' || /larger than/.test(msg)) throw err;
      throw new Error(`failed to download ${this.digest}: unexpected EOF (got ${this.received} of ${this.size} bytes: ${msg})`);
    }
    if (this.received < this.size) throw new Error(`failed to download ${this.digest}: unexpected EOF (got ${this.received} of ${this.size} bytes)`);
  }

  /** Verifies the whole blob and moves it into the content store. */
  async commit(): Promise<void> {
    const got = 'sha256:' + this.hash.copy().digest('hex');
    if (got !== this.digest || this.received !== this.size) throw new Error(`filesystem layer verification failed for digest ${this.digest}`);
    // Same filesystem (both under the data root): the blob appears whole or not at all.
    await fs.rename(this.file, this.content.pathOf(this.digest));
    this.committed = true;
  }

  async discard(): Promise<void> {
    if (!this.committed) await fs.rm(this.file, { force: true });
  }
}

type ZstdZlib = { createZstdDecompress?: () => Transform };

/** Refuses zstd layers up front when this Node.js cannot undo them. */
export function checkZstd(): void {
  if (!(zlib as unknown as ZstdZlib).createZstdDecompress) {
    throw invalidArgument(`zstd-compressed layers are not supported: this Node.js ${process.version} has no zstd in node:zlib (Node 22.15 or later has)`);
  }
}

/** The layer's tar stream for LayerStore.register: gzip is undone there; zstd here when node:zlib has it. */
export function layerInput(stream: Readable, compression: 'gzip' | 'zstd' | 'none'): Readable {
  if (compression !== 'zstd') return stream;
  checkZstd();
  const make = (zlib as unknown as ZstdZlib).createZstdDecompress!;
  const z = make();
  stream.on('error', (err) => z.destroy(err));
  return stream.pipe(z);
}
