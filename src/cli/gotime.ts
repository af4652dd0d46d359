/**
 * Time formatting and parsing the way Docker's CLI (Go) does it, so timestamps in
 * `--format` output, `events` lines and `--since/--until` arguments match byte for byte.
 *
 * A GoTime is an instant plus the zone it is shown in: Go keeps the location a time was
 * created or parsed with, and prints it ("+0000 UTC", "+0100 CET").
 */
export interface GoTime {
  /** Seconds since the epoch (may exceed 2^53 only in theory; events use bigint below). */
  sec: number;
  /** Nanoseconds within the second, 0..999999999. */
  nsec: number;
  /** Offset from UTC in minutes (east positive), for this instant. */
  offsetMin: number;
  /** Zone abbreviation Go would print (e.g. "UTC", "CET"), or a numeric one. */
  zone: string;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The local zone's offset and name at an instant, as time.Local would report it. */
export function localZone(ms: number): { offsetMin: number; zone: string } {
  const offsetMin = -new Date(ms).getTimezoneOffset();
  if (offsetMin === 0 && zoneName(ms, 'en-US') === 'UTC') return { offsetMin, zone: 'UTC' };
  // ICU knows "EST" in en-US and "CET" in en-GB; where it knows neither, print the offset.
  const named = [zoneName(ms, 'en-US'), zoneName(ms, 'en-GB')].find((z) => /^[A-Z]{2,5}$/.test(z));
  return { offsetMin, zone: named ?? (offsetMin === 0 ? 'UTC' : numericZone(offsetMin, false)) };
}

function zoneName(ms: number, locale: string): string {
  try {
    const parts = new Intl.DateTimeFormat(locale, { timeZoneName: 'short' }).formatToParts(new Date(ms));
    return parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
  } catch {
    return ''; // unknown zone: no name
  }
}

/** time.Unix(sec, nsec) in the local zone. */
export function unixLocal(sec: number, nsec = 0): GoTime {
  return { sec, nsec, ...localZone(sec * 1000) };
}

/** A time in UTC, as Go prints values parsed from "...Z". */
export function unixUTC(sec: number, nsec = 0): GoTime {
  return { sec, nsec, offsetMin: 0, zone: 'UTC' };
}

interface Fields {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

function fields(t: GoTime): Fields {
  const d = new Date((t.sec + t.offsetMin * 60) * 1000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
  };
}

const p2 = (n: number) => String(n).padStart(2, '0');

function datePart(f: Fields, sep: string): string {
  return `${String(f.year).padStart(4, '0')}-${p2(f.month)}-${p2(f.day)}${sep}${p2(f.hour)}:${p2(f.minute)}:${p2(f.second)}`;
}

function numericZone(offsetMin: number, colon: boolean): string {
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${sign}${p2(Math.floor(abs / 60))}${colon ? ':' : ''}${p2(abs % 60)}`;
}

/** Go's Time.String(): "2026-11-28 11:25:20.5 +0000 UTC" (fraction only when non-zero). */
export function formatGoString(t: GoTime): string {
  const frac = t.nsec ? '.' + String(t.nsec).padStart(9, '0').replace(/0+$/, '') : '';
  return `${datePart(fields(t), ' ')}${frac} ${numericZone(t.offsetMin, false)} ${t.zone}`;
}

/** time.RFC3339: "2026-11-28T11:25:20Z" or "...+01:00". */
export function formatRFC3339(t: GoTime): string {
  const zone = t.offsetMin === 0 ? 'Z' : numericZone(t.offsetMin, true);
  return datePart(fields(t), 'T') + zone;
}

/** jsonmessage.RFC3339NanoFixed: always nine fraction digits. */
export function formatRFC3339NanoFixed(t: GoTime): string {
  const zone = t.offsetMin === 0 ? 'Z' : numericZone(t.offsetMin, true);
  return `${datePart(fields(t), 'T')}.${String(t.nsec).padStart(9, '0')}${zone}`;
}

/** time.ANSIC: "Mon Jan  2 15:04:05 2006". */
export function formatANSIC(t: GoTime): string {
  const f = fields(t);
  return `${WEEKDAYS[f.weekday]} ${MONTHS[f.month - 1]} ${String(f.day).padStart(2, ' ')} ${p2(f.hour)}:${p2(f.minute)}:${p2(f.second)} ${f.year}`;
}

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/** Parses RFC 3339 (with optional fraction), keeping the zone as Go's time.Parse does. */
export function parseRFC3339(s: string): GoTime | undefined {
  const m = RFC3339_RE.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, frac = '', zone] = m;
  const offsetMin = /^[Zz]$/.test(zone!) ? 0 : zoneOffset(zone!);
  // setUTCFullYear, since Date.UTC reads years 0-99 as 1900-1999 (Go's zero time is year 1).
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(se), 0);
  const utcMs = date.getTime();
  const sec = utcMs / 1000 - offsetMin * 60;
  const nsec = Number(frac.padEnd(9, '0') || '0');
  const zoneName = offsetMin === 0 && /^[Zz]$/.test(zone!) ? 'UTC' : numericZone(offsetMin, false);
  return { sec, nsec, offsetMin, zone: zoneName };
}

function zoneOffset(z: string): number {
  const sign = z[0] === '-' ? -1 : 1;
  return sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(4, 6)));
}

// ---- durations and --since/--until ------------------------------------------------------

const DURATION_UNITS_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, in nanoseconds; undefined when the text is not a duration. */
export function parseGoDuration(s: string): number | undefined {
  const m = /^([-+]?)(.*)$/.exec(s)!;
  const sign = m[1] === '-' ? -1 : 1;
  let rest = m[2]!;
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const part = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/.exec(rest);
    if (!part || (part[1] === '' && (part[2] ?? '') === '')) return undefined;
    const unit = DURATION_UNITS_NS[part[3]!];
    if (unit === undefined) return undefined;
    const value = Number(`${part[1] || '0'}.${part[2] ?? ''}0`);
    total += value * unit;
    rest = rest.slice(part[0].length);
  }
  return sign * total;
}

const LOCAL_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/;

/**
 * Docker's timetypes.GetTimestamp: turns a --since/--until value into what the API expects.
 * A Go duration means that long before `nowMs` (whole seconds); a date or RFC 3339 time
 * becomes "seconds.nanoseconds"; a unix timestamp passes through unchanged.
 */
export function getTimestamp(value: string, nowMs: number): string {
  const d = parseGoDuration(value);
  if (value !== '0' && d !== undefined) return String(Math.floor((nowMs - d / 1e6) / 1000));

  const m = LOCAL_TIME_RE.exec(value);
  if (m) {
    const zoned = m[8] !== undefined;
    const [, y, mo, da, h = '0', mi = '0', se = '0', frac = ''] = m;
    const err = rangeError(value, Number(mo), Number(da), Number(h), Number(mi), Number(se), Number(y));
    if (err) throw new Error(err);
    const wall = Date.UTC(Number(y), Number(mo) - 1, Number(da), Number(h), Number(mi), Number(se)) / 1000;
    let offsetMin: number;
    if (zoned) offsetMin = /^[Zz]$/.test(m[8]!) ? 0 : zoneOffset(m[8]!);
    else offsetMin = -new Date(nowMs).getTimezoneOffset(); // Go uses the reference's fixed zone
    const sec = wall - offsetMin * 60;
    return `${sec}.${frac.padEnd(9, '0')}`;
  }
  if (value.includes('-')) throw new Error(`parsing time "${value}": cannot parse "${value}" as a date`);
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`failed to parse value as time or duration: "${value}"`);
  return value;
}

function rangeError(value: string, month: number, day: number, hour: number, minute: number, second: number, year: number): string | undefined {
  const q = `parsing time "${value}"`;
  if (month < 1 || month > 12) return `${q}: month out of range`;
  const daysIn = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysIn) return `${q}: day out of range`;
  if (hour > 23) return `${q}: hour out of range`;
  if (minute > 59) return `${q}: minute out of range`;
  if (second > 59) return `${q}: second out of range`;
  return undefined;
}
