/**
 * `--exclude` patterns of COPY/ADD, with moby/patternmatcher's rules (as .dockerignore): `*`, `?`, `[...]`
 * within a component, `**` across any number of them, a pattern that matches a directory excludes what is
 * under it, and later `!pattern` lines bring paths back. Paths are relative to the copied source.
 */
import path from 'node:path';

interface Pattern {
  re: RegExp;
  exclusion: boolean;
}

export class ExcludeMatcher {
  private readonly patterns: Pattern[];

  constructor(patterns: string[]) {
    this.patterns = [];
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      const exclusion = p.startsWith('!');
      if (exclusion) p = p.slice(1).trim();
      p = path.posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');
      if (p === '' || p === '.') continue;
      this.patterns.push({ re: patternRegExp(p), exclusion });
    }
  }

  /** Whether `rel` (a clean relative path) is excluded: the last pattern matching it or a parent wins. */
  matches(rel: string): boolean {
    const parents: string[] = [];
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
    let matched = false;
    for (const p of this.patterns) {
      const hit = p.re.test(rel) || parents.some((d) => p.re.test(d));
      if (hit) matched = !p.exclusion;
    }
    return matched;
  }

  /** Whether an excluded directory must still be walked: an exception pattern could bring back something under it. */
  mayReinclude(_dirRel: string): boolean {
    return this.patterns.some((p) => p.exclusion);
  }
}

function patternRegExp(p: string): RegExp {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === '*') {
      if (p[i + 1] === '*') {
        i++;
        if (p[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (ch === '?') out += '[^/]';
    else if (ch === '\\' && i + 1 < p.length) out += escapeRe(p[++i]!);
    else if (ch === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        let cls = p.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        out += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else out += escapeRe(ch);
  }
  return new RegExp(`^${out}$`, 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
