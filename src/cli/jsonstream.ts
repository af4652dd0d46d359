/**
 * Streams of JSON messages from the daemon (events, load/import progress), and their display
 * the way docker's jsonmessage package shows them.
 */
import type { Readable } from 'node:stream';
import { CliError } from './errors.js';
import type { Output } from './streams.js';

/**
 * Splits a byte stream into the raw text of each top-level JSON value. Tracks braces and
 * strings rather than newlines, because Go's json.Decoder (what docker uses) does not need
 * newlines between values either. Raw text is kept so callers can read large integers exactly.
 */
export async function* jsonValues(stream: Readable): AsyncGenerator<string> {
  let buf = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  stream.setEncoding('utf8');
  for await (const chunk of stream as AsyncIterable<string>) {
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
}

export interface JsonMessage {
  stream?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
}

/**
 * Prints progress messages as docker's DisplayJSONMessagesStream does. On a terminal, lines
 * that carry an id and progress are rewritten in place (cursor movement) so each layer keeps
 * one line; off a terminal, progress bars are dropped and other messages are plain lines. An
 * error message ends the display with a CliError carrying the daemon's text (docker prints it
 * bare, exit status 1).
 */
export async function displayJsonMessages(
  stream: Readable,
  out: Output,
  opts: { tty: boolean; onAux?: (aux: unknown) => void } = { tty: false },
): Promise<void> {
  const lines = new Map<string, number>();
  for await (const raw of jsonValues(stream)) {
    let msg: JsonMessage;
    try {
      msg = JSON.parse(raw) as JsonMessage;
    } catch {
      continue; // not a JSON message: skipped
    }
    if (msg.errorDetail || msg.error) throw new CliError(msg.errorDetail?.message || msg.error || 'unknown error');
    if (msg.aux !== undefined) {
      opts.onAux?.(msg.aux);
      continue;
    }
    const hasProgress = msg.progressDetail !== undefined || !!msg.progress;
    let diff = 0;
    if (msg.id && hasProgress) {
      let line = lines.get(msg.id);
      if (line === undefined) {
        line = lines.size;
        lines.set(msg.id, line);
        if (opts.tty) out.write('\n');
      }
      diff = lines.size - line;
      if (opts.tty) out.write(`\x1b[${diff}A`);
    } else {
      // Output that is not progress: earlier progress lines must not be rewritten any more.
      lines.clear();
    }
    out.write(renderMessage(msg, opts.tty));
    if (msg.id && opts.tty && diff > 0) out.write(`\x1b[${diff}B`);
  }
}

function renderMessage(msg: JsonMessage, tty: boolean): string {
  const hasProgress = msg.progressDetail !== undefined || !!msg.progress;
  let s = '';
  let endl = '';
  if (tty && msg.stream === undefined && hasProgress) {
    s += '\x1b[2K\r';
    endl = '\r';
  } else if (!tty && msg.progress) {
    return ''; // no progress bars off a terminal
  }
  if (msg.id) s += `${msg.id}: `;
  if (msg.from) s += `(from ${msg.from}) `;
  if (msg.progress) return `${s}${msg.status ?? ''} ${msg.progress}${endl}`;
  if (msg.stream !== undefined) return `${s}${msg.stream}${endl}`;
  return `${s}${msg.status ?? ''}${endl}\n`;
}
