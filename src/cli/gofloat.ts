/**
 * Go's strconv float formatting (%e, %f, %g) on the exact binary value, ties to even: what the
 * template package's printf and docker/go-units' sizes (units.ts) print.
 */

/** Splits a finite double into m * 2^e exactly. */
function decompose(x: number): [bigint, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exp === 0) return [frac, -1074];
  return [frac | (1n << 52n), exp - 1075];
}

/**
 * round(x * 10^k) computed exactly, ties to even: Go rounds the exact binary value,
 * so %.2f of 0.125 is 0.12 and %.0f of 2.5 is 2 (JS toFixed would say 0.13 and 3).
 */
function scaledRound(x: number, k: number): bigint {
  const [m, e] = decompose(x);
  let num = m;
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  if (k >= 0) num *= 10n ** BigInt(k);
  else den *= 10n ** BigInt(-k);
  const q = num / den;
  const twice = 2n * (num % den);
  if (twice > den || (twice === den && (q & 1n) === 1n)) return q + 1n;
  return q;
}

/** Compares x (finite, > 0) with 10^k exactly. */
function comparePowerOfTen(x: number, k: number): number {
  const [m, e] = decompose(x);
  const left = m * (e > 0 ? 1n << BigInt(e) : 1n) * (k < 0 ? 10n ** BigInt(-k) : 1n);
  const right = (k > 0 ? 10n ** BigInt(k) : 1n) * (e < 0 ? 1n << BigInt(-e) : 1n);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** x rounded to `sig` significant digits: the digit string (length sig) and the exponent. */
function roundSignificant(x: number, sig: number): { digits: string; exp: number } {
  if (x === 0) return { digits: '0'.repeat(sig), exp: 0 };
  // The decimal exponent of the exact value: log10 is off by one just below a power of ten
  // (1e-7 is 9.99...e-08 as a double).
  let exp = Math.floor(Math.log10(x));
  if (comparePowerOfTen(x, exp) < 0) exp--;
  else if (comparePowerOfTen(x, exp + 1) >= 0) exp++;
  const digits = scaledRound(x, sig - 1 - exp).toString();
  // Rounding up may carry into one more digit (9.996 to 3 digits is 10.0).
  if (digits.length > sig) return { digits: digits.slice(0, sig), exp: exp + 1 };
  return { digits, exp };
}

function expSuffix(exp: number, e: string): string {
  return e + (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(2, '0');
}

/** %f: fixed point with `prec` decimals. */
export function formatF(x: number, prec: number): string {
  const s = scaledRound(x, prec).toString().padStart(prec + 1, '0');
  return prec > 0 ? s.slice(0, s.length - prec) + '.' + s.slice(s.length - prec) : s;
}

/** %e: d.ddddde±dd with `prec` decimals. */
export function formatE(x: number, prec: number, e: string): string {
  const { digits, exp } = roundSignificant(x, prec + 1);
  const mant = prec > 0 ? digits[0] + '.' + digits.slice(1) : digits;
  return mant + expSuffix(exp, e);
}

/**
 * %g: %e for exponents < -4 or >= the precision, else %f, without trailing zeros. With
 * the shortest precision (-1) the switch happens at exponent 6, so 1e6 prints "1e+06".
 */
export function formatG(x: number, prec: number, e: string): string {
  const shortest = prec < 0;
  let digits: string;
  let dp: number; // value = 0.digits * 10^dp
  if (x === 0) {
    digits = '';
    dp = 0;
  } else if (shortest) {
    const [mant, ex] = x.toExponential().split('e') as [string, string];
    digits = mant.replace('.', '');
    dp = Number(ex) + 1;
  } else {
    const r = roundSignificant(x, prec === 0 ? 1 : prec);
    digits = r.digits.replace(/0+$/, '');
    dp = r.exp + 1;
  }
  const nd = digits.length;
  let p = shortest ? nd : prec === 0 ? 1 : prec;
  let eprec = p;
  if (eprec > nd && nd >= dp) eprec = nd;
  if (shortest) eprec = 6;
  const exp = dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (p > nd) p = nd;
    const d = digits || '0';
    const mant = p > 1 ? d[0] + '.' + d.slice(1, p).padEnd(p - 1, '0') : d[0]!;
    return mant + expSuffix(nd === 0 ? 0 : exp, e);
  }
  if (p > dp) p = nd;
  return fixedFromDigits(digits, dp, Math.max(p - dp, 0));
}

function fixedFromDigits(digits: string, dp: number, frac: number): string {
  const intPart = dp > 0 ? digits.slice(0, dp).padEnd(dp, '0') : '0';
  let f = '';
  for (let i = 0; i < frac; i++) {
    const j = dp + i;
    f += j >= 0 && j < digits.length ? digits[j] : '0';
  }
  return frac > 0 ? intPart + '.' + f : intPart;
}
