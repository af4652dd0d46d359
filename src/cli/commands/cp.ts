/**
 * `cp`: files between a container and the local filesystem with docker's client-side rules.
 * From a container: GET /containers/{id}/archive, the tar extracted here (its top entry
 * renamed when copying to a new name). To a container: a tar made here, renamed likewise, and
 * PUT /containers/{id}/archive into the right directory. `-` means a tar on stdin/stdout.
 */
import { promises as fs, createReadStream, type Stats } from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { CommandDef, Invocation } from '../args.js';
import { pathName, type ApiClient } from '../client.js';
import { CliError, DaemonError, fsErrorMessage } from '../errors.js';
import type { Cli } from '../streams.js';
import { humanSize } from '../units.js';

const P = path.posix;
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_IRREGULAR = 2 ** 19;

interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebaseName: string;
}

// ---- Go path semantics ------------------------------------------------------------------------

function goClean(p: string): string {
  let c = P.normalize(p === '' ? '.' : p);
  if (c.length > 1 && c.endsWith('/')) c = c.slice(0, -1);
  return c;
}

function goBase(p: string): string {
  if (p === '') return '.';
  const s = p.replace(/\/+$/, '');
  if (s === '') return '/';
  return s.slice(s.lastIndexOf('/') + 1);
}

const hasTrailingSep = (p: string) => p.endsWith('/');
const specifiesCurrentDir = (p: string) => goBase(p) === '.';
const assertsDirectory = (p: string) => hasTrailingSep(p) || specifiesCurrentDir(p);

/** archive.SplitPathDirEntry. */
export function splitPathDirEntry(p: string): [string, string] {
  let cleaned = goClean(p);
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return [P.dirname(cleaned), goBase(cleaned)];
}

/** archive.PreserveTrailingDotOrSeparator. */
function preserveTrailing(cleaned: string, original: string): string {
  let c = cleaned;
  if (!specifiesCurrentDir(c) && specifiesCurrentDir(original)) {
    if (!hasTrailingSep(c)) c += '/';
    c += '.';
  }
  if (!hasTrailingSep(c) && hasTrailingSep(original)) c += '/';
  return c;
}

function resolveLocalPath(p: string): string {
  return preserveTrailing(path.resolve(p), p);
}

/** archive.GetRebaseName. */
function getRebaseName(p: string, resolved: string): [string, string] {
  let r = resolved;
  if (specifiesCurrentDir(p) && !specifiesCurrentDir(r)) r += '/.';
  if (hasTrailingSep(p) && !hasTrailingSep(r)) r += '/';
  return [r, goBase(p) !== goBase(r) ? goBase(p) : ''];
}

/** splitCpArg: "ctr:path", or a local path (absolute, no colon, or starting with "."). */
export function splitCpArg(arg: string): [string, string] {
  if (arg.startsWith('/')) return ['', arg];
  const i = arg.indexOf(':');
  if (i === -1 || arg.startsWith('.')) return ['', arg];
  return [arg.slice(0, i), arg.slice(i + 1)];
}

/** Renames the first path component `oldBase` to `newBase` (archive.RebaseArchiveEntries). */
export function rebaseName(name: string, oldBase: string, newBase: string): string {
  if (oldBase === '/' || oldBase === newBase) return name;
  const slash = name.indexOf('/');
  const first = slash === -1 ? name : name.slice(0, slash);
  if (first !== oldBase) return name;
  return newBase + (slash === -1 ? '' : name.slice(slash));
}

type Rename = (name: string) => string;

/** archive.PrepareArchiveCopy: where to extract, and how to rename the top entry. */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dir: string; rename: Rename } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  let [, srcBase] = splitPathDirEntry(src.path);
  if (dst.exists && dst.isDir) return { dir: dst.path, rename: (n) => n };
  if (dst.exists && src.isDir) throw new CliError('cannot copy directory');
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new CliError('no such directory');
  if (src.rebaseName) srcBase = src.rebaseName;
  return { dir: dstDir, rename: (n) => rebaseName(n, srcBase, dstBase) };
}

// ---- daemon ---------------------------------------------------------------------------------

function decodeStat(header: string | string[] | undefined): PathStat | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  try {
    return JSON.parse(Buffer.from(h, 'base64').toString()) as PathStat;
  } catch {
    return undefined; // missing or malformed header: no stat
  }
}

async function statPath(client: ApiClient, ctr: string, p: string): Promise<PathStat> {
  const res = await client.request('HEAD', `/containers/${pathName(ctr)}/archive`, { query: { path: p } });
  res.resume();
  const st = decodeStat(res.headers['x-docker-container-path-stat']);
  if (!st) throw new CliError('unable to decode container path stat header');
  return st;
}

function checkFileMode(mode: number): string | undefined {
  if (mode & MODE_DEVICE) return 'got a device';
  if (mode & MODE_IRREGULAR) return 'got an irregular file';
  return undefined;
}

/** Counts bytes going through, for "Successfully copied". */
function counter(): { stream: Transform; bytes: () => number } {
  let n = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, bytes: () => n };
}

// ---- from a container -----------------------------------------------------------------------

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(fsErrorMessage('lstat', p, err));
  }
}

/** archive.CopyInfoDestinationPath. */
async function destinationInfo(p: string): Promise<CopyInfo> {
  let current = p;
  for (let i = 0; i < 64; i++) {
    const st = await lstatOrUndefined(current);
    if (!st) {
      const [parent] = splitPathDirEntry(current);
      try {
        await fs.stat(parent);
      } catch (err) {
        throw new CliError(fsErrorMessage('stat', parent, err));
      }
      return { path: current, exists: false, isDir: false, rebaseName: '' };
    }
    if (!st.isSymbolicLink()) return { path: current, exists: true, isDir: st.isDirectory(), rebaseName: '' };
    const target = await fs.readlink(current);
    const [dir] = splitPathDirEntry(current);
    current = target.startsWith('/') ? target : P.join(dir, target);
  }
  throw new CliError(`too many symlinks in: ${p}`);
}

/** archive.Untar with NoLchown and NoOverwriteDirNonDir. */
async function untar(body: Readable, dest: string, rename: Rename): Promise<void> {
  const extract = tar.extract();
  const dirTimes: Array<[string, Date]> = [];
  const done = pipeline(body, extract);
  done.catch(() => undefined); // awaited later; not an unhandled rejection meanwhile
  for await (const entry of extract) {
    const h = entry.header;
    const name = rename(h.name);
    const target = P.join(dest, name);
    const rel = P.relative(dest, target);
    if (rel === '..' || rel.startsWith('../')) {
      entry.resume();
      throw new CliError(`invalid tar header: breakout ${h.name}`);
    }
    const parent = P.dirname(target);
    await fs.mkdir(parent, { recursive: true });
    const existing = await lstatOrUndefined(target);
    const isDir = h.type === 'directory';
    if (existing) {
      if (existing.isDirectory() && !isDir) throw new CliError(`cannot overwrite directory "${target}" with non-directory "${dest}"`);
      if (!existing.isDirectory() && isDir) throw new CliError(`cannot overwrite non-directory "${target}" with directory "${dest}"`);
      if (!(existing.isDirectory() && isDir)) await fs.rm(target, { recursive: true, force: true });
    }
    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = h.mtime ?? new Date();
    switch (h.type) {
      case 'directory':
        if (!existing) await fs.mkdir(target, { mode });
        await fs.chmod(target, mode);
        dirTimes.push([target, mtime]);
        entry.resume();
        break;
      case 'file':
      case 'contiguous-file': {
        const handle = await fs.open(target, 'w', mode);
        await pipeline(entry, handle.createWriteStream());
        await fs.chmod(target, mode);
        await fs.utimes(target, mtime, mtime);
        break;
      }
      case 'symlink':
        await fs.symlink(h.linkname ?? '', target);
        await fs.lutimes(target, mtime, mtime).catch(() => undefined); // times are best effort, as docker cp
        entry.resume();
        break;
      case 'link':
        await fs.link(P.join(dest, rename(h.linkname ?? '')), target);
        entry.resume();
        break;
      default:
        entry.resume();
    }
  }
  await done;
  for (const [d, t] of dirTimes.reverse()) await fs.utimes(d, t, t).catch(() => undefined); // times are best effort, as docker cp
}

async function copyFromContainer(cli: Cli, ctr: string, srcPath0: string, dst0: string, followLink: boolean, quiet: boolean): Promise<void> {
  const client = cli.client();
  let dstPath = dst0;
  let srcPath = srcPath0;
  if (dstPath !== '-') {
    dstPath = resolveLocalPath(dstPath);
    const dir = P.dirname(goClean(dstPath));
    try {
      await fs.stat(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`invalid output path: directory "${dir}" does not exist`);
    }
    const st = await fs.stat(dstPath).catch(() => undefined); // does not exist: created below
    if (st && !st.isDirectory() && !st.isFile()) {
      const why = st.isCharacterDevice() || st.isBlockDevice() ? 'got a device' : 'got an irregular file';
      throw new CliError(`invalid output path: "${dstPath}" must be a directory or a regular file: ${why}`);
    }
  }
  let rebase = '';
  if (followLink) {
    const st = await statPath(client, ctr, srcPath).catch(() => undefined); // does not exist: reported by the copy itself
    if (st && st.mode & MODE_SYMLINK) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = P.join(splitPathDirEntry(srcPath)[0], target);
      [srcPath, rebase] = getRebaseName(srcPath, target);
    }
  }
  const res = await client.request('GET', `/containers/${pathName(ctr)}/archive`, { query: { path: srcPath } });
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  if (dstPath === '-') {
    await pipeline(res, cli.rawOut, { end: false });
    return;
  }
  const srcInfo: CopyInfo = { path: srcPath, exists: true, isDir: !!stat && (stat.mode & MODE_DIR) !== 0, rebaseName: rebase };
  const count = counter();
  const dstInfo = await destinationInfo(dstPath);
  const prep = prepareArchiveCopy(srcInfo, dstInfo);
  const [, srcBase] = splitPathDirEntry(srcInfo.path);
  const rename: Rename = rebase ? (n) => prep.rename(rebaseName(n, srcBase, rebase)) : prep.rename;
  try {
    await untar(res.pipe(count.stream), prep.dir, rename);
  } finally {
    res.destroy();
  }
  if (!quiet) cli.err.write(`Successfully copied ${humanSize(count.bytes())} to ${dstPath}\n`);
}

// ---- to a container -------------------------------------------------------------------------

/** archive.CopyInfoSourcePath (ResolveHostSourcePath, then lstat). */
async function sourceInfo(p: string, followLink: boolean): Promise<CopyInfo> {
  let resolved: string;
  let rebase = '';
  if (followLink) {
    try {
      resolved = await fs.realpath(p);
    } catch (err) {
      throw new CliError(fsErrorMessage('lstat', p, err));
    }
    [resolved, rebase] = getRebaseName(p, resolved);
  } else {
    const slash = p.lastIndexOf('/');
    const dir = p.slice(0, slash + 1);
    const base = p.slice(slash + 1);
    let rdir: string;
    try {
      rdir = await fs.realpath(dir || '.');
    } catch (err) {
      throw new CliError(fsErrorMessage('lstat', goClean(dir), err));
    }
    resolved = (rdir === '/' ? '' : rdir) + '/' + base;
    if (hasTrailingSep(p) && goBase(p) !== goBase(resolved)) rebase = goBase(p);
  }
  let st: Stats;
  try {
    st = await fs.lstat(resolved);
  } catch (err) {
    throw new CliError(fsErrorMessage('lstat', resolved, err));
  }
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName: rebase };
}

/** archive.TarResource: the source's base entry (and below), names passed through `rename`. */
function tarResource(src: CopyInfo, rename: Rename): Readable {
  const pack = tar.pack();
  const [dir, base] = splitPathDirEntry(src.path);
  const top = base === '.' ? goClean(src.path) : P.join(dir, base);
  const add = async (abs: string, rel: string): Promise<void> => {
    const st = await fs.lstat(abs);
    const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    if (st.isDirectory()) {
      pack.entry({ ...common, name: rename(rel) + (rel.endsWith('/') ? '' : '/'), type: 'directory' });
      const children = (await fs.readdir(abs)).sort();
      for (const c of children) await add(P.join(abs, c), rel === '.' || rel === './' ? `./${c}` : `${rel}/${c}`);
    } else if (st.isSymbolicLink()) {
      pack.entry({ ...common, name: rename(rel), type: 'symlink', linkname: await fs.readlink(abs) });
    } else if (st.isFile()) {
      await new Promise<void>((resolve, reject) => {
        const ws = pack.entry({ ...common, name: rename(rel), type: 'file', size: st.size }, (err) => (err ? reject(err) : resolve()));
        createReadStream(abs).on('error', reject).pipe(ws);
      });
    }
  };
  void (async () => {
    try {
      await add(top, base === '.' ? '.' : base);
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as Readable;
}

async function copyToContainer(cli: Cli, ctr: string, src0: string, dstPath: string, followLink: boolean, copyIds: boolean, quiet: boolean): Promise<void> {
  const client = cli.client();
  const srcPath = src0 === '-' ? '-' : resolveLocalPath(src0);
  const dstInfo: CopyInfo = { path: dstPath, exists: false, isDir: false, rebaseName: '' };
  let st: PathStat | undefined;
  try {
    st = await statPath(client, ctr, dstPath);
  } catch (err) {
    if (!(err instanceof DaemonError)) throw err;
  }
  if (st && st.mode & MODE_SYMLINK) {
    let target = st.linkTarget;
    if (!target.startsWith('/')) target = P.join(splitPathDirEntry(dstPath)[0], target);
    dstInfo.path = target;
    try {
      st = await statPath(client, ctr, target);
    } catch (err) {
      if (!(err instanceof DaemonError)) throw err;
      st = undefined;
    }
  }
  const bad = st && checkFileMode(st.mode);
  if (bad) throw new CliError(`destination "${ctr}:${dstPath}" must be a directory or a regular file: ${bad}`);
  if (st) {
    dstInfo.exists = true;
    dstInfo.isDir = (st.mode & MODE_DIR) !== 0;
  }
  let content: Readable;
  let dir: string;
  const count = counter();
  if (srcPath === '-') {
    content = cli.in;
    dir = dstInfo.path;
    if (!dstInfo.isDir) throw new CliError(`destination "${ctr}:${dstPath}" must be a directory`);
  } else {
    const srcInfo = await sourceInfo(srcPath, followLink);
    const prep = prepareArchiveCopy(srcInfo, dstInfo);
    const [, srcBase] = splitPathDirEntry(srcInfo.path);
    const rename: Rename = srcInfo.rebaseName ? (n) => prep.rename(rebaseName(n, srcBase, srcInfo.rebaseName)) : prep.rename;
    content = tarResource(srcInfo, rename).pipe(count.stream);
    dir = prep.dir;
  }
  const res = await client.request('PUT', `/containers/${pathName(ctr)}/archive`, {
    query: { copyUIDGID: copyIds ? 'true' : undefined, noOverwriteDirNonDir: 'true', path: dir },
    body: content,
  });
  res.resume();
  if (!quiet) cli.err.write(`Successfully copied ${humanSize(count.bytes())} to ${ctr}:${dstInfo.path}\n`);
}

// ---- the command ----------------------------------------------------------------------------

async function runCp(inv: Invocation, cli: Cli): Promise<void> {
  const fl = inv.flags;
  const [source, destination] = inv.args as [string, string];
  if (source === '') throw new CliError('source can not be empty');
  if (destination === '') throw new CliError('destination can not be empty');
  const quiet = fl.bool('quiet') || !cli.err.isTTY;
  const [srcCtr, srcPath] = splitCpArg(source);
  const [dstCtr, dstPath] = splitCpArg(destination);
  if (srcCtr !== '' && dstCtr !== '') throw new CliError('copying between containers is not supported');
  if (srcCtr !== '') return copyFromContainer(cli, srcCtr, srcPath, dstPath, fl.bool('follow-link'), quiet);
  if (dstCtr !== '') return copyToContainer(cli, dstCtr, srcPath, dstPath, fl.bool('follow-link'), fl.bool('archive'), quiet);
  throw new CliError('must specify at least one container source');
}

export function cpCommand(name: string): CommandDef {
  return {
    name,
    usage: `[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
	berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
    short: 'Copy files/folders between a container and the local filesystem',
    long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
    aliasPaths: ['container cp', 'cp'],
    args: { min: 2, max: 2 },
    flags: [
      { name: 'archive', short: 'a', type: 'bool', usage: 'Archive mode (copy all uid/gid information)' },
      { name: 'follow-link', short: 'L', type: 'bool', usage: 'Always follow symbol link in SRC_PATH' },
      {
        name: 'quiet',
        short: 'q',
        type: 'bool',
        usage: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached',
      },
    ],
    run: runCp,
  };
}
