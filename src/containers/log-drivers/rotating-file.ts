/**
 * An append-only log file with dockerd's rotation (loggerutils.LogFile): before an entry is written,
 * a file that has reached maxSize is rotated, so a file may exceed maxSize by one entry. With
 * maxFile 1 the file starts afresh; otherwise `<path>` becomes `<path>.1`, `.1` becomes `.2`, ...,
 * the oldest beyond maxFile - 1 is removed, and with compress the new `.1` is gzipped to `.1.gz`.
 * A rotation always leaves a new inode at `<path>`, so a reader holding the old file reads it to its
 * end and then reopens the path (containers/logs.ts does).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

export interface RotationSettings {
  maxSize?: number;
  maxFile: number;
  compress: boolean;
}

export class RotatingLogFile {
  private fh?: FileHandle;
  private size = 0;
  private ino?: number;

  constructor(
    readonly path: string,
    private readonly rotation: RotationSettings,
    private readonly mode = 0o640,
  ) {}

  async open(): Promise<void> {
    this.fh = await fsp.open(this.path, 'a', this.mode);
    const st = await this.fh.stat();
    this.size = st.size;
    this.ino = st.ino;
  }

  /** Where the next entry goes: the file (inode) at the path and its length. */
  async position(): Promise<{ ino: number; size: number }> {
    if (!this.fh) await this.open();
    return { ino: this.ino!, size: this.size };
  }

  /**
   * Drops what was appended after `at` (a position saved earlier), if the path still holds that file:
   * a writer that died between appending and saving its progress appends the same entries again.
   */
  async rewindTo(at: { ino: number; size: number }): Promise<void> {
    const st = await fsp.stat(this.path).catch(() => undefined); // no file yet: nothing to rewind
    if (!st || st.ino !== at.ino || st.size <= at.size) return;
    await this.close();
    await fsp.truncate(this.path, at.size);
  }

  /** Appends entries (each a whole line), rotating between entries as needed. */
  async write(entries: string[]): Promise<void> {
    if (!this.fh) await this.open();
    let batch: string[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const data = Buffer.from(batch.join(''));
      batch = [];
      await this.fh!.write(data, 0, data.length, null);
    };
    for (const e of entries) {
      const max = this.rotation.maxSize;
      if (max !== undefined && this.size >= max) {
        await flush();
        await this.rotate();
      }
      batch.push(e);
      this.size += Buffer.byteLength(e);
    }
    await flush();
  }

  private async rotate(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    const { maxFile, compress } = this.rotation;
    if (maxFile > 1) {
      const ext = compress ? '.gz' : '';
      await fsp.rm(`${this.path}.${maxFile - 1}${ext}`, { force: true });
      for (let i = maxFile - 2; i >= 1; i--) {
        await fsp.rename(`${this.path}.${i}${ext}`, `${this.path}.${i + 1}${ext}`).catch(() => undefined); // fewer rotated files than maxFile so far: nothing to move
      }
      await fsp.rename(this.path, `${this.path}.1`);
      if (compress) await this.compress(`${this.path}.1`);
    }
    // A new file (new inode) at the path; for maxFile 1 the old content goes with the old inode.
    const tmp = `${this.path}.new`;
    await fsp.writeFile(tmp, '', { mode: this.mode });
    await fsp.rename(tmp, this.path);
    this.size = 0;
    await this.open();
  }

  private async compress(file: string): Promise<void> {
    const data = await fsp.readFile(file);
    const tmp = `${file}.gz.tmp`;
    await fsp.writeFile(tmp, await gzipAsync(data), { mode: this.mode });
    await fsp.rename(tmp, `${file}.gz`);
    await fsp.rm(file, { force: true });
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined); // already closed: nothing to undo
    this.fh = undefined;
  }
}
