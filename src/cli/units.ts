/**
 * Human-readable sizes and durations, matching docker/go-units so that columns such as SIZE
 * and CREATED read exactly as Docker prints them (including its quirks, e.g. "1e+03kB").
 */

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
 * it rounds exact ties up where Go rounds them to even (4.125 -> "4.12"). So the float is
 * expanded to its exact decimal digits and rounded here.
 */
export function formatG(x: number, precision: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  const sign = x < 0 ? '-' : '';
  const prec = Math.max(precision, 1);
  const exact = exactDecimal(Math.abs(x));
  if (exact.digits === '') return sign + '0';
  const { d, dp } = roundDigits(exact.digits, exact.point, prec);
  // Go's %g picks %e when the exponent is < -4 or >= the precision (shortened to the number
  // of digits when they all sit before the point).
  const eprec = prec > d.length && d.length >= dp ? d.length : prec;
  const exp = dp - 1;
  if (exp < -4 || exp >= eprec) {
    const n = Math.min(prec, d.length);
    const mantissa = d[0]! + (n > 1 ? '.' + d.slice(1, n) : '');
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const decimals = Math.max((prec > dp ? d.length : prec) - dp, 0);
  const intPart = dp > 0 ? d.slice(0, dp).padEnd(dp, '0') : '0';
  let frac = '';
  for (let i = 0; i < decimals; i++) {
    const idx = dp + i;
    frac += idx >= 0 && idx < d.length ? d[idx] : '0';
  }
  return sign + (frac ? `${intPart}.${frac}` : intPart);
}

/** Exact decimal expansion of a finite non-negative double: value = 0.digits * 10^point. */
function exactDecimal(x: number): { digits: string; point: number } {
  if (x === 0) return { digits: '', point: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biasedExp = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exp: number;
  if (biasedExp === 0) {
    exp = -1074;
  } else {
    mantissa |= 1n << 52n;
    exp = biasedExp - 1075;
  }
  let digits: string;
  let point: number;
  if (exp >= 0) {
    digits = (mantissa << BigInt(exp)).toString();
    point = digits.length;
  } else {
    // m * 2^e = m * 5^-e / 10^-e
    digits = (mantissa * 5n ** BigInt(-exp)).toString();
    point = digits.length + exp;
  }
  const trimmed = digits.replace(/0+$/, '');
  return { digits: trimmed, point };
}

/** Rounds to n significant digits, ties to even (as Go's strconv does); trailing zeros dropped. */
function roundDigits(digits: string, point: number, n: number): { d: string; dp: number } {
  if (digits.length <= n) return { d: digits, dp: point };
  const next = digits.charCodeAt(n) - 48;
  let up: boolean;
  if (next > 5) up = true;
  else if (next < 5) up = false;
  else if (digits.length > n + 1) up = true; // more non-zero digits follow (zeros were trimmed)
  else up = n > 0 && (digits.charCodeAt(n - 1) - 48) % 2 === 1;
  let kept = digits.slice(0, n);
  let dp = point;
  if (up) {
    const arr = kept.split('').map(Number);
    let i = arr.length - 1;
    while (i >= 0 && arr[i] === 9) {
      arr[i] = 0;
      i--;
    }
    if (i < 0) {
      arr.unshift(1);
      arr.pop();
      dp++;
    } else {
      arr[i]!++;
    }
    kept = arr.join('');
  }
  return { d: kept.replace(/0+$/, ''), dp };
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
