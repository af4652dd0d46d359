/**
 * User resolution for a container: turns Config.User ('name', 'uid', 'name:group', 'uid:gid', ...) and
 * HostConfig.GroupAdd into numeric ids, reading the container's own /etc/passwd and /etc/group the way
 * runc/Docker (moby/sys/user) do.
 *
 * The rootfs is untrusted (it comes from an image). Its files are read through resolveInRootfs, which
 * follows symlinks as if the rootfs were `/` (an absolute link target restarts at the rootfs, `..` stops
 * there), so no link can reach a host file; the final open refuses symlinks, non-regular files and any
 * file whose real path turns out to be outside the rootfs (a rename race), and such a file counts as absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { invalidArgument } from '../lib/errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** The primary gid first, then supplementary groups from /etc/group, then GroupAdd (Docker's order). */
  additionalGids: number[];
  /** Home directory from passwd ('' if the user has no entry). */
  home: string;
}

const MIN_ID = 0;
const MAX_ID = 2 ** 31 - 1;
const MAX_SYMLINK_HOPS = 40;
/** passwd/group files larger than this are treated as unreadable. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

function rangeError(): Error {
  return invalidArgument(`uids and gids must be in range ${MIN_ID}-${MAX_ID}`);
}

/**
 * The host path that `p` (a path inside the container) designates, with the rootfs's symlinks followed
 * inside the rootfs only. The result always lies lexically under `rootfs`. Components that do not exist are
 * kept as given. Throws ELOOP-like Error after 40 links.
 */
export function resolveInRootfs(rootfs: string, p: string): string {
  const root = path.resolve(rootfs);
  const done: string[] = [];
  const todo = p.split('/').reverse();
  let hops = 0;
  while (todo.length > 0) {
    const part = todo.pop()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = path.join(root, ...done, part);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) throw new Error(`too many levels of symbolic links resolving ${p} in the container`);
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) done.length = 0;
      for (const t of target.split('/').reverse()) todo.push(t);
      continue;
    }
    done.push(part);
  }
  return done.length === 0 ? root : path.join(root, ...done);
}

/**
 * Reads a regular file of the container (e.g. '/etc/passwd') without ever leaving the rootfs.
 * Returns undefined if it is missing, not a regular file, too large, or otherwise unsafe to read.
 */
export function readRootfsFile(rootfs: string, p: string): string | undefined {
  let hostPath: string;
  let realRoot: string;
  try {
    hostPath = resolveInRootfs(rootfs, p);
    realRoot = fs.realpathSync(rootfs);
    const st = fs.lstatSync(hostPath);
    if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
  } catch {
    return undefined; // missing or escapes the rootfs: no such file
  }
  let fd: number;
  try {
    fd = fs.openSync(hostPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined; // missing or a symlink: no such file
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
    // Between resolving and opening, a directory on the way could have been swapped for a link: check
    // where the open file really is.
    const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
    const prefix = realRoot.endsWith('/') ? realRoot : realRoot + '/';
    if (!real.startsWith(prefix)) return undefined;
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } catch {
    return undefined; // unreadable: no such file
  } finally {
    fs.closeSync(fd);
  }
}

/** Go's strconv.Atoi with errors ignored (as the passwd parser does): 0 unless a plain decimal int. */
function atoiLoose(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) return 0;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : 0;
}

/** A uid/gid argument: numeric ids are taken as ids; out-of-range numbers are an error. */
function parseNumeric(v: string): { id: number; numeric: boolean } {
  if (v === '') return { id: 0, numeric: false };
  if (!/^[+-]?\d+$/.test(v)) return { id: 0, numeric: false };
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < MIN_ID || n > MAX_ID) throw rangeError();
  return { id: n, numeric: true };
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
}

export function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map((l) => {
    const f = l.split(':');
    return { name: f[0] ?? '', uid: atoiLoose(f[2] ?? ''), gid: atoiLoose(f[3] ?? ''), home: f[5] ?? '' };
  });
}

export function parseGroup(text: string): GroupEntry[] {
  return lines(text)
    .filter((l) => !l.startsWith('#'))
    .map((l) => {
      const f = l.split(':');
      const list = f[3] ?? '';
      return { name: f[0] ?? '', gid: atoiLoose(f[2] ?? ''), members: list === '' ? [] : list.split(',') };
    });
}

/**
 * Resolves `userSpec` against the container's /etc/passwd and /etc/group (runc's rules):
 * - '' means uid 0; 'name' or 'uid'; optionally ':group' or ':gid'.
 * - Numeric ids are always ids and need no entry; names must have one
 *   (`unable to find user NAME: no matching entries in passwd file`,
 *   `unable to find group NAME: no matching entries in group file`).
 * - Without an explicit group the user's passwd gid is used, and groups listing the user become
 *   supplementary gids; with one, no supplementary groups are looked up.
 * `groupAdd` (HostConfig.GroupAdd) names or numbers further groups.
 */
export function resolveUser(rootfs: string, userSpec: string, groupAdd: readonly string[] = []): ResolvedUser {
  const passwdText = readRootfsFile(rootfs, '/etc/passwd');
  const groupText = readRootfsFile(rootfs, '/etc/group');
  return resolveUserFrom(userSpec, passwdText, groupText, groupAdd);
}

/** resolveUser on file contents already read (undefined = file missing). */
export function resolveUserFrom(
  userSpec: string,
  passwdText: string | undefined,
  groupText: string | undefined,
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const parts = userSpec.split(':');
  const userArg = parts[0] ?? '';
  const groupArg = parts[1] ?? '';
  const u = parseNumeric(userArg);
  const g = parseNumeric(groupArg);

  let uid = 0;
  let gid = 0;
  let home = '';
  let sgids: number[] = [];

  const users = passwdText === undefined ? [] : parsePasswd(passwdText);
  const match = users.find((p) => (userArg === '' ? p.uid === uid : u.numeric ? p.uid === u.id : p.name === userArg));
  let matchedName = '';
  if (match) {
    matchedName = match.name;
    uid = match.uid;
    gid = match.gid;
    home = match.home;
  } else if (userArg !== '') {
    if (!u.numeric) throw invalidArgument(`unable to find user ${userArg}: no matching entries in passwd file`);
    uid = u.id;
  }

  if (groupArg !== '' || matchedName !== '') {
    const groups = groupText === undefined ? [] : parseGroup(groupText);
    if (groupArg !== '') {
      const found = groups.find((gr) => (g.numeric ? gr.gid === g.id : gr.name === groupArg));
      if (found) gid = found.gid;
      else if (!g.numeric) throw invalidArgument(`unable to find group ${groupArg}: no matching entries in group file`);
      else gid = g.id;
    } else {
      sgids = groups.filter((gr) => gr.members.includes(matchedName)).map((gr) => gr.gid);
    }
  }

  const extra: number[] = [];
  if (groupAdd.length > 0) {
    const groups = groupText === undefined ? [] : parseGroup(groupText);
    for (const ag of groupAdd) {
      const a = parseNumeric(ag);
      const found = groups.find((gr) => (a.numeric ? gr.gid === a.id : gr.name === ag));
      if (found) extra.push(found.gid);
      else if (!a.numeric) throw invalidArgument(`unable to find group ${ag}: no matching entries in group file`);
      else extra.push(a.id);
    }
  }

  const additionalGids: number[] = [gid];
  for (const x of [...sgids, ...extra]) if (!additionalGids.includes(x)) additionalGids.push(x);
  return { uid, gid, additionalGids, home };
}
