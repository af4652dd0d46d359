/**
 * The functions docker/cli adds (templates.basicFunctions: json, split, join, title, lower, upper,
 * pad, truncate) and the header variants used for table headers.
 */
import type { FuncSpec } from './functions.js';
import { marshalJSON, UnsupportedValue } from './json.js';
import { runeCount, utf8 } from './values.js';

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


/** docker/cli templates.basicFunctions. */
export const DOCKER_FUNCS: Record<string, FuncSpec> = {
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
export const HEADER_FUNCS: Record<string, FuncSpec> = {
  json: { fn: identity, params: ['string'] },
  split: { fn: identity, params: ['string', 'string'] },
  join: { fn: identity, params: ['string', 'string'] },
  title: { fn: identity, params: ['string'] },
  lower: { fn: identity, params: ['string'] },
  upper: { fn: identity, params: ['string'] },
  truncate: { fn: identity, params: ['string', 'int'] },
};
