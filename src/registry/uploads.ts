/**
 * Blob upload sessions. Each lives in uploads/<uuid>/ (data, info.json) and is invisible to pulls until its
 * closing PUT verifies the digest and renames the data into the blob store. A chunk that fails half way
 * (the client hung up, the body was short) is cut off again, so the session stays at its last whole
 * chunk. Sessions idle longer than the expiry are removed by `expire()`.
 */
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { createHash, randomUUID, type Hash } from 'node:crypto';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KeyedMutex } from '../lib/mutex.js';
import { regError } from './errors.js';
import type { RegistryStorage } from './storage.js';

const ALGORITHMS = ['sha256', 'sha512'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface SessionInfo {
  name: string;
  algorithm: string;
  startedAt: string;
}

interface LiveState {
  offset: number;
  hash: Hash;
}

export class UploadManager {
  private readonly live = new Map<string, LiveState>();
  private readonly locks = new KeyedMutex();

  constructor(private readonly storage: RegistryStorage) {}

  private dir(uuid: string): string {
    return path.join(this.storage.uploadsDir, uuid);
  }

  async start(name: string, algorithm = 'sha256'): Promise<string> {
    if (!ALGORITHMS.includes(algorithm)) throw regError('UNSUPPORTED', `digest algorithm ${algorithm} is not supported`, { algorithm }, 400);
    const uuid = randomUUID();
    const dir = this.dir(uuid);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'data'), '');
    const info: SessionInfo = { name, algorithm, startedAt: new Date().toISOString() };
    await fs.writeFile(path.join(dir, 'info.json'), JSON.stringify(info));
    this.live.set(uuid, { offset: 0, hash: createHash(algorithm) });
    return uuid;
  }

  private async info(name: string, uuid: string): Promise<SessionInfo> {
    if (!UUID.test(uuid)) throw regError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid });
    let info: SessionInfo;
    try {
      info = JSON.parse(await fs.readFile(path.join(this.dir(uuid), 'info.json'), 'utf8')) as SessionInfo;
    } catch {
      throw regError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid });
    }
    if (info.name !== name) throw regError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid });
    return info;
  }

  /** The session's state; after a restart the hash is rebuilt from the data on disk. */
  private async state(uuid: string, info: SessionInfo): Promise<LiveState> {
    const known = this.live.get(uuid);
    if (known) return known;
    const hash = createHash(info.algorithm);
    let offset = 0;
    for await (const chunk of createReadStream(path.join(this.dir(uuid), 'data'))) {
      hash.update(chunk as Buffer);
      offset += (chunk as Buffer).length;
    }
    const state = { offset, hash };
    this.live.set(uuid, state);
    return state;
  }

  /** Bytes received so far. */
  async offset(name: string, uuid: string): Promise<number> {
    return this.locks.run(uuid, async () => (await this.state(uuid, await this.info(name, uuid))).offset);
  }

  /**
   * Appends a chunk. `range` (from Content-Range) must start where the data ends, else 416; `length`
   * (Content-Length) must agree with it.
   */
  async append(name: string, uuid: string, body: NodeJS.ReadableStream, range?: { start: number; end: number }, length?: number): Promise<number> {
    return this.locks.run(uuid, async () => {
      const info = await this.info(name, uuid);
      const state = await this.state(uuid, info);
      if (range) {
        if (range.start !== state.offset) throw regError('RANGE_INVALID', `range start ${range.start} does not follow the data received (${state.offset} bytes)`, { offset: state.offset }, 416);
        if (length !== undefined && length !== range.end - range.start + 1) throw regError('SIZE_INVALID', 'Content-Length does not match Content-Range');
      }
      await this.writeChunk(uuid, state, body, range ? range.end - range.start + 1 : undefined);
      await fs.utimes(path.join(this.dir(uuid), 'info.json'), new Date(), new Date()).catch(() => {});
      return state.offset;
    });
  }

  private async writeChunk(uuid: string, state: LiveState, body: NodeJS.ReadableStream, expected?: number): Promise<void> {
    const file = path.join(this.dir(uuid), 'data');
    const hash = state.hash.copy();
    let written = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        if (expected !== undefined && written > expected) return cb(regError('SIZE_INVALID', 'chunk is longer than its Content-Range'));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(file, { flags: 'r+', start: state.offset }));
      if (expected !== undefined && written !== expected) throw regError('SIZE_INVALID', 'chunk is shorter than its Content-Range');
    } catch (err) {
      // Cut the partial chunk off so the session stays at its last whole one.
      await fs.truncate(file, state.offset).catch(() => {});
      throw err;
    }
    state.offset += written;
    state.hash = hash;
  }

  /** Closes the session: the final chunk (if any), the digest check, and the move into the blob store. */
  async finish(name: string, uuid: string, digest: string, body?: NodeJS.ReadableStream, range?: { start: number; end: number }, length?: number): Promise<number> {
    return this.locks.run(uuid, async () => {
      const info = await this.info(name, uuid);
      const state = await this.state(uuid, info);
      if (body) {
        if (range && range.start !== state.offset) throw regError('RANGE_INVALID', `range start ${range.start} does not follow the data received (${state.offset} bytes)`, { offset: state.offset }, 416);
        if (range && length !== undefined && length !== range.end - range.start + 1) throw regError('SIZE_INVALID', 'Content-Length does not match Content-Range');
        await this.writeChunk(uuid, state, body, range ? range.end - range.start + 1 : undefined);
      }
      const [alg] = digest.split(':');
      let actual: string;
      if (alg === info.algorithm) {
        actual = `${alg}:${state.hash.copy().digest('hex')}`;
      } else {
        if (!ALGORITHMS.includes(alg)) throw regError('UNSUPPORTED', `digest algorithm ${alg} is not supported`, { digest });
        const h = createHash(alg);
        for await (const chunk of createReadStream(path.join(this.dir(uuid), 'data'))) h.update(chunk as Buffer);
        actual = `${alg}:${h.digest('hex')}`;
      }
      if (actual !== digest) throw regError('DIGEST_INVALID', undefined, { expected: digest, actual });
      const data = path.join(this.dir(uuid), 'data');
      const handle = await fs.open(data, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.storage.commitBlobFile(data, digest);
      await this.storage.linkBlob(name, digest);
      await this.remove(uuid);
      return state.offset;
    });
  }

  async cancel(name: string, uuid: string): Promise<void> {
    await this.locks.run(uuid, async () => {
      await this.info(name, uuid);
      await this.remove(uuid);
    });
  }

  private async remove(uuid: string): Promise<void> {
    this.live.delete(uuid);
    await fs.rm(this.dir(uuid), { recursive: true, force: true });
  }

  /** Removes sessions idle for longer than `maxIdleMs`, and stale temp files. Returns how many went. */
  async expire(maxIdleMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const uuid of await fs.readdir(this.storage.uploadsDir).catch(() => [] as string[])) {
      const st = await fs.stat(path.join(this.dir(uuid), 'info.json')).catch(() => undefined);
      const dirSt = st ?? (await fs.stat(this.dir(uuid)).catch(() => undefined));
      if (!dirSt || now - dirSt.mtimeMs <= maxIdleMs) continue;
      await this.locks.run(uuid, async () => {
        await this.remove(uuid);
        removed++;
      });
    }
    for (const f of await fs.readdir(this.storage.tmpDir).catch(() => [] as string[])) {
      const p = path.join(this.storage.tmpDir, f);
      const st = await fs.stat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > maxIdleMs) await fs.rm(p, { recursive: true, force: true });
    }
    return removed;
  }
}
