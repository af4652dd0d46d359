/**
 * Unpacks an image layer (OCI image-spec "layer changeset" tar) into a directory that will be
 * used as an overlayfs lower directory.
 *
 * Safety model (the archive is untrusted):
 *  - Every entry name is cleaned lexically relative to the layer root. A leading '/' is
 *    stripped, and for such absolute names '..' at the root stays at the root (like Docker's
 *    filepath.Clean("/../x") == "/x"). A *relative* name whose '..' climbs above the root
 *    (e.g. "../../etc/x", "a/../../x") makes us reject the whole layer with
 *    `invalid tar header: path "../x" escapes root` — as Docker does — rather than silently
 *    clamping it, since such an entry only appears in broken or hostile archives.
 *  - Before anything is created, every parent component is checked with lstat: a symlink as a
 *    parent rejects the layer (writing through it could land outside dest); a non-directory
 *    parent rejects it too; missing parents are created (0755, root-owned).
 *  - Nothing ever follows a symlink when writing: an existing entry of the same name is removed
 *    first (unlink, or recursive removal for a directory) and files are created with
 *    O_CREAT|O_EXCL|O_NOFOLLOW; metadata of symlinks uses lchown/lutimes.
 *  - Symlink targets are stored verbatim (they are resolved inside the container at run time).
 *  - Hard link targets are cleaned the same way as names, must be inside dest, must already have
 *    been extracted by this layer, must not be reached through a symlinked parent and must not be
 *    a directory (or a whiteout).
 *  - Directory mtimes are applied at the very end (children change them), with lutimes, and only
 *    if the path is still the same directory reached without symlinks.
 *
 * Whiteouts (OCI: `.wh.<name>` deletes <name> from lower layers, `.wh..wh..opq` makes the
 * directory opaque) are converted to overlayfs' native representation, since dest is an
 * overlay lower dir: a 0/0 character device named <name>, and the xattr
 * trusted.overlay.opaque=y on the directory. Per the OCI spec a whiteout only hides lower
 * layers, never entries of the same layer: if <name> already exists in this layer it is kept
 * (and, if it is a directory, made opaque so lower contents stay hidden); if a later entry of
 * this layer recreates <name>, it replaces the whiteout device (a directory doing so is made
 * opaque).
 *
 * Device nodes: block and character devices (other than whiteouts) are *skipped* and counted.
 * Docker creates them, but device files inside images are a security risk (a device node in the
 * rootfs gives raw access to host hardware if the container can open it), runtimes populate
 * /dev themselves, and no common image needs them. FIFOs are created (mkfifo).
 *
 * Extended attributes carried as PAX records (SCHILY.xattr.* / LIBARCHIVE.xattr.*, e.g.
 * security.capability) are ignored; they are counted in the result and logged at debug level.
 * PAX path/linkpath/size/uid/gid/mtime/atime and GNU long names are honoured; GNU sparse files
 * and unknown entry types reject the layer. AUFS metadata (`.wh..wh.plnk/...` etc.) is skipped
 * like Docker does; any other `.wh.`-prefixed name used as a directory component is rejected.
 *
 * Stream: gzip (and zstd when node:zlib has it) is detected by magic bytes; the diffId is the
 * sha256 of the decompressed bytes, all of them (the stream is read to its end, so trailing
 * zero padding after the end-of-archive blocks is included). On failure the input is destroyed.
 * Errors: archive problems throw BerthError InvalidArgument, filesystem/tool failures Internal.
 */
import { createHash } from 'node:crypto';
import fsSync, { constants as fsConstants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import * as tar from 'tar-stream';

import { BerthError, internal, invalidArgument, messageOf } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { paxTime, tarEntryOwner } from '../lib/tar-header.js';
import { isWhiteoutStat, mkfifo, mknodWhiteout, setOpaque } from './overlay-tools.js';

export interface ApplyResult {
  /** 'sha256:<hex>' of the UNCOMPRESSED tar bytes (the whole stream, trailing padding included); '' with `skipDigest`. */
  diffId: string;
  /** Bytes of regular files written (like docker's layer size). */
  size: number;
  /** Bytes of the uncompressed tar stream, all of them (as hashed into diffId). */
  tarSize: number;
  /** Block/character device entries that were skipped (whiteouts are not devices here). */
  skippedDevices: number;
  /** PAX extended-attribute records that were ignored. */
  ignoredXattrs: number;
}

const WH_PREFIX = '.wh.';
const WH_META_PREFIX = '.wh..wh.';
const WH_OPAQUE = '.wh..wh..opq';

/** Batch file data into writes of about this size. */
const WRITE_BATCH = 1024 * 1024;

type EntryHeader = Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };
type EntryStream = AsyncIterable<Buffer>;

interface Meta {
  uid: number;
  gid: number;
  mode: number;
  atime: number | Date;
  mtime: number | Date;
}

function bad(message: string): BerthError {
  return invalidArgument(message);
}

function q(s: string): string {
  return JSON.stringify(s);
}

/**
 * Cleans an archive path lexically into components relative to the layer root.
 * Throws when a relative path climbs above the root (see the module comment).
 */
export function cleanArchivePath(raw: string, what = 'path'): string[] {
  if (raw.includes('\0')) throw bad(`invalid tar header: ${what} ${q(raw)} contains a NUL byte`);
  const absolute = raw.startsWith('/');
  const out: string[] = [];
  for (const c of raw.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length > 0) out.pop();
      else if (!absolute) throw bad(`invalid tar header: ${what} ${q(raw)} escapes root`);
      continue;
    }
    out.push(c);
  }
  return out;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

/** Reads and discards the rest of an entry's data. */
async function drain(stream: EntryStream): Promise<void> {
  for await (const chunk of stream) void chunk;
}

function metaOf(h: EntryHeader): Meta {
  const { uid, gid } = tarEntryOwner(h);
  const mode = (h.mode ?? 0o644) & 0o7777;
  let mtime: number | Date = paxTime(h, 'mtime') ?? h.mtime ?? new Date(0);
  if (mtime instanceof Date && Number.isNaN(mtime.getTime())) mtime = new Date(0);
  const atime = paxTime(h, 'atime') ?? mtime;
  return { uid, gid, mode, atime, mtime };
}

interface DirTime {
  ino: number;
  atime: number | Date;
  mtime: number | Date;
}

class Unpacker {
  size = 0;
  skippedDevices = 0;
  ignoredXattrs = 0;
  /** Relative paths verified (by us, the only writer) to be real directories. '' is the root. */
  private readonly knownDirs = new Set<string>(['']);
  /** Directory times to apply at the end, by relative path. */
  private readonly dirTimes = new Map<string, DirTime>();

  constructor(private readonly root: string) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** Forgets everything cached at or below rel (it was removed or replaced). */
  private invalidate(rel: string): void {
    const prefix = rel === '' ? '' : `${rel}/`;
    for (const k of this.knownDirs) if (k === rel || k.startsWith(prefix)) this.knownDirs.delete(k);
    for (const k of this.dirTimes.keys()) if (k === rel || k.startsWith(prefix)) this.dirTimes.delete(k);
    this.knownDirs.add('');
  }

  /**
   * Makes sure all parent components of parts are real directories inside the root (creating
   * missing ones when create is set) and returns the parent's relative path.
   */
  private async resolveParent(parts: string[], entryName: string, create: boolean, what = 'entry'): Promise<string> {
    let rel = '';
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel === '' ? parts[i]! : `${rel}/${parts[i]!}`;
      if (this.knownDirs.has(rel)) continue;
      const abs = this.abs(rel);
      const st = await lstatOrNull(abs);
      if (st === null) {
        if (!create) throw bad(`invalid tar ${what} ${q(entryName)}: ${q(rel)} does not exist in the layer`);
        await fs.mkdir(abs, 0o755);
        await fs.chmod(abs, 0o755);
      } else if (st.isSymbolicLink()) {
        throw bad(
          `invalid tar ${what} ${q(entryName)}: parent ${q(rel)} is a symbolic link (refusing to write through it; hostile archive?)`,
        );
      } else if (st.isDirectory()) {
        // fine
      } else if (create && isWhiteoutStat(st)) {
        // This layer deleted the directory and now puts something below it again: recreate the
        // directory in place of the whiteout, opaque so lower contents stay hidden.
        await fs.unlink(abs);
        await fs.mkdir(abs, 0o755);
        await fs.chmod(abs, 0o755);
        await setOpaque(abs);
      } else {
        throw bad(`invalid tar ${what} ${q(entryName)}: parent ${q(rel)} is not a directory`);
      }
      this.knownDirs.add(rel);
    }
    return rel;
  }

  /** Removes whatever is at rel (never the root; never follows symlinks). */
  private async removeExisting(rel: string, st: Stats): Promise<void> {
    if (rel === '') throw bad('invalid tar entry: cannot replace the layer root');
    const abs = this.abs(rel);
    if (st.isDirectory()) {
      await fs.rm(abs, { recursive: true, force: true });
      this.invalidate(rel);
    } else {
      await fs.unlink(abs);
    }
  }

  async entry(h: EntryHeader, stream: EntryStream): Promise<void> {
    const name = h.name;
    const parts = cleanArchivePath(name);

    if (h.pax) {
      for (const key of Object.keys(h.pax)) {
        if (key.startsWith('SCHILY.xattr.') || key.startsWith('LIBARCHIVE.xattr.')) this.ignoredXattrs++;
        if (key.startsWith('GNU.sparse.')) throw bad(`unsupported tar entry ${q(name)}: GNU sparse files are not supported`);
      }
    }

    // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs, ...) other than the opaque marker: skip, as Docker does.
    if (parts.length > 0) {
      const first = parts[0]!;
      const last = parts[parts.length - 1]!;
      if ((first.startsWith(WH_META_PREFIX) && !(parts.length === 1 && first === WH_OPAQUE)) ||
          (last.startsWith(WH_META_PREFIX) && last !== WH_OPAQUE)) {
        log.debug('layer: skipping aufs metadata entry', { name });
        await drain(stream);
        return;
      }
      for (let i = 0; i < parts.length - 1; i++) {
        if (parts[i]!.startsWith(WH_PREFIX)) {
          throw bad(`invalid tar entry ${q(name)}: whiteout name ${q(parts[i]!)} used as a directory`);
        }
      }
      if (last.startsWith(WH_PREFIX)) {
        await this.whiteout(parts, name);
        await drain(stream);
        return;
      }
    }

    switch (h.type) {
      case 'directory':
        await this.directory(parts, h);
        await drain(stream);
        return;
      case 'file':
      case 'contiguous-file':
        await this.file(parts, h, stream);
        return;
      case 'symlink':
        await this.symlink(parts, h);
        await drain(stream);
        return;
      case 'link':
        await this.hardlink(parts, h);
        await drain(stream);
        return;
      case 'fifo':
        await this.fifo(parts, h);
        await drain(stream);
        return;
      case 'character-device':
      case 'block-device':
        // See the module comment: device nodes are deliberately not created.
        this.skippedDevices++;
        log.debug('layer: skipping device node', { name, type: h.type, major: h.devmajor, minor: h.devminor });
        await drain(stream);
        return;
      default:
        throw bad(`unsupported tar entry ${q(name)}: unhandled entry type ${q(String(h.type))}`);
    }
  }

  private nonRoot(parts: string[], name: string, what: string): void {
    if (parts.length === 0) throw bad(`invalid tar entry ${q(name)}: a ${what} cannot be the layer root`);
  }

  private async whiteout(parts: string[], name: string): Promise<void> {
    const base = parts[parts.length - 1]!;
    const parentRel = await this.resolveParent(parts, name, true);
    if (base === WH_OPAQUE) {
      await setOpaque(this.abs(parentRel));
      return;
    }
    const target = base.slice(WH_PREFIX.length);
    if (target === '' || target === '.' || target === '..') {
      throw bad(`invalid tar entry ${q(name)}: malformed whiteout`);
    }
    const rel = parentRel === '' ? target : `${parentRel}/${target}`;
    const abs = this.abs(rel);
    const st = await lstatOrNull(abs);
    if (st === null) {
      await mknodWhiteout(abs);
    } else if (st.isDirectory()) {
      // Same-layer entries survive their whiteout; the lower directory's contents must not.
      await setOpaque(abs);
    }
    // Any other existing entry (including an earlier whiteout) already hides the lower one.
  }

  /**
   * Runs create(), which makes a new filesystem object at rel and fails with EEXIST when the name
   * is taken; in that case the existing entry (whatever it is, never followed) is removed and
   * create() is retried once. Trying first saves an lstat for the common case (a fresh name).
   */
  private async createReplacing<T>(rel: string, create: () => Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    await this.removeExisting(rel, await fs.lstat(this.abs(rel)));
    return create();
  }

  /*
   * Metadata of objects we have just created is set with synchronous fd- or path-based calls
   * (fchown/fchmod/futimens/lchown/...): they only touch the inode and never wait for I/O, and
   * going through the libuv thread pool for each of them would dominate the cost of unpacking
   * layers with many small files. Creating objects and writing data stays asynchronous.
   */

  private async directory(parts: string[], h: EntryHeader): Promise<void> {
    const meta = metaOf(h);
    await this.resolveParent(parts, h.name, true);
    const rel = parts.join('/');
    const abs = this.abs(rel);
    let created = false;
    if (rel !== '') {
      try {
        await fs.mkdir(abs, 0o700);
        created = true;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
    }
    if (!created) {
      const st = await fs.lstat(abs);
      if (!st.isDirectory()) {
        const wasWhiteout = isWhiteoutStat(st);
        await this.removeExisting(rel, st);
        await fs.mkdir(abs, 0o700);
        if (wasWhiteout) await setOpaque(abs);
      }
    }
    this.knownDirs.add(rel);
    // abs is a real directory reached without symlinks (checked above), so chmod cannot be redirected.
    fsSync.lchownSync(abs, meta.uid, meta.gid);
    fsSync.chmodSync(abs, meta.mode); // after chown, which clears setuid/setgid
    const after = fsSync.lstatSync(abs);
    this.dirTimes.set(rel, { ino: after.ino, atime: meta.atime, mtime: meta.mtime });
  }

  /** Checks/creates the parents of a non-directory entry and returns its relative path. */
  private async prepare(parts: string[], name: string, what: string): Promise<string> {
    this.nonRoot(parts, name, what);
    await this.resolveParent(parts, name, true);
    return parts.join('/');
  }

  private async file(parts: string[], h: EntryHeader, stream: EntryStream): Promise<void> {
    const meta = metaOf(h);
    const rel = await this.prepare(parts, h.name, 'regular file');
    const abs = this.abs(rel);
    // O_EXCL: never open an existing file or follow a symlink planted at this name.
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    const fd = await this.createReplacing(rel, () => openFd(abs, flags, 0o600));
    try {
      let pending: Buffer[] = [];
      let pendingLen = 0;
      const flush = async (): Promise<void> => {
        if (pendingLen === 0) return;
        const total = pendingLen;
        const written = await writevFd(fd, pending);
        if (written < total) {
          // Short write (unusual for regular files): write the rest piecewise.
          let rest = Buffer.concat(pending).subarray(written);
          while (rest.length > 0) rest = rest.subarray(await writevFd(fd, [rest]));
        }
        this.size += total;
        pending = [];
        pendingLen = 0;
      };
      for await (const chunk of stream) {
        pending.push(chunk);
        pendingLen += chunk.length;
        if (pendingLen >= WRITE_BATCH) await flush();
      }
      await flush();
      fsSync.fchownSync(fd, meta.uid, meta.gid);
      fsSync.fchmodSync(fd, meta.mode); // after chown, which clears setuid/setgid
      fsSync.futimesSync(fd, meta.atime, meta.mtime);
    } finally {
      fsSync.closeSync(fd);
    }
  }

  private async symlink(parts: string[], h: EntryHeader): Promise<void> {
    const meta = metaOf(h);
    const target = h.linkname ?? '';
    if (target === '') throw bad(`invalid tar entry ${q(h.name)}: symbolic link with an empty target`);
    if (target.includes('\0')) throw bad(`invalid tar entry ${q(h.name)}: symbolic link target contains a NUL byte`);
    const rel = await this.prepare(parts, h.name, 'symbolic link');
    const abs = this.abs(rel);
    await this.createReplacing(rel, () => fs.symlink(target, abs));
    fsSync.lchownSync(abs, meta.uid, meta.gid);
    fsSync.lutimesSync(abs, meta.atime, meta.mtime);
  }

  private async hardlink(parts: string[], h: EntryHeader): Promise<void> {
    const name = h.name;
    this.nonRoot(parts, name, 'hard link');
    const linkname = h.linkname ?? '';
    if (linkname === '') throw bad(`invalid tar entry ${q(name)}: hard link without a target`);
    let targetParts: string[];
    try {
      targetParts = cleanArchivePath(linkname, 'hard link target');
    } catch (err) {
      throw bad(`invalid hard link ${q(name)} -> ${q(linkname)}: ${messageOf(err)}`);
    }
    if (targetParts.length === 0) throw bad(`invalid hard link ${q(name)} -> ${q(linkname)}: target is the layer root`);
    // The target is resolved like an entry name, but nothing is created: every parent must
    // already be a real directory of this layer (no symlinks), and the target must exist.
    await this.resolveParent(targetParts, name, false, 'hard link');
    const targetRel = targetParts.join('/');
    const targetAbs = this.abs(targetRel);
    const tst = await lstatOrNull(targetAbs);
    if (tst === null || isWhiteoutStat(tst)) {
      throw bad(`invalid hard link ${q(name)} -> ${q(linkname)}: target not found in the layer`);
    }
    if (tst.isDirectory()) throw bad(`invalid hard link ${q(name)} -> ${q(linkname)}: target is a directory`);

    const rel = parts.join('/');
    if (rel === targetRel) return; // a link to itself: nothing to do
    if (targetRel.startsWith(`${rel}/`)) {
      throw bad(`invalid hard link ${q(name)} -> ${q(linkname)}: target is inside the entry it replaces`);
    }
    await this.resolveParent(parts, name, true);
    const abs = this.abs(rel);
    const st = await lstatOrNull(abs);
    if (st !== null) {
      if (st.ino === tst.ino && st.dev === tst.dev) return; // already that inode
      await this.removeExisting(rel, st);
    }
    // link(2) does not follow a symlink target on Linux, so linking to a symlink links the symlink.
    await fs.link(targetAbs, abs);
    // Metadata is left alone: the inode is shared with the target, which already has its own.
  }

  private async fifo(parts: string[], h: EntryHeader): Promise<void> {
    const meta = metaOf(h);
    const rel = await this.prepare(parts, h.name, 'fifo');
    const abs = this.abs(rel);
    const st = await lstatOrNull(abs);
    if (st !== null) await this.removeExisting(rel, st);
    await mkfifo(abs, meta.mode & 0o777);
    fsSync.lchownSync(abs, meta.uid, meta.gid);
    fsSync.chmodSync(abs, meta.mode); // the path is the fifo we just created (not a symlink)
    fsSync.lutimesSync(abs, meta.atime, meta.mtime);
  }

  /** Applies the deferred directory times, skipping directories that were since replaced. */
  async finish(): Promise<void> {
    const entries = [...this.dirTimes.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, t] of entries) {
      const parts = rel === '' ? [] : rel.split('/');
      let ok = true;
      let prefix = '';
      for (let i = 0; i < parts.length - 1 && ok; i++) {
        prefix = prefix === '' ? parts[i]! : `${prefix}/${parts[i]!}`;
        if (this.knownDirs.has(prefix)) continue;
        const st = await lstatOrNull(this.abs(prefix));
        ok = st !== null && st.isDirectory();
      }
      if (!ok) continue;
      const abs = this.abs(rel);
      const st = await lstatOrNull(abs);
      if (st === null || !st.isDirectory() || st.ino !== t.ino) continue;
      await fs.lutimes(abs, t.atime, t.mtime);
    }
  }
}

function openFd(p: string, flags: number, mode: number): Promise<number> {
  return new Promise((resolve, reject) => fsSync.open(p, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function writevFd(fd: number, buffers: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => fsSync.writev(fd, buffers, (err, n) => (err ? reject(err) : resolve(n))));
}

function depth(rel: string): number {
  if (rel === '') return 0;
  let n = 1;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) n++;
  return n;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new Error('layer input produced a non-binary chunk');
}

type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  return 'none';
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * The decompressed bytes of src. Compression is detected from the magic bytes; gzip is
 * gunzipped; zstd works only where node:zlib provides it (Node ≥ 22.15); xz/bzip2 are refused.
 */
async function* decompressed(src: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  // Like for-await, only call it.return() when stopping early: for some stream implementations
  // (streamx, e.g. a tar-stream entry) return() destroys the stream, which must not happen on success.
  let ended = false;
  try {
    let head = Buffer.alloc(0);
    while (head.length < 6) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      head = Buffer.concat([head, toBuffer(r.value)]);
    }
    const first = head;
    async function* raw(): AsyncGenerator<Buffer> {
      if (first.length > 0) yield first;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) {
          ended = true;
          return;
        }
        yield toBuffer(r.value);
      }
    }
    const kind = detectCompression(head);
    if (kind === 'none') {
      yield* raw();
      return;
    }
    let decoder: import('node:stream').Transform;
    if (kind === 'gzip') {
      decoder = zlib.createGunzip({ chunkSize: 64 * 1024 });
    } else if (kind === 'zstd') {
      const create = (zlib as unknown as { createZstdDecompress?: () => import('node:stream').Transform }).createZstdDecompress;
      if (typeof create !== 'function') {
        throw bad('unsupported layer compression: zstd is not supported by this Node.js version');
      }
      decoder = create.call(zlib);
    } else {
      throw bad(`unsupported layer compression: ${kind}`);
    }
    // Errors surface through the iteration of decoder below; the pipeline promise itself is ignored.
    pipeline(Readable.from(raw(), { objectMode: false }), decoder).catch(() => undefined);
    try {
      for await (const chunk of decoder) yield chunk as Buffer;
    } catch (err) {
      if (isZlibError(err)) throw bad(`invalid layer: ${kind} decompression failed: ${messageOf(err)}`);
      throw err;
    }
  } finally {
    if (!ended) await it.return?.();
  }
}

function waitDrain(w: tar.Extract): Promise<void> {
  return new Promise((resolve) => {
    if (w.destroying) {
      resolve();
      return;
    }
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

function tarError(err: unknown): unknown {
  if (err instanceof BerthError) return err;
  const msg = messageOf(err);
  if (/Unexpected end of data/i.test(msg)) return bad('invalid layer tar: unexpected end of data (truncated archive)');
  return bad(`invalid layer tar: ${msg}`);
}

function fsError(err: unknown, name: string): unknown {
  if (err instanceof BerthError) return err;
  return internal(`applying layer entry ${q(name)}: ${messageOf(err)}`, err);
}

/**
 * Reads a layer tar (plain, gzip, or zstd where Node supports it — detected by magic bytes) and
 * unpacks it into dest (an existing empty directory). The input is consumed to its end (so the
 * diffId covers every byte, including trailing zero padding); on failure the input is destroyed
 * and the thrown Error explains why (the caller deletes dest). No write happens after this
 * function has settled.
 */
export interface ApplyOptions {
  /** The caller verifies the tar's digest itself (e.g. the content store as it stores it): don't hash it again. */
  skipDigest?: boolean;
}

export async function applyLayer(
  input: NodeJS.ReadableStream | Readable | AsyncIterable<unknown>,
  dest: string,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const root = path.resolve(dest);
  const rootSt = await fs.lstat(root);
  if (!rootSt.isDirectory()) throw new Error(`applyLayer: destination ${root} is not a directory`);

  // Anything async-iterable is read through its iterator (Node streams, streamx streams such as
  // tar-stream entries); only old-style streams without one are wrapped.
  const src: AsyncIterable<unknown> =
    typeof (input as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
      ? (input as AsyncIterable<unknown>)
      : new Readable().wrap(input as NodeJS.ReadableStream);
  const unpacker = new Unpacker(root);
  const hash = opts.skipDigest ? null : createHash('sha256');
  const extract = tar.extract();

  let failure: unknown = null;
  const fail = (err: unknown): void => {
    if (failure === null) failure = err;
  };
  let inflight: Promise<void> = Promise.resolve();
  let finished = false;
  let tarSize = 0;

  extract.on('entry', (header, stream, next) => {
    const h = header as unknown as EntryHeader;
    // The entry stream may be destroyed (e.g. truncated archive) before we start reading it;
    // its error is reported through the extract stream, and reading it then fails anyway.
    stream.on('error', () => undefined);
    inflight = unpacker.entry(h, stream as unknown as EntryStream).then(
      () => next(),
      (err: unknown) => {
        const e = fsError(err, h.name);
        fail(e);
        next(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
  extract.on('error', (err: unknown) => fail(tarError(err)));
  extract.on('finish', () => {
    finished = true;
  });
  const closed = new Promise<void>((resolve) => extract.once('close', () => resolve()));

  try {
    for await (const chunk of decompressed(src)) {
      hash?.update(chunk);
      tarSize += chunk.length;
      // After a failure we stop reading (the input is destroyed by the iterator's cleanup).
      if (failure !== null || extract.destroying) break;
      if (!extract.write(chunk)) await waitDrain(extract);
    }
  } catch (err) {
    fail(err instanceof BerthError ? err : new Error(`reading layer: ${messageOf(err)}`, { cause: err }));
  }
  if (failure === null && !extract.destroying) extract.end(undefined);
  else extract.destroy();
  await closed;
  await inflight; // never rejects; makes sure no write is still running
  if (failure === null && !finished) failure = bad('invalid layer tar: extraction aborted');
  if (failure !== null) throw failure;

  try {
    await unpacker.finish();
  } catch (err) {
    throw fsError(err, '(directory times)');
  }
  if (unpacker.skippedDevices > 0 || unpacker.ignoredXattrs > 0) {
    log.debug('layer applied with omissions', {
      dest: root,
      skippedDevices: unpacker.skippedDevices,
      ignoredXattrs: unpacker.ignoredXattrs,
    });
  }
  return {
    diffId: hash ? `sha256:${hash.digest('hex')}` : '',
    size: unpacker.size,
    tarSize,
    skippedDevices: unpacker.skippedDevices,
    ignoredXattrs: unpacker.ignoredXattrs,
  };
}
