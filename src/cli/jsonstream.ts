/**
 * Streams of JSON messages from the daemon (events, pull/push/load progress), and their display
 * the way docker's jsonmessage package shows them.
 */
import type { Readable } from 'node:stream';
import { CliError } from './errors.js';
import type { Output } from './streams.js';
import { humanSize } from './units.js';

/**
 * Splits a byte stream into the raw text of each top-level JSON value. Tracks braces and
 * strings rather than newlines, because Go's json.Decoder (what docker uses) does not need
 * newlines between values either. Raw text is kept so callers can read large integers exactly.
 * With `messagesOnly` it fails as docker's jsonmessage decoder does: only objects at the top
 * level, and "unexpected EOF" for a stream cut short (inside a value or by a reset).
 */
export async function* jsonValues(stream: Readable, opts: { messagesOnly?: boolean } = {}): AsyncGenerator<string> {
  let buf = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  stream.setEncoding('utf8');
  const chunks = opts.messagesOnly ? shortBodyAsEof(stream) : (stream as AsyncIterable<string>);
  for await (const chunk of chunks) {
    const base = buf.length;
    buf += chunk;
    for (let i = base; i < buf.length; i++) {
      const c = buf[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (opts.messagesOnly && depth === 0) {
        if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
        if (c !== '{') throw new CliError(notAMessage(c));
      }
      if (c === '"') inString = true;
      else if (c === '{' || c === '[') {
        if (depth === 0) start = i;
        depth++;
      } else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0 && start >= 0) {
          yield buf.slice(start, i + 1);
          buf = buf.slice(i + 1);
          i = -1;
          start = -1;
        }
      }
    }
    if (depth === 0) buf = '';
    else if (start > 0) {
      buf = buf.slice(start);
      start = 0;
    }
  }
  if (opts.messagesOnly && depth > 0) throw new CliError('unexpected EOF');
}

/** A connection reset or an aborted chunked body: what Go reads as a short body. */
async function* shortBodyAsEof(stream: Readable): AsyncGenerator<string> {
  try {
    for await (const chunk of stream as AsyncIterable<string>) yield chunk;
  } catch {
    throw new CliError('unexpected EOF');
  }
}

export interface JsonProgress {
  current?: number;
  total?: number;
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

export interface JsonMessage {
  stream?: string;
  status?: string;
  progress?: string;
  progressDetail?: JsonProgress;
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
}

/**
 * Reads the messages of a progress stream one by one, failing as Go's json.Decoder does in
 * docker: "unexpected EOF" when the daemon hangs up inside a message, "invalid character ..."
 * for bytes that are not JSON, a type error for a field of the wrong type.
 */
export async function* jsonMessages(stream: Readable): AsyncGenerator<JsonMessage> {
  for await (const raw of jsonValues(stream, { messagesOnly: true })) yield decodeMessage(raw);
}

/** Go's words for a top-level value that is not an object. */
function notAMessage(c: string): string {
  const kinds: Record<string, string> = { '"': 'string', '[': 'array', t: 'bool', f: 'bool', n: '' };
  const kind = /[-0-9]/.test(c) ? 'number' : kinds[c];
  if (kind === '') return 'unexpected EOF'; // null decodes to nothing; docker then waits for more
  if (kind) return `json: cannot unmarshal ${kind} into Go value of type jsonmessage.JSONMessage`;
  return `invalid character ${goQuoteChar(c)} looking for beginning of value`;
}

function goQuoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  const code = c.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'${c}'`;
}

function goKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

const STRING_FIELDS = ['stream', 'status', 'progress', 'id', 'from', 'error'] as const;
const INT_FIELDS = ['time', 'timeNano'] as const;

/** JSON.parse plus the type checks Go's Unmarshal makes into a JSONMessage. */
function decodeMessage(raw: string): JsonMessage {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(raw) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`invalid JSON message: ${(err as Error).message}`);
  }
  const mismatch = (field: string, v: unknown, want: string) =>
    new CliError(`json: cannot unmarshal ${goKind(v)} into Go struct field JSONMessage.${field} of type ${want}`);
  for (const f of STRING_FIELDS) {
    const v = value[f];
    if (v !== undefined && v !== null && typeof v !== 'string') throw mismatch(f, v, 'string');
  }
  for (const f of INT_FIELDS) {
    const v = value[f];
    if (v !== undefined && v !== null && !Number.isInteger(v)) throw mismatch(f, v, 'int64');
  }
  for (const [f, inner] of [
    ['progressDetail', ['current', 'total', 'start']],
    ['errorDetail', ['code']],
  ] as const) {
    const v = value[f];
    if (v === undefined || v === null) {
      delete value[f];
      continue;
    }
    if (typeof v !== 'object' || Array.isArray(v)) throw mismatch(f, v, f === 'progressDetail' ? 'jsonmessage.JSONProgress' : 'jsonmessage.JSONError');
    for (const key of inner) {
      const n = (v as Record<string, unknown>)[key];
      if (n !== undefined && n !== null && !Number.isInteger(n)) throw mismatch(`${f}.${key}`, n, key === 'code' ? 'int' : 'int64');
    }
  }
  return value as JsonMessage;
}

/** Where progress is drawn: a terminal of `columns` width, or a plain stream (tty false). */
export interface DisplayOptions {
  tty: boolean;
  /** The terminal's width; docker assumes 200 when it cannot ask. */
  columns?: number;
  onAux?: (aux: unknown) => void;
  /** The clock for the time-left estimate (ms). */
  now?: () => number;
}

/**
 * Prints progress messages as docker 28's DisplayJSONMessagesStream does. On a terminal each
 * id keeps one line, rewritten in place with cursor movement and its bar drawn from
 * progressDetail; off a terminal progress updates are dropped and the rest are plain lines.
 * An error message ends the display with a CliError carrying the daemon's text (docker prints
 * it bare, exit status 1).
 */
export async function displayJsonMessages(stream: Readable, out: Output, opts: DisplayOptions = { tty: false }): Promise<void> {
  let ids = new Map<string, number>();
  const width = opts.columns ?? out.columns ?? 200;
  const now = opts.now ?? Date.now;
  for await (const msg of jsonMessages(stream)) {
    if (msg.aux !== undefined && msg.aux !== null) {
      opts.onAux?.(msg.aux);
      continue;
    }
    let diff = 0;
    if (msg.id && (msg.progressDetail !== undefined || msg.progress)) {
      let line = ids.get(msg.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(msg.id, line);
        if (opts.tty) out.write('\n');
      }
      diff = ids.size - line;
      if (opts.tty && diff > 0) out.write(`\x1b[${diff}A`);
    } else {
      // Output that is not progress: earlier progress lines must not be rewritten any more
      // (pull -a draws one block per tag).
      ids = new Map();
    }
    const error = messageError(msg);
    if (error === undefined) out.write(renderMessage(msg, opts.tty, width, now()));
    if (msg.id && opts.tty && diff > 0) out.write(`\x1b[${diff}B`);
    if (error !== undefined) throw new CliError(error);
  }
}

function messageError(msg: JsonMessage): string | undefined {
  if (msg.errorDetail) return msg.errorDetail.message ?? '';
  return undefined;
}

/** One message as docker's JSONMessage.Display writes it. */
export function renderMessage(msg: JsonMessage, tty: boolean, width: number, nowMs: number): string {
  const bar = msg.progressDetail ? progressString(msg.progressDetail, width, nowMs) : '';
  let s = '';
  let endl = '';
  if (tty && !msg.stream && msg.progressDetail) {
    s += '\x1b[2K\r';
    endl = '\r';
  } else if (msg.progressDetail && bar !== '') {
    return ''; // no progress bars off a terminal
  }
  if (msg.timeNano) s += `${rfc3339NanoFixed(msg.timeNano)} `;
  else if (msg.time) s += `${rfc3339NanoFixed(msg.time * 1e9)} `;
  if (msg.id) s += `${msg.id}: `;
  if (msg.from) s += `(from ${msg.from}) `;
  const status = msg.status ?? '';
  if (msg.progressDetail && tty) return `${s}${status} ${bar}${endl}`;
  if (msg.progress) return `${s}${status} ${msg.progress}${endl}`;
  if (msg.stream) return `${s}${msg.stream}${endl}`;
  return `${s}${status}${endl}\n`;
}

function rfc3339NanoFixed(nanos: number): string {
  const ms = Math.floor(nanos / 1e6);
  const frac = String(Math.round(nanos % 1e9)).padStart(9, '0');
  return new Date(ms).toISOString().slice(0, 19) + '.' + frac + 'Z';
}

/** JSONProgress.String: "[====>   ]  1.2MB/4.4MB 3s", narrower on narrow terminals. */
export function progressString(p: JsonProgress, width: number, nowMs: number): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return p.units ? `${current} ${p.units}` : humanSize(current).padStart(8);
  const percentage = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
  let pbBox = '';
  if (width > 110) pbBox = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  let numbersBox = '';
  if (p.hidecounts) numbersBox = '';
  else if (!p.units) numbersBox = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  else numbersBox = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
  let timeLeftBox = '';
  if (current > 0 && p.start && p.start > 0 && percentage < 50 && width > 50) {
    const fromStartMs = nowMs - p.start * 1000;
    const leftSeconds = Math.trunc(((total - current) * (fromStartMs / current)) / 1000);
    timeLeftBox = ' ' + goDuration(Math.max(0, leftSeconds));
  }
  return pbBox + numbersBox + timeLeftBox;
}

/** time.Duration.String for whole seconds: "0s", "42s", "1m5s", "2h0m3s". */
function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const sec = seconds % 60;
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}
