import { createHash } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { decompressed } from './compression.js';
import { BerthError, invalidArgument } from './errors.js';

type ExtractEntry = AsyncIterable<unknown> & { header: tar.Header; resume(): unknown };

/** What the archive holds at one (normalized, '/'-separated) path. */
type ArchiveEntry =
  | { kind: 'dir' }
  | { kind: 'file'; size: number; digest?: string }
  | { kind: 'symlink'; target: string };

export interface ExtractOptions {
  /** Hash every regular file while writing it, so callers can verify content-addressed blobs for free. */
  hashFiles?: boolean;
  /** Refuse archives with more entries than this (default 1,000,000). */
  maxEntries?: number;
}

/** Longest chain of symlinks followed when resolving one path (as Linux's MAXSYMLINKS). */
const MAX_SYMLINK_HOPS = 40;

/**
 * An untrusted tar archive unpacked into a private directory. Only regular files and directories exist on
 * disk; the archive's symlinks are kept in memory and resolved here, component by component and never
 * above the archive root, so nothing the archive says can make a read or a write leave `root`.
 */
export class ExtractedArchive {
  constructor(
    readonly root: string,
    private readonly entries: Map<string, ArchiveEntry>,
  ) {}

  /** True if `name` resolves to a regular file of the archive. */
  hasFile(name: string): boolean {
    try {
      return this.entries.get(this.resolve(name))?.kind === 'file';
    } catch {
      return false; // escapes the archive: not a file of it
    }
  }

  /**
   * The on-disk path of the regular file that `name` designates, following the archive's symlinks.
   * Throws InvalidArgument for paths that leave the archive and for missing or non-regular entries.
   */
  filePath(name: string): string {
    const key = this.resolve(name);
    const entry = this.entries.get(key);
    if (!entry) throw invalidArgument(`invalid archive: ${JSON.stringify(name)} is not in the archive`);
    if (entry.kind !== 'file') throw invalidArgument(`invalid archive: ${JSON.stringify(name)} is not a regular file`);
    return this.diskPath(key);
  }

  /** sha256 digest and size of the regular file `name` designates (digest only with hashFiles). */
  fileInfo(name: string): { path: string; size: number; digest?: string } {
    const p = this.filePath(name);
    const entry = this.entries.get(this.resolve(name)) as Extract<ArchiveEntry, { kind: 'file' }>;
    return { path: p, size: entry.size, digest: entry.digest };
  }

  /** Reads a regular file of the archive, refusing ones larger than `limit` bytes. */
  async readFile(name: string, limit: number): Promise<Buffer> {
    const info = this.fileInfo(name);
    if (info.size > limit) throw invalidArgument(`invalid archive: ${name} is too large (${info.size} bytes)`);
    return fs.readFile(info.path);
  }

  /**
   * Resolves an archive path to the key of a non-symlink entry (or of a missing one), following symlinks
   * the way the kernel would, but refusing to go above the archive root and refusing absolute targets.
   */
  resolve(name: string): string {
    if (name.includes('\0')) throw invalidArgument(`invalid path in archive: ${JSON.stringify(name)}`);
    if (name.startsWith('/')) throw invalidArgument(`invalid path in archive: ${JSON.stringify(name)} is absolute`);
    let pending = name.split('/');
    const out: string[] = [];
    let hops = 0;
    while (pending.length) {
      const component = pending.shift()!;
      if (component === '' || component === '.') continue;
      if (component === '..') {
        if (!out.length) throw invalidArgument(`invalid path in archive: ${JSON.stringify(name)} leaves the archive`);
        out.pop();
        continue;
      }
      out.push(component);
      const entry = this.entries.get(out.join('/'));
      if (entry?.kind === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) throw invalidArgument(`invalid path in archive: too many symlinks resolving ${JSON.stringify(name)}`);
        if (entry.target.startsWith('/')) throw invalidArgument(`invalid path in archive: ${JSON.stringify(name)} leads to an absolute symlink`);
        out.pop();
        pending = [...entry.target.split('/'), ...pending];
      }
    }
    return out.join('/');
  }

  private diskPath(key: string): string {
    return key === '' ? this.root : path.join(this.root, ...key.split('/'));
  }
}

/**
 * Unpacks an untrusted tar stream (plain or gzip) into `dest`, an empty private directory the caller owns
 * and removes. Accepts regular files, directories, symlinks whose targets stay inside the archive (kept in
 * memory, see ExtractedArchive) and hard links to earlier files; refuses absolute names, `..` components,
 * devices, fifos and anything else. Malformed tar data and refused entries throw InvalidArgument.
 */
export async function extractArchive(input: Readable, dest: string, opts: ExtractOptions = {}): Promise<ExtractedArchive> {
  const entries = new Map<string, ArchiveEntry>([['', { kind: 'dir' }]]);
  const archive = new ExtractedArchive(dest, entries);
  const maxEntries = opts.maxEntries ?? 1_000_000;
  const tarIn = await decompressed(input);
  const extract = tar.extract();
  tarIn.on('error', (err) => extract.destroy(err));
  tarIn.pipe(extract);
  let count = 0;
  try {
    for await (const entry of extract) {
      if (++count > maxEntries) throw invalidArgument(`invalid archive: more than ${maxEntries} entries`);
      await extractEntry(archive, entries, entry, opts);
    }
  } catch (err) {
    extract.destroy();
    tarIn.unpipe(extract);
    tarIn.destroy();
    throw asArchiveError(err);
  }
  return archive;
}

async function extractEntry(archive: ExtractedArchive, entries: Map<string, ArchiveEntry>, entry: ExtractEntry, opts: ExtractOptions): Promise<void> {
  const header = entry.header;
  const key = normalizeName(header.name);
  const type = header.type ?? 'file';
  if (key === '') {
    // "./" or "/": the archive root itself.
    if (type !== 'directory') throw invalidArgument(`invalid archive: entry ${JSON.stringify(header.name)} has no name`);
    entry.resume();
    return;
  }
  const disk = path.join(archive.root, ...key.split('/'));
  await prepareParents(archive, entries, key);
  const existing = entries.get(key);

  switch (type) {
    case 'directory': {
      entry.resume();
      if (existing?.kind === 'dir') return;
      if (existing) await removeEntry(entries, key, disk);
      await fs.mkdir(disk, { mode: 0o700 });
      entries.set(key, { kind: 'dir' });
      return;
    }
    case 'file':
    case 'contiguous-file': {
      if (existing?.kind === 'dir') throw invalidArgument(`invalid archive: file ${JSON.stringify(header.name)} replaces a directory`);
      if (existing) await removeEntry(entries, key, disk);
      const hash = opts.hashFiles ? createHash('sha256') : undefined;
      // O_EXCL|O_NOFOLLOW: never write through anything that is already there.
      const handle = await fs.open(disk, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      let size = 0;
      try {
        for await (const data of entry) {
          const chunk = data as Buffer;
          hash?.update(chunk);
          size += chunk.length;
          let offset = 0;
          while (offset < chunk.length) {
            const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
            offset += bytesWritten;
          }
        }
      } finally {
        await handle.close();
      }
      entries.set(key, { kind: 'file', size, ...(hash ? { digest: `sha256:${hash.digest('hex')}` } : {}) });
      return;
    }
    case 'symlink': {
      entry.resume();
      const target = header.linkname ?? '';
      if (!target || target.includes('\0')) throw invalidArgument(`invalid archive: symlink ${JSON.stringify(header.name)} has no target`);
      if (target.startsWith('/')) throw invalidArgument(`invalid archive: symlink ${JSON.stringify(header.name)} points outside the archive (${target})`);
      // Lexical check now for a clear error; resolve() re-checks every hop when the link is used.
      const lexical = path.posix.normalize(path.posix.join(path.posix.dirname(key), target));
      if (lexical === '..' || lexical.startsWith('../')) {
        throw invalidArgument(`invalid archive: symlink ${JSON.stringify(header.name)} points outside the archive (${target})`);
      }
      if (existing?.kind === 'dir') throw invalidArgument(`invalid archive: symlink ${JSON.stringify(header.name)} replaces a directory`);
      if (existing) await removeEntry(entries, key, disk);
      entries.set(key, { kind: 'symlink', target });
      return;
    }
    case 'link': {
      entry.resume();
      const targetName = header.linkname ?? '';
      const targetKey = archive.resolve(targetName);
      const target = entries.get(targetKey);
      if (target?.kind !== 'file') throw invalidArgument(`invalid archive: hard link ${JSON.stringify(header.name)} to a missing file (${targetName})`);
      if (targetKey === key) return;
      if (existing?.kind === 'dir') throw invalidArgument(`invalid archive: hard link ${JSON.stringify(header.name)} replaces a directory`);
      if (existing) await removeEntry(entries, key, disk);
      await fs.link(path.join(archive.root, ...targetKey.split('/')), disk);
      entries.set(key, { ...target });
      return;
    }
    default:
      throw invalidArgument(`invalid archive: unsupported entry type ${type} for ${JSON.stringify(header.name)}`);
  }
}

/** Makes the directories above `key`, refusing to go through a symlink or a file of the archive. */
async function prepareParents(archive: ExtractedArchive, entries: Map<string, ArchiveEntry>, key: string): Promise<void> {
  const parts = key.split('/');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const entry = entries.get(prefix);
    if (entry?.kind === 'dir') continue;
    if (entry) throw invalidArgument(`invalid archive: ${JSON.stringify(key)} is below ${entry.kind === 'symlink' ? 'a symlink' : 'a file'} (${prefix})`);
    await fs.mkdir(path.join(archive.root, ...parts.slice(0, i)), { mode: 0o700 });
    entries.set(prefix, { kind: 'dir' });
  }
}

async function removeEntry(entries: Map<string, ArchiveEntry>, key: string, disk: string): Promise<void> {
  const entry = entries.get(key);
  if (entry?.kind === 'file') await fs.rm(disk, { force: true });
  entries.delete(key);
}

/** Archive-relative, '/'-separated, without '.', '' or trailing slashes; refuses absolute names and '..'. */
function normalizeName(name: string): string {
  if (name.includes('\0')) throw invalidArgument(`invalid archive: entry name contains a NUL byte`);
  if (name.startsWith('/')) throw invalidArgument(`invalid archive: entry ${JSON.stringify(name)} has an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`invalid archive: entry ${JSON.stringify(name)} leaves the archive`);
  return parts.join('/');
}

/** Tar and gzip parse errors become InvalidArgument; our own errors and I/O errors pass through. */
function asArchiveError(err: unknown): unknown {
  if (err instanceof BerthError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && (!code || code.startsWith('Z_'))) {
    return invalidArgument(`invalid tar archive: ${err.message}`);
  }
  return err;
}
