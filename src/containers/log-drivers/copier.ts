/**
 * Copies what conmon writes (its k8s-file, the daemon-independent record of a container's output)
 * into the driver's file in Docker's json-file format, as it is written. conmon owns the container's
 * stdio and outlives the daemon, so output is never lost while berthd is down: the copier keeps a
 * cursor (the k8s-file's inode and the offset copied so far) beside it, and a restarted daemon goes on
 * from there, catching up what conmon wrote meanwhile.
 *
 * Entries are lines, as dockerd's copier makes them: conmon writes a P record for a piece of a line
 * it read before the newline came (its reads split lines anywhere), so P records are joined with
 * what follows in the same stream up to the F that ends the line, which gives one entry with its
 * "\n" and the F record's time. Like dockerd, a line that grows past 16 KiB is written in 16 KiB
 * partial entries (no "\n"), and an unended line at the container's exit as a partial entry. The
 * unended pieces (at most 16 KiB a stream) are kept in the cursor, so a restart loses none.
 * conmon's file is capped (--log-size-max, see stagingCap): when it reaches the cap conmon starts a
 * new file at the same path (new inode); the copier reads the old one to its end first. While the
 * daemon is down nothing reads, so output beyond the cap written in that time is lost (the newest is
 * kept); that is the only loss, and the cap is at least what the driver itself would keep.
 *
 * The cursor is written after each batch is appended, with the target's length then; a daemon killed
 * between the two truncates the target back to the saved length at restart and copies the batch again,
 * so an entry is neither lost nor doubled.
 */
import { promises as fsp, watch as fsWatch, type FSWatcher } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { parseRecord, type LogStream } from '../logs.js';
import { encodeJsonLogLine } from './json-line.js';
import type { RotatingLogFile } from './rotating-file.js';
import { log, debugIgnored } from '../../lib/log.js';
import { messageOf } from '../../lib/errors.js';

const CHUNK = 64 * 1024;
// fs.watch brings changes at once; the timer is only a safety net.
const POLL_MS = 1000;
/** dockerd's copier buffer: a longer line is logged in partial messages of this size. */
const MAX_LINE = 16 * 1024;

interface Pending {
  data: Buffer;
  sec: number;
  nsec: number;
}

interface Cursor {
  ino: number;
  pos: number;
  /** The target file and its length once this batch was appended (entries past it are a repeat). */
  out?: { ino: number; size: number };
  /** Pieces of unended lines, per stream (base64). */
  pending?: Partial<Record<LogStream, { data: string; sec: number; nsec: number }>>;
}

export class LogCopier {
  private fh?: FileHandle;
  private ino?: number;
  private pos = 0;
  private pending: Partial<Record<LogStream, Pending>> = {};
  /** Set when conmon started a new file while we read: the next open starts there at 0. */
  private switched = false;
  /**
   * Whether the cursor file names the open file. Until it does, a batch appended by a daemon killed
   * before it saved the cursor could not be rewound at restart (and was copied twice), so the first
   * batch of a file is preceded by a cursor at its start.
   */
  private cursorSaved = false;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  /** finish() or stop(), once begun: no new copy starts beside it, and readers wait for it. */
  private ended?: Promise<void>;

  constructor(
    /** conmon's k8s-file. */
    private readonly source: string,
    private readonly cursorFile: string,
    private readonly target: RotatingLogFile,
    private readonly attrsJson: string,
  ) {}

  /** Starts copying from the saved cursor (or the beginning) and follows the file. */
  async start(): Promise<void> {
    // Held in `running` so an exit or a reader that comes meanwhile waits, rather than opening the
    // file a second time from the same cursor (which copied a batch twice).
    this.running = this.resume().finally(() => {
      this.running = undefined;
    });
    await this.running;
    if (this.ended) return; // the container exited (or went) meanwhile: finish() took over
    this.watcher = (() => {
      try {
        const base = path.basename(this.source);
        const w = fsWatch(path.dirname(this.source), { persistent: false }, (_e, name) => {
          if (!name || name.toString().startsWith(base)) this.kick();
        });
        w.on('error', () => undefined);
        return w;
      } catch {
        return undefined; // no watch: the poll timer still picks up changes
      }
    })();
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  /** Copies everything conmon has written (it has exited: its file is complete) and stops. */
  finish(): Promise<void> {
    return (this.ended ??= this.finishNow());
  }

  private async finishNow(): Promise<void> {
    this.stopWatching();
    while (this.running) await this.running;
    if (!this.fh && !this.stopped) await this.resume();
    await this.copyAll().catch((err) => log.warn('log copy failed', { file: this.source, error: messageOf(err) }));
    // The output is over: unended lines are written as they are.
    const rest = (['stdout', 'stderr'] as const).flatMap((s) => (this.pending[s] ? [this.entry(s, this.pending[s]!.data, this.pending[s]!)] : []));
    this.pending = {};
    if (rest.length) {
      await this.target.write(rest).catch((err) => log.warn('log copy failed', { file: this.source, error: messageOf(err) }));
      if (this.ino !== undefined) await writeCursor(this.cursorFile, { ino: this.ino, pos: this.pos }).catch(debugIgnored('saving the log copy cursor failed'));
    }
    await this.close();
  }

  /** Copies what conmon has written so far, now (a reader wants everything up to this moment). */
  async catchUp(): Promise<void> {
    if (this.ended) return this.ended;
    while (this.running) await this.running;
    if (this.ended) return this.ended;
    this.kick();
    await this.running;
  }

  /** Stops without copying more (the container is being removed). */
  stop(): Promise<void> {
    return (this.ended ??= this.stopNow());
  }

  private async stopNow(): Promise<void> {
    this.stopWatching();
    while (this.running) await this.running;
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
    await this.fh?.close().catch(() => undefined); // already closed: nothing to undo
    this.fh = undefined;
    await this.target.close();
  }

  private kick(): void {
    if (this.ended || this.stopped) return;
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
    const fh = await fsp.open(this.source, 'r').catch(() => undefined); // not there yet: resumed when conmon creates it
    if (!fh) return;
    this.fh = fh;
    this.ino = (await fh.stat()).ino;
    if (this.switched) {
      // conmon's next file, from its start; unended lines go on in it.
      this.switched = false;
      this.cursorSaved = false;
      this.pos = 0;
      return;
    }
    const saved = await readCursor(this.cursorFile);
    const same = saved && saved.ino === this.ino;
    this.cursorSaved = !!same;
    this.pos = same ? saved.pos : 0;
    // A daemon killed between appending a batch and saving the cursor: that batch is copied again,
    // so drop its first copy (only when going on in the same conmon file, which will be reread).
    if (same && saved.out) await this.target.rewindTo(saved.out);
    this.pending = {};
    for (const [s, p] of Object.entries(saved?.pending ?? {})) {
      if (p) this.pending[s as LogStream] = { data: Buffer.from(p.data, 'base64'), sec: p.sec, nsec: p.nsec };
    }
  }

  private entry(stream: LogStream, data: Buffer, t: { sec: number; nsec: number }): string {
    return encodeJsonLogLine({ stream, log: data, sec: t.sec, nsec: t.nsec }, this.attrsJson);
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
      const st = await fsp.stat(this.source).catch(() => undefined); // not there (yet): nothing new to read
      if (!st || st.ino === this.ino) return;
      // conmon started a new file: the old one is read to its end above; now the new one.
      await this.fh.close().catch(() => undefined); // already closed: nothing to undo
      this.fh = undefined;
      this.switched = true;
    }
  }

  /** One chunk: its whole records appended to the target, then the cursor saved. */
  private async copyChunk(): Promise<boolean> {
    // Most calls (the poll of an idle container) find nothing new: no buffer for them, and none larger
    // than what there is to read (a 64 KiB buffer per call per container was garbage the heap held).
    const size = (await this.fh!.stat()).size;
    if (size <= this.pos) return false;
    if (!this.cursorSaved) await this.saveCursor();
    const want = Math.min(CHUNK, size - this.pos);
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await this.fh!.read(buf, 0, want, this.pos);
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
        const before = this.pending[rec.stream]?.data;
        const text = before ? Buffer.concat([before, rec.content]) : Buffer.from(rec.content);
        delete this.pending[rec.stream];
        if (!rec.partial) entries.push(this.entry(rec.stream, Buffer.concat([text, Buffer.from('\n')]), rec.time));
        else {
          let rest = text;
          for (; rest.length >= MAX_LINE; rest = rest.subarray(MAX_LINE)) entries.push(this.entry(rec.stream, rest.subarray(0, MAX_LINE), rec.time));
          if (rest.length) this.pending[rec.stream] = { data: Buffer.from(rest), sec: rec.time.sec, nsec: rec.time.nsec };
        }
      }
      start = nl + 1;
      consumed = start;
    }
    if (consumed === 0) {
      if (bytesRead < CHUNK) return false; // a record being written (or no more yet): wait for its end
      // A record longer than a chunk (conmon never writes one): skip what cannot be parsed.
      consumed = bytesRead;
    }
    await this.target.write(entries);
    this.pos += consumed;
    await this.saveCursor();
    return true;
  }

  /** Where the copy stands: the read position in conmon's file, the unended lines, the target's length. */
  private async saveCursor(): Promise<void> {
    const pending: Cursor['pending'] = {};
    for (const [st, p] of Object.entries(this.pending)) if (p) pending[st as LogStream] = { data: p.data.toString('base64'), sec: p.sec, nsec: p.nsec };
    const out = await this.target.position();
    await writeCursor(this.cursorFile, { ino: this.ino!, pos: this.pos, out, ...(Object.keys(pending).length ? { pending } : {}) });
    this.cursorSaved = true;
  }
}

async function readCursor(file: string): Promise<Cursor | undefined> {
  try {
    const c = JSON.parse(await fsp.readFile(file, 'utf8')) as Cursor;
    return Number.isInteger(c.ino) && Number.isInteger(c.pos) ? c : undefined;
  } catch {
    return undefined; // no or corrupt cursor: start from the beginning
  }
}

async function writeCursor(file: string, c: Cursor): Promise<void> {
  const tmp = `${file}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(c));
  await fsp.rename(tmp, file);
}
