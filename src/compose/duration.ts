/** Go durations as compose files use them ("1m30s", "500ms", a bare number of seconds) and back. */
import { ComposeError } from './errors.js';

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

export function parseDurationNs(value: string | number, where: string): number {
  if (typeof value === 'number') return value * 1e9;
  if (value === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < value.length) {
    re.lastIndex = pos;
    const m = re.exec(value);
    if (!m) throw new ComposeError(`${where}: time: invalid duration "${value}"`);
    total += Number(m[1]) * UNIT_NS[m[2]];
    pos = re.lastIndex;
  }
  if (value === '') throw new ComposeError(`${where}: time: invalid duration ""`);
  return Math.round(total);
}

/** Go's time.Duration.String(): "1h2m3s", "1m30s", "500ms", "0s". */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e9) {
    if (ns < 1e3) return `${ns}ns`;
    if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
    return `${trim(ns / 1e6)}ms`;
  }
  const hours = Math.floor(ns / 3600e9);
  const minutes = Math.floor((ns % 3600e9) / 60e9);
  const seconds = (ns % 60e9) / 1e9;
  let out = '';
  if (hours) out += `${hours}h`;
  if (hours || minutes) out += `${minutes}m`;
  return `${out}${trim(seconds)}s`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}
