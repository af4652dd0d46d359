/**
 * The daemon's `--userns-remap`: which host ids a container's ids map to, and the files that must
 * belong to those ids.
 *
 * `default` means the `berth` user and group, created (with subordinate id ranges in /etc/subuid and
 * /etc/subgid) when missing, as dockerd creates `dockremap`; `user[:group]` (names or ids) uses that
 * user's subordinate ranges. Container id 0 maps to the first subordinate id; each further range
 * continues where the previous ended.
 *
 * On disk the daemon keeps everything of a remapping in its own data root, <data-root>/<uid>.<gid>/,
 * like dockerd: image layers are unpacked there with their owners shifted into the range
 * (shiftOwnership), so overlayfs shows them to the container with the owners the image says, and a
 * container's writable layer belongs to the remapped root. The directories on the way to a container's
 * rootfs must let the remapped root through (checkTraversable, prepareRemappedRoots).
 *
 * Lifecycle: resolveUsernsRemap runs once at daemon start (it may run useradd/groupadd and append to
 * /etc/subuid and /etc/subgid, the only external programs and files this module touches); the rest are
 * helpers the layer store and the container runner call.
 */
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { execFileText } from '../lib/exec-file.js';
import { internal, invalidArgument } from '../lib/errors.js';
import type { IdMapping } from './security.js';

export type { IdMapping } from './security.js';

/** The user and group dockerd would call dockremap. */
export const DEFAULT_REMAP_USER = 'berth';
/** Size of a range made for the default user, and the lowest id it may start at (as dockerd). */
export const SUBID_RANGE_SIZE = 65536;
export const SUBID_MIN_START = 100000;

export interface IdentityMapping {
  user: string;
  group: string;
  uidMaps: IdMapping[];
  gidMaps: IdMapping[];
}

export interface SubIdRange {
  /** A user/group name, or a numeric id written as text. */
  name: string;
  start: number;
  count: number;
}

// ---------------------------------------------------------------------------------------------------------
// Mapping arithmetic
// ---------------------------------------------------------------------------------------------------------

/** The host id of a container id, or undefined if no range covers it. */
export function toHostId(id: number, maps: readonly IdMapping[]): number | undefined {
  for (const m of maps) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

/** The container id of a host id, or undefined if no range covers it. */
export function toContainerId(id: number, maps: readonly IdMapping[]): number | undefined {
  for (const m of maps) if (id >= m.hostID && id < m.hostID + m.size) return m.containerID + (id - m.hostID);
  return undefined;
}

/** The host uid and gid of the container's root. */
export function rootPair(m: IdentityMapping): { uid: number; gid: number } {
  const uid = toHostId(0, m.uidMaps);
  const gid = toHostId(0, m.gidMaps);
  if (uid === undefined || gid === undefined) throw internal('the user namespace mapping does not map root');
  return { uid, gid };
}

/** The remapped data root's directory name, `<uid>.<gid>`, as dockerd names it. */
export function remappedRootName(m: IdentityMapping): string {
  const { uid, gid } = rootPair(m);
  return `${uid}.${gid}`;
}

/** Mappings from subordinate ranges, in file order: container ids continue from one range to the next. */
export function mappingsOf(ranges: readonly SubIdRange[]): IdMapping[] {
  const out: IdMapping[] = [];
  let containerID = 0;
  for (const r of ranges) {
    out.push({ containerID, hostID: r.start, size: r.count });
    containerID += r.count;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// /etc/subuid, /etc/subgid, /etc/passwd, /etc/group
// ---------------------------------------------------------------------------------------------------------

/** `name:start:count` lines; comments, blanks and malformed lines are skipped. */
export function parseSubIds(text: string): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [name, start, count] = line.split(':');
    if (!name || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '')) continue;
    out.push({ name, start: Number(start), count: Number(count) });
  }
  return out;
}

/** The lowest start ≥ min where `size` ids overlap no existing range (dockerd's choice for dockremap). */
export function firstFreeRange(ranges: readonly SubIdRange[], size = SUBID_RANGE_SIZE, min = SUBID_MIN_START): number {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let start = min;
  for (const r of sorted) {
    if (r.start + r.count <= start) continue;
    if (r.start >= start + size) break;
    start = r.start + r.count;
  }
  return start;
}

interface NamedId {
  name: string;
  id: number;
}

/** name:x:id:... lines of /etc/passwd or /etc/group. */
function parseIdFile(text: string): NamedId[] {
  const out: NamedId[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || !f[0] || !/^\d+$/.test(f[2]!)) continue;
    out.push({ name: f[0], id: Number(f[2]) });
  }
  return out;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

export interface RemapOptions {
  /** Where passwd, group, subuid and subgid are (default /etc). */
  etc?: string;
  /** Create the default user, group and ranges when missing (default true). */
  create?: boolean;
}

async function ensureDefaultUser(etc: string): Promise<void> {
  const name = DEFAULT_REMAP_USER;
  const hasGroup = () => parseIdFile(readText(path.join(etc, 'group'))).some((g) => g.name === name);
  const hasUser = () => parseIdFile(readText(path.join(etc, 'passwd'))).some((u) => u.name === name);
  try {
    if (!hasGroup()) await execFileText('groupadd', ['--system', name]);
    if (!hasUser()) await execFileText('useradd', ['--system', '--gid', name, '--no-create-home', '--shell', '/bin/false', name]);
  } catch (e) {
    throw internal(`cannot create the user and group ${JSON.stringify(name)} for --userns-remap=default: ${(e as Error).message}`, e);
  }
  for (const file of ['subuid', 'subgid']) {
    const p = path.join(etc, file);
    const ranges = parseSubIds(readText(p));
    if (ranges.some((r) => r.name === name)) continue;
    const start = firstFreeRange(ranges);
    const text = readText(p);
    const line = `${text === '' || text.endsWith('\n') ? '' : '\n'}${name}:${start}:${SUBID_RANGE_SIZE}\n`;
    fs.appendFileSync(p, line, { mode: 0o644 });
  }
}

/**
 * Resolves the --userns-remap value (`default`, `user`, `user:group`, names or numeric ids) into the
 * subordinate id mappings, creating the default user when asked. Errors in dockerd's words.
 */
export async function resolveUsernsRemap(value: string, opts: RemapOptions = {}): Promise<IdentityMapping> {
  const etc = opts.etc ?? '/etc';
  const sep = value.indexOf(':');
  let user = sep < 0 ? value : value.slice(0, sep);
  let group = sep < 0 ? '' : value.slice(sep + 1);
  if (user === '') throw invalidArgument('no remapped user specified');
  if (user === 'default') {
    if (opts.create ?? true) await ensureDefaultUser(etc);
    user = DEFAULT_REMAP_USER;
    if (group === '' || group === 'default') group = DEFAULT_REMAP_USER;
  }
  const users = parseIdFile(readText(path.join(etc, 'passwd')));
  const groups = parseIdFile(readText(path.join(etc, 'group')));
  let uid: number;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    const entry = users.find((u) => u.id === uid);
    if (!entry) throw invalidArgument(`Uid ${uid} has no entry in /etc/passwd`);
    user = entry.name;
  } else {
    const entry = users.find((u) => u.name === user);
    if (!entry) throw invalidArgument(`Error during uid lookup for "${user}": no such user`);
    uid = entry.id;
  }
  if (group === '') group = user;
  let gid: number | undefined;
  if (/^\d+$/.test(group)) {
    gid = Number(group);
    const entry = groups.find((g) => g.id === gid);
    if (!entry) throw invalidArgument(`Gid ${gid} has no entry in /etc/group`);
    group = entry.name;
  } else {
    gid = groups.find((g) => g.name === group)?.id;
    if (gid === undefined) throw invalidArgument(`Error during gid lookup for "${group}": no such group`);
  }
  const subuid = parseSubIds(readText(path.join(etc, 'subuid'))).filter((r) => r.name === user || r.name === String(uid));
  const subgid = parseSubIds(readText(path.join(etc, 'subgid'))).filter((r) => r.name === group || r.name === String(gid));
  if (subuid.length === 0) throw invalidArgument(`No subuid ranges found for user "${user}"`);
  if (subgid.length === 0) throw invalidArgument(`No subgid ranges found for group "${group}"`);
  return { user, group, uidMaps: mappingsOf(subuid), gidMaps: mappingsOf(subgid) };
}

// ---------------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------------

/**
 * Moves every owner under `dir` (dir included, symlinks not followed) from container ids to host ids:
 * what the remapped root needs of a freshly unpacked layer. chown clears setuid/setgid bits, so modes are
 * put back; a hardlinked inode is shifted once. Throws if an owner is outside the mapping.
 */
export async function shiftOwnership(dir: string, m: IdentityMapping): Promise<void> {
  const seen = new Set<bigint>();
  let n = 0;
  const shift = (p: string): fs.Stats => {
    const st = fs.lstatSync(p);
    if (st.nlink > 1 && !st.isDirectory()) {
      const key = BigInt(st.ino);
      if (seen.has(key)) return st;
      seen.add(key);
    }
    const uid = toHostId(st.uid, m.uidMaps);
    const gid = toHostId(st.gid, m.gidMaps);
    if (uid === undefined) throw invalidArgument(`Container ID ${st.uid} cannot be mapped to a host ID`);
    if (gid === undefined) throw invalidArgument(`Container ID ${st.gid} cannot be mapped to a host ID`);
    fs.lchownSync(p, uid, gid);
    if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) fs.chmodSync(p, st.mode & 0o7777);
    return st;
  };
  const walk = async (d: string): Promise<void> => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = shift(p);
      if (st.isDirectory()) await walk(p);
      if (++n % 2048 === 0) await yieldToLoop(); // let the daemon answer requests during a big layer
    }
  };
  shift(dir);
  await walk(dir);
}

/** Whether uid/gid may search (x) `dir`, as the kernel decides for a process without capabilities. */
export function canTraverse(dir: string, uid: number, gid: number): boolean {
  const st = fs.statSync(dir);
  if (st.uid === uid) return (st.mode & 0o100) !== 0;
  if (st.gid === gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * Throws, as dockerd does, when a directory above `dir` would stop the remapped root on its way to a
 * container's files.
 */
export function checkTraversable(dir: string, m: IdentityMapping): void {
  const { uid, gid } = rootPair(m);
  for (let p = path.dirname(path.resolve(dir)); ; p = path.dirname(p)) {
    if (!canTraverse(p, uid, gid)) {
      throw invalidArgument(
        `a subdirectory in your graphroot path (${dir}) restricts access to the remapped root uid/gid; please fix by allowing 'o+x' permissions on existing directories (${p})`,
      );
    }
    if (p === '/') break;
  }
}

/** A directory the remapped root may pass through but not list: mode 0710, group = the remapped root's. */
export async function makeTraversable(dir: string, m: IdentityMapping): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o710 });
  await fsp.chown(dir, 0, rootPair(m).gid);
  await fsp.chmod(dir, 0o710);
}

/**
 * Daemon start with --userns-remap: <data-root> becomes 0711 (others may pass), the remapped data root
 * <data-root>/<uid>.<gid> and the exec root become root:<remapped gid> 0710, and the paths above them are
 * checked. Returns the remapped data root, where the daemon keeps everything else.
 */
export async function prepareRemappedRoots(dataRoot: string, execRoot: string, m: IdentityMapping): Promise<string> {
  await fsp.mkdir(dataRoot, { recursive: true, mode: 0o711 });
  await fsp.chmod(dataRoot, 0o711);
  await fsp.chown(dataRoot, 0, rootPair(m).gid);
  const remapped = path.join(dataRoot, remappedRootName(m));
  await makeTraversable(remapped, m);
  await makeTraversable(execRoot, m);
  checkTraversable(remapped, m);
  checkTraversable(execRoot, m);
  return remapped;
}

/** Gives a file or directory to the remapped root (a container's writable layer, its /etc files). */
export async function chownToRoot(p: string, m: IdentityMapping): Promise<void> {
  const { uid, gid } = rootPair(m);
  await fsp.lchown(p, uid, gid);
}
