/**
 * Worker thread of UnpackPool (unpack-pool.ts): unpacks one layer blob at a time with applyLayer. The
 * blob's reads, gunzip output and file writes are hundreds of MB of short-lived buffers; here they
 * trigger the garbage collections of this thread's small heap, not the daemon's main heap (whose
 * collections, one every ~20 MB of buffers, were a quarter of a pull's CPU).
 */
import { createReadStream } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { applyLayer } from './apply.js';
import { BerthError } from '../lib/errors.js';
import type { UnpackJob, UnpackReply } from './unpack-pool.js';

/** Progress (compressed bytes read) is posted about this often. */
const PROGRESS_STEP = 1024 * 1024;

async function* counted(file: string, report: (n: number) => void): AsyncGenerator<Buffer> {
  let total = 0;
  let reported = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    total += (chunk as Buffer).length;
    if (total - reported >= PROGRESS_STEP) {
      reported = total;
      report(total);
    }
    yield chunk as Buffer;
  }
  report(total);
}

const port = parentPort!;
port.on('message', (job: UnpackJob) => {
  const reply = (m: UnpackReply) => port.postMessage(m);
  applyLayer(counted(job.blob, (bytes) => reply({ type: 'progress', bytes })), job.dest, { skipDigest: !job.verify }).then(
    (result) => reply({ type: 'done', result }),
    (err: unknown) =>
      reply({
        type: 'failed',
        kind: err instanceof BerthError ? err.kind : undefined,
        message: err instanceof Error ? err.message : String(err),
      }),
  );
});
