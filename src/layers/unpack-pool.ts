/**
 * Unpacks layer blobs in worker threads (unpack-worker.ts), one layer per worker at a time: reading the
 * blob, gunzip, the tar's hash and parsing, and the file writes all happen there, so the many buffers
 * they go through are collected by the worker's small heap, not the daemon's. Workers are made when
 * needed, kept for the next layers, and end after a while idle. A job settles only when the worker has
 * finished with the directory (applyLayer writes nothing after it settles) or has exited.
 */
import { Worker } from 'node:worker_threads';
import { BerthError, internal, type ErrorKind } from '../lib/errors.js';
import type { ApplyResult } from './apply.js';

export interface UnpackJob {
  /** The layer blob (gzip, zstd where node:zlib has it, or a plain tar). */
  blob: string;
  /** An existing empty directory. */
  dest: string;
  /** Hash the tar (the result's diffId); otherwise diffId is ''. */
  verify: boolean;
}

export type UnpackReply =
  | { type: 'progress'; bytes: number }
  | { type: 'done'; result: ApplyResult }
  | { type: 'failed'; kind?: ErrorKind; message: string };

/** A worker left without work this long ends (each holds a few MB). */
const IDLE_MS = 30_000;
const WORKER_FILE = new URL('./unpack-worker.js', import.meta.url);

interface PoolWorker {
  worker: Worker;
  idleTimer?: NodeJS.Timeout;
}

export class UnpackPool {
  private readonly idle: PoolWorker[] = [];

  /** Runs `job` in a worker; `onBytes` hears how much of the blob has been read. */
  run(job: UnpackJob, onBytes: (n: number) => void): Promise<ApplyResult> {
    const w = this.take();
    return new Promise<ApplyResult>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, result?: ApplyResult) => {
        if (settled) return;
        settled = true;
        w.worker.off('message', onMessage);
        w.worker.off('error', onError);
        w.worker.off('exit', onExit);
        if (err) reject(err);
        else resolve(result!);
      };
      const onMessage = (m: UnpackReply) => {
        if (m.type === 'progress') return onBytes(m.bytes);
        this.giveBack(w);
        if (m.type === 'done') finish(undefined, m.result);
        else finish(m.kind ? new BerthError(m.kind, m.message) : new Error(m.message));
      };
      // An uncaught error ends the worker: the job settles at its exit, when nothing can write any more.
      let crash: unknown;
      const onError = (err: unknown) => {
        crash = err;
      };
      const onExit = (code: number) => finish(internal(`layer unpacking stopped: ${(crash as Error | undefined)?.message ?? `worker exited with code ${code}`}`, crash));
      w.worker.on('message', onMessage);
      w.worker.on('error', onError);
      w.worker.on('exit', onExit);
      w.worker.ref();
      w.worker.postMessage(job);
    });
  }

  private take(): PoolWorker {
    const reused = this.idle.pop();
    if (reused) {
      clearTimeout(reused.idleTimer);
      return reused;
    }
    const w: PoolWorker = { worker: new Worker(WORKER_FILE) };
    // A worker that ends while idle is not handed out again.
    w.worker.once('exit', () => {
      clearTimeout(w.idleTimer);
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return w;
  }

  private giveBack(w: PoolWorker): void {
    // An idle worker does not keep the daemon running.
    w.worker.unref();
    w.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      void w.worker.terminate();
    }, IDLE_MS);
    w.idleTimer.unref();
    this.idle.push(w);
  }
}
