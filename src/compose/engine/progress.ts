/**
 * Progress output as docker compose's --progress modes: a redrawn display on a terminal
 * (progress-tty.ts), one plain line per event otherwise, JSON lines, or nothing (quiet).
 */
import type { Progress, ProgressEvent } from './types.js';
import { ttyProgress } from './progress-tty.js';

export interface ProgressSink {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet';

export function isProgressMode(s: string): s is ProgressMode {
  return ['auto', 'tty', 'plain', 'json', 'quiet'].includes(s);
}

/** docker compose's plain line: ` Container p-web-1  Started`. */
export function plainLine(e: ProgressEvent): string {
  return ` ${e.id}  ${e.status}${e.text ? ' ' + e.text : ''}`;
}

export function plainProgress(out: ProgressSink): Progress {
  return { event: (e) => out.write(plainLine(e) + '\n'), log: (line) => out.write(line + '\n'), close: () => undefined };
}

export function quietProgress(): Progress {
  return { event: () => undefined, log: () => undefined, close: () => undefined };
}

export function jsonProgress(out: ProgressSink): Progress {
  const status = (e: ProgressEvent) => (e.error ? 'Error' : e.done ? 'Done' : 'Working');
  return {
    event: (e) => out.write(JSON.stringify({ id: e.id, status: status(e), text: e.status, ...(e.text ? { details: e.text } : {}) }) + '\n'),
    log: (line) => out.write(JSON.stringify({ level: 'info', msg: line }) + '\n'),
    close: () => undefined,
  };
}

/**
 * The renderer for `--progress` (empty or "auto": the terminal display when `out` is a terminal,
 * plain lines otherwise) and `--ansi` ("never" drops colours).
 */
export function createProgress(mode: string, out: ProgressSink, opts: { ansi?: string; env?: NodeJS.ProcessEnv } = {}): Progress {
  const m = mode || opts.env?.COMPOSE_PROGRESS || 'auto';
  switch (m) {
    case 'quiet':
      return quietProgress();
    case 'plain':
      return plainProgress(out);
    case 'json':
      return jsonProgress(out);
    case 'tty':
      return ttyProgress(out, { color: opts.ansi !== 'never' });
    default:
      if (opts.ansi === 'never' || !out.isTTY) return plainProgress(out);
      return ttyProgress(out, { color: true });
  }
}
