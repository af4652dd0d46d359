/**
 * Human-readable sizes and durations, matching docker/go-units so that columns such as SIZE
 * and CREATED read exactly as Docker prints them (including its quirks, e.g. "1e+03kB").
 */
import { formatG as goFormatG } from './gofloat.js';

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function scaled(size: number, base: number, units: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i]!];
}

/** go-units HumanSizeWithPrecision: decimal units, `precision` significant digits ("4.26MB"). */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [value, unit] = scaled(size, 1000, DECIMAL_UNITS);
  return formatG(value, precision) + unit;
}

/** go-units HumanSize: four significant digits ("1.235MB"). */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** go-units BytesSize: binary units, four significant digits ("15.53GiB"). */
export function bytesSize(size: number): string {
  const [value, unit] = scaled(size, 1024, BINARY_UNITS);
  return formatG(value, 4) + unit;
}

/**
 * go-units HumanDuration ("About a minute", "2 hours", "5 weeks"). Docker appends " ago" itself.
 * Thresholds and the truncating/rounding steps follow go-units precisely, because they decide
 * which word is printed.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = roundHalfAwayFromZero(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** "2 hours ago": the CREATED column of most list commands. */
export function timeAgo(thenMs: number, nowMs: number): string {
  return `${humanDuration(nowMs - thenMs)} ago`;
}

function roundHalfAwayFromZero(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * Go's fmt "%.{precision}g". JavaScript's toPrecision differs in three ways that show up in
 * sizes: it keeps trailing zeros ("4.00"), it writes exponents as "e+3" instead of "e+03", and
 * it rounds exact ties up where Go rounds them to even (4.125 -> "4.12"); gofloat.ts rounds the
 * exact binary value as Go does.
 */
export function formatG(x: number, precision: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  return (x < 0 ? '-' : '') + goFormatG(Math.abs(x), Math.max(precision, 1), 'e');
}

/**
 * go-units RAMInBytes: "512m", "1g", "100k", "1.5GiB", "1 kb", plain bytes; binary multiples.
 * Throws an Error worded as go-units words it ("invalid size: 'x'", "invalid suffix: 'x'").
 */
export function ramInBytes(s: string): number {
  let sep = -1;
  for (let i = s.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(s[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${s}'`);
  const num = s[sep] === ' ' ? s.slice(0, sep) : s.slice(0, sep + 1);
  let sfx = s.slice(sep + 1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(num)}: invalid syntax`);
  let size = Number(num);
  if (size < 0) throw new Error(`invalid size: '${s}'`);
  if (sfx === '') return Math.trunc(size);
  const bad = () => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const power = 'kmgtp'.indexOf(sfx[0]!);
  if (power === -1) throw bad();
  size *= 1024 ** (power + 1);
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size);
}
