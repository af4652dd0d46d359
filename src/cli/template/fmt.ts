/**
 * Go's fmt as templates use it: %v printing of values, Sprint, Sprintln and Sprintf with Go's verbs,
 * flags and quoting (floats through ../gofloat.ts).
 */
import { formatE, formatF, formatG } from '../gofloat.js';
import { type Dict, isInt, runeCount, sortedKeys, typeName, utf8 } from './values.js';

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
export function numberText(n: number): string {
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


const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrint(ch: string): boolean {
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
export function goQuote(s: string, quote = '"'): string {
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
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += fmtArg(a, 'v', PLAIN, 0);
  });
  return out;
}

/** fmt.Sprintln: operands in %v separated by spaces, newline-terminated. */
export function sprintln(args: unknown[]): string {
  return args.map((a) => fmtArg(a, 'v', PLAIN, 0)).join(' ') + '\n';
}

/** fmt.Sprintf, including Go's in-band error notes (%!d(MISSING), %!(EXTRA ...)). */
export function sprintf(format: string, args: unknown[]): string {
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
