/**
 * Variable interpolation as the compose-spec defines it: `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`,
 * `${VAR:?err}`, `${VAR?err}`, `${VAR:+r}`, `${VAR+r}`, nested in defaults, and `$$` for a literal `$`.
 * Only values are interpolated, never keys. Messages are docker compose's.
 */
import { ComposeError, type WarnFn } from './errors.js';

export type Lookup = (name: string) => string | undefined;

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

class InvalidFormat extends Error {}

export function missingRequired(name: string, reason: string): ComposeError {
  return new ComposeError(reason ? `required variable ${name} is missing a value: ${reason}` : `required variable ${name} is missing a value`);
}

/** Substitutes one string; `where` names the value in errors (`services.web.image`). */
export function interpolateString(value: string, lookup: Lookup, where: string, warn: WarnFn): string {
  try {
    return substitute(value, lookup, warn);
  } catch (err) {
    if (err instanceof InvalidFormat) {
      throw new ComposeError(`invalid interpolation format for ${where}.\nYou may need to escape any $ with another $.\n${value}`);
    }
    throw err;
  }
}

function substitute(text: string, lookup: Lookup, warn: WarnFn): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch !== '$') {
      out += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(text, i + 2);
      out += braced(text.slice(i + 2, end), lookup, warn);
      i = end + 1;
    } else if (next !== undefined && NAME_START.test(next)) {
      let j = i + 1;
      while (j < text.length && NAME_CHAR.test(text[j])) j++;
      out += valueOf(text.slice(i + 1, j), lookup, warn);
      i = j;
    } else {
      throw new InvalidFormat();
    }
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from`, skipping nested `${...}`. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '$') {
      i++;
    } else if (text[i] === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (text[i] === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  throw new InvalidFormat();
}

function braced(body: string, lookup: Lookup, warn: WarnFn): string {
  let j = 0;
  if (!NAME_START.test(body[0] ?? '')) throw new InvalidFormat();
  while (j < body.length && NAME_CHAR.test(body[j])) j++;
  const name = body.slice(0, j);
  if (j === body.length) return valueOf(name, lookup, warn);
  const colon = body[j] === ':';
  const op = body[colon ? j + 1 : j];
  const arg = body.slice(colon ? j + 2 : j + 1);
  if (op !== '-' && op !== '?' && op !== '+') throw new InvalidFormat();
  const raw = lookup(name);
  const present = colon ? raw !== undefined && raw !== '' : raw !== undefined;
  switch (op) {
    case '-':
      return present ? (raw as string) : substitute(arg, lookup, warn);
    case '+':
      return present ? substitute(arg, lookup, warn) : '';
    default:
      if (!present) throw missingRequired(name, substitute(arg, lookup, warn));
      return raw as string;
  }
}

function valueOf(name: string, lookup: Lookup, warn: WarnFn): string {
  const value = lookup(name);
  if (value === undefined) {
    warn(`The "${name}" variable is not set. Defaulting to a blank string.`);
    return '';
  }
  return value;
}

/** Interpolates every string value of a parsed YAML tree, returning a new tree. */
export function interpolateTree(node: unknown, lookup: Lookup, warn: WarnFn, where = ''): unknown {
  if (typeof node === 'string') return interpolateString(node, lookup, where, warn);
  if (node instanceof Tagged) return new Tagged(node.tag, interpolateTree(node.value, lookup, warn, where));
  if (Array.isArray(node)) return node.map((item) => interpolateTree(item, lookup, warn, where));
  if (isMapping(node)) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      out[key] = interpolateTree(value, lookup, warn, where ? `${where}.${key}` : key);
    }
    return out;
  }
  return node;
}

export function isMapping(node: unknown): node is Record<string, unknown> {
  return typeof node === 'object' && node !== null && !Array.isArray(node) && !(node instanceof Tagged);
}

/** A value carrying a `!reset` or `!override` tag, understood by the merger. */
export class Tagged {
  constructor(
    readonly tag: 'reset' | 'override',
    readonly value: unknown,
  ) {}
}
