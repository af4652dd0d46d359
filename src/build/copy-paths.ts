/**
 * Path rules of COPY/ADD: Go's filepath.Match for wildcards, resolving a source inside its root the way
 * moby's FollowSymlinkInScope does (`..` stops at the root, an absolute link target restarts there), and
 * looking at a target root without ever following a link on the way.
 *
 * The roots are trees the daemon made and nothing changes while a build reads them (an unpacked context,
 * a read-only image view), so resolving by path is sound; files are still opened with O_NOFOLLOW and their
 * real path checked (openInRoot), so that no link can make the builder read outside the root.
 */
import { constants as C, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument } from '../lib/errors.js';
import { resolveInRootfs } from '../runtime/user.js';

/** Whether a source has wildcards, as moby's containsWildcards: `\` escapes the next character. */
export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

/**
 * Go's filepath.Match for one path (Unix rules): `*` and `?` never match `/`, `[...]` classes with `^`
 * negation and ranges, `\` escapes. A malformed pattern matches nothing (Docker ignores the error).
 */
export function globMatch(pattern: string, name: string): boolean {
  const re = globRegExp(pattern);
  return re !== null && re.test(name);
}

const globCache = new Map<string, RegExp | null>();

function globRegExp(pattern: string): RegExp | null {
  const cached = globCache.get(pattern);
  if (cached !== undefined) return cached;
  let out = '';
  let ok = true;
  for (let i = 0; i < pattern.length && ok; i++) {
    const ch = pattern[i]!;
    if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '\\') {
      if (i + 1 >= pattern.length) ok = false;
      else out += escapeRe(pattern[++i]!);
    } else if (ch === '[') {
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^') {
        cls += '^';
        j++;
      }
      let count = 0;
      for (;;) {
        if (j >= pattern.length) {
          ok = false;
          break;
        }
        let c = pattern[j]!;
        if (c === ']' && count > 0) break;
        if (c === '-' || c === ']') {
          ok = false; // Go: a range or class must start with a character
          break;
        }
        if (c === '\\') {
          if (++j >= pattern.length) {
            ok = false;
            break;
          }
          c = pattern[j]!;
        }
        let lo = c;
        j++;
        let hi = lo;
        if (pattern[j] === '-' && pattern[j + 1] !== undefined && pattern[j + 1] !== ']') {
          j++;
          let h = pattern[j]!;
          if (h === '\\') {
            if (++j >= pattern.length) {
              ok = false;
              break;
            }
            h = pattern[j]!;
          }
          hi = h;
          j++;
        }
        if (hi < lo) {
          ok = false;
          break;
        }
        cls += lo === hi ? escapeClass(lo) : `${escapeClass(lo)}-${escapeClass(hi)}`;
        count++;
      }
      if (!ok) break;
      // A negated class still never matches the separator.
      out += cls.startsWith('^') ? `[${cls}/]` : `(?!/)[${cls}]`;
      i = j;
    } else out += escapeRe(ch);
  }
  const re = ok ? new RegExp(`^${out}$`, 's') : null;
  globCache.set(pattern, re);
  return re;
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function escapeClass(c: string): string {
  return c.replace(/[\\\]^-]/g, '\\$&');
}

/** A source as moby cleans it before use: no leading `/` or `./` (it is relative to the root anyway). */
export function cleanSourcePath(p: string): string {
  let s = p;
  while (s.startsWith('/')) s = s.slice(1);
  while (s.startsWith('./')) s = s.slice(2);
  return s;
}

/** A source resolved inside its root. */
export interface ResolvedSource {
  /** Host path, lexically under the root, with every link followed inside the root. */
  hostPath: string;
  /** The same path relative to the root ('' for the root itself). */
  rel: string;
  /** stat of what it designates (links already followed); null when it does not exist. */
  stat: Stats | null;
}

/** Resolves `p` (relative to the root whatever it starts with) following every link inside `root`. */
export async function resolveSource(root: string, p: string): Promise<ResolvedSource> {
  const hostPath = resolveScoped(root, p);
  const rel = path.relative(path.resolve(root), hostPath);
  let stat: Stats | null = null;
  try {
    stat = await fs.lstat(hostPath);
    // resolveInRootfs followed every link; one appearing now means the tree changed under us.
    if (stat.isSymbolicLink()) stat = null;
  } catch {
    stat = null;
  }
  return { hostPath, rel, stat };
}

/** resolveInRootfs, with a link loop reported as the user's error (the tree is the user's). */
export function resolveScoped(root: string, p: string): string {
  try {
    return resolveInRootfs(root, p);
  } catch (err) {
    throw invalidArgument((err as Error).message.replace(/ in the container$/, ''));
  }
}

/**
 * The entries matching a wildcard source, as moby's walk of the whole root with filepath.Match gives them
 * (lexical order; a directory link on the way is not entered, a match that is a link is followed later).
 * Matching component by component is the same because no wildcard matches `/`.
 */
export async function expandWildcards(root: string, pattern: string, signal: AbortSignal): Promise<string[]> {
  const parts = pattern.split('/').filter((p) => p !== '' && p !== '.');
  const out: string[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    signal.throwIfAborted();
    let names: string[];
    try {
      names = (await fs.readdir(path.join(root, rel))).sort();
    } catch {
      return;
    }
    const part = parts[depth]!;
    const last = depth === parts.length - 1;
    for (const name of names) {
      if (!globMatch(part, name)) continue;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (last) {
        out.push(childRel);
        continue;
      }
      const st = await fs.lstat(path.join(root, childRel)).catch(() => null);
      if (st?.isDirectory()) await walk(childRel, depth + 1);
    }
  };
  if (parts.length > 0) await walk('', 0);
  return out;
}

/**
 * lstat of `rel` inside `root` without following any link on the way: null when it does not exist or a
 * component before the last is not a real directory (a link there could lead anywhere on the host).
 */
export async function lstatInRoot(root: string, rel: string): Promise<Stats | null> {
  const parts = rel.split('/').filter(Boolean);
  let cur = root;
  for (let i = 0; i < parts.length; i++) {
    cur = path.join(cur, parts[i]!);
    let st: Stats;
    try {
      st = await fs.lstat(cur);
    } catch {
      return null;
    }
    if (i === parts.length - 1) return st;
    if (!st.isDirectory()) return null;
  }
  return fs.lstat(root).catch(() => null);
}

/**
 * Opens a regular file known to be under `root` for reading: never through a link, never blocking on a
 * FIFO, and only if the opened file really is inside the root. Returns its size too.
 */
export async function openInRoot(root: string, hostPath: string): Promise<{ handle: FileHandle; size: number }> {
  const handle = await fs.open(hostPath, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error(`${hostPath} is not a regular file`);
    const realRoot = await realRootOf(root);
    const real = await fs.readlink(`/proc/self/fd/${handle.fd}`);
    const prefix = realRoot.endsWith('/') ? realRoot : `${realRoot}/`;
    if (!real.startsWith(prefix)) throw new Error(`${hostPath} is outside of ${root}`);
    return { handle, size: st.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Roots do not move during a build: their real paths are looked up once. */
const realRoots = new Map<string, Promise<string>>();

function realRootOf(root: string): Promise<string> {
  let p = realRoots.get(root);
  if (!p) {
    p = fs.realpath(root);
    p.catch(() => realRoots.delete(root));
    if (realRoots.size > 256) realRoots.clear();
    realRoots.set(root, p);
  }
  return p;
}
