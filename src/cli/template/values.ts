/**
 * Values as Go's text/template sees them: kinds, type names, truth, map access, Go's string order.
 */
export type Dict = Record<string, unknown>;

export function isDict(v: unknown): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function isInt(v: unknown): v is number | bigint {
  return (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'bigint';
}

/** The Go type a JSON-like value would have inside an interface{}. */
export function typeName(v: unknown): string {
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
export function isTrue(v: unknown): boolean {
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
export function lookup(obj: Dict, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== null && proto !== Object.prototype && name in obj && !(name in Object.prototype)) return obj[name];
  return undefined;
}

/** Go orders strings bytewise (UTF-8), i.e. by code point; JS `<` compares UTF-16 units. */
export function compareGoStrings(a: string, b: string): number {
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
export function sortedKeys(obj: Dict): string[] {
  return Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort(compareGoStrings);
}

export function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

export function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}


/** An interface{} parameter receives Go's nil for a missing value. */
export function toInterface(v: unknown): unknown {
  return v === undefined ? null : v;
}
