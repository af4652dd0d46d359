/** Daemon logging in dockerd's shape: level=info msg="..." on stderr. */
import { messageOf } from './errors.js';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4 };
let threshold: LogLevel = 'info';

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function isLogLevel(s: string): s is LogLevel {
  return s in ORDER;
}

function write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (ORDER[level] < ORDER[threshold]) return;
  let line = `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}`;
  for (const [k, v] of Object.entries(fields ?? {})) line += ` ${k}=${JSON.stringify(v)}`;
  process.stderr.write(line + '\n');
}

export const log = {
  debug: (msg: string, f?: Record<string, unknown>) => write('debug', msg, f),
  info: (msg: string, f?: Record<string, unknown>) => write('info', msg, f),
  warn: (msg: string, f?: Record<string, unknown>) => write('warn', msg, f),
  error: (msg: string, f?: Record<string, unknown>) => write('error', msg, f),
};

/** A `.catch` handler for best-effort steps: the failure is only worth a debug line; `fallback` stands in. */
export function debugIgnored(what: string): (err: unknown) => undefined;
export function debugIgnored<T>(what: string, fallback: T): (err: unknown) => T;
export function debugIgnored<T>(what: string, fallback?: T): (err: unknown) => T | undefined {
  return (err) => {
    log.debug(what, { error: messageOf(err) });
    return fallback;
  };
}
