/**
 * Reading a container's log, and the framing Docker uses to send log and attach output. Two formats:
 * conmon's "k8s-file" (a path given as a string; conmon's own file, see below) and Docker's json-file
 * lines ({ format: 'json', path }: what the json-file and local drivers keep, log-drivers/), where each
 * entry is one message (a partial one has no \n) and rotated files `<path>.1`, `<path>.2.gz`, ...
 * are read before `<path>`, oldest first, as dockerd reads them.
 *
 * k8s-file:
 * The file holds one record per line:
 *   `<RFC3339Nano time with offset> <stdout|stderr> <F|P> <text>\n`
 * e.g. `2026-11-28T13:50:08.027479552+00:00 stdout F out`. F ends a line of the container's output;
 * P is part of a line that goes on in the next record of the same stream (conmon flushed before a
 * newline arrived). readLogs joins P records with the following ones of the same stream into one
 * message; a message of more than 1 MiB without a newline is handed out in pieces.
 *
 * Semantics follow dockerd's json-file reader: tail picks the last N messages of the file (of both
 * streams, before the stdout/stderr choice is applied), then since/until filter by time (since
 * keeps messages at or after it; the first message after until ends the stream), then the stream
 * choice. Follow mode keeps reading what is appended (fs.watch on the log's directory plus a short
 * timer for the running check) and ends when isRunning() is false and everything written is read,
 * when `until` passes, or when the signal aborts. If the file is replaced (conmon's --log-size-max
 * starts a new file at the same path) the old one is read to its end and the new one from its start;
 * if it is truncated, reading starts again at its beginning.
 */
import { promises as fsp, watch as fsWatch, type FSWatcher } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseJsonLogLine } from './log-drivers/json-line.js';

export type LogStream = 'stdout' | 'stderr';

export interface LogMessage {
  stream: LogStream;
  /** The bytes of one line, ending in \n when the line was complete (its last record was F). */
  line: Buffer;
  /** When the line began, as Docker prints it: UTC RFC 3339 with exactly 9 fractional digits. */
  time: string;
}

export interface ReadLogsOptions {
  stdout: boolean;
  stderr: boolean;
  /**
   * Nanoseconds since the epoch: skip messages before it. A number is exact only to a few hundred
   * nanoseconds at today's times (doubles); pass a bigint for an exact bound.
   */
  since?: number | bigint;
  /** Nanoseconds since the epoch: stop at the first message after it (number or bigint as for since). */
  until?: number | bigint;
  /** Only the last N messages (before filtering); 'all' (or undefined, or negative) for every one. */
  tail?: number | 'all';
  /** When true each line is prefixed with its time as `docker logs -t` prints it. */
  timestamps: boolean;
  follow: boolean;
  /** Asked while following: false once the container has stopped. */
  isRunning: () => boolean;
  signal: AbortSignal;
  /** How often follow mode checks isRunning() and the file when no change event came (default 250 ms). */
  pollIntervalMs?: number;
}

const NL = Buffer.from('\n');
const CHUNK = 64 * 1024;
const MAX_PENDING = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Times

/** A parsed log time: whole seconds since the epoch and nanoseconds within the second. */
interface LogTime {
  sec: number;
  nsec: number;
}

const TIME_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$/;

function parseLogTime(text: string): LogTime | undefined {
  const m = TIME_RE.exec(text);
  if (!m) return undefined;
  let zone = m[3]!;
  if (zone !== 'Z' && !zone.includes(':')) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${m[1]}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return { sec: Math.floor(ms / 1000), nsec: Number((m[2] ?? '').padEnd(9, '0')) };
}

function formatLogTime(t: LogTime): string {
  return `${new Date(t.sec * 1000).toISOString().slice(0, 19)}.${String(t.nsec).padStart(9, '0')}Z`;
}

/** Nanoseconds since the epoch, exactly. */
function timeNs(t: LogTime): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
}

/** A since/until bound as exact nanoseconds (a fractional number is rounded). */
function toNs(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(Math.round(v));
}

/**
 * Any RFC 3339 time (conmon's `2026-11-28T13:50:08.027479552+00:00`, Go's RFC3339Nano with trailing
 * zeros dropped, ...) in Docker's fixed format: UTC, 9 fractional digits, `Z`
 * (`2026-11-28T13:50:08.027479552Z`), which is what `docker logs -t` prints. Unparseable text is
 * returned unchanged.
 */
export function dockerTimestamp(time: string): string {
  const t = parseLogTime(time);
  return t ? formatLogTime(t) : time;
}

/** `<time> <line>` as `docker logs --timestamps` prints each line. */
export function formatTimestampLine(time: string, line: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${dockerTimestamp(time)} `), line]);
}

// ---------------------------------------------------------------------------------------------
// Records and messages

export interface LogRecord {
  stream: LogStream;
  partial: boolean;
  time: LogTime;
  content: Buffer;
  /** For a record that is not partial: false when its line has no \n (a json-file partial entry). */
  eol?: boolean;
}

/** Where a log is and in which format: a path alone is conmon's k8s-file. */
export type LogSource = string | { format: 'json'; path: string };

type RecordParser = (line: Buffer) => LogRecord | undefined;

/** A json-file entry as a record: one message, with or without its \n. */
function parseJsonRecord(line: Buffer): LogRecord | undefined {
  const e = parseJsonLogLine(line);
  if (!e) return undefined;
  const time = parseLogTime(e.time);
  if (!time) return undefined;
  const eol = e.log.length > 0 && e.log[e.log.length - 1] === 0x0a;
  return { stream: e.stream, partial: false, time, content: eol ? e.log.subarray(0, -1) : e.log, eol };
}

const SPACE = 0x20;

/** Parses one line of a k8s-file (without its \n); undefined for a line that is not a record. */
export function parseRecord(line: Buffer): LogRecord | undefined {
  const s1 = line.indexOf(SPACE);
  if (s1 < 0) return undefined;
  const s2 = line.indexOf(SPACE, s1 + 1);
  if (s2 < 0) return undefined;
  const s3 = line.indexOf(SPACE, s2 + 1);
  const tagEnd = s3 < 0 ? line.length : s3;
  const streamText = line.toString('latin1', s1 + 1, s2);
  if (streamText !== 'stdout' && streamText !== 'stderr') return undefined;
  const tag = line.toString('latin1', s2 + 1, tagEnd);
  const time = parseLogTime(line.toString('latin1', 0, s1));
  if (!time) return undefined;
  // Tags may carry more than F/P in other writers ("F:x"); only the first letter matters.
  const partial = tag.startsWith('P');
  return { stream: streamText, partial, time, content: s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1) };
}

interface Message {
  stream: LogStream;
  time: LogTime;
  chunks: Buffer[];
  complete: boolean;
}

/** Joins records into messages, forward: P records wait (per stream) for the F that ends them. */
class Joiner {
  private pending: Partial<Record<LogStream, { time: LogTime; chunks: Buffer[]; size: number }>> = {};

  push(rec: LogRecord, out: Message[]): void {
    let p = this.pending[rec.stream];
    if (rec.partial) {
      if (!p) p = this.pending[rec.stream] = { time: rec.time, chunks: [], size: 0 };
      p.chunks.push(Buffer.from(rec.content)); // copy: the read buffer it points into is large
      p.size += rec.content.length;
      if (p.size >= MAX_PENDING) {
        out.push({ stream: rec.stream, time: p.time, chunks: p.chunks, complete: false });
        delete this.pending[rec.stream];
      }
      return;
    }
    if (p) {
      p.chunks.push(rec.content);
      out.push({ stream: rec.stream, time: p.time, chunks: p.chunks, complete: true });
      delete this.pending[rec.stream];
    } else {
      out.push({ stream: rec.stream, time: rec.time, chunks: [rec.content], complete: rec.eol ?? true });
    }
  }

  /** Seeds a stream's unfinished line (from the tail scan). */
  seed(m: Message): void {
    this.pending[m.stream] = { time: m.time, chunks: [...m.chunks], size: m.chunks.reduce((n, c) => n + c.length, 0) };
  }

  /** Hands out unfinished lines as they are (the end of a log that stopped mid-line). */
  flush(out: Message[]): void {
    const all = (['stdout', 'stderr'] as const)
      .map((s) => ({ s, p: this.pending[s] }))
      .filter((x) => x.p)
      .sort((a, b) => a.p!.time.sec - b.p!.time.sec || a.p!.time.nsec - b.p!.time.nsec);
    for (const { s, p } of all) out.push({ stream: s, time: p!.time, chunks: p!.chunks, complete: false });
    this.pending = {};
  }
}

/** Splits bytes into complete lines, keeping the unfinished end for the next call. */
export class LineSplitter {
  private rest: Buffer = Buffer.alloc(0);

  push(data: Buffer, onLine: (line: Buffer) => void): void {
    let buf = this.rest.length ? Buffer.concat([this.rest, data]) : data;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      onLine(buf.subarray(start, nl));
      start = nl + 1;
    }
    buf = buf.subarray(start);
    this.rest = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }

  /** The unfinished end, if any (a torn last line at the very end of a log). */
  takeRest(): Buffer | undefined {
    const r = this.rest;
    this.rest = Buffer.alloc(0);
    return r.length ? r : undefined;
  }

  clear(): void {
    this.rest = Buffer.alloc(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Tail: read backwards

/** Offset just after the last \n at or before size (0 if none): where complete records end. */
/** What the tail scan reads from: an open file, or a rotated file unpacked in memory. */
interface Positional {
  read(buf: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

class BufferPositional implements Positional {
  constructor(private readonly data: Buffer) {}
  async read(buf: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    const n = Math.max(0, Math.min(length, this.data.length - position));
    this.data.copy(buf, offset, position, position + n);
    return { bytesRead: n };
  }
}

async function lastCompleteEnd(fh: Positional, size: number): Promise<number> {
  let pos = size;
  const buf = Buffer.allocUnsafe(CHUNK);
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    const start = pos - len;
    const { bytesRead } = await fh.read(buf, 0, len, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    pos = start;
  }
  return 0;
}

interface BackwardMessage {
  msg: Message;
  /** Order of the message's last record from the end (0 = last); messages are emitted by it. */
  rank: number;
}

/**
 * The last n messages of the file's first `end` bytes, reading it backwards in chunks. Messages are
 * ordered by their last record, like a forward read hands them out. Messages without an ending F
 * (unfinished lines at the end) are marked complete=false.
 */
async function tailMessages(fh: Positional, end: number, n: number, parse: RecordParser = parseRecord): Promise<Message[]> {
  if (n <= 0 || end === 0) return [];
  const open: Partial<Record<LogStream, BackwardMessage & { revChunks: Buffer[] }>> = {};
  const done: BackwardMessage[] = [];
  let created = 0;

  const close = (s: LogStream) => {
    const o = open[s];
    if (!o) return;
    o.msg.chunks = o.revChunks.reverse();
    done.push({ msg: o.msg, rank: o.rank });
    delete open[s];
  };
  const onRecord = (rec: LogRecord): boolean => {
    const o = open[rec.stream];
    if (rec.partial && o) {
      // Part of the open message of this stream, which began earlier.
      o.revChunks.push(Buffer.from(rec.content));
      o.msg.time = rec.time;
      return false;
    }
    // This record ends an earlier message of its stream: the open one is whole.
    close(rec.stream);
    if (created < n) {
      open[rec.stream] = {
        msg: { stream: rec.stream, time: rec.time, chunks: [], complete: !rec.partial && (rec.eol ?? true) },
        rank: created++,
        revChunks: [Buffer.from(rec.content)],
      };
    }
    return created >= n && !open.stdout && !open.stderr;
  };

  let pos = end;
  let carry: Buffer = Buffer.alloc(0); // the start of a line whose beginning is in an earlier chunk
  let finished = false;
  while (pos > 0 && !finished) {
    const len = Math.min(CHUNK, pos);
    const start = pos - len;
    const buf = Buffer.allocUnsafe(len);
    const { bytesRead } = await fh.read(buf, 0, len, start);
    let data = buf.subarray(0, bytesRead);
    if (carry.length) data = Buffer.concat([data, carry]);
    // Lines, last first. The first (partial) line of the chunk is carried to the next round.
    let lineEnd = data.length;
    if (lineEnd > 0 && data[lineEnd - 1] === 0x0a) lineEnd--;
    for (;;) {
      const nl = data.lastIndexOf(0x0a, lineEnd - 1);
      if (nl < 0) break;
      const rec = parse(data.subarray(nl + 1, lineEnd));
      if (rec && onRecord(rec)) {
        finished = true;
        break;
      }
      lineEnd = nl;
    }
    carry = Buffer.from(data.subarray(0, lineEnd));
    pos = start;
  }
  if (!finished && carry.length) {
    const rec = parse(carry);
    if (rec) onRecord(rec);
  }
  close('stdout');
  close('stderr');
  return done.sort((a, b) => b.rank - a.rank).map((d) => d.msg);
}

// ---------------------------------------------------------------------------------------------
// The reader

function toOutput(m: Message, timestamps: boolean): LogMessage {
  const time = formatLogTime(m.time);
  const parts = m.complete ? [...m.chunks, NL] : m.chunks;
  const line = Buffer.concat(timestamps ? [Buffer.from(`${time} `), ...parts] : parts);
  return { stream: m.stream, line, time };
}

async function openLog(file: string): Promise<FileHandle | undefined> {
  try {
    return await fsp.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Reads a container's conmon log: see the file comment for the rules. Ends quietly when
 * opts.signal aborts. A missing file reads as empty (in follow mode it is waited for while the
 * container runs).
 */
export async function* readLogs(source: LogSource, opts: ReadLogsOptions): AsyncGenerator<LogMessage, void, undefined> {
  const { signal } = opts;
  const logPath = typeof source === 'string' ? source : source.path;
  const parse: RecordParser = typeof source === 'string' ? parseRecord : parseJsonRecord;
  const rotated = typeof source === 'string' ? [] : await rotatedFiles(logPath);
  if (signal.aborted) return;
  const tail = opts.tail === undefined || opts.tail === 'all' || opts.tail < 0 ? undefined : Math.floor(opts.tail);
  const pollMs = opts.pollIntervalMs ?? 250;
  const since = opts.since === undefined ? undefined : toNs(opts.since);
  const until = opts.until === undefined ? undefined : toNs(opts.until);
  const nowNs = () => BigInt(Date.now()) * 1_000_000n;
  let follow = opts.follow && !(until !== undefined && until <= nowNs());

  let stopped = false; // set when a message after `until` was seen
  const wanted = (m: Message): boolean => {
    if (until !== undefined && timeNs(m.time) > until) {
      stopped = true;
      return false;
    }
    if (since !== undefined && timeNs(m.time) < since) return false;
    return m.stream === 'stdout' ? opts.stdout : opts.stderr;
  };

  // Wake-ups for follow mode: change events in the log's directory, the poll timer, abort.
  let dirty = true;
  let wake: (() => void) | undefined;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  let watcher: FSWatcher | undefined;
  const base = path.basename(logPath);
  if (follow) {
    try {
      watcher = fsWatch(path.dirname(logPath), { persistent: false }, (_e, name) => {
        if (!name || name.toString().startsWith(base)) poke();
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined; // no directory (yet): the poll timer still notices the file
    }
  }
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort);
  let untilTimer: NodeJS.Timeout | undefined;
  if (follow && until !== undefined) {
    untilTimer = setTimeout(() => {
      follow = false;
      wake?.();
    }, Math.min(2 ** 31 - 1, Math.max(0, Number((until - nowNs()) / 1_000_000n))));
  }
  const waitForChange = () =>
    new Promise<void>((resolve) => {
      if (dirty || signal.aborted || !follow) return resolve();
      const t = setTimeout(done, pollMs);
      function done() {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  let fh: FileHandle | undefined;
  let ino: number | undefined;
  let pos = 0;
  const splitter = new LineSplitter();
  const joiner = new Joiner();
  const out: Message[] = [];

  try {
    fh = await openLog(logPath);
    ino = fh ? (await fh.stat()).ino : undefined;
    // 1. Where to begin: everything, or the last `tail` messages.
    const emit = function* (): Generator<LogMessage> {
      for (const m of out) {
        if (stopped || signal.aborted) break;
        if (wanted(m)) yield toOutput(m, opts.timestamps);
      }
      out.length = 0;
    };
    if (tail !== undefined) {
      let msgs: Message[] = [];
      if (fh) {
        const size = (await fh.stat()).size;
        const end = await lastCompleteEnd(fh, size);
        msgs = await tailMessages(fh, end, tail, parse);
        pos = end;
      }
      // Not enough in the current file: the rotated ones, newest first.
      for (let i = rotated.length - 1; i >= 0 && msgs.length < tail; i--) {
        const data = await loadRotated(rotated[i]!);
        if (data) msgs = [...(await tailMessages(new BufferPositional(data), data.length, tail - msgs.length, parse)), ...msgs];
      }
      for (const m of msgs) {
        if (!m.complete && follow && typeof source === 'string') joiner.seed(m); // its line goes on in what is appended
        else out.push(m);
      }
    } else {
      // Everything: the rotated files first, oldest first.
      for (const file of rotated) {
        const data = await loadRotated(file);
        if (!data) continue;
        new LineSplitter().push(data, (line) => {
          const rec = parse(line);
          if (rec) joiner.push(rec, out);
        });
        yield* emit();
        if (stopped || signal.aborted) return;
      }
    }
    yield* emit();

    /** Reads from pos to the current end of fh; returns the bytes read. */
    const drain = async (): Promise<number> => {
      if (!fh) return 0;
      let total = 0;
      for (;;) {
        const buf = Buffer.allocUnsafe(CHUNK);
        const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        total += bytesRead;
        splitter.push(buf.subarray(0, bytesRead), (line) => {
          const rec = parse(line);
          if (rec) joiner.push(rec, out);
        });
        if (out.length) return total; // hand these out before reading further
      }
      return total;
    };

    for (;;) {
      if (signal.aborted || stopped) return;
      const running = opts.isRunning();
      dirty = false;
      let got = 0;
      // Read to the end (yielding as messages complete).
      for (;;) {
        const n = await drain();
        got += n;
        yield* emit();
        if (signal.aborted || stopped) return;
        if (n === 0) break;
      }
      if (follow && running) {
        // Replaced (new inode at the path) or truncated?
        const st = await fsp.stat(logPath).catch(() => undefined); // gone meanwhile: treated as replaced
        if (st && st.ino !== ino) {
          // Read the old file to its end first, then switch.
          while ((await drain()) > 0) yield* emit();
          splitter.clear();
          await fh?.close();
          fh = await openLog(logPath);
          ino = fh ? (await fh.stat()).ino : undefined;
          pos = 0;
          continue;
        }
        if (fh && st && st.size < pos) {
          splitter.clear();
          pos = 0;
          continue;
        }
        if (got === 0) await waitForChange();
        continue;
      }
      // Not following, the container stopped or `until` passed: hand out unfinished lines and end.
      const rest = splitter.takeRest();
      if (rest) {
        const rec = parse(rest);
        if (rec) joiner.push(rec, out);
      }
      joiner.flush(out);
      yield* emit();
      return;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (untilTimer) clearTimeout(untilTimer);
    watcher?.close();
    await fh?.close().catch(() => undefined); // already closed: nothing to undo
  }
}

/** `<path>.N` and `<path>.N.gz` next to a json log, oldest (highest N) first. */
export async function rotatedFiles(logPath: string): Promise<string[]> {
  const dir = path.dirname(logPath);
  const base = path.basename(logPath);
  const names = await fsp.readdir(dir).catch(() => [] as string[]); // no log directory: no rotated files
  const byIndex = new Map<number, string>();
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const m = /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1));
    if (!m) continue;
    const n = Number(m[1]);
    // While a rotated file is being compressed both exist: the plain one is complete.
    if (!byIndex.has(n) || !m[2]) byIndex.set(n, path.join(dir, name));
  }
  return [...byIndex.entries()].sort((a, b) => b[0] - a[0]).map(([, f]) => f);
}

/** A rotated file's bytes (gunzipped), or undefined when it went away meanwhile. */
async function loadRotated(file: string): Promise<Buffer | undefined> {
  try {
    const data = await fsp.readFile(file);
    return file.endsWith('.gz') ? gunzipSync(data) : data;
  } catch {
    return undefined; // rotated away meanwhile, as documented above
  }
}
