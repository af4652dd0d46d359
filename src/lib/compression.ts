import { createGunzip } from 'node:zlib';
import { PassThrough, type Readable } from 'node:stream';
import { invalidArgument } from './errors.js';

/** Looks at the first bytes of a stream and returns the uncompressed stream (gzip is undone; plain passes). */
export async function decompressed(input: Readable): Promise<Readable> {
  const head = await peek(input, 6);
  const rest = prepend(head, input);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    // Large output chunks: the default 16 KiB makes every later stage (hash, tar parser, writes) pay per chunk.
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    rest.on('error', (err) => gunzip.destroy(err));
    return rest.pipe(gunzip);
  }
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) {
    throw invalidArgument('zstd-compressed layers are not supported');
  }
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw invalidArgument('xz-compressed archives are not supported');
  }
  if (head.subarray(0, 3).toString('latin1') === 'BZh') {
    throw invalidArgument('bzip2-compressed archives are not supported');
  }
  return rest;
}

/** Reads at least n bytes (fewer only at end of stream) without losing them. */
async function peek(input: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total < n) {
    const chunk: Buffer | null = input.read();
    if (chunk !== null) {
      chunks.push(chunk);
      total += chunk.length;
      continue;
    }
    if (input.readableEnded) break;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        input.off('readable', done);
        input.off('end', done);
        input.off('error', fail);
        resolve();
      };
      const fail = (err: Error) => {
        input.off('readable', done);
        input.off('end', done);
        reject(err);
      };
      input.once('readable', done);
      input.once('end', done);
      input.once('error', fail);
    });
    if (input.readableEnded && input.readableLength === 0) break;
  }
  return Buffer.concat(chunks);
}

function prepend(head: Buffer, input: Readable): Readable {
  const out = new PassThrough();
  if (head.length) out.write(head);
  input.on('error', (err) => out.destroy(err));
  input.pipe(out);
  return out;
}
