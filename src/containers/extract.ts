/**
 * Unpacks a tar from a client (`docker cp` into a container) into a directory of the container, through a
 * ScopedRoot. The archive is untrusted and so is the container (it may be running and changing its files
 * while we write):
 *  - Entry names are cleaned as Go's filepath.Clean does; an absolute name is taken relative to the
 *    destination, a name that climbs above it (`../x`) rejects the archive, as Docker does.
 *  - Directories on the way are resolved in the container's scope (a symlink in them is followed as the
 *    container would, an absolute target restarting at the container root, never above it); missing ones
 *    are created 0755 and root-owned.
 *  - The last component is never followed: whatever is there is removed first (unless both are
 *    directories, which merge) and the new object is created with O_EXCL|O_NOFOLLOW; its owner, mode and
 *    times are set through the open descriptor, or with the l* calls for symlinks.
 *  - Hard links must name a file inside the destination that is not a directory.
 *  - Device nodes are skipped (as layers skip them); extended attributes are ignored.
 * Directory times are applied at the end (their children change them), to directories re-opened by their
 * symlink-free path. Errors stop the extraction; what was written stays, as with Docker.
 */
import { constants as C, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';

import { decompressed } from '../lib/compression.js';
import { BerthError, invalidArgument } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { paxTime, tarEntryOwner } from '../lib/tar-header.js';
import { mkfifo } from '../layers/overlay-tools.js';
import { Dir, ScopedRoot, errno, pathError } from './scoped-fs.js';

export interface ExtractOptions {
  noOverwriteDirNonDir: boolean;
  /** Owner for every entry, as host ids (copyUIDGID with a container User); otherwise the archive's uid/gid. */
  chownTo?: { uid: number; gid: number };
  /** The archive's (container) ids to host ids (--userns-remap); identity when absent. */
  toHost?: (uid: number, gid: number) => { uid: number; gid: number };
}

type Entry = AsyncIterable<Buffer> & { header: tar.Header; resume(): unknown };

interface Times {
  atime: Date;
  mtime: Date;
}

export async function extractTar(scoped: ScopedRoot, dest: Dir, input: Readable, opts: ExtractOptions): Promise<void> {
  const tarIn = await decompressed(input);
  const extract = tar.extract();
  tarIn.on('error', (err) => extract.destroy(err));
  tarIn.pipe(extract);
  const dirTimes = new Map<string, Times>();
  try {
    for await (const raw of extract) {
      const entry = raw as unknown as Entry;
      await extractEntry(scoped, dest, entry, opts, dirTimes);
    }
  } catch (err) {
    extract.destroy();
    tarIn.unpipe(extract);
    tarIn.destroy();
    if (err instanceof BerthError || errno(err)) throw err;
    throw invalidArgument(`invalid tar archive: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const [dirPath, t] of dirTimes) {
    const d = await scoped.reopen(dirPath);
    if (!d) continue;
    try {
      await d.handle.utimes(t.atime, t.mtime);
    } finally {
      await scoped.release(d);
    }
  }
}

/** Go's filepath.Clean of an entry name, as components below the destination; rejects breakouts. */
export function entryParts(name: string, dest: string, what = ''): string[] {
  const absolute = name.startsWith('/');
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length) out.pop();
      else if (!absolute) throw invalidArgument(what || `${JSON.stringify(name)} is outside of ${JSON.stringify(dest)}`);
      continue;
    }
    out.push(c);
  }
  return out;
}

function timesOf(h: tar.Header): Times {
  const paxMtime = paxTime(h, 'mtime');
  const mtime = paxMtime !== undefined ? new Date(paxMtime * 1000) : (h.mtime ?? new Date(0));
  const paxAtimeSec = paxTime(h, 'atime');
  const paxAtime = paxAtimeSec !== undefined ? new Date(paxAtimeSec * 1000) : undefined;
  // As Docker: the access time is never before the modification time.
  const atime = paxAtime && paxAtime > mtime ? paxAtime : mtime;
  return { atime, mtime };
}

function owner(h: tar.Header, opts: ExtractOptions): { uid: number; gid: number } {
  if (opts.chownTo) return opts.chownTo;
  const { uid, gid } = tarEntryOwner(h);
  return opts.toHost ? opts.toHost(uid, gid) : { uid, gid };
}

async function drain(entry: Entry): Promise<void> {
  for await (const chunk of entry) void chunk;
}

async function extractEntry(scoped: ScopedRoot, dest: Dir, entry: Entry, opts: ExtractOptions, dirTimes: Map<string, Times>): Promise<void> {
  const h = entry.header;
  const type = h.type ?? 'file';
  const parts = entryParts(h.name, dest.path);
  if (parts.length === 0) {
    // "." or "/": the destination itself, which is a directory.
    if (type !== 'directory') throw invalidArgument(`cannot overwrite directory ${JSON.stringify(dest.path)} with non-directory ${JSON.stringify(dest.path)}`);
    return drain(entry);
  }
  const base = parts[parts.length - 1]!;
  let parent = dest;
  if (parts.length > 1) {
    const t = await scoped.resolveFrom(dest, `${parts.slice(0, -1).join('/')}/`, { create: true });
    if (t.kind !== 'dir') throw pathError(Object.assign(new Error(), { code: 'ENOTDIR' }), 'mkdir', t.path);
    parent = t.dir;
  }
  try {
    await place(scoped, dest, parent, base, entry, opts, dirTimes);
  } finally {
    await scoped.release(parent, dest);
  }
}

async function place(scoped: ScopedRoot, dest: Dir, parent: Dir, base: string, entry: Entry, opts: ExtractOptions, dirTimes: Map<string, Times>): Promise<void> {
  const h = entry.header;
  const type = h.type ?? 'file';
  const containerPath = parent.child(base);
  if (type === 'character-device' || type === 'block-device') {
    log.debug('cp: skipping a device node', { path: containerPath });
    return drain(entry);
  }
  if (!['directory', 'file', 'contiguous-file', 'symlink', 'link', 'fifo'].includes(type)) {
    throw invalidArgument(`unhandled tar header type ${type} for ${JSON.stringify(h.name)}`);
  }
  if (parent.readOnly) throw pathError(Object.assign(new Error(), { code: 'EROFS' }), 'open', containerPath);

  const mount = scoped.mountAt(containerPath);
  const existing = await scoped.lstatAt(parent, base);
  if (existing) {
    const isDir = existing.isDirectory();
    if (opts.noOverwriteDirNonDir && isDir && type !== 'directory') {
      throw invalidArgument(`cannot overwrite directory ${JSON.stringify(containerPath)} with non-directory ${JSON.stringify(dest.path)}`);
    }
    if (opts.noOverwriteDirNonDir && !isDir && type === 'directory') {
      throw invalidArgument(`cannot overwrite non-directory ${JSON.stringify(containerPath)} with directory ${JSON.stringify(dest.path)}`);
    }
    if (mount) {
      if (isDir && type === 'directory') return drain(entry); // a mounted directory: merge into it
      throw pathError(Object.assign(new Error(), { code: 'EBUSY' }), 'unlinkat', containerPath);
    }
    if (!(isDir && type === 'directory')) await scoped.removeAll(parent, base);
  }
  const { uid, gid } = owner(h, opts);
  const mode = (h.mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o7777;
  const times = timesOf(h);
  const target = parent.at(base) as string;

  switch (type) {
    case 'directory': {
      if (!existing?.isDirectory()) {
        await fs.mkdir(target, 0o700).catch((err: unknown) => {
          throw pathError(err, 'mkdir', containerPath);
        });
      }
      const d = await scoped.openChild(parent, base);
      try {
        await d.handle.chown(uid, gid);
        await d.handle.chmod(mode);
      } finally {
        await d.close();
      }
      dirTimes.set(containerPath, times);
      return drain(entry);
    }
    case 'file':
    case 'contiguous-file': {
      const fh = await fs.open(target, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600).catch((err: unknown) => {
        throw pathError(err, 'open', containerPath);
      });
      try {
        for await (const chunk of entry) {
          let off = 0;
          while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        }
        await fh.chown(uid, gid);
        await fh.chmod(mode); // after chown, which clears setuid/setgid
        await fh.utimes(times.atime, times.mtime);
      } finally {
        await fh.close();
      }
      return;
    }
    case 'symlink': {
      await drain(entry);
      const linkname = h.linkname ?? '';
      if (!linkname) throw invalidArgument(`invalid symlink ${JSON.stringify(h.name)}: no target`);
      await fs.symlink(linkname, target).catch((err: unknown) => {
        throw pathError(err, 'symlink', containerPath);
      });
      await fs.lchown(target, uid, gid);
      await fs.lutimes(target, times.atime, times.mtime);
      return;
    }
    case 'link': {
      await drain(entry);
      const linkname = h.linkname ?? '';
      const tparts = entryParts(linkname, dest.path, `invalid hardlink ${JSON.stringify(containerPath)} -> ${JSON.stringify(linkname)}`);
      if (tparts.length === 0) throw invalidArgument(`invalid hardlink ${JSON.stringify(containerPath)} -> ${JSON.stringify(linkname)}`);
      const t = await scoped.resolveFrom(dest, tparts.join('/'));
      try {
        if (t.kind !== 'entry' || t.mount) throw invalidArgument(`invalid hardlink ${JSON.stringify(containerPath)} -> ${JSON.stringify(linkname)}`);
        const tst = await scoped.lstatAt(t.parent, t.name);
        if (!tst) throw pathError(Object.assign(new Error(), { code: 'ENOENT' }), 'link', t.path);
        if (tst.isDirectory()) throw invalidArgument(`invalid hardlink ${JSON.stringify(containerPath)} -> ${JSON.stringify(linkname)}: a directory`);
        await fs.link(t.parent.at(t.name), target).catch((err: unknown) => {
          throw pathError(err, 'link', containerPath);
        });
      } finally {
        await scoped.release(t, dest, parent);
      }
      return;
    }
    case 'fifo': {
      await drain(entry);
      await mkfifo(target, mode);
      await fs.lchown(target, uid, gid);
      await fs.lutimes(target, times.atime, times.mtime);
      return;
    }
  }
}
