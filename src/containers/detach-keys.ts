import { invalidArgument } from '../lib/errors.js';

/** Docker's default detach sequence, ctrl-p ctrl-q. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * Docker's detach-key notation ("ctrl-p,ctrl-q", "ctrl-x,y", "a,b") to bytes: `ctrl-` and one of
 * a-z @ [ \ ] ^ _ is that control character; any other single character is itself. Throws on
 * anything else.
 */
export function parseDetachKeys(spec: string): Buffer {
  const codes: number[] = [];
  for (const key of spec.split(',')) {
    if (key.length === 1) {
      codes.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/i.exec(key);
    const c = m?.[1]?.toLowerCase();
    if (c && c >= 'a' && c <= 'z') codes.push(c.charCodeAt(0) - 96);
    else if (c && '@[\\]^_'.includes(c)) codes.push(c === '@' ? 0 : 27 + '[\\]^_'.indexOf(c));
    else throw invalidArgument(`Unknown character: '${key}'`);
  }
  return Buffer.from(codes);
}

/**
 * The detach keys of a request: its own, else Docker's default. Bad ones are a 400 with Docker's
 * words ("Invalid detach keys (x) provided"; exec says "escape keys").
 */
export function detachKeysOf(spec: string | null | undefined, what: 'detach' | 'escape' = 'detach'): Buffer {
  try {
    return parseDetachKeys(spec || DEFAULT_DETACH_KEYS);
  } catch {
    throw invalidArgument(`Invalid ${what} keys (${spec}) provided`);
  }
}
