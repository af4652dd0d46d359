/**
 * `--chown` and `--chmod` of COPY/ADD.
 *
 * --chown follows Docker's classic builder: `user[:group]`, a lone user also names the group, numbers are
 * ids without any lookup, names are looked up in the target image's /etc/passwd and /etc/group (read
 * inside that root: no link leads out of it), with the builder's error wording.
 * --chmod follows BuildKit (the classic builder refuses it): an octal mode up to 07777, or a symbolic mode
 * as chmod(1) takes it (`u+x,g-w,o=r`, `a+X`).
 */
import { invalidArgument } from '../lib/errors.js';
import { parseGroup, parsePasswd, readRootfsFile } from '../runtime/user.js';

export interface Owner {
  uid: number;
  gid: number;
}

const CHOWN_PREFIX = 'unable to convert uid/gid chown string to host mapping';

/** Resolves `--chown` against the target root (null: scratch, which has no passwd or group file). */
export function resolveChown(chown: string, targetRoot: string | null): Owner {
  const parts = chown.split(':');
  if (parts.length > 2) throw invalidArgument(`${CHOWN_PREFIX}: invalid chown string format: ${chown}`);
  const userStr = parts[0]!;
  const groupStr = parts.length === 1 ? userStr : parts[1]!;
  const uid = lookupId(userStr, targetRoot, '/etc/passwd', 'uid for user', 'user', (text) =>
    parsePasswd(text).find((u) => u.name === userStr)?.uid,
  );
  const gid = lookupId(groupStr, targetRoot, '/etc/group', 'gid for group', 'group', (text) =>
    parseGroup(text).find((g) => g.name === groupStr)?.gid,
  );
  return { uid, gid };
}

function lookupId(
  name: string,
  root: string | null,
  file: string,
  what: string,
  noun: string,
  find: (text: string) => number | undefined,
): number {
  const numeric = goAtoi(name);
  if (numeric !== undefined) {
    if (numeric < 0 || numeric > 0xffffffff) throw invalidArgument(`${CHOWN_PREFIX}: can't find ${what} ${name}: id out of range`);
    return numeric;
  }
  const text = root === null ? undefined : readRootfsFile(root, file);
  if (text === undefined) throw invalidArgument(`${CHOWN_PREFIX}: can't find ${what} ${name}: open ${file}: no such file or directory`);
  const id = find(text);
  if (id === undefined) throw invalidArgument(`${CHOWN_PREFIX}: can't find ${what} ${name}: no such ${noun}: ${name}`);
  return id;
}

/** Go's strconv.Atoi: an optional sign and decimal digits, else undefined. */
function goAtoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A parsed --chmod: apply(mode, isDir) gives the new permission bits (07777) from the old ones. */
export interface ChmodSpec {
  /** The octal mode when --chmod was one (also the mode of directories the copy creates). */
  octal?: number;
  apply(mode: number, isDir: boolean): number;
}

export function parseChmod(chmod: string): ChmodSpec {
  const nonOctal = invalidArgument(`invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`);
  if (/^[0-7]+$/.test(chmod)) {
    const n = parseInt(chmod, 8);
    if (n > 0o7777) throw nonOctal;
    return { octal: n, apply: () => n };
  }
  if (/^[+-]?\d+$/.test(chmod)) throw nonOctal; // looks numeric: BuildKit keeps the octal wording
  const clauses = chmod.split(',').map(parseClause);
  return {
    apply(mode, isDir) {
      let m = mode & 0o7777;
      for (const c of clauses) m = c(m, isDir);
      return m;
    },
  };
}

type Clause = (mode: number, isDir: boolean) => number;

const WHO_BITS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };

function parseClause(text: string): Clause {
  const m = /^([ugoa]*)((?:[-+=][rwxXst]*|[-+=][ugo])+)$/.exec(text);
  if (!m) throw invalidArgument(`invalid chmod parameter: '${text}': invalid syntax`);
  const who = m[1] === '' ? 'a' : m[1]!;
  let mask = 0;
  for (const w of who) mask |= WHO_BITS[w]!;
  const ops = [...m[2]!.matchAll(/([-+=])([rwxXst]*|[ugo])/g)].map((o) => ({ op: o[1]!, perms: o[2]! }));
  return (mode, isDir) => {
    let cur = mode;
    for (const { op, perms } of ops) {
      let bits = 0;
      if (perms === 'u' || perms === 'g' || perms === 'o') {
        const shift = perms === 'u' ? 6 : perms === 'g' ? 3 : 0;
        const rwx = (cur >> shift) & 7;
        bits = rwx * 0o111;
      } else {
        for (const p of perms) {
          if (p === 'r') bits |= 0o444;
          else if (p === 'w') bits |= 0o222;
          else if (p === 'x') bits |= 0o111;
          else if (p === 'X') {
            if (isDir || (cur & 0o111) !== 0) bits |= 0o111;
          } else if (p === 's') bits |= 0o6000;
          else if (p === 't') bits |= 0o1000;
        }
      }
      bits &= mask;
      if (op === '+') cur |= bits;
      else if (op === '-') cur &= ~bits;
      else cur = (cur & ~(mask & 0o7777)) | bits;
    }
    return cur & 0o7777;
  };
}
