import { invalidArgument } from './errors.js';

/**
 * Parses a time argument as dockerd does for since/until: a unix timestamp with optional fraction
 * ("1700000000.123"), an RFC 3339 date, or a Go duration ("10m", "1h30m") meaning that long ago.
 * Returns nanoseconds since the epoch.
 */
export function parseTimestampNs(value: string, now = Date.now()): number {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [sec, frac = ''] = v.split('.');
    return Number(sec) * 1e9 + Number(frac.padEnd(9, '0').slice(0, 9));
  }
  const duration = parseGoDurationMs(v);
  if (duration !== undefined) return (now - duration) * 1e6;
  const ms = Date.parse(v.includes('T') || v.includes(' ') ? v : `${v}T00:00:00Z`);
  if (!Number.isNaN(ms)) return ms * 1e6;
  throw invalidArgument(`failed to parse value as time or duration: "${value}"`);
}

const UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseGoDurationMs(v: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) return undefined;
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * UNITS_MS[m[2]!]!;
  return total;
}

/** RFC 3339 with nanoseconds, as Go's time.RFC3339Nano prints (trailing zeros dropped). */
export function rfc3339Nano(ms: number, extraNs = 0): string {
  const iso = new Date(ms).toISOString(); // 2026-11-28T13:00:00.123Z
  const frac = (String(ms % 1000).padStart(3, '0') + String(extraNs).padStart(6, '0')).replace(/0+$/, '');
  return iso.slice(0, 19) + (frac ? `.${frac}` : '') + 'Z';
}
