/**
 * encoding/json, as docker's `json` template function calls it (SetEscapeHTML(false), no newline).
 */
import { numberText } from './fmt.js';
import { type Dict, sortedKeys } from './values.js';

export class UnsupportedValue extends Error {}

export function marshalJSON(v: unknown, stack: unknown[] = []): string {
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
