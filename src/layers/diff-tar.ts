/**
 * Produces tar streams from directories:
 *  - tarLayerDir: an overlayfs upper directory as an image layer (OCI changeset), converting
 *    overlay whiteouts (character device 0/0) into `.wh.<name>` entries and opaque directories
 *    (xattr trusted.overlay.opaque=y) into a `<dir>/.wh..wh..opq` entry right after the
 *    directory's own entry.
 *  - tarDirectory: a plain directory tree (exports); devices are kept as devices.
 *
 * Both walk the tree in sorted (byte-wise) name order, never follow symlinks, emit names
 * relative to the directory (directories with a trailing '/', no entry for the root itself),
 * keep mode/uid/gid and whole-second mtimes only (no atime/ctime/uname/gname), so the same tree
 * always gives the same bytes. Files with several links in the tree are emitted once and then as
 * hard links to the first name. Sockets cannot be represented in tar and are skipped.
 * Extended attributes are not emitted (applyLayer ignores them too).
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';

import { log } from '../lib/log.js';
import { isWhiteoutStat, listOpaqueDirs, splitDev } from './overlay-tools.js';

const READ_CHUNK = 256 * 1024;
const OUT_HIGH_WATER = 256 * 1024;
const MAX_OCTAL_ID = 0o7777777;

type PackHeader = Omit<Partial<tar.Header>, 'pax'> & { name: string; pax?: Record<string, string> };
type Sink = ReturnType<tar.Pack['entry']>;

class Aborted extends Error {
  constructor() {
    super('tar stream destroyed');
  }
}

function waitDrain(w: Sink): Promise<void> {
  return new Promise((resolve) => {
    if (w.destroying || w.destroyed) {
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

function byteCompare(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

function decodeName(raw: Buffer, where: string): string {
  const s = raw.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(raw)) {
    throw new Error(`cannot archive ${JSON.stringify(where)}: file name is not valid UTF-8`);
  }
  return s;
}

class Walker {
  private readonly firstLink = new Map<string, string>();
  private opaque = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly layer: boolean,
    private readonly pack: tar.Pack,
    private readonly aborted: () => boolean,
    private readonly room: () => Promise<void>,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  async run(): Promise<void> {
    const st = await fs.lstat(this.root);
    if (!st.isDirectory()) throw new Error(`cannot archive ${this.root}: not a directory`);
    if (this.layer) {
      this.opaque = await listOpaqueDirs(this.root);
      if (this.opaque.has('')) await this.add(this.opaqueHeader('', st));
    }
    await this.walk('');
  }

  private async walk(rel: string): Promise<void> {
    const raw = await fs.readdir(this.abs(rel), { encoding: 'buffer' });
    raw.sort(byteCompare);
    for (const nameBuf of raw) {
      if (this.aborted()) throw new Aborted();
      const name = decodeName(nameBuf, rel === '' ? nameBuf.toString() : `${rel}/${nameBuf.toString()}`);
      const childRel = rel === '' ? name : `${rel}/${name}`;
      let st: Stats;
      try {
        st = await fs.lstat(this.abs(childRel));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // vanished meanwhile
        throw err;
      }
      await this.entry(childRel, name, st);
    }
  }

  private base(rel: string, st: Stats): PackHeader {
    const mtimeSec = Math.max(0, Math.floor(st.mtimeMs / 1000));
    const h: PackHeader = {
      name: rel,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: new Date(mtimeSec * 1000),
    };
    if (st.uid > MAX_OCTAL_ID || st.gid > MAX_OCTAL_ID) {
      h.pax = { uid: String(st.uid), gid: String(st.gid) };
    }
    return h;
  }

  private opaqueHeader(dirRel: string, st: Stats): PackHeader {
    const h = this.base(dirRel === '' ? '.wh..wh..opq' : `${dirRel}/.wh..wh..opq`, st);
    h.type = 'file';
    h.mode = 0o600;
    h.size = 0;
    return h;
  }

  private async entry(rel: string, name: string, st: Stats): Promise<void> {
    if (st.isDirectory()) {
      const h = this.base(`${rel}/`, st);
      h.type = 'directory';
      await this.add(h);
      if (this.layer && this.opaque.has(rel)) await this.add(this.opaqueHeader(rel, st));
      await this.walk(rel);
      return;
    }
    if (st.isFile()) {
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = this.firstLink.get(key);
        if (first !== undefined) {
          const h = this.base(rel, st);
          h.type = 'link';
          h.linkname = first;
          h.size = 0;
          await this.add(h);
          return;
        }
        this.firstLink.set(key, rel);
      }
      await this.file(rel, st);
      return;
    }
    if (st.isSymbolicLink()) {
      const target = decodeName(await fs.readlink(this.abs(rel), { encoding: 'buffer' }), rel);
      const h = this.base(rel, st);
      h.type = 'symlink';
      h.linkname = target;
      await this.add(h);
      return;
    }
    if (this.layer && isWhiteoutStat(st)) {
      const dir = path.posix.dirname(rel);
      const h = this.base(dir === '.' ? `.wh.${name}` : `${dir}/.wh.${name}`, st);
      h.type = 'file';
      h.mode = 0o600;
      h.size = 0;
      await this.add(h);
      return;
    }
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = splitDev(st.rdev);
      const h = this.base(rel, st);
      h.type = st.isCharacterDevice() ? 'character-device' : 'block-device';
      h.devmajor = major;
      h.devminor = minor;
      await this.add(h);
      return;
    }
    if (st.isFIFO()) {
      const h = this.base(rel, st);
      h.type = 'fifo';
      await this.add(h);
      return;
    }
    log.debug('tar: skipping file that cannot be archived', { path: rel, mode: st.mode });
  }

  /** Adds an entry without a body and waits until the pack has taken it. */
  private async add(h: PackHeader): Promise<void> {
    await this.room();
    if (this.aborted()) throw new Aborted();
    await new Promise<void>((resolve, reject) => {
      try {
        const sink = this.pack.entry(h, (err) => (err ? reject(err) : resolve()));
        if (h.type === 'file') sink.end(undefined);
      } catch (err) {
        reject(err);
      }
    });
  }

  private async file(rel: string, st: Stats): Promise<void> {
    await this.room();
    if (this.aborted()) throw new Aborted();
    // O_NONBLOCK: should the name have been swapped for a FIFO meanwhile, do not hang opening it.
    const fh = await fs.open(this.abs(rel), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    try {
      const now = await fh.stat();
      if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) {
        throw new Error(`cannot archive ${JSON.stringify(rel)}: file was replaced while archiving`);
      }
      const size = st.size;
      const h = this.base(rel, st);
      h.type = 'file';
      h.size = size;
      let sinkErr: unknown = null;
      let sink: Sink | undefined;
      const written = new Promise<void>((resolve, reject) => {
        try {
          sink = this.pack.entry(h, (err) => (err ? reject(err) : resolve()));
        } catch (err) {
          reject(err);
        }
      });
      written.catch((err: unknown) => {
        sinkErr = err;
      });
      if (sink === undefined) {
        await written;
        return;
      }
      let pos = 0;
      while (pos < size) {
        if (this.aborted()) throw new Aborted();
        if (sinkErr !== null) break;
        const len = Math.min(READ_CHUNK, size - pos);
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fh.read(buf, 0, len, pos);
        if (bytesRead === 0) {
          const err = new Error(`cannot archive ${JSON.stringify(rel)}: file shrank while archiving`);
          sink.destroy(err);
          throw err;
        }
        pos += bytesRead;
        if (!sink.write(buf.subarray(0, bytesRead))) await waitDrain(sink);
      }
      if (sinkErr === null) sink.end(undefined);
      await written;
    } finally {
      await fh.close();
    }
  }
}

function makeTar(dir: string, layer: boolean): Readable {
  const root = path.resolve(dir);
  const pack = tar.pack();
  let aborted = false;
  let paused = false;
  let waiter: (() => void) | null = null;
  const wake = (): void => {
    const w = waiter;
    waiter = null;
    w?.();
  };

  const out = new Readable({
    highWaterMark: OUT_HIGH_WATER,
    read() {
      if (paused) {
        paused = false;
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

  pack.on('data', (chunk) => {
    if (!out.push(chunk as Buffer)) {
      paused = true;
      pack.pause();
    }
  });
  pack.on('end', () => out.push(null));
  pack.on('error', (err: Error) => out.destroy(err));

  // Header-only entries don't go through the pack's backpressure, so the walker also waits
  // whenever the output buffer is full.
  const room = async (): Promise<void> => {
    while (!aborted && out.readableLength >= out.readableHighWaterMark) {
      await new Promise<void>((resolve) => {
        waiter = resolve;
      });
    }
  };

  const walker = new Walker(root, layer, pack, () => aborted, room);
  walker.run().then(
    () => {
      if (!aborted) pack.finalize();
    },
    (err: unknown) => {
      if (!aborted) out.destroy(err instanceof Error ? err : new Error(String(err)));
    },
  );
  return out;
}

/**
 * Streams a tar of an overlay upper dir as an image layer: overlay whiteouts (char device 0/0)
 * become `.wh.<name>` entries, dirs with xattr trusted.overlay.opaque=y get a `.wh..wh..opq`
 * entry. Deterministic order (sorted names).
 */
export function tarLayerDir(dir: string): Readable {
  return makeTar(dir, true);
}

/** Tar of a plain directory tree (used for exports); symlinks are not followed. */
export function tarDirectory(dir: string): Readable {
  return makeTar(dir, false);
}
