/**
 * Verified blob transfer into the content store: a blob is streamed to the ingest directory, its size
 * and digest checked on the way, and it becomes visible only when both match (ContentStore.putStream).
 */
import { Transform, type Readable } from 'node:stream';
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

/** Stores `body` as blob `digest` of `size` bytes; nothing is kept unless the whole blob matches. */
export async function ingestBlob(content: ContentStore, body: Readable, digest: string, size: number, onBytes: (n: number) => void): Promise<void> {
  let received = 0;
  const count = counter(size, (n) => {
    received = n;
    onBytes(n);
  });
  body.on('error', (err) => count.destroy(err));
  try {
    await content.putStream(body.pipe(count), digest);
  } catch (err) {
    const msg = (err as Error).message;
    if (msg === 'pull cancelled') throw err;
    if (received < size) throw new Error(`failed to download ${digest}: unexpected EOF (got ${received} of ${size} bytes: ${msg})`);
    if (/digest mismatch/.test(msg)) throw new Error(`filesystem layer verification failed for digest ${digest}`);
    throw err;
  }
  if (received !== size) {
    // The digest matched but the descriptor's size did not: the manifest is wrong; do not keep the blob.
    await content.delete(digest);
    throw new Error(`blob ${digest} has ${received} bytes, its descriptor says ${size}`);
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
