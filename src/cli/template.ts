/**
 * Go text/template, as far as the docker CLI's `--format` flag needs it, plus docker's
 * template functions (docker/cli templates package) and its table/json list formatting.
 *
 * Data is JSON-like. Plain objects behave like Go's map[string]interface{}:
 *   - a missing key is an invalid value and prints "<no value>"; `.A.B` with A missing
 *     also prints "<no value>" (fields of an invalid value are invalid);
 *   - a key holding null is a nil interface{}: `.A.B` then fails with "nil pointer
 *     evaluating interface {}.B", while `{{.A}}` prints "<no value>" because Go turns a nil
 *     interface{} into an invalid value at the end of every pipeline command;
 *   - keys are visited, printed and marshalled in sorted order, as Go does for maps.
 * `undefined` stands for Go's invalid value throughout; a property whose value is a
 * function is treated as a method: `{{.Label "x"}}` calls it with the arguments.
 *
 * Numbers: JS has one number type where Go templates see int, float64 or json.Number. We
 * print a number the way its JSON text reads (1700000000, 0.5, 1e-7), which is what docker
 * shows for the typed int fields of its structs and for its raw-JSON fallback (decoded
 * with UseNumber). Comparison functions accept any pair of numbers. Explicit %g/%e/%f
 * verbs follow Go's float formatting exactly (shortest %g switches to an exponent at 1e+06).
 *
 * Not supported: {{define}}, {{template}}, {{block}}, the `js` builtin, complex numbers,
 * the missingkey option, %#v Go syntax and hex-float verbs on non-integers.
 */

import { tabwrite } from './tabwriter.js';

/** Raised for both parse and execution errors; messages follow Go's wording. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export interface Template {
  execute(data: unknown): string;
}

// ---------------------------------------------------------------------------------------
// Values: kinds, type names, truth, map access.

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isInt(v: unknown): v is number | bigint {
  return (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'bigint';
}

/** The Go type a JSON-like value would have inside an interface{}. */
function typeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isSafeInteger(v) ? 'int' : 'float64';
    case 'bigint':
      return 'int';
    case 'boolean':
      return 'bool';
    case 'function':
      return 'func(...interface {}) interface {}';
  }
  return Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}';
}

/** Go's template truth: false, 0, nil, and empty strings, slices and maps are false. */
function isTrue(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'string':
      return v.length > 0;
    case 'function':
      return true;
  }
  if (Array.isArray(v)) return v.length > 0;
  return sortedKeys(v as Dict).length > 0;
}

/**
 * Map lookup. Own properties are the map; on class instances, prototype members (getters,
 * methods) count too, but never Object.prototype's.
 */
function lookup(obj: Dict, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== null && proto !== Object.prototype && name in obj && !(name in Object.prototype)) return obj[name];
  return undefined;
}

/** Go orders strings bytewise (UTF-8), i.e. by code point; JS `<` compares UTF-16 units. */
function compareGoStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (code points above U+FFFF) after U+E000..U+FFFF, keeping order. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** Keys of a map in Go's iteration order for printing and range; unset keys are absent. */
function sortedKeys(obj: Dict): string[] {
  return Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort(compareGoStrings);
}

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// ---------------------------------------------------------------------------------------
// Go fmt: %v printing, Sprint, Sprintf.

interface FmtSpec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width?: number;
  prec?: number;
}

const PLAIN: FmtSpec = { minus: false, plus: false, sharp: false, space: false, zero: false };

/** How Go's fmt prints `v` with %v (undefined, Go's invalid value, as templates print it). */
export function formatValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  return fmtArg(v, 'v', PLAIN, 0);
}

/** A number as its JSON text reads; non-finite values as Go spells them. */
function numberText(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** Formats one operand for `verb`; slices and maps apply the verb element by element. */
function fmtArg(v: unknown, verb: string, spec: FmtSpec, depth: number): string {
  if (verb === 'T') return pad(typeName(v), spec);
  if (v === null || v === undefined) {
    // Inside a container a nil element prints as <nil> whatever the verb.
    return verb === 'v' || depth > 0 ? pad('<nil>', spec) : badVerb(verb, v);
  }
  switch (typeof v) {
    case 'boolean':
      return verb === 'v' || verb === 't' ? pad(String(v), spec) : badVerb(verb, v);
    case 'number':
      return fmtNumber(v, verb, spec);
    case 'bigint':
      return fmtInteger(v, verb, spec) ?? badVerb(verb, v);
    case 'string':
      return fmtString(v, verb, spec);
    case 'function':
      return badVerb(verb, v);
  }
  if (Array.isArray(v)) return '[' + v.map((e) => fmtArg(e, verb, spec, depth + 1)).join(' ') + ']';
  const obj = v as Dict;
  const items = sortedKeys(obj).map(
    (k) => fmtArg(k, verb, spec, depth + 1) + ':' + fmtArg(obj[k], verb, spec, depth + 1),
  );
  return 'map[' + items.join(' ') + ']';
}

/** Go's "%!verb(type=value)" for an operand the verb does not apply to. */
function badVerb(verb: string, v: unknown): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${formatValue(v)})`;
}

/** Pads to the width in runes; zero padding is allowed on the left only. */
function pad(s: string, spec: FmtSpec): string {
  if (spec.width === undefined) return s;
  const n = spec.width - runeCount(s);
  if (n <= 0) return s;
  if (spec.minus) return s + ' '.repeat(n);
  return (spec.zero ? '0' : ' ').repeat(n) + s;
}

function padSpaces(s: string, spec: FmtSpec): string {
  return pad(s, { ...spec, zero: false });
}

function fmtString(s: string, verb: string, spec: FmtSpec): string {
  const text = spec.prec === undefined ? s : Array.from(s).slice(0, spec.prec).join('');
  switch (verb) {
    case 'v':
      return pad(spec.sharp ? goQuote(text) : text, spec);
    case 's':
      return pad(text, spec);
    case 'q':
      return pad(spec.sharp && canBackquote(text) ? '`' + text + '`' : goQuote(text), spec);
    case 'x':
    case 'X': {
      const hex = utf8(s).subarray(0, spec.prec ?? Infinity).toString('hex');
      return pad(verb === 'X' ? hex.toUpperCase() : hex, spec);
    }
  }
  return badVerb(verb, s);
}

function fmtNumber(n: number, verb: string, spec: FmtSpec): string {
  if (Number.isSafeInteger(n)) {
    const s = fmtInteger(BigInt(n), verb, spec);
    if (s !== undefined) return s;
  }
  switch (verb) {
    case 'v':
      if (spec.prec !== undefined || !Number.isFinite(n)) return fmtFloat(n, 'g', spec.prec, spec);
      return signAndPad(n, numberText(Math.abs(n)), spec);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      return fmtFloat(n, verb, spec.prec, spec);
  }
  return badVerb(verb, n);
}

/** Integer verbs; undefined when `verb` is not one (floats verbs then take over). */
function fmtInteger(n: bigint, verb: string, spec: FmtSpec): string | undefined {
  const neg = n < 0n;
  const u = neg ? -n : n;
  let digits: string;
  switch (verb) {
    case 'v':
    case 'd':
      digits = u.toString(10);
      break;
    case 'b':
      digits = u.toString(2);
      break;
    case 'o':
    case 'O':
      digits = u.toString(8);
      break;
    case 'x':
      digits = u.toString(16);
      break;
    case 'X':
      digits = u.toString(16).toUpperCase();
      break;
    case 'c':
      return padSpaces(runeString(n), spec);
    case 'q':
      return padSpaces(quoteRune(n), spec);
    case 'U':
      return padSpaces(unicodeNotation(n, spec.sharp), spec);
    default:
      return undefined;
  }
  // Two ways to ask for leading zeros: a precision, or the 0 flag with a width.
  let prec = 0;
  if (spec.prec !== undefined) {
    if (spec.prec === 0 && u === 0n) return padSpaces('', spec);
    prec = spec.prec;
  } else if (spec.zero && !spec.minus && spec.width !== undefined) {
    prec = neg || spec.plus || spec.space ? spec.width - 1 : spec.width;
  }
  digits = digits.padStart(prec, '0');
  return padSpaces(signOf(neg, spec) + intPrefix(verb, spec, digits) + digits, spec);
}

function intPrefix(verb: string, spec: FmtSpec, digits: string): string {
  if (verb === 'O') return '0o';
  if (!spec.sharp) return '';
  switch (verb) {
    case 'b':
      return '0b';
    case 'o':
      return digits.startsWith('0') ? '' : '0';
    case 'x':
      return '0x';
    case 'X':
      return '0X';
  }
  return '';
}

function signOf(neg: boolean, spec: FmtSpec): string {
  if (neg) return '-';
  if (spec.plus) return '+';
  return spec.space ? ' ' : '';
}

function runeString(n: bigint): string {
  const cp = Number(n);
  if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(cp);
}

function unicodeNotation(n: bigint, sharp: boolean): string {
  const s = 'U+' + n.toString(16).toUpperCase().padStart(4, '0');
  const ch = runeString(n);
  return sharp && isPrint(ch) ? `${s} '${ch}'` : s;
}

function fmtFloat(n: number, verb: string, prec: number | undefined, spec: FmtSpec): string {
  if (!Number.isFinite(n)) return padSpaces(nonFiniteText(n, spec), spec);
  const x = Math.abs(n);
  let body: string;
  switch (verb) {
    case 'e':
    case 'E':
      body = formatE(x, prec ?? 6, verb);
      break;
    case 'g':
    case 'G':
      body = formatG(x, prec ?? -1, verb === 'G' ? 'E' : 'e');
      break;
    default:
      body = formatF(x, prec ?? 6);
  }
  return signAndPad(n, body, spec);
}

/** Go writes "+Inf" even without the + flag, but "NaN" only gets a sign on request. */
function nonFiniteText(n: number, spec: FmtSpec): string {
  if (Number.isNaN(n)) return (spec.plus ? '+' : spec.space ? ' ' : '') + 'NaN';
  if (n < 0) return '-Inf';
  return (spec.space && !spec.plus ? ' ' : '+') + 'Inf';
}

function signAndPad(n: number, body: string, spec: FmtSpec): string {
  const sign = n < 0 || Object.is(n, -0) ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  if (spec.zero && !spec.minus && spec.width !== undefined && spec.width > sign.length + body.length) {
    // The sign goes before the zeros.
    return sign + body.padStart(spec.width - sign.length, '0');
  }
  return padSpaces(sign + body, spec);
}

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

/** x rounded to `sig` significant digits: the digit string (length sig) and the exponent. */
function roundSignificant(x: number, sig: number): { digits: string; exp: number } {
  if (x === 0) return { digits: '0'.repeat(sig), exp: 0 };
  let exp = Math.floor(Math.log10(x));
  for (;;) {
    const q = scaledRound(x, sig - 1 - exp);
    const digits = q.toString();
    if (digits.length > sig) exp++;
    else if (digits.length < sig) exp--;
    else return { digits, exp };
  }
}

function expSuffix(exp: number, e: string): string {
  return e + (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(2, '0');
}

/** %f: fixed point with `prec` decimals. */
function formatF(x: number, prec: number): string {
  const s = scaledRound(x, prec).toString().padStart(prec + 1, '0');
  return prec > 0 ? s.slice(0, s.length - prec) + '.' + s.slice(s.length - prec) : s;
}

/** %e: d.ddddde±dd with `prec` decimals. */
function formatE(x: number, prec: number, e: string): string {
  const { digits, exp } = roundSignificant(x, prec + 1);
  const mant = prec > 0 ? digits[0] + '.' + digits.slice(1) : digits;
  return mant + expSuffix(exp, e);
}

/**
 * %g: %e for exponents < -4 or >= the precision, else %f, without trailing zeros. With
 * the shortest precision (-1) the switch happens at exponent 6, so 1e6 prints "1e+06".
 */
function formatG(x: number, prec: number, e: string): string {
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

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
function isPrint(ch: string): boolean {
  return ch === ' ' || PRINTABLE.test(ch);
}

const SIMPLE_ESCAPES: Record<number, string> = {
  7: '\\a',
  8: '\\b',
  12: '\\f',
  10: '\\n',
  13: '\\r',
  9: '\\t',
  11: '\\v',
};

/** strconv.Quote (quote = '"') or strconv.QuoteRune (quote = "'"). */
function goQuote(s: string, quote = '"'): string {
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else if (isPrint(ch)) out += ch;
    else if (SIMPLE_ESCAPES[cp] !== undefined) out += SIMPLE_ESCAPES[cp];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + quote;
}

function quoteRune(n: bigint): string {
  return goQuote(runeString(n), "'");
}

function canBackquote(s: string): boolean {
  for (const ch of s) {
    if (ch === '`' || ch === '\ufffd') return false;
    if (ch !== '\t' && !isPrint(ch) && ch.codePointAt(0)! < 0x80) return false;
  }
  return true;
}

/** fmt.Sprint: operands in %v, a space between two operands when neither is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += fmtArg(a, 'v', PLAIN, 0);
  });
  return out;
}

/** fmt.Sprintln: operands in %v separated by spaces, newline-terminated. */
function sprintln(args: unknown[]): string {
  return args.map((a) => fmtArg(a, 'v', PLAIN, 0)).join(' ') + '\n';
}

/** fmt.Sprintf, including Go's in-band error notes (%!d(MISSING), %!(EXTRA ...)). */
function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const spec: FmtSpec = { ...PLAIN };
    i = parseFlags(format, i, spec);
    // Width and precision, either literal digits or '*' taking an int operand.
    if (format[i] === '*') {
      i++;
      const w = args[argi++];
      if (isInt(w)) {
        spec.width = Math.abs(Number(w));
        if (Number(w) < 0) Object.assign(spec, { minus: true, zero: false });
      } else out += '%!(BADWIDTH)';
    } else {
      [spec.width, i] = parseDigits(format, i);
    }
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') {
        i++;
        const p = args[argi++];
        if (isInt(p)) spec.prec = Number(p) < 0 ? undefined : Number(p);
        else out += '%!(BADPREC)';
      } else {
        const [p, next] = parseDigits(format, i);
        spec.prec = p ?? 0;
        i = next;
      }
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') out += '%';
    else if (argi >= args.length) out += `%!${verb}(MISSING)`;
    else out += fmtArg(args[argi++], verb, spec, 0);
  }
  if (argi < args.length) {
    const extra = args.slice(argi).map((a) => (a === null || a === undefined ? '<nil>' : `${typeName(a)}=${formatValue(a)}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

function parseFlags(format: string, i: number, spec: FmtSpec): number {
  for (; i < format.length; i++) {
    switch (format[i]) {
      case '#':
        spec.sharp = true;
        break;
      case '0':
        spec.zero = !spec.minus; // only pad with zeros on the left
        break;
      case '+':
        spec.plus = true;
        break;
      case '-':
        spec.minus = true;
        spec.zero = false;
        break;
      case ' ':
        spec.space = true;
        break;
      default:
        return i;
    }
  }
  return i;
}

function parseDigits(s: string, i: number): [number | undefined, number] {
  const start = i;
  while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
  return [i > start ? Number(s.slice(start, i)) : undefined, i];
}

// ---------------------------------------------------------------------------------------
// encoding/json, as docker's `json` function calls it (SetEscapeHTML(false), no newline).

class UnsupportedValue extends Error {}

function marshalJSON(v: unknown, stack: unknown[] = []): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new UnsupportedValue(`json: unsupported value: ${numberText(v)}`);
      return String(v); // JS and Go agree: exponent form below 1e-6 and from 1e21
    case 'bigint':
      return v.toString();
    case 'string':
      return jsonString(v);
    case 'function':
    case 'symbol':
      throw new UnsupportedValue(`json: unsupported type: ${typeof v}`);
  }
  const obj = v as { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return marshalJSON(obj.toJSON(), stack);
  if (stack.includes(v)) throw new UnsupportedValue('json: unsupported value: encountered a cycle');
  const inner = [...stack, v];
  if (Array.isArray(v)) {
    const items = v.map((e) => (e === undefined || typeof e === 'function' ? 'null' : marshalJSON(e, inner)));
    return '[' + items.join(',') + ']';
  }
  const dict = v as Dict;
  const members = sortedKeys(dict)
    .filter((k) => typeof dict[k] !== 'function')
    .map((k) => jsonString(k) + ':' + marshalJSON(dict[k], inner));
  return '{' + members.join(',') + '}';
}

const JSON_ESCAPES: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };

/** Go's string encoding without HTML escaping; U+2028/9 are still escaped. */
function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20) out += JSON_ESCAPES[c] ?? '\\u' + c.toString(16).padStart(4, '0');
    else if (c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16);
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(s.charCodeAt(i + 1))) out += s[i]! + s[++i]!;
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'; // lone surrogate: invalid UTF-8
    else out += s[i];
  }
  return out + '"';
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

// ---------------------------------------------------------------------------------------
// Lexer. Produces every token up front; a lexing error becomes an 'error' token so the
// parser reports whichever problem comes first in the text, as Go's lazy lexer does.

type TokenType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'field'
  | 'identifier'
  | 'variable'
  | 'dot'
  | 'nil'
  | 'keyword'
  | 'bool'
  | 'number'
  | 'charConst'
  | 'string'
  | 'rawString'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare'
  | 'assign'
  | 'char'
  | 'eof'
  | 'error';

interface Token {
  type: TokenType;
  val: string;
  pos: number;
  line: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);

// Go 1.16+: newlines count as spaces inside actions.
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

const ALNUM = /^[\p{L}\p{Nd}_]$/u;

/** Go's %#U: "U+0001", or "U+00E9 'é'" when printable. */
function runeRepr(ch: string): string {
  const s = 'U+' + ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return isPrint(ch) ? `${s} '${ch}'` : s;
}

interface LexFn {
  (this: Lexer): LexFn | null;
}

class Lexer {
  private readonly tokens: Token[] = [];
  private pos = 0;
  private parenDepth = 0;
  private lineAtPos = { pos: 0, line: 1 };

  constructor(private readonly src: string) {}

  run(): Token[] {
    let state: LexFn | null = this.lexText;
    while (state) state = state.call(this);
    return this.tokens;
  }

  private lineOf(pos: number): number {
    // Tokens are emitted in order, so count newlines incrementally.
    let { pos: p, line } = this.lineAtPos;
    for (; p < pos; p++) if (this.src[p] === '\n') line++;
    this.lineAtPos = { pos, line };
    return line;
  }

  private emit(type: TokenType, start: number, end: number): void {
    this.tokens.push({ type, val: this.src.slice(start, end), pos: start, line: this.lineOf(start) });
    this.pos = end;
  }

  private errorf(msg: string, at = this.pos): null {
    this.tokens.push({ type: 'error', val: msg, pos: at, line: this.lineOf(at) });
    return null;
  }

  private charAt(p: number): string {
    const cp = this.src.codePointAt(p);
    return cp === undefined ? '' : String.fromCodePoint(cp);
  }

  private isAlnumAt(p: number): boolean {
    return ALNUM.test(this.charAt(p));
  }

  /** A left trim marker is "- " right after "{{". */
  private hasLeftTrimMarker(p: number): boolean {
    return this.src[p] === '-' && isSpace(this.src[p + 1]);
  }

  /** At "}}" or " -}}"; the second value says whether a trim marker precedes it. */
  private atRightDelim(p = this.pos): [boolean, boolean] {
    if (isSpace(this.src[p]) && this.src[p + 1] === '-' && this.src.startsWith('}}', p + 2)) return [true, true];
    return [this.src.startsWith('}}', p), false];
  }

  private skipSpaces(p: number): number {
    while (isSpace(this.src[p])) p++;
    return p;
  }

  private lexText(): LexFn | null {
    const x = this.src.indexOf('{{', this.pos);
    if (x < 0) {
      if (this.pos < this.src.length) this.emit('text', this.pos, this.src.length);
      this.emit('eof', this.src.length, this.src.length);
      return null;
    }
    let end = x;
    if (this.hasLeftTrimMarker(x + 2)) {
      while (end > this.pos && isSpace(this.src[end - 1])) end--;
    }
    if (end > this.pos) this.emit('text', this.pos, end);
    this.pos = x;
    return this.lexLeftDelim;
  }

  private lexLeftDelim(): LexFn | null {
    const start = this.pos;
    const afterMarker = this.hasLeftTrimMarker(start + 2) ? 2 : 0;
    if (this.src.startsWith('/*', start + 2 + afterMarker)) {
      this.pos = start + 2 + afterMarker;
      return this.lexComment;
    }
    this.emit('leftDelim', start, start + 2);
    this.pos += afterMarker;
    this.parenDepth = 0;
    return this.lexInsideAction;
  }

  private lexComment(): LexFn | null {
    const start = this.pos;
    const x = this.src.indexOf('*/', start + 2);
    if (x < 0) return this.errorf('unclosed comment', start);
    this.pos = x + 2;
    const [delim, trim] = this.atRightDelim();
    if (!delim) return this.errorf('comment ends before closing delimiter', start);
    this.pos += trim ? 4 : 2;
    if (trim) this.pos = this.skipSpaces(this.pos);
    return this.lexText;
  }

  private lexInsideAction(): LexFn | null {
    const [delim, trim] = this.atRightDelim();
    if (delim) {
      if (this.parenDepth !== 0) return this.errorf('unclosed left paren');
      if (trim) this.pos += 2;
      this.emit('rightDelim', this.pos, this.pos + 2);
      if (trim) this.pos = this.skipSpaces(this.pos);
      return this.lexText;
    }
    if (this.pos >= this.src.length) return this.errorf('unclosed action');
    const c = this.src[this.pos]!;
    if (isSpace(c)) return this.lexSpace;
    return this.lexPunctuation(c) ?? this.lexWord(c);
  }

  /** Single-character tokens; undefined when `c` starts something longer. */
  private lexPunctuation(c: string): LexFn | null | undefined {
    const p = this.pos;
    switch (c) {
      case '=':
        this.emit('assign', p, p + 1);
        return this.lexInsideAction;
      case ':':
        if (this.src[p + 1] !== '=') return this.errorf('expected :=');
        this.emit('declare', p, p + 2);
        return this.lexInsideAction;
      case '|':
        this.emit('pipe', p, p + 1);
        return this.lexInsideAction;
      case '(':
        this.emit('leftParen', p, p + 1);
        this.parenDepth++;
        return this.lexInsideAction;
      case ')':
        this.emit('rightParen', p, p + 1);
        if (--this.parenDepth < 0) return this.errorf('unexpected right paren', p);
        return this.lexInsideAction;
    }
    return undefined;
  }

  private lexWord(c: string): LexFn | null {
    switch (c) {
      case '"':
        return this.lexQuote('"', 'string', 'unterminated quoted string');
      case "'":
        return this.lexQuote("'", 'charConst', 'unterminated character constant');
      case '`':
        return this.lexRawQuote();
      case '$':
        return this.lexFieldOrVariable('variable');
      case '.': {
        // ".5" is a number, ".Field" a field.
        const next = this.src[this.pos + 1];
        if (next === undefined || next < '0' || next > '9') return this.lexFieldOrVariable('field');
        return this.lexNumber();
      }
    }
    if (c === '+' || c === '-' || (c >= '0' && c <= '9')) return this.lexNumber();
    if (this.isAlnumAt(this.pos)) return this.lexIdentifier();
    const ch = this.charAt(this.pos);
    if (ch.length === 1 && ch >= ' ' && ch <= '~') {
      this.emit('char', this.pos, this.pos + 1);
      return this.lexInsideAction;
    }
    return this.errorf(`unrecognized character in action: ${runeRepr(ch)}`);
  }

  private lexSpace(): LexFn | null {
    const start = this.pos;
    let p = start;
    while (isSpace(this.src[p])) p++;
    // In " -}}" the last space belongs to the trim marker of the closing delimiter.
    if (this.src[p] === '-' && this.src.startsWith('}}', p + 1)) {
      p--;
      if (p === start) {
        this.pos = p;
        return this.lexInsideAction;
      }
    }
    this.emit('space', start, p);
    return this.lexInsideAction;
  }

  private atTerminator(p: number): boolean {
    const c = this.src[p];
    // Go accepts the first character of the right delimiter, so "{{.X}" lexes ".X" then "}".
    return c === undefined || isSpace(c) || '.,|:()}'.includes(c);
  }

  private scanAlnum(p: number): number {
    while (p < this.src.length && this.isAlnumAt(p)) p += this.charAt(p).length;
    return p;
  }

  private lexIdentifier(): LexFn | null {
    const start = this.pos;
    const end = this.scanAlnum(start);
    if (!this.atTerminator(end)) return this.errorf(`bad character ${runeRepr(this.charAt(end))}`, start);
    const word = this.src.slice(start, end);
    let type: TokenType = 'identifier';
    if (KEYWORDS.has(word)) type = 'keyword';
    else if (word === 'nil') type = 'nil';
    else if (word === 'true' || word === 'false') type = 'bool';
    this.emit(type, start, end);
    return this.lexInsideAction;
  }

  /** ".Name" / "$name"; a lone "." is dot and a lone "$" the root variable. */
  private lexFieldOrVariable(type: 'field' | 'variable'): LexFn | null {
    const start = this.pos;
    if (this.atTerminator(start + 1)) {
      this.emit(type === 'field' ? 'dot' : 'variable', start, start + 1);
      return this.lexInsideAction;
    }
    const end = this.scanAlnum(start + 1);
    if (!this.atTerminator(end)) return this.errorf(`bad character ${runeRepr(this.charAt(end))}`, start);
    this.emit(type, start, end);
    return this.lexInsideAction;
  }

  private lexQuote(quote: string, type: TokenType, unterminated: string): LexFn | null {
    const start = this.pos;
    let p = start + 1;
    for (;;) {
      const c = this.src[p];
      if (c === undefined || c === '\n') return this.errorf(unterminated, start);
      if (c === '\\') {
        const e = this.src[p + 1];
        if (e === undefined || e === '\n') return this.errorf(unterminated, start);
        p += 2;
        continue;
      }
      p++;
      if (c === quote) break;
    }
    this.emit(type, start, p);
    return this.lexInsideAction;
  }

  private lexRawQuote(): LexFn | null {
    const start = this.pos;
    const end = this.src.indexOf('`', start + 1);
    if (end < 0) return this.errorf('unterminated raw quoted string', start);
    this.emit('rawString', start, end + 1);
    return this.lexInsideAction;
  }

  private lexNumber(): LexFn | null {
    const start = this.pos;
    let [ok, end] = this.scanNumber(start);
    if (ok && (this.src[end] === '+' || this.src[end] === '-')) {
      // Go reads "1+2i" as one complex constant; anything else glued on is bad syntax.
      [ok, end] = this.scanNumber(end);
      if (ok && this.src[end - 1] === 'i') return this.errorf(`complex numbers are not supported: ${goQuote(this.src.slice(start, end))}`, start);
      ok = false;
    }
    if (!ok) return this.errorf(`bad number syntax: ${goQuote(this.src.slice(start, end))}`, start);
    this.emit('number', start, end);
    return this.lexInsideAction;
  }

  private scanNumber(p: number): [boolean, number] {
    const s = this.src;
    const run = (chars: string) => {
      while (p < s.length && chars.includes(s[p]!)) p++;
    };
    if (s[p] === '+' || s[p] === '-') p++;
    let digits = '0123456789_';
    if (s[p] === '0') {
      p++;
      const base = s[p]?.toLowerCase();
      if (base === 'x') digits = '0123456789abcdefABCDEF_';
      else if (base === 'o') digits = '01234567_';
      else if (base === 'b') digits = '01_';
      if (digits.length !== 11) p++;
    }
    run(digits);
    if (s[p] === '.') {
      p++;
      run(digits);
    }
    if (digits.length === 11 && (s[p] === 'e' || s[p] === 'E')) {
      p++;
      if (s[p] === '+' || s[p] === '-') p++;
      run('0123456789_');
    }
    if (digits.length === 23 && (s[p] === 'p' || s[p] === 'P')) {
      p++;
      if (s[p] === '+' || s[p] === '-') p++;
      run('0123456789_');
    }
    if (s[p] === 'i') p++;
    if (this.isAlnumAt(p)) return [false, p + this.charAt(p).length];
    return [true, p];
  }
}

// ---------------------------------------------------------------------------------------
// Literals: Go string, character and number syntax.

/** strconv.Unquote for "..." and `...`; \x and octal escapes are bytes of UTF-8. */
function unquoteString(lit: string): string {
  if (lit.startsWith('`')) return lit.slice(1, -1).replace(/\r/g, '');
  const body = lit.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; ) {
    const ch = String.fromCodePoint(body.codePointAt(i)!);
    if (ch === '"' || ch === '\n') throw new Error('invalid syntax');
    if (ch !== '\\') {
      bytes.push(...utf8(ch));
      i += ch.length;
      continue;
    }
    const [value, isByte, next] = unescape(body, i + 1, '"');
    if (isByte) bytes.push(value);
    else bytes.push(...utf8(String.fromCodePoint(value)));
    i = next;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A character constant such as 'a' or '\n' is its code point. */
function unquoteChar(lit: string): number {
  const body = lit.slice(1, -1);
  let value: number;
  let next: number;
  if (body.startsWith('\\')) [value, , next] = unescape(body, 1, "'");
  else {
    value = body.codePointAt(0) ?? -1;
    next = value < 0 ? 0 : String.fromCodePoint(value).length;
  }
  if (value < 0 || next !== body.length || body === "'") throw new Error(`malformed character constant: ${lit}`);
  return value;
}

/** Decodes the escape after a backslash at s[i]: [value, is a raw byte, next index]. */
function unescape(s: string, i: number, quote: string): [number, boolean, number] {
  const c = s[i];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };
  if (c !== undefined && simple[c] !== undefined) return [simple[c]!, false, i + 1];
  if (c === quote) return [quote.charCodeAt(0), false, i + 1];
  const hex = (n: number) => {
    const h = s.slice(i + 1, i + 1 + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) throw new Error('invalid syntax');
    return parseInt(h, 16);
  };
  switch (c) {
    case 'x':
      return [hex(2), true, i + 3];
    case 'u':
    case 'U': {
      const n = c === 'u' ? 4 : 8;
      const cp = hex(n);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Error('invalid syntax');
      return [cp, false, i + 1 + n];
    }
  }
  const oct = s.slice(i, i + 3);
  if (/^[0-7]{3}$/.test(oct) && parseInt(oct, 8) <= 255) return [parseInt(oct, 8), true, i + 3];
  throw new Error('invalid syntax');
}

/** Go integer (base prefixes, leading-0 octal, underscores) and float syntax. */
function parseNumber(text: string): number {
  const clean = text.replace(/_/g, '');
  const sign = clean.startsWith('-') ? -1 : 1;
  const body = clean.replace(/^[+-]/, '');
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) return sign * parseInt(body.slice(2), 16);
  if (/^0[bB][01]+$/.test(body)) return sign * parseInt(body.slice(2), 2);
  if (/^0[oO]?[0-7]+$/.test(body)) return sign * parseInt(body.replace(/^0[oO]?/, ''), 8);
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body)) return sign * Number(body);
  throw new Error(`illegal number syntax: ${goQuote(text)}`);
}

// ---------------------------------------------------------------------------------------
// Parse tree.

interface FieldNode {
  kind: 'field';
  pos: number;
  idents: string[];
}
interface VariableNode {
  kind: 'variable';
  pos: number;
  idents: string[]; // "$x" then field names
}
interface ChainNode {
  kind: 'chain';
  pos: number;
  node: ArgNode;
  fields: string[];
}
interface IdentifierNode {
  kind: 'identifier';
  pos: number;
  name: string;
}
interface DotNode {
  kind: 'dot';
  pos: number;
}
interface NilNode {
  kind: 'nil';
  pos: number;
}
interface BoolNode {
  kind: 'bool';
  pos: number;
  value: boolean;
}
interface NumberNode {
  kind: 'number';
  pos: number;
  text: string;
  value: number;
}
interface StringNode {
  kind: 'string';
  pos: number;
  quoted: string;
  text: string;
}
interface PipeNode {
  kind: 'pipe';
  pos: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
interface CommandNode {
  kind: 'command';
  pos: number;
  args: ArgNode[];
}
type ArgNode =
  | FieldNode
  | VariableNode
  | ChainNode
  | IdentifierNode
  | DotNode
  | NilNode
  | BoolNode
  | NumberNode
  | StringNode
  | PipeNode;

interface ListNode {
  kind: 'list';
  pos: number;
  nodes: Node[];
}
interface TextNode {
  kind: 'text';
  pos: number;
  text: string;
}
interface ActionNode {
  kind: 'action';
  pos: number;
  pipe: PipeNode;
}
interface BranchNode {
  kind: 'if' | 'with' | 'range';
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | null;
}
interface LoopControlNode {
  kind: 'break' | 'continue';
  pos: number;
}
/** {{else}} and {{end}} only exist while parsing. */
interface DelimiterNode {
  kind: 'else' | 'end';
  pos: number;
}
type Node = ListNode | TextNode | ActionNode | BranchNode | LoopControlNode;
type AnyNode = Node | ArgNode | CommandNode | DelimiterNode;

/** Node.String() of Go's parse package, used in error messages. */
function nodeString(n: AnyNode): string {
  switch (n.kind) {
    case 'field':
      return n.idents.map((f) => '.' + f).join('');
    case 'variable':
      return n.idents.join('.');
    case 'chain':
      return argString(n.node) + n.fields.map((f) => '.' + f).join('');
    case 'identifier':
      return n.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
    case 'pipe':
      return pipeString(n);
    case 'command':
      return n.args.map(argString).join(' ');
    case 'action':
      return `{{${pipeString(n.pipe)}}}`;
    case 'if':
    case 'with':
    case 'range':
      return `{{${n.kind} ${pipeString(n.pipe)}}}${listString(n.list)}${n.elseList ? '{{else}}' + listString(n.elseList) : ''}{{end}}`;
    case 'list':
      return listString(n);
    case 'text':
      return n.text;
    default:
      return `{{${n.kind}}}`;
  }
}

function argString(n: ArgNode): string {
  return n.kind === 'pipe' ? `(${pipeString(n)})` : nodeString(n);
}

function pipeString(p: PipeNode): string {
  const decl = p.decl.length ? p.decl.map(nodeString).join(', ') + (p.isAssign ? ' = ' : ' := ') : '';
  return decl + p.cmds.map(nodeString).join(' | ');
}

function listString(l: ListNode): string {
  return l.nodes.map(nodeString).join('');
}

// ---------------------------------------------------------------------------------------
// Parser: recursive descent mirroring text/template/parse, so errors match Go's.

const OPERAND_START = new Set<TokenType>([
  'bool',
  'charConst',
  'dot',
  'field',
  'identifier',
  'number',
  'nil',
  'rawString',
  'string',
  'variable',
  'leftParen',
]);

class Parser {
  private i = 0;
  private furthest = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private actionLine = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly funcs: ReadonlySet<string>,
  ) {}

  parse(): ListNode {
    const root: ListNode = { kind: 'list', pos: 0, nodes: [] };
    while (this.peek().type !== 'eof') {
      const n = this.textOrAction();
      if (isDelimiter(n)) this.errorf(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    return root;
  }

  // Token cursor. Go reports the line of the furthest token read, peeked ones included.
  private next(): Token {
    // The last token (EOF or a lexing error) repeats forever.
    const t = this.tokens[Math.min(this.i, this.tokens.length - 1)]!;
    this.furthest = Math.max(this.furthest, this.i);
    this.i++;
    return t;
  }
  private backup(n = 1): void {
    this.i -= n;
  }
  private peek(): Token {
    const t = this.next();
    this.backup();
    return t;
  }
  private nextNonSpace(): Token {
    let t: Token;
    do t = this.next();
    while (t.type === 'space');
    return t;
  }
  private peekNonSpace(): Token {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private errorf(msg: string): never {
    const t = this.tokens[Math.min(this.furthest, this.tokens.length - 1)]!;
    throw new TemplateError(`template: :${t.line}: ${msg}`);
  }

  private unexpected(token: Token, context: string): never {
    if (token.type === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at :${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(token.val + extra);
    }
    this.errorf(`unexpected ${tokenString(token)} in ${context}`);
  }

  private expect(type: TokenType, context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.unexpected(t, context);
    return t;
  }

  private textOrAction(): Node | DelimiterNode {
    const t = this.nextNonSpace();
    if (t.type === 'text') return { kind: 'text', pos: t.pos, text: t.val };
    if (t.type !== 'leftDelim') this.unexpected(t, 'input');
    this.actionLine = t.line;
    try {
      return this.action();
    } finally {
      this.actionLine = 0;
    }
  }

  private action(): Node | DelimiterNode {
    const t = this.nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'if':
        case 'with':
        case 'range':
          return { kind: t.val, ...this.parseControl(t.val) };
        case 'else':
          return this.elseControl();
        case 'end':
          this.expect('rightDelim', 'end');
          return { kind: 'end', pos: t.pos };
        case 'break':
        case 'continue':
          return this.loopControl(t);
        default:
          this.errorf(`{{${t.val}}} is not supported`);
      }
    }
    this.backup();
    const pos = this.peek().pos;
    // Variables declared here are not popped: they live until the enclosing {{end}}.
    return { kind: 'action', pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(t: Token): LoopControlNode {
    const kind = t.val as 'break' | 'continue';
    const next = this.nextNonSpace();
    if (next.type !== 'rightDelim') this.unexpected(next, `{{${kind}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kind}}} outside {{range}}`);
    return { kind, pos: t.pos };
  }

  /** "{{else if x}}" and "{{else with x}}" leave the keyword for parseControl to chain. */
  private elseControl(): DelimiterNode {
    const p = this.peekNonSpace();
    if (p.type === 'keyword' && (p.val === 'if' || p.val === 'with')) return { kind: 'else', pos: p.pos };
    const t = this.expect('rightDelim', 'else');
    return { kind: 'else', pos: t.pos };
  }

  private parseControl(context: 'if' | 'with' | 'range'): Omit<BranchNode, 'kind'> {
    const varsMark = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'rightDelim');
      if (context === 'range') this.rangeDepth++;
      const [list, next] = this.itemList();
      if (context === 'range') this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (next.kind === 'else') elseList = this.elseBranch(context, next);
      return { pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = varsMark;
    }
  }

  /** {{if a}}x{{else if b}}y{{end}} parses as {{if a}}x{{else}}{{if b}}y{{end}}{{end}}. */
  private elseBranch(context: string, elseNode: DelimiterNode): ListNode {
    const p = this.peek();
    if (p.type === 'keyword' && (context === 'if' || context === 'with') && p.val === context) {
      this.next();
      const nested: BranchNode = { kind: context, ...this.parseControl(context) };
      return { kind: 'list', pos: elseNode.pos, nodes: [nested] };
    }
    const [list, next] = this.itemList();
    if (next.kind !== 'end') this.errorf(`expected end; found ${nodeString(next)}`);
    return list;
  }

  private itemList(): [ListNode, DelimiterNode] {
    const list: ListNode = { kind: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (isDelimiter(n)) return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  private pipeline(context: string, end: TokenType): PipeNode {
    const start = this.peekNonSpace();
    const pipe: PipeNode = { kind: 'pipe', pos: start.pos, isAssign: false, decl: [], cmds: [] };
    this.declarations(pipe, context);
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      if (!OPERAND_START.has(t.type)) this.unexpected(t, context);
      this.backup();
      pipe.cmds.push(this.command());
    }
  }

  /** "$x :=", "$x =", and in range "$i, $v :="; a variable used as an operand is left alone. */
  private declarations(pipe: PipeNode, context: string): void {
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') return;
      const save = this.i;
      this.next();
      const next = this.peekNonSpace();
      const node: VariableNode = { kind: 'variable', pos: v.pos, idents: [v.val] };
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push(node);
        this.vars.push(v.val);
        return;
      }
      if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push(node);
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = this.peekNonSpace().type;
          if (t === 'variable' || t === 'rightDelim' || t === 'rightParen') continue;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      }
      this.i = save;
      return;
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    // Only the first command of a pipeline may be a plain value.
    pipe.cmds.slice(1).forEach((c, i) => {
      if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0]!.kind)) {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { kind: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'rightDelim' || t.type === 'rightParen') this.backup();
      else if (t.type !== 'pipe') this.unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  /** A term followed by ".Field"s; Go positions the whole chain at its second token. */
  private operand(): ArgNode | null {
    const node = this.term();
    if (!node || this.peek().type !== 'field') return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    switch (node.kind) {
      case 'field':
      case 'variable':
        return { kind: node.kind, pos, idents: [...node.idents, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.errorf(`unexpected . after term ${goQuote(nodeString(node))}`);
      default:
        return { kind: 'chain', pos, node, fields };
    }
  }

  private term(): ArgNode | null {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!this.funcs.has(t.val)) this.errorf(`function ${goQuote(t.val)} not defined`);
        return { kind: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { kind: 'dot', pos: t.pos };
      case 'nil':
        return { kind: 'nil', pos: t.pos };
      case 'variable':
        if (!this.vars.includes(t.val)) this.errorf(`undefined variable ${goQuote(t.val)}`);
        return { kind: 'variable', pos: t.pos, idents: [t.val] };
      case 'field':
        return { kind: 'field', pos: t.pos, idents: [t.val.slice(1)] };
      case 'bool':
        return { kind: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'number':
      case 'charConst':
        return { kind: 'number', pos: t.pos, text: t.val, value: this.literal(() => (t.type === 'number' ? parseNumber(t.val) : unquoteChar(t.val))) };
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { kind: 'string', pos: t.pos, quoted: t.val, text: this.literal(() => unquoteString(t.val)) };
    }
    this.backup();
    return null;
  }

  private literal<T>(decode: () => T): T {
    try {
      return decode();
    } catch (e) {
      this.errorf((e as Error).message);
    }
  }
}

function isDelimiter(n: Node | DelimiterNode): n is DelimiterNode {
  return n.kind === 'else' || n.kind === 'end';
}

/** item.String() of Go's lexer, as parse errors quote tokens. */
function tokenString(t: Token): string {
  switch (t.type) {
    case 'eof':
      return 'EOF';
    case 'error':
      return t.val;
    case 'keyword':
    case 'dot':
    case 'nil':
      return `<${t.val}>`;
  }
  const runes = Array.from(t.val);
  return runes.length > 10 ? goQuote(runes.slice(0, 10).join('')) + '...' : goQuote(t.val);
}

// ---------------------------------------------------------------------------------------
// Functions. Typed parameters reproduce Go's argument checks ("wrong type for value");
// 'value' is a reflect.Value parameter (sees missing values), 'any' an interface{} one.

type ParamType = 'value' | 'any' | 'string' | 'int' | 'stringList';

interface FuncSpec {
  fn: (...args: any[]) => unknown;
  params: ParamType[];
  variadic?: ParamType;
  /** Builtin and/or evaluate their arguments lazily. */
  shortCircuit?: 'and' | 'or';
}

type FuncTable = ReadonlyMap<string, FuncSpec>;

const GO_PARAM_TYPES: Record<ParamType, string> = {
  value: 'reflect.Value',
  any: 'interface {}',
  string: 'string',
  int: 'int',
  stringList: '[]string',
};

function basicKind(v: unknown): 'invalid' | 'bool' | 'number' | 'string' | 'other' {
  if (v === null || v === undefined) return 'invalid';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
    case 'bigint':
      return 'number';
    case 'string':
      return 'string';
  }
  return 'other';
}

function builtinEq(arg1: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new Error('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of rest) {
    const k2 = basicKind(arg);
    if (k1 !== k2) {
      // Comparing with nil/missing is allowed and false; other mixes are errors.
      if (k1 !== 'invalid' && k2 !== 'invalid') throw new Error('incompatible types for comparison');
      continue;
    }
    if (k1 === 'invalid') return true;
    if (k1 === 'other') {
      if (arg1 === arg && typeof arg1 === 'function') return true;
      throw new Error(`non-comparable type ${formatValue(arg)}: ${typeName(arg)}`);
    }
    if (arg1 == arg) return true; // same kind here; == only matters for number vs bigint
  }
  return false;
}

function builtinLt(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'invalid' || k1 === 'other' || k2 === 'invalid' || k2 === 'other') {
    throw new Error('invalid type for comparison');
  }
  if (k1 !== k2) throw new Error('incompatible types for comparison');
  if (k1 === 'bool') throw new Error('invalid type for comparison');
  if (k1 === 'string') return compareGoStrings(a as string, b as string) < 0;
  return (a as number) < (b as number);
}

function builtinLe(a: unknown, b: unknown): boolean {
  return builtinLt(a, b) || builtinEq(a, b);
}

function builtinLen(v: unknown): number {
  if (v === null || v === undefined) throw new Error('len of nil pointer');
  if (typeof v === 'string') return utf8(v).length; // Go counts bytes
  if (Array.isArray(v)) return v.length;
  if (isDict(v)) return sortedKeys(v).length;
  throw new Error(`len of type ${typeName(v)}`);
}

/** An index operand for slices and strings, within [0, cap]. */
function indexArg(ix: unknown, cap: number): number {
  if (ix === null || ix === undefined) throw new Error('cannot index slice/array with nil');
  if (!isInt(ix)) throw new Error(`cannot index slice/array with type ${typeName(ix)}`);
  const n = Number(ix);
  if (n < 0 || n > cap) throw new Error(`index out of range: ${n}`);
  return n;
}

function builtinIndex(item: unknown, ...indexes: unknown[]): unknown {
  let v = item;
  for (const ix of indexes) {
    if (v === null || v === undefined) throw new Error('index of untyped nil');
    if (Array.isArray(v) || typeof v === 'string') {
      const seq = typeof v === 'string' ? utf8(v) : v;
      const n = indexArg(ix, seq.length);
      if (n >= seq.length) throw new Error(`index out of range: ${n}`);
      v = seq[n]; // a string yields a byte, as in Go
    } else if (isDict(v)) {
      if (ix === null || ix === undefined) throw new Error('value is nil; should be of type string');
      if (typeof ix !== 'string') throw new Error(`value has type ${typeName(ix)}; should be string`);
      v = lookup(v, ix); // a missing key gives the zero value: nil
    } else {
      throw new Error(`can't index item of type ${typeName(v)}`);
    }
  }
  return v;
}

function builtinSlice(item: unknown, ...indexes: unknown[]): unknown {
  if (item === null || item === undefined) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  let len: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new Error('cannot 3-index slice a string');
    len = utf8(item).length;
  } else if (Array.isArray(item)) {
    len = item.length;
  } else {
    throw new Error(`can't slice item of type ${typeName(item)}`);
  }
  const idx = [0, len];
  indexes.forEach((ix, i) => (idx[i] = indexArg(ix, len)));
  if (idx[0]! > idx[1]!) throw new Error(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1]! > idx[2]!) throw new Error(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (typeof item === 'string') return utf8(item).subarray(idx[0], idx[1]).toString('utf8');
  return (item as unknown[]).slice(idx[0], idx[1]);
}

function builtinCall(fn: unknown, ...args: unknown[]): unknown {
  if (fn === null || fn === undefined) throw new Error('call of nil');
  if (typeof fn !== 'function') throw new Error(`non-function of type ${typeName(fn)}`);
  return fn(...args.map(toInterface));
}

/** Go's evalArgs for html/urlquery: a lone string as is, else fmt.Sprint. */
function argsText(args: unknown[]): string {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);
}

function htmlEscape(s: string): string {
  const map: Record<string, string> = { '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;', '\0': '\ufffd' };
  return s.replace(/["'&<>\0]/g, (c) => map[c]!);
}

/** url.QueryEscape. */
function queryEscape(s: string): string {
  let out = '';
  for (const b of utf8(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** strings.Split: an empty separator splits into characters. */
function goSplit(s: string, sep: string): string[] {
  return sep === '' ? Array.from(s) : s.split(sep);
}

/** Per-character case mapping: Go maps rune by rune, so "ß" stays "ß" in upper case. */
function mapRunes(s: string, f: (ch: string) => string): string {
  let out = '';
  for (const ch of s) {
    const m = f(ch);
    out += runeCount(m) === 1 ? m : ch;
  }
  return out;
}

function goUpper(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s.toUpperCase() : mapRunes(s, (c) => c.toUpperCase());
}

function goLower(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s.toLowerCase() : mapRunes(s, (c) => c.toLowerCase());
}

/** strings.Title: upper-cases letters that follow a separator. */
function goTitle(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isWordSeparator(prev) ? mapRunes(ch, (c) => c.toUpperCase()) : ch;
    prev = ch;
  }
  return out;
}

function isWordSeparator(ch: string): boolean {
  if (ch.codePointAt(0)! <= 0x7f) return !/[0-9A-Za-z_]/.test(ch);
  if (/[\p{L}\p{Nd}]/u.test(ch)) return false;
  return /\s/u.test(ch);
}

function repeatSpaces(n: number): string {
  if (n < 0) throw new Error('strings: negative Repeat count');
  return ' '.repeat(n);
}

/** docker's pad: surrounds non-empty text with spaces. */
function padWithSpace(s: string, prefix: number, suffix: number): string {
  if (s === '') return s;
  return repeatSpaces(prefix) + s + repeatSpaces(suffix);
}

/** docker's truncate: the first `length` bytes. */
function truncateWithLength(s: string, length: number): string {
  const b = utf8(s);
  if (b.length < length) return s;
  if (length < 0) throw new Error(`runtime error: slice bounds out of range [:${length}]`);
  return b.subarray(0, length).toString('utf8');
}

/** docker's json: encoding/json without HTML escaping; "" when Go's encoder fails. */
function dockerJSON(v: unknown): string {
  try {
    return marshalJSON(v);
  } catch (e) {
    if (e instanceof UnsupportedValue) return '';
    throw e;
  }
}

const BUILTINS: Record<string, FuncSpec> = {
  and: { fn: () => undefined, params: ['value'], variadic: 'value', shortCircuit: 'and' },
  or: { fn: () => undefined, params: ['value'], variadic: 'value', shortCircuit: 'or' },
  not: { fn: (v: unknown) => !isTrue(v), params: ['value'] },
  len: { fn: builtinLen, params: ['value'] },
  index: { fn: builtinIndex, params: ['value'], variadic: 'value' },
  slice: { fn: builtinSlice, params: ['value'], variadic: 'value' },
  call: { fn: builtinCall, params: ['value'], variadic: 'value' },
  print: { fn: (...a: unknown[]) => sprint(a), params: [], variadic: 'any' },
  printf: { fn: (f: string, ...a: unknown[]) => sprintf(f, a), params: ['string'], variadic: 'any' },
  println: { fn: (...a: unknown[]) => sprintln(a), params: [], variadic: 'any' },
  html: { fn: (...a: unknown[]) => htmlEscape(argsText(a)), params: [], variadic: 'any' },
  urlquery: { fn: (...a: unknown[]) => queryEscape(argsText(a)), params: [], variadic: 'any' },
  eq: { fn: builtinEq, params: ['value'], variadic: 'value' },
  ne: { fn: (a: unknown, b: unknown) => !builtinEq(a, b), params: ['value', 'value'] },
  lt: { fn: builtinLt, params: ['value', 'value'] },
  le: { fn: builtinLe, params: ['value', 'value'] },
  gt: { fn: (a: unknown, b: unknown) => !builtinLe(a, b), params: ['value', 'value'] },
  ge: { fn: (a: unknown, b: unknown) => !builtinLt(a, b), params: ['value', 'value'] },
};

/** docker/cli templates.basicFunctions. */
const DOCKER_FUNCS: Record<string, FuncSpec> = {
  json: { fn: dockerJSON, params: ['any'] },
  split: { fn: goSplit, params: ['string', 'string'] },
  join: { fn: (elems: string[], sep: string) => elems.join(sep), params: ['stringList', 'string'] },
  title: { fn: goTitle, params: ['string'] },
  lower: { fn: goLower, params: ['string'] },
  upper: { fn: goUpper, params: ['string'] },
  pad: { fn: padWithSpace, params: ['string', 'int', 'int'] },
  truncate: { fn: truncateWithLength, params: ['string', 'int'] },
};

const identity = (v: string) => v;

/** docker/cli templates.HeaderFunctions: headers stay intact, but `pad` still applies. */
const HEADER_FUNCS: Record<string, FuncSpec> = {
  json: { fn: identity, params: ['string'] },
  split: { fn: identity, params: ['string', 'string'] },
  join: { fn: identity, params: ['string', 'string'] },
  title: { fn: identity, params: ['string'] },
  lower: { fn: identity, params: ['string'] },
  upper: { fn: identity, params: ['string'] },
  truncate: { fn: identity, params: ['string', 'int'] },
};

function funcTable(...layers: Array<Record<string, FuncSpec>>): FuncTable {
  const table = new Map<string, FuncSpec>();
  for (const layer of layers) for (const [name, spec] of Object.entries(layer)) table.set(name, spec);
  return table;
}

const BASIC_TABLE = funcTable(BUILTINS, DOCKER_FUNCS);
const HEADER_TABLE = funcTable(BUILTINS, DOCKER_FUNCS, HEADER_FUNCS);

/** An interface{} parameter receives Go's nil for a missing value. */
function toInterface(v: unknown): unknown {
  return v === undefined ? null : v;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------
// Execution.

/** Marks "no value piped in", which differs from a piped-in missing value. */
const MISSING = Symbol('missing');
/** A pipeline's previous result, or MISSING. */
type Final = unknown;

type Signal = 'break' | 'continue' | null;

interface Variable {
  name: string;
  value: unknown;
}

class Executor {
  private readonly vars: Variable[];
  private node: AnyNode | null = null;

  constructor(
    private readonly src: string,
    private readonly funcs: FuncTable,
    private readonly out: string[],
    data: unknown,
  ) {
    // Execute(nil) runs with an invalid dot.
    this.vars = [{ name: '$', value: data === null ? undefined : data }];
  }

  run(root: ListNode): void {
    this.walk(this.vars[0]!.value, root);
  }

  /** Remembers the node errors are reported at, like Go's state.at. */
  private at(node: AnyNode): void {
    this.node = node;
  }

  private errorf(msg: string): never {
    if (!this.node) throw new TemplateError(`template: : ${msg}`);
    const before = this.src.slice(0, this.node.pos);
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = Buffer.byteLength(before.slice(before.lastIndexOf('\n') + 1));
    throw new TemplateError(`template: :${line}:${col}: executing "" at <${nodeString(this.node)}>: ${msg}`);
  }

  private walk(dot: unknown, node: Node): Signal {
    this.at(node);
    switch (node.kind) {
      case 'text':
        this.out.push(node.text);
        return null;
      case 'action': {
        // Declarations print nothing; their variables live until the enclosing {{end}}.
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, v);
        return null;
      }
      case 'list':
        for (const n of node.nodes) {
          const signal = this.walk(dot, n);
          if (signal) return signal;
        }
        return null;
      case 'if':
      case 'with':
        return this.walkIfOrWith(dot, node);
      case 'range':
        return this.walkRange(dot, node);
      case 'break':
      case 'continue':
        return node.kind;
    }
  }

  private walkIfOrWith(dot: unknown, node: BranchNode): Signal {
    const mark = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (isTrue(val)) return this.walk(node.kind === 'with' ? val : dot, node.list);
      return node.elseList ? this.walk(dot, node.elseList) : null;
    } finally {
      this.vars.length = mark;
    }
  }

  private walkRange(dot: unknown, node: BranchNode): Signal {
    this.at(node);
    const outerMark = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe); // pushes the declared variables
      const entries = this.rangeEntries(val, node.pipe.decl.length);
      const mark = this.vars.length;
      for (const [key, elem] of entries) {
        this.bindRangeVars(node.pipe, key, elem);
        const signal = this.walk(elem, node.list);
        this.vars.length = mark;
        if (signal === 'break') break;
      }
      if (entries.length === 0 && node.elseList) return this.walk(dot, node.elseList);
      return null;
    } finally {
      this.vars.length = outerMark;
    }
  }

  /** [key, element] pairs: slices by index, maps in sorted key order, ints count up. */
  private rangeEntries(val: unknown, nvars: number): Array<[unknown, unknown]> {
    if (val === undefined || val === null) return []; // not an error: like a nil map
    if (Array.isArray(val)) return val.map((e, i): [unknown, unknown] => [i, e]);
    if (isDict(val)) return sortedKeys(val).map((k): [unknown, unknown] => [k, val[k]]);
    if (isInt(val)) {
      if (nvars > 1) this.errorf(`can't use ${formatValue(val)} to iterate over more than one variable`);
      return Array.from({ length: Math.max(0, Number(val)) }, (_, i): [unknown, unknown] => [i, i]);
    }
    this.errorf(`range can't iterate over ${formatValue(val)}`);
  }

  /** One variable gets the element; with two, the first gets the key. */
  private bindRangeVars(pipe: PipeNode, key: unknown, elem: unknown): void {
    const decl = pipe.decl;
    if (decl.length === 0) return;
    if (pipe.isAssign) {
      if (decl.length > 1) {
        this.setVar(decl[0]!.idents[0]!, key);
        this.setVar(decl[1]!.idents[0]!, elem);
      } else this.setVar(decl[0]!.idents[0]!, elem);
      return;
    }
    this.vars[this.vars.length - 1]!.value = elem;
    if (decl.length > 1) this.vars[this.vars.length - 2]!.value = key;
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.errorf(`undefined variable: ${name}`);
  }

  private printValue(node: Node, v: unknown): void {
    this.at(node);
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(node)} of type ${typeName(v)}`);
    // A nil interface{} is an invalid value by now (see evalPipeline).
    this.out.push(v === undefined || v === null ? '<no value>' : formatValue(v));
  }

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // Go digs into interface{} results, so a nil interface becomes an invalid value.
      if (value === null) value = undefined;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.idents[0]!, value);
      else this.vars.push({ name: v.idents[0]!, value });
    }
    return value;
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.kind) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args.slice(1), final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'number':
        return first.value;
      case 'string':
        return first.text;
    }
    this.errorf('nil is not a command');
  }

  private notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  private evalFieldNode(dot: unknown, field: FieldNode, args: ArgNode[], final: Final): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.idents, args, final);
  }

  private evalChainNode(dot: unknown, chain: ChainNode, args: ArgNode[], final: Final): unknown {
    this.at(chain);
    if (chain.node.kind === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const receiver = this.evalArg(dot, 'value', chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.fields, args, final);
  }

  private evalVariableNode(dot: unknown, variable: VariableNode, args: ArgNode[], final: Final): unknown {
    this.at(variable);
    const value = this.varValue(variable.idents[0]!);
    if (variable.idents.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, variable, variable.idents.slice(1), args, final);
  }

  /** `args` is the whole command (args[0] being the field itself); only the last field gets them. */
  private evalFieldChain(dot: unknown, receiver: unknown, node: AnyNode, idents: string[], args: ArgNode[], final: Final): unknown {
    const n = idents.length;
    for (let i = 0; i < n - 1; i++) receiver = this.evalField(dot, idents[i]!, node, [], MISSING, receiver);
    return this.evalField(dot, idents[n - 1]!, node, args, final, receiver);
  }

  private evalField(dot: unknown, name: string, node: AnyNode, args: ArgNode[], final: Final, receiver: unknown): unknown {
    if (receiver === undefined) return undefined; // fields of an invalid value are invalid
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    if (!isDict(receiver)) this.errorf(`can't evaluate field ${name} in type ${typeName(receiver)}`);
    const value = lookup(receiver, name);
    if (typeof value === 'function') return this.callMethod(dot, name, value, receiver, node, args, final);
    if (args.length > 1 || final !== MISSING) this.errorf(`${name} is not a method but has arguments`);
    return value;
  }

  private callMethod(dot: unknown, name: string, fn: Function, receiver: unknown, node: AnyNode, args: ArgNode[], final: Final): unknown {
    const argv = args.slice(1).map((a) => this.evalArg(dot, 'any', a));
    if (final !== MISSING) argv.push(toInterface(final));
    try {
      return fn.apply(receiver, argv);
    } catch (e) {
      this.at(node);
      this.errorf(`error calling ${name}: ${errorMessage(e)}`);
    }
  }

  private evalFunction(dot: unknown, ident: IdentifierNode, node: AnyNode, args: ArgNode[], final: Final): unknown {
    this.at(ident);
    const spec = this.funcs.get(ident.name);
    if (!spec) this.errorf(`${goQuote(ident.name)} is not a defined function`);
    return this.evalCall(dot, spec, ident.name, node, args, final);
  }

  private evalCall(dot: unknown, spec: FuncSpec, name: string, node: AnyNode, args: ArgNode[], final: Final): unknown {
    this.checkArity(spec, name, args.length, final);
    if (spec.shortCircuit) return this.evalAndOr(dot, spec.shortCircuit, args, final);
    const paramType = (i: number): ParamType => spec.params[i] ?? spec.variadic ?? 'any';
    const argv = args.map((a, i) => this.evalArg(dot, paramType(i), a));
    if (final !== MISSING) argv.push(this.validate(final, paramType(args.length)));
    try {
      return spec.fn(...argv);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      this.at(node);
      this.errorf(`error calling ${name}: ${errorMessage(e)}`);
    }
  }

  private checkArity(spec: FuncSpec, name: string, nargs: number, final: Final): void {
    const numIn = nargs + (final !== MISSING ? 1 : 0);
    const fixed = spec.params.length;
    if (spec.variadic !== undefined) {
      if (numIn < fixed) this.errorf(`wrong number of args for ${name}: want at least ${fixed} got ${nargs}`);
    } else if (numIn !== fixed) {
      this.errorf(`wrong number of args for ${name}: want ${fixed} got ${numIn}`);
    }
  }

  /** and/or stop at the first false/true argument and return it (Go 1.18+). */
  private evalAndOr(dot: unknown, op: 'and' | 'or', args: ArgNode[], final: Final): unknown {
    let v: unknown;
    for (const a of args) {
      v = this.evalArg(dot, 'value', a);
      if (isTrue(v) === (op === 'or')) return v;
    }
    return final !== MISSING ? final : v;
  }

  private evalArg(dot: unknown, type: ParamType, n: ArgNode): unknown {
    this.at(n);
    switch (n.kind) {
      case 'dot':
        return this.validate(dot, type);
      case 'nil':
        if (type === 'value' || type === 'any') return null;
        this.errorf(`cannot assign nil to ${GO_PARAM_TYPES[type]}`);
      case 'field':
        return this.validate(this.evalFieldNode(dot, n, [n], MISSING), type);
      case 'variable':
        return this.validate(this.evalVariableNode(dot, n, [], MISSING), type);
      case 'pipe':
        return this.validate(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validate(this.evalFunction(dot, n, n, [], MISSING), type);
      case 'chain':
        return this.validate(this.evalChainNode(dot, n, [], MISSING), type);
    }
    return this.literalArg(n, type);
  }

  /** Constants are checked against the parameter type by syntax, as Go's evalString etc. */
  private literalArg(n: BoolNode | NumberNode | StringNode, type: ParamType): unknown {
    switch (type) {
      case 'value':
      case 'any':
        return n.kind === 'string' ? n.text : n.value;
      case 'string':
        if (n.kind === 'string') return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
      case 'int':
        if (n.kind === 'number' && Number.isSafeInteger(n.value)) return n.value;
        this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'stringList':
        this.errorf(`can't handle ${nodeString(n)} for arg of type []string`);
    }
  }

  /** Go's validateType for a computed value passed to a typed parameter. */
  private validate(value: unknown, type: ParamType): unknown {
    switch (type) {
      case 'value':
        return value;
      case 'any':
        return toInterface(value);
      case 'string':
        if (typeof value === 'string') return value;
        break;
      case 'int':
        if (isInt(value)) return Number(value);
        break;
      case 'stringList':
        // Lenient: Go's []string would refuse the []interface{} of decoded JSON.
        if (value === undefined) return [];
        if (Array.isArray(value)) return value.map((e) => (typeof e === 'string' ? e : formatValue(e)));
        break;
    }
    if (value === undefined) this.errorf(`invalid value; expected ${GO_PARAM_TYPES[type]}`);
    const got = value === null ? 'interface {}' : typeName(value);
    this.errorf(`wrong type for value; expected ${GO_PARAM_TYPES[type]}; got ${got}`);
  }
}

// ---------------------------------------------------------------------------------------
// Public API.

class CompiledTemplate implements Template {
  constructor(
    private readonly src: string,
    private readonly root: ListNode,
    private readonly funcs: FuncTable,
  ) {}

  execute(data: unknown): string {
    const out: string[] = [];
    this.run(data, this.funcs, out);
    return out.join('');
  }

  /** Writes into `out` as it goes, so a caller can keep partial output after an error. */
  run(data: unknown, funcs: FuncTable, out: string[]): void {
    new Executor(this.src, funcs, out, data).run(this.root);
  }
}

function compile(src: string, funcs: FuncTable): CompiledTemplate {
  const tokens = new Lexer(src).run();
  const root = new Parser(tokens, new Set(funcs.keys())).parse();
  return new CompiledTemplate(src, root, funcs);
}

/**
 * Parses a Go template with Go's builtins and docker's functions (json, split, join,
 * title, lower, upper, pad, truncate). `funcs` adds or overrides functions; they receive
 * evaluated arguments (null for missing values) and may throw to fail the execution.
 */
export function parseTemplate(src: string, funcs?: Record<string, (...args: any[]) => unknown>): Template {
  if (!funcs) return compile(src, BASIC_TABLE);
  const user: Record<string, FuncSpec> = {};
  for (const [name, fn] of Object.entries(funcs)) user[name] = { fn, params: [], variadic: 'any' };
  return compile(src, funcTable(BUILTINS, DOCKER_FUNCS, user));
}

export function renderTemplate(src: string, data: unknown): string {
  return parseTemplate(src).execute(data);
}

/**
 * docker's list formatting (cli/command/formatter): one rendered row per element, each
 * followed by a newline.
 * - "json" (exactly) renders `{{json .}}` per row.
 * - "table ..." renders the rest as the row template; a header row comes first, made by
 *   executing the same template against `headers` (field name -> column title) with
 *   docker's header functions (json/upper/... return the title unchanged, pad still pads),
 *   and the whole output is aligned with tabwrite. Header errors keep the partial header,
 *   as docker ignores them.
 * - Literal `\t` and `\n` in the format become tab and newline; surrounding spaces go.
 * The caller handles "" and a bare "table" (both mean its default format), and prefixes
 * errors with "template parsing error: " as docker does.
 */
export function formatRows(format: string, rows: unknown[], headers: Record<string, HeaderTitle>): string {
  const tmpl = compile(templateString(format), BASIC_TABLE);
  let body = '';
  for (const row of rows) body += tmpl.execute(row) + '\n';
  if (!format.startsWith('table')) return body;
  return tabwrite(renderHeader(tmpl, headers) + '\n' + body);
}

/** docker's Format.templateString. */
function templateString(format: string): string {
  if (format === 'table') return '';
  if (format === 'json') return '{{json .}}';
  const rest = format.startsWith('table') ? format.slice('table'.length) : format;
  return rest.replace(/^ +| +$/g, '').replace(/\\[tn]/g, (m) => (m === '\\t' ? '\t' : '\n'));
}

/** A column title, or a function of the method's arguments (`{{.Label "x"}}` titles "x"). */
export type HeaderTitle = string | ((...args: string[]) => string);

function renderHeader(tmpl: CompiledTemplate, headers: Record<string, HeaderTitle>): string {
  // Titles are methods, so `{{.Label "x"}}` renders the Label title instead of failing.
  const context: Record<string, (...args: string[]) => string> = {};
  for (const [field, title] of Object.entries(headers)) context[field] = typeof title === 'function' ? title : () => title;
  const out: string[] = [];
  try {
    tmpl.run(context, HEADER_TABLE, out);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
  }
  return out.join('');
}
