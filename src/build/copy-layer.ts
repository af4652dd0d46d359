/**
 * What a COPY/ADD writes, as a list of entries, and the two things made from it: the checksum that keys the
 * build cache (names, types, modes, owners, link targets and content digests; never mtimes) and the layer
 * tar handed to LayerStore.register.
 *
 * File contents are read twice (hashed while planning, streamed into the tar later) from trees that do not
 * change during a build; a file whose size changed in between fails the layer instead of producing one that
 * does not match its checksum.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { openInRoot } from './copy-paths.js';

export type EntryType = 'directory' | 'file' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export type EntryContent =
  /** A regular file under `root` (the source root, or a temp dir of ours). */
  | { hostPath: string; root: string }
  | { data: Buffer };

export interface PlannedEntry {
  /** Path in the image, relative, clean, without leading or trailing '/'. */
  path: string;
  type: EntryType;
  /** Permission bits with setuid, setgid and sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  size: number;
  content?: EntryContent;
  /** sha256 hex of a file's content. */
  digest?: string;
  /** A hard link's first name: were it replaced by a later write, the link becomes a copy (content kept above). */
  linkOf?: PlannedEntry;
}

const MAX_OCTAL_ID = 0o7777777;
const READ_CHUNK = 256 * 1024;

/** Files up to this size are read in one piece (hashing, and ahead of the tar writer). */
const SMALL_FILE = 1024 * 1024;
/** How many files are read at once: a build's disk reads wait on the thread pool, not on the CPU. */
const PARALLEL_READS = 16;
const PREFETCH = 16;

/** Reads a file's content once to learn its digest and size. */
export async function digestContent(content: EntryContent, signal: AbortSignal): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  if ('data' in content) return { digest: hash.update(content.data).digest('hex'), size: content.data.length };
  const { handle, size: statSize } = await openInRoot(content.root, content.hostPath);
  let size = 0;
  try {
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, statSize + 1));
    for (;;) {
      signal.throwIfAborted();
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { digest: hash.digest('hex'), size };
}

/**
 * Fills in the digest and size of every file entry (several files read at once); hard links, and links
 * turned into copies, take their first name's.
 */
export async function digestAll(entries: readonly PlannedEntry[], signal: AbortSignal): Promise<void> {
  const files = new Set(entries.filter((e) => e.type === 'file' && e.digest === undefined && e.content && !e.linkOf));
  // A hard link's first name may have been replaced since: its content is still the one to hash.
  for (const e of entries) if (e.linkOf && e.linkOf.digest === undefined) files.add(e.linkOf);
  const queue = [...files];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      const e = queue[next++]!;
      const { digest, size } = await digestContent(e.content!, signal);
      e.digest = digest;
      e.size = size;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, queue.length) }, worker));
  for (const e of entries) {
    if (e.linkOf) {
      e.digest = e.linkOf.digest;
      e.size = e.linkOf.size;
    }
  }
}

/** sha256 over what would be written, in path order, without times. */
export function checksumOf(entries: readonly PlannedEntry[]): string {
  const hash = createHash('sha256');
  for (const e of entries) {
    const fields = [e.path, e.type, e.mode.toString(8), e.uid, e.gid, e.linkname ?? '', e.devmajor ?? '', e.devminor ?? '', e.digest ?? ''];
    hash.update(JSON.stringify(fields));
    hash.update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The layer tar of the entries (already in path order, parents first). Destroying the stream, or `signal`,
 * stops the reading.
 */
export function layerTar(entries: readonly PlannedEntry[], signal: AbortSignal): Readable {
  const pack = tar.pack();
  // A node stream for LayerStore.register (tar-stream's pack is a streamx stream).
  const out = new Readable({
    highWaterMark: READ_CHUNK,
    read() {
      pack.resume();
    },
    destroy(err, cb) {
      signal.removeEventListener('abort', abort);
      if (!pack.destroyed) pack.destroy();
      cb(err);
    },
  });
  const abort = (): void => {
    out.destroy(signal.reason instanceof Error ? signal.reason : new Error('copy aborted'));
  };
  signal.addEventListener('abort', abort, { once: true });
  pack.on('data', (chunk: unknown) => {
    if (!out.push(chunk as Buffer)) pack.pause();
  });
  pack.on('end', () => {
    signal.removeEventListener('abort', abort);
    out.push(null);
  });
  pack.on('error', (err: Error) => out.destroy(err));
  // Small files are read a few entries ahead, so the tar does not wait on one disk read at a time.
  const ahead = new Map<number, Promise<Buffer>>();
  const prefetch = (i: number): void => {
    const e = entries[i];
    if (!e || ahead.has(i) || e.type !== 'file' || !e.content || 'data' in e.content || e.size > SMALL_FILE) return;
    const p = readWhole(e);
    p.catch(() => {}); // reported when the entry is written
    ahead.set(i, p);
  };
  void (async () => {
    for (let i = 0; i < entries.length; i++) {
      if (out.destroyed) return;
      for (let j = i; j < i + PREFETCH; j++) prefetch(j);
      const data = ahead.get(i);
      ahead.delete(i);
      await writeEntry(pack, entries[i]!, data ? await data : undefined);
    }
    pack.finalize();
  })().catch((err: unknown) => {
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  return out;
}

type PackHeader = Omit<Partial<tar.Header>, 'pax'> & { name: string; pax?: Record<string, string> };

/** A small file's whole content, checked against the size it was planned with. */
async function readWhole(e: PlannedEntry): Promise<Buffer> {
  const content = e.content as { hostPath: string; root: string };
  const { handle } = await openInRoot(content.root, content.hostPath);
  try {
    const buf = Buffer.allocUnsafe(e.size);
    let off = 0;
    while (off < e.size) {
      const { bytesRead } = await handle.read(buf, off, e.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    const { bytesRead: extra } = await handle.read(Buffer.alloc(1), 0, 1, off);
    if (off !== e.size || extra !== 0) throw new Error(`${e.path}: file changed size while it was copied`);
    return buf;
  } finally {
    await handle.close();
  }
}

async function writeEntry(pack: tar.Pack, e: PlannedEntry, prefetched?: Buffer): Promise<void> {
  const big = e.uid > MAX_OCTAL_ID || e.gid > MAX_OCTAL_ID;
  const header: PackHeader = {
    name: e.type === 'directory' ? `${e.path}/` : e.path,
    type: e.type,
    mode: e.mode,
    uid: big ? 0 : e.uid,
    gid: big ? 0 : e.gid,
    mtime: e.mtime,
    size: e.type === 'file' ? e.size : 0,
    ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
    ...(big ? { pax: { uid: String(e.uid), gid: String(e.gid) } } : {}),
  };
  if (e.type !== 'file') {
    await new Promise<void>((resolve, reject) => {
      pack.entry(header as tar.Header, (err) => (err ? reject(err) : resolve()));
    });
    return;
  }
  const content = e.content!;
  const whole = prefetched ?? ('data' in content ? content.data : undefined);
  if (whole) {
    await new Promise<void>((resolve, reject) => {
      pack.entry(header as tar.Header, whole, (err) => (err ? reject(err) : resolve()));
    });
    return;
  }
  if ('data' in content) throw new Error('unreachable');
  const { handle } = await openInRoot(content.root, content.hostPath);
  try {
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry(header as tar.Header, (err) => (err ? reject(err) : resolve()));
      sink.on('error', () => {}); // reported through the entry's callback
      void (async () => {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        let left = e.size;
        while (left > 0) {
          const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, left), null);
          if (bytesRead === 0) throw new Error(`${e.path}: file changed size while it was copied`);
          left -= bytesRead;
          if (!sink.write(Buffer.from(buf.subarray(0, bytesRead)))) {
            await new Promise<void>((r) => sink.once('drain', r));
          }
        }
        sink.end(undefined);
      })().catch((err: unknown) => {
        sink.destroy(err instanceof Error ? err : new Error(String(err)));
        reject(err);
      });
    });
  } finally {
    await handle.close();
  }
}
