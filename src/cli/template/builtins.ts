/**
 * Go's builtin template functions: and, or, not, len, index, slice, call, print(f|ln), html,
 * urlquery and the comparisons.
 */
import { formatValue, sprint, sprintf, sprintln } from './fmt.js';
import type { FuncSpec } from './functions.js';
import { compareGoStrings, isDict, isInt, isTrue, lookup, sortedKeys, toInterface, typeName, utf8 } from './values.js';

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


export const BUILTINS: Record<string, FuncSpec> = {
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
