/**
 * Tar streams of a container's files, read through a ScopedRoot: every directory is opened relative to its
 * parent with O_NOFOLLOW and every file with O_NOFOLLOW, so a running container that swaps a directory for
 * a symlink while we read cannot make us read a host file. Used by `docker cp` (GET archive), `docker
 * export` and commit (layer mode: overlay whiteouts become `.wh.` entries, opaque directories get a
 * `.wh..wh..opq` entry).
 *
 * Entries come in sorted (byte-wise) name order, directories with a trailing '/', with mode, uid, gid and
 * whole-second mtimes; files linked several times appear once and then as hard links to the first name;
 * devices and FIFOs are kept, sockets skipped (tar cannot hold them). A file that changes size while it is
 * read is cut or zero-padded to the size it had when its header was written, rather than failing the copy.
 */
import { constants as C, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

import { log } from '../lib/log.js';
import { isWhiteoutStat, splitDev } from '../layers/overlay-tools.js';
import { Dir, ScopedRoot, errno, pathError, type Target } from './scoped-fs.js';

const READ_CHUNK = 256 * 1024;
const OUT_HIGH_WATER = 256 * 1024;
const MAX_OCTAL_ID = 0o7777777;

type PackHeader = Omit<Partial<tar.Header>, 'pax'> & { name: string; pax?: Record<string, string> };

export interface TarOptions {
  /**
   * Name of the entry for the directory itself ('etc/', './', '/'), or undefined for none (export, layers).
   * For a non-directory target, the name of its single entry.
   */
  rootName?: string;
  /** Prefix of the names of everything below the directory: 'etc/', './', '/' or '' (export, layers). */
  prefix?: string;
  /** Layer mode: the directories (relative paths, '' for the root) that are overlay-opaque. */
  opaque?: Set<string>;
  /** Owners as the tar shows them (--userns-remap: host ids back to the container's). */
  owners?: (uid: number, gid: number) => { uid: number; gid: number };
  /** Leaves an entry out (its path below the root, its lstat, its directory); a skipped directory is not entered. */
  skip?: (rel: string, st: Stats, parent: Dir) => boolean | Promise<boolean>;
}

class Aborted extends Error {
  constructor() {
    super('tar stream destroyed');
  }
}

/**
 * A tar stream of what `target` designates (a directory's whole tree, or one entry). `settled` resolves
 * once the walk has stopped (finished, failed or aborted by destroying the stream): the ScopedRoot must
 * stay open until then.
 */
export function tarTarget(scoped: ScopedRoot, target: Target, opts: TarOptions): Readable & { settled: Promise<void> } {
  const pack = tar.pack();
  let aborted = false;
  let waiter: (() => void) | null = null;
  const wake = (): void => {
    const w = waiter;
    waiter = null;
    w?.();
  };
  let packPaused = false;
  const out = new Readable({
    highWaterMark: OUT_HIGH_WATER,
    read() {
      if (packPaused) {
        packPaused = false;
        pack.resume();
      }
      wake();
    },
    destroy(err, cb) {
      aborted = true;
      if (!pack.destroying) pack.destroy();
      wake();
      cb(err);
    },
  });
  pack.on('data', (data: unknown) => {
    const chunk = data as Buffer;
    if (!out.push(chunk)) {
      packPaused = true;
      pack.pause();
    }
  });
  pack.on('end', () => out.push(null));
  pack.on('error', (err: Error) => out.destroy(err));
  // Entries without a body do not wait for the reader inside tar-stream, so the walker also waits here
  // whenever the output is full.
  const room = async (): Promise<void> => {
    while (!aborted && out.readableLength >= out.readableHighWaterMark) {
      await new Promise<void>((resolve) => {
        waiter = resolve;
      });
    }
    if (aborted) throw new Aborted();
  };
  const walker = new Walker(scoped, pack, opts, room);
  const settled = walker.run(target).then(
    () => {
      if (!aborted) pack.finalize();
    },
    (err: unknown) => {
      if (!aborted) out.destroy(err instanceof Error ? err : new Error(String(err)));
    },
  );
  return Object.assign(out, { settled });
}

class Walker {
  private readonly firstLink = new Map<string, string>();

  constructor(
    private readonly scoped: ScopedRoot,
    private readonly pack: tar.Pack,
    private readonly opts: TarOptions,
    private readonly room: () => Promise<void>,
  ) {}

  async run(target: Target): Promise<void> {
    if (target.kind === 'missing') throw pathError(Object.assign(new Error(), { code: 'ENOENT' }), 'lstat', target.path);
    if (target.kind === 'dir') {
      const st = await target.dir.handle.stat();
      if (this.opts.rootName !== undefined) await this.add(this.header(this.opts.rootName, st, 'directory'));
      if (this.opts.opaque?.has('')) await this.add(this.opaqueHeader('', st));
      await this.walk(target.dir, '');
      return;
    }
    const st = await this.scoped.lstatAt(target.parent, target.name);
    if (!st) throw pathError(Object.assign(new Error(), { code: 'ENOENT' }), 'lstat', target.path);
    if (st.isDirectory()) {
      const dir = await this.scoped.openChild(target.parent, target.name);
      try {
        await this.run({ kind: 'dir', dir, path: dir.path });
      } finally {
        await dir.close();
      }
      return;
    }
    await this.entry(target.parent, target.name, this.opts.rootName ?? target.name, '', st);
  }

  private async walk(dir: Dir, rel: string): Promise<void> {
    const names = await fs.readdir(dir.self, { encoding: 'buffer' });
    names.sort(Buffer.compare);
    for (const raw of names) {
      const name = raw.toString('utf8');
      if (!Buffer.from(name, 'utf8').equals(raw)) {
        log.warn('tar: skipping a file whose name is not UTF-8', { dir: dir.path });
        continue;
      }
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const st = await this.scoped.lstatAt(dir, name);
      if (!st) continue; // vanished meanwhile
      if (this.opts.skip && (await this.opts.skip(childRel, st, dir))) continue;
      await this.entry(dir, name, `${this.opts.prefix ?? ''}${childRel}`, childRel, st);
    }
  }

  private header(name: string, st: Stats, type: tar.Header['type']): PackHeader {
    const { uid, gid } = this.opts.owners ? this.opts.owners(st.uid, st.gid) : st;
    const h: PackHeader = {
      name,
      type,
      mode: st.mode & 0o7777,
      uid,
      gid,
      mtime: new Date(Math.max(0, Math.floor(st.mtimeMs / 1000)) * 1000),
    };
    if (uid > MAX_OCTAL_ID || gid > MAX_OCTAL_ID) h.pax = { uid: String(uid), gid: String(gid) };
    return h;
  }

  private opaqueHeader(rel: string, st: Stats): PackHeader {
    const h = this.header(rel === '' ? '.wh..wh..opq' : `${rel}/.wh..wh..opq`, st, 'file');
    h.mode = 0o600;
    h.size = 0;
    return h;
  }

  /** One entry: `name` in `dir`, archived as `tarName`; `rel` is its path below the walked root. */
  private async entry(dir: Dir, name: string, tarName: string, rel: string, st: Stats): Promise<void> {
    if (st.isDirectory()) {
      await this.add(this.header(tarName.endsWith('/') ? tarName : `${tarName}/`, st, 'directory'));
      if (this.opts.opaque?.has(rel)) await this.add(this.opaqueHeader(tarName.replace(/\/$/, ''), st));
      let child: Dir;
      try {
        child = await this.scoped.openChild(dir, name);
      } catch (err) {
        // Replaced by something else since the lstat: leave it out rather than follow it.
        if (errno(err) === 'ELOOP' || errno(err) === 'ENOTDIR' || errno(err) === 'ENOENT') return;
        throw err;
      }
      try {
        await this.walk(child, rel);
      } finally {
        await child.close();
      }
      return;
    }
    if (st.isFile()) {
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = this.firstLink.get(key);
        if (first !== undefined) {
          const h = this.header(tarName, st, 'link');
          h.linkname = first;
          h.size = 0;
          await this.add(h);
          return;
        }
        this.firstLink.set(key, tarName);
      }
      await this.file(dir, name, tarName, st);
      return;
    }
    if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = await fs.readlink(dir.at(name), 'utf8');
      } catch (err) {
        if (errno(err) === 'ENOENT' || errno(err) === 'EINVAL') return;
        throw pathError(err, 'readlink', dir.child(name));
      }
      const h = this.header(tarName, st, 'symlink');
      h.linkname = target;
      await this.add(h);
      return;
    }
    if (this.opts.opaque && isWhiteoutStat(st)) {
      const slash = tarName.lastIndexOf('/');
      const h = this.header(slash < 0 ? `.wh.${tarName}` : `${tarName.slice(0, slash)}/.wh.${tarName.slice(slash + 1)}`, st, 'file');
      h.mode = 0o600;
      h.size = 0;
      await this.add(h);
      return;
    }
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = splitDev(st.rdev);
      const h = this.header(tarName, st, st.isCharacterDevice() ? 'character-device' : 'block-device');
      h.devmajor = major;
      h.devminor = minor;
      await this.add(h);
      return;
    }
    if (st.isFIFO()) {
      await this.add(this.header(tarName, st, 'fifo'));
      return;
    }
    log.debug('tar: skipping a file tar cannot hold', { path: dir.child(name) });
  }

  /** Adds an entry without a body once the reader has room. */
  private async add(h: PackHeader): Promise<void> {
    await this.room();
    await new Promise<void>((resolve, reject) => {
      try {
        const sink = this.pack.entry(h as tar.Header, (err) => (err ? reject(err) : resolve()));
        sink.on('error', () => {}); // reported through the entry's callback
        if (h.type === 'file') sink.end(undefined);
      } catch (err) {
        reject(err);
      }
    });
  }

  private async file(dir: Dir, name: string, tarName: string, st: Stats): Promise<void> {
    await this.room();
    const mount = this.scoped.mountAt(dir.child(name));
    let fh: FileHandle;
    try {
      // O_NONBLOCK: should the name have become a FIFO meanwhile, do not hang opening it.
      fh = mount
        ? await fs.open(mount.source, C.O_RDONLY | C.O_NONBLOCK)
        : await fs.open(dir.at(name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ELOOP') return; // gone or replaced meanwhile
      throw pathError(err, 'open', dir.child(name));
    }
    try {
      const now = await fh.stat();
      if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) return; // replaced meanwhile
      const size = st.size;
      const h = this.header(tarName, st, 'file');
      h.size = size;
      let sinkError: unknown = null;
      let sink: ReturnType<tar.Pack['entry']> | undefined;
      const written = new Promise<void>((resolve, reject) => {
        try {
          sink = this.pack.entry(h as tar.Header, (err) => (err ? reject(err) : resolve()));
          sink.on('error', () => {}); // reported through the entry's callback
        } catch (err) {
          reject(err);
        }
      });
      written.catch((err: unknown) => {
        sinkError = err;
      });
      if (!sink) return await written;
      let pos = 0;
      while (pos < size && sinkError === null) {
        await this.room();
        const len = Math.min(READ_CHUNK, size - pos);
        let buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fh.read(buf, 0, len, pos);
        // The file shrank: pad with zeros up to the size announced in the header.
        if (bytesRead === 0) buf = Buffer.alloc(len);
        else buf = buf.subarray(0, bytesRead);
        pos += buf.length;
        if (!sink.write(buf)) await drained(sink);
      }
      if (sinkError === null) sink.end(undefined);
      await written;
    } finally {
      await fh.close();
    }
  }
}

function drained(sink: ReturnType<tar.Pack['entry']>): Promise<void> {
  return new Promise((resolve) => {
    if (sink.destroying || sink.destroyed) return resolve();
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
  });
}
