/**
 * Log drivers a container may name (HostConfig.LogConfig) and their options, checked as dockerd
 * checks them. Berth has three drivers: json-file (the default), local and none. Any other name,
 * including drivers dockerd has but Berth does not (syslog, journald, gelf, ...), is refused with
 * dockerd's "logger: no log driver named 'x' is registered" rather than stored and ignored.
 *
 * Where dockerd checks: option names at create (ValidateLogOpts, 400); option values only when the
 * logger starts (start fails). Berth checks the values at create too, with dockerd's words behind
 * "failed to initialize logging driver: ", so a bad value is a 400 that leaves no container behind.
 */
import { invalidArgument } from '../../lib/errors.js';

export type LogDriverName = 'json-file' | 'local' | 'none';
export const LOG_DRIVERS: readonly LogDriverName[] = ['json-file', 'local', 'none'];
export const DEFAULT_LOG_DRIVER: LogDriverName = 'json-file';

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/** What a driver does with its file, after defaults. */
export interface LogFileSettings {
  driver: LogDriverName;
  /** Bytes after which the file is rotated; undefined: never. */
  maxSize?: number;
  /** Files kept, the current one included (1: the file is started afresh at maxSize). */
  maxFile: number;
  /** Rotated files are gzipped. */
  compress: boolean;
  /** Options that add attributes to each entry (labels, env, tag, ...). */
  attrOpts: Record<string, string>;
}

/** Options every driver takes (dockerd's builtInLogOpts), handled by the daemon, not the driver. */
const BUILT_IN = new Set(['mode', 'max-buffer-size']);
const ATTR_OPTS = ['labels', 'labels-regex', 'env', 'env-regex', 'tag'];
const DRIVER_OPTS: Record<Exclude<LogDriverName, 'none'>, Set<string>> = {
  'json-file': new Set(['max-file', 'max-size', 'compress', ...ATTR_OPTS]),
  local: new Set(['max-file', 'max-size', 'compress', ...ATTR_OPTS]),
};

const LOCAL_DEFAULT_MAX_SIZE = 20 * 1024 * 1024;
const LOCAL_DEFAULT_MAX_FILE = 5;

/**
 * The container's log config as dockerd stores it: the daemon's driver when none is named, and the
 * daemon's options for keys the container did not set when the driver is the daemon's. Throws
 * InvalidArgument (400) for an unknown driver, option or value.
 */
export function mergeLogConfig(given: { Type?: string; Config?: Record<string, string> | null } | null | undefined, daemonDefault: LogConfig): LogConfig {
  const type = given?.Type || daemonDefault.Type;
  const config: Record<string, string> = { ...(given?.Config ?? {}) };
  if (type === daemonDefault.Type) {
    for (const [k, v] of Object.entries(daemonDefault.Config)) if (!(k in config)) config[k] = v;
  }
  const merged = { Type: type, Config: config };
  logFileSettings(merged);
  return merged;
}

/** Checks a config (names and values) and returns what its driver does; throws InvalidArgument. */
export function logFileSettings(cfg: LogConfig): LogFileSettings {
  const name = cfg.Type;
  const opts = cfg.Config ?? {};
  if (name === 'none') return { driver: 'none', maxFile: 1, compress: false, attrOpts: {} };
  // dockerd's ValidateLogOpts: the delivery mode first, then the driver, then its options.
  const mode = opts.mode ?? '';
  if (mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') throw invalidArgument(`logger: logging mode not supported: ${mode}`);
  if (opts['max-buffer-size'] !== undefined) {
    if (mode !== 'non-blocking') throw invalidArgument(`logger: max-buffer-size option is only supported with 'mode=non-blocking'`);
    if (parseRamSize(opts['max-buffer-size']) === undefined) {
      throw invalidArgument(`error parsing option max-buffer-size: invalid size: '${opts['max-buffer-size']}'`);
    }
  }
  if (name !== 'json-file' && name !== 'local') throw invalidArgument(`logger: no log driver named '${name}' is registered`);
  for (const key of Object.keys(opts)) {
    if (BUILT_IN.has(key) || DRIVER_OPTS[name].has(key)) continue;
    throw invalidArgument(name === 'json-file' ? `unknown log opt '${key}' for json-file log driver` : `unknown log opt '${key}' for log driver local`);
  }
  for (const key of ['labels-regex', 'env-regex']) {
    if (opts[key] === undefined) continue;
    try {
      new RegExp(opts[key]!);
    } catch (err) {
      throw invalidArgument(`failed to initialize logging driver: error parsing regexp: ${(err as Error).message}`);
    }
  }
  const attrOpts = Object.fromEntries(ATTR_OPTS.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]!]));
  const fail = (msg: string) => invalidArgument(`failed to initialize logging driver: ${msg}`);
  if (name === 'json-file') {
    let maxSize: number | undefined;
    if (opts['max-size'] !== undefined) {
      const n = parseHumanSize(opts['max-size']);
      if (n === undefined) throw fail(`invalid size: '${opts['max-size']}'`);
      if (n <= 0) throw fail('max-size must be a positive number');
      maxSize = n;
    }
    let maxFile = 1;
    if (opts['max-file'] !== undefined) {
      const n = parseGoInt(opts['max-file']);
      if (n === undefined) throw fail(`strconv.Atoi: parsing ${goQuote(opts['max-file'])}: invalid syntax`);
      if (n < 1) throw fail('max-file cannot be less than 1');
      maxFile = n;
    }
    let compress = false;
    if (opts.compress !== undefined) {
      const b = parseGoBool(opts.compress);
      if (b === undefined) throw fail(`strconv.ParseBool: parsing ${goQuote(opts.compress)}: invalid syntax`);
      if (b && (maxFile === 1 || maxSize === undefined)) throw fail('compress cannot be true when max-file is less than 2 or max-size is not set');
      compress = b;
    }
    // Without max-size nothing rotates, so max-file has no effect (as in dockerd).
    return { driver: 'json-file', maxSize, maxFile: maxSize === undefined ? 1 : maxFile, compress, attrOpts };
  }
  // local: rotation on by default (20 MB x 5, compressed).
  let maxSize = LOCAL_DEFAULT_MAX_SIZE;
  if (opts['max-size'] !== undefined) {
    const n = parseHumanSize(opts['max-size']);
    if (n === undefined) throw fail(`invalid value for max-size: ${opts['max-size']}: invalid size: '${opts['max-size']}'`);
    maxSize = n;
  }
  let maxFile = LOCAL_DEFAULT_MAX_FILE;
  if (opts['max-file'] !== undefined) {
    const n = parseGoInt(opts['max-file']);
    if (n === undefined) throw fail(`invalid value for max-file: ${opts['max-file']}: strconv.Atoi: parsing ${goQuote(opts['max-file'])}: invalid syntax`);
    maxFile = n;
  }
  let compress = true;
  if (opts.compress !== undefined) {
    const b = parseGoBool(opts.compress);
    if (b === undefined) throw fail(`invalid boolean value for compress: strconv.ParseBool: parsing ${goQuote(opts.compress)}: invalid syntax`);
    compress = b;
  }
  if (maxSize < 0) throw fail('max-size must not be negative');
  if (maxFile < 0) throw fail('max-file must not be negative');
  if (compress && maxFile <= 1) throw fail('compression cannot be enabled when max file count is 1');
  return { driver: 'local', maxSize: maxSize > 0 ? maxSize : undefined, maxFile: Math.max(1, maxFile), compress, attrOpts };
}

/** The daemon's --log-driver/--log-opt, checked; the message is what berthd prints before exiting. */
export function checkDaemonLogConfig(cfg: LogConfig): void {
  try {
    logFileSettings(cfg);
  } catch (err) {
    throw new Error(`failed to set log opts: ${(err as Error).message}`);
  }
}

// ---- Go's parsers, as dockerd uses them -------------------------------------------------------

const SIZE_RE = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/;

/** go-units FromHumanSize: decimal units ("10m" = 10,000,000 bytes); undefined when unparseable. */
export function parseHumanSize(s: string): number | undefined {
  return parseSize(s, 1000);
}

/** go-units RAMInBytes: binary units ("1m" = 1 MiB). */
export function parseRamSize(s: string): number | undefined {
  return parseSize(s, 1024);
}

function parseSize(s: string, base: number): number | undefined {
  const m = SIZE_RE.exec(s.trim());
  if (!m) return undefined;
  const exp = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number(m[1]) * base ** exp);
}

function parseGoInt(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}

function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}
