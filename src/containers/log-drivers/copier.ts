/**
 * Copies what conmon writes (its k8s-file, the daemon-independent record of a container's output)
 * into the driver's file in Docker's json-file format, as it is written. conmon owns the container's
 * stdio and outlives the daemon, so output is never lost while berthd is down: the copier keeps a
 * cursor (the k8s-file's inode and the offset copied so far) beside it, and a restarted daemon goes on
 * from there, catching up what conmon wrote meanwhile.
 *
 * Each k8s record becomes one entry with conmon's time: F (an ended line) with its "\n", P (a piece
 * of a line conmon flushed before the newline came) without, as dockerd writes partial messages.
 * conmon's file is capped (--log-size-max, see stagingCap): when it reaches the cap conmon starts a
 * new file at the same path (new inode); the copier reads the old one to its end first. While the
 * daemon is down nothing reads, so output beyond the cap written in that time is lost (the newest is
 * kept); that is the only loss, and the cap is at least what the driver itself would keep.
 *
 * The cursor is written after each batch is appended; a daemon killed between the two repeats that
 * batch (at most 64 KiB of records) after its restart, rather than losing it.
 */
import { promises as fsp, watch as fsWatch, type FSWatcher } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { LineSplitter, parseRecord } from '../logs.js';
import { encodeJsonLogLine } from './json-line.js';
import type { RotatingLogFile } from './rotating-file.js';
import { log } from '../../lib/log.js';
import { messageOf } from '../../lib/errors.js';

const CHUNK = 64 * 1024;
const POLL_MS = 250;

interface Cursor {
  ino: number;
  pos: number;
}

export class LogCopier {
  private fh?: FileHandle;
  private ino?: number;
  private pos = 0;
  private readonly splitter = new LineSplitter();
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    /** conmon's k8s-file. */
    private readonly source: string,
    private readonly cursorFile: string,
    private readonly target: RotatingLogFile,
    private readonly attrsJson: string,
  ) {}

  /** Starts copying from the saved cursor (or the beginning) and follows the file. */
  async start(): Promise<void> {
    await this.resume();
    this.watcher = (() => {
      try {
        const base = path.basename(this.source);
        const w = fsWatch(path.dirname(this.source), { persistent: false }, (_e, name) => {
          if (!name || name.toString().startsWith(base)) this.kick();
        });
        w.on('error', () => undefined);
        return w;
      } catch {
        return undefined;
      }
    })();
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  /** Copies everything conmon has written (it has exited: its file is complete) and stops. */
  async finish(): Promise<void> {
    this.stopWatching();
    await this.running;
    if (!this.fh && !this.stopped) await this.resume();
    await this.copyAll().catch((err) => log.warn('log copy failed', { file: this.source, error: messageOf(err) }));
    await this.close();
  }

  /** Stops without copying more (the container is being removed). */
  async stop(): Promise<void> {
    this.stopWatching();
    await this.running;
    await this.close();
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async close(): Promise<void> {
    this.stopped = true;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    await this.target.close();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.copyAll().catch((err) => log.warn('log copy failed', { file: this.source, error: messageOf(err) }));
      } while (this.again && !this.stopped && this.watcher);
    })().finally(() => {
      this.running = undefined;
    });
  }

  /** Opens conmon's file where the cursor says (the start, if it names another inode). */
  private async resume(): Promise<void> {
    const fh = await fsp.open(this.source, 'r').catch(() => undefined);
    if (!fh) return;
    this.fh = fh;
    this.ino = (await fh.stat()).ino;
    const saved = await readCursor(this.cursorFile);
    this.pos = saved && saved.ino === this.ino ? saved.pos : 0;
  }

  /** Copies to the end of the open file; on to the new file if conmon started one. */
  private async copyAll(): Promise<void> {
    for (;;) {
      if (!this.fh) {
        await this.resume();
        if (!this.fh) return;
      }
      while (await this.copyChunk()) {
        /* until the end */
      }
      const st = await fsp.stat(this.source).catch(() => undefined);
      if (!st || st.ino === this.ino) return;
      // conmon started a new file: the old one is read to its end above; now the new one.
      await this.fh.close().catch(() => undefined);
      this.fh = undefined;
      this.splitter.clear();
      await fsp.rm(this.cursorFile, { force: true });
    }
  }

  /** One chunk: its whole records appended to the target, then the cursor saved. */
  private async copyChunk(): Promise<boolean> {
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await this.fh!.read(buf, 0, CHUNK, this.pos);
    if (bytesRead === 0) return false;
    const entries: string[] = [];
    let consumed = 0;
    const data = buf.subarray(0, bytesRead);
    // Only whole lines are consumed; a torn end is read again next time.
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      const rec = parseRecord(data.subarray(start, nl));
      if (rec) {
        const logBytes = rec.partial ? rec.content : Buffer.concat([rec.content, Buffer.from('\n')]);
        entries.push(encodeJsonLogLine({ stream: rec.stream, log: logBytes, sec: rec.time.sec, nsec: rec.time.nsec }, this.attrsJson));
      }
      start = nl + 1;
      consumed = start;
    }
    if (consumed === 0) {
      if (bytesRead < CHUNK) return false; // a record being written: wait for its end
      // A record longer than a chunk (conmon never writes one): skip what cannot be parsed.
      consumed = bytesRead;
    }
    await this.target.write(entries);
    this.pos += consumed;
    await writeCursor(this.cursorFile, { ino: this.ino!, pos: this.pos });
    return true;
  }
}

async function readCursor(file: string): Promise<Cursor | undefined> {
  try {
    const c = JSON.parse(await fsp.readFile(file, 'utf8')) as Cursor;
    return Number.isInteger(c.ino) && Number.isInteger(c.pos) ? c : undefined;
  } catch {
    return undefined;
  }
}

async function writeCursor(file: string, c: Cursor): Promise<void> {
  const tmp = `${file}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(c));
  await fsp.rename(tmp, file);
}
