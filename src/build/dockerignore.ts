/**
 * .dockerignore: reading the file as the docker CLI does (moby/patternmatcher's ignorefile) and matching
 * context paths with patternmatcher's rules, exceptions (`!`) included.
 */
import path from 'node:path';
import { invalidArgument } from '../lib/errors.js';

/** Go's path.Clean: `.` for empty, no `//`, no `./`, `..` resolved lexically (and dropped at the root). */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/**
 * The patterns of a .dockerignore file: `#` lines are comments (only when `#` is the first character),
 * blank lines go, whitespace is trimmed, each pattern is cleaned and loses a leading `/`, and `!` marks an
 * exception (whitespace after it is trimmed too).
 */
export function readDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const exception = pattern.startsWith('!');
    if (exception) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(exception ? '!' + pattern : pattern);
  }
  return patterns;
}

/** `<Dockerfile>.dockerignore` beside the Dockerfile: Docker prefers it to the context's .dockerignore. */
export function dockerignorePathFor(dockerfilePath: string): string {
  return dockerfilePath + '.dockerignore';
}

interface Pattern {
  /** Cleaned, without the `!`. */
  text: string;
  exception: boolean;
  /** The pattern's path components, to test a file's parent directories at the same depth. */
  dirs: string[];
  test: (relPath: string) => boolean;
}

const regexpSpecial = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/** patternmatcher's translation: `*` and `?` stay within a component, `**` spans components. */
function compile(pattern: string): (relPath: string) => boolean {
  let source = '^';
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        const first = i === 0;
        i++;
        if (chars[i + 1] === '/') i++;
        if (i + 1 >= chars.length) {
          if (kind === 'exact') kind = 'prefix';
          else {
            source += '.*';
            kind = 'regexp';
          }
        } else {
          source += '(.*/)?';
          kind = 'regexp';
        }
        if (first) kind = 'suffix';
      } else {
        source += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      kind = 'regexp';
    } else if (ch === '\\') {
      if (i + 1 < chars.length) {
        source += '\\' + chars[++i];
        kind = 'regexp';
      } else source += '\\\\';
    } else if (ch === '[' || ch === ']') {
      source += ch;
      kind = 'regexp';
    } else if (regexpSpecial.has(ch)) {
      source += '\\' + ch;
    } else {
      source += ch;
    }
  }
  switch (kind) {
    case 'exact':
      return (p) => p === pattern;
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return (p) => p.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      return (p) => p.endsWith(suffix) || (suffix.startsWith('/') && p === suffix.slice(1));
    }
    case 'regexp': {
      let re: RegExp;
      try {
        re = new RegExp(source + '$', 'su');
      } catch {
        throw invalidArgument('syntax error in pattern');
      }
      return (p) => re.test(p);
    }
  }
}

/** Go's filepath.Match syntax check, which patternmatcher runs on every pattern: brackets must close. */
function checkSyntax(pattern: string): void {
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      i++;
      if (i >= pattern.length) throw invalidArgument('syntax error in pattern');
    } else if (ch === '[') {
      let j = i + 1;
      if (pattern[j] === '^') j++;
      let members = 0;
      while (j < pattern.length && !(pattern[j] === ']' && members > 0)) {
        if (pattern[j] === '\\') j++;
        j++;
        members++;
      }
      if (j >= pattern.length) throw invalidArgument('syntax error in pattern');
      i = j;
    }
  }
}

/** Go's filepath.Match for one path component (used to ask whether an exception may reach into a dir). */
function componentMatches(pattern: string, name: string): boolean {
  if (pattern.includes('**')) return true;
  try {
    return compile(pattern)(name);
  } catch {
    return false;
  }
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[] = [];

  /** Throws invalidArgument for `!` alone and for malformed patterns (an unclosed `[`). */
  constructor(patterns: string[]) {
    for (const raw of patterns) {
      let text = raw.trim();
      if (text === '') continue;
      text = cleanPath(text);
      let exception = false;
      if (text.startsWith('!')) {
        if (text.length === 1) throw invalidArgument('illegal exclusion pattern: "!"');
        exception = true;
        text = text.slice(1);
      }
      checkSyntax(text);
      this.patterns.push({ text, exception, dirs: text.split('/'), test: compile(text) });
    }
  }

  /** True when there are exceptions, so an excluded directory may still hold included files. */
  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exception);
  }

  /**
   * Whether the context path (slash-separated, relative to the context root) is excluded. The last
   * pattern that matches the path or one of its parent directories decides (MatchesOrParentMatches, what
   * the context walker uses).
   */
  matches(relPath: string): boolean {
    const file = cleanPath(relPath.replace(/^\/+/, ''));
    if (file === '.') return false;
    const parent = path.posix.dirname(file);
    const parentDirs = parent.split('/');
    let matched = false;
    for (const pattern of this.patterns) {
      // An exception only matters once something matched; a plain pattern only before.
      if (pattern.exception !== matched) continue;
      let hit = pattern.test(file);
      for (let depth = 1; !hit && parent !== '.' && depth <= parentDirs.length; depth++) {
        hit = pattern.test(parentDirs.slice(0, depth).join('/'));
      }
      if (hit) matched = !pattern.exception;
    }
    return matched;
  }

  /**
   * Whether an excluded directory must still be walked because an exception could bring back something
   * under it. Docker's walker looks for an exception whose text starts with `dir/`; components with
   * wildcards are compared as globs so `!*\/keep` also reaches into `a/`.
   */
  mayReinclude(dirRelPath: string): boolean {
    const dir = cleanPath(dirRelPath.replace(/^\/+/, ''));
    if (dir === '.') return this.hasExceptions;
    const dirParts = dir.split('/');
    for (const pattern of this.patterns) {
      if (!pattern.exception) continue;
      if ((pattern.text + '/').startsWith(dir + '/')) return true;
      const parts = pattern.dirs;
      let ok = true;
      for (let i = 0; i < dirParts.length; i++) {
        const part = parts[i];
        // The exception names an ancestor of dir, or spans components from here: walking is the safe answer.
        if (part === undefined || part.includes('**')) break;
        if (!componentMatches(part, dirParts[i]!)) {
          ok = false;
          break;
        }
      }
      if (ok) return true;
    }
    return false;
  }
}

/**
 * The docker CLI's TrimBuildFilesFromExcludes: a context sent for a build keeps `.dockerignore` and the
 * Dockerfile (unless it comes from stdin) even when the patterns exclude them, by adding exceptions.
 */
export function keepBuildFiles(patterns: string[], dockerfileRelPath: string, dockerfileFromStdin = false): string[] {
  const out = [...patterns];
  if (new IgnoreMatcher(out).matches('.dockerignore')) out.push('!.dockerignore');
  const dockerfile = cleanPath(dockerfileRelPath);
  if (!dockerfileFromStdin && new IgnoreMatcher(out).matches(dockerfile)) out.push('!' + dockerfile);
  return out;
}
