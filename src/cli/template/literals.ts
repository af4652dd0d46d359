/**
 * Literals: Go string, character and number syntax.
 */
import { goQuote } from './fmt.js';
import { utf8 } from './values.js';

/** strconv.Unquote for "..." and `...`; \x and octal escapes are bytes of UTF-8. */
export function unquoteString(lit: string): string {
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
export function unquoteChar(lit: string): number {
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
export function parseNumber(text: string): number {
  const clean = text.replace(/_/g, '');
  const sign = clean.startsWith('-') ? -1 : 1;
  const body = clean.replace(/^[+-]/, '');
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) return sign * parseInt(body.slice(2), 16);
  if (/^0[bB][01]+$/.test(body)) return sign * parseInt(body.slice(2), 2);
  if (/^0[oO]?[0-7]+$/.test(body)) return sign * parseInt(body.replace(/^0[oO]?/, ''), 8);
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body)) return sign * Number(body);
  throw new Error(`illegal number syntax: ${goQuote(text)}`);
}
