import { closeSync, constants as fsc, fchmodSync, futimesSync, openSync, promises as fs, writeSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { decompressed } from '../lib/compression.js';
import { BerthError, invalidArgument } from '../lib/errors.js';
import { ContextTree } from './context-tree.js';

/**
 * The build context of a /build request: the body (a tar, plain or gzip) unpacked into a fresh private
 * directory, and the Dockerfile found and read in it, as dockerd's remotecontext does.
 *
 * Unlike image archives (lib/safe-extract.ts, which keeps symlinks in memory), a build context keeps its
 * symlinks on disk, since COPY copies them as they are. Safety comes from never writing through one: every
 * parent of an entry must be a real directory of the context (checked with lstat), files are created with
 * O_EXCL|O_NOFOLLOW, and names that are absolute or contain `..` are refused. Devices and fifos are
 * skipped: a build has no use for them and they are the classic way to reach the host.
 */
export interface BuildContext {
  /** The context directory's path: made, with its files, by `directory()` (at once for contexts not held in memory). */
  dir: string;
  /** The Dockerfile's path inside the context, as found (`dockerfile` when `Dockerfile` was asked and only that exists). */
  dockerfilePath: string;
  /** The Dockerfile's text, read before .dockerignore may remove it from the context. */
  dockerfileText: string;
  /** The unpacked context (`dir`), written on the first call. */
  directory(): Promise<string>;
  /**
   * A digest of what COPY's sources name in the context, known without unpacking it; undefined when only
   * the unpacked directory can say (wildcards, links on the way, a context unpacked from the start).
   */
  digestOf(sources: string[]): string | undefined;
  /** Removes the directory; safe to call more than once. */
  dispose(): Promise<void>;
}

/** What decides whether a path of the context is excluded by its .dockerignore (build/dockerignore.ts). */
export type IgnoreCheck = (dockerignoreText: string, relPath: string) => boolean;

export interface ReceiveOptions {
  /** A directory the daemon owns (<data-root>/tmp); the context goes into a fresh directory below it. */
  scratchDir: string;
  /** The `dockerfile` query parameter ('' means `Dockerfile`). */
  dockerfile: string;
  signal: AbortSignal;
  /** When given, the Dockerfile and .dockerignore are removed from the context if .dockerignore excludes them. */
  ignored?: IgnoreCheck;
  /** Refuse contexts with more entries than this (default 1,000,000). */
  maxEntries?: number;
  /** Contexts whose files hold more bytes than this are unpacked as they arrive (default 64 MiB). */
  maxMemoryBytes?: number;
}

export const DEFAULT_DOCKERFILE = 'Dockerfile';
const MAX_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Receives a request body as a build context; on any failure nothing is left behind. Small contexts are
 * held in memory (context-tree.ts) and unpacked only when a step needs files on disk; a context with hard
 * links, a large one, or one whose Dockerfile or .dockerignore is reached through a link is unpacked at once.
 */
export async function receiveContext(body: Readable, opts: ReceiveOptions): Promise<BuildContext> {
  // The directory is made (private, as mkdtemp would) when something is first written to it.
  const dir = path.join(opts.scratchDir, `build-${randomBytes(8).toString('hex')}`);
  let made: Promise<void> | undefined;
  const makeDir = () => (made ??= fs.mkdir(opts.scratchDir, { recursive: true, mode: 0o700 }).then(() => fs.mkdir(dir, { mode: 0o700 })));
  let disposed = false;
  let unpacking: Promise<string> | undefined;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await unpacking?.catch(() => undefined);
    if (made) await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    const received = await receiveEntries(body, dir, { ...opts, makeDir });
    const tree = received.tree;
    let dockerfile = tree ? inMemoryDockerfile(tree, dir, opts) : 'disk';
    if (dockerfile === 'disk') {
      if (tree) {
        await makeDir();
        await replay(received.entries, dir);
      }
      dockerfile = await readDockerfile(dir, opts.dockerfile || DEFAULT_DOCKERFILE);
      if (opts.ignored) await removeIgnoredSpecialFiles(dir, dockerfile.path, opts.ignored);
      return { dir, dockerfilePath: dockerfile.path, dockerfileText: dockerfile.text, directory: async () => dir, digestOf: () => undefined, dispose };
    }
    const dockerfilePath = dockerfile.path;
    const directory = () => {
      if (disposed) return Promise.reject(new Error('the build context is gone'));
      unpacking ??= (async () => {
        await makeDir();
        await replay(received.entries, dir);
        if (opts.ignored) await removeIgnoredSpecialFiles(dir, dockerfilePath, opts.ignored);
        return dir;
      })();
      return unpacking;
    };
    return { dir, dockerfilePath, dockerfileText: dockerfile.text, directory, digestOf: (sources) => tree!.digestOf(sources), dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/**
 * The Dockerfile, with the Dockerfile and .dockerignore removed from the tree as .dockerignore says,
 * or 'disk' when links make the unpacked directory the one to ask.
 */
function inMemoryDockerfile(tree: ContextTree, dir: string, opts: ReceiveOptions): { path: string; text: string } | 'disk' {
  const name = opts.dockerfile || DEFAULT_DOCKERFILE;
  const found = tree.dockerfile(name, name === DEFAULT_DOCKERFILE ? name.toLowerCase() : undefined, (rel) => path.join(dir, ...rel.split('/')));
  if (found === 'disk' || !opts.ignored) return found;
  const text = tree.dockerignore();
  if (text === 'disk') return 'disk';
  if (text === undefined) return found;
  for (const n of ['.dockerignore', found.path]) {
    const rel = path.posix.normalize(n).replace(/^\/+/, '');
    if (opts.ignored(text, rel) && tree.remove(rel) === 'disk') return 'disk';
  }
  return found;
}

interface PendingDirMeta {
  disk: string;
  mode: number;
  mtime?: Date;
}

type ExtractEntry = AsyncIterable<unknown> & { header: tar.Header; resume(): unknown };

/** An entry held in memory, in the order the tar had it. */
interface HeldEntry {
  header: tar.Header;
  data: Buffer;
}

/** Unpacks `body` into `dir` (which exists and is empty). */
export async function unpackContext(body: Readable, dir: string, opts: { signal: AbortSignal; maxEntries?: number }): Promise<void> {
  await receiveEntries(body, dir, { ...opts, maxMemoryBytes: -1, makeDir: async () => {} });
}

/**
 * Reads the tar: into a ContextTree while it stays small and has no hard links (the entries kept for
 * `replay`), else unpacked into `dir` (what was held so far first).
 */
async function receiveEntries(
  body: Readable,
  dir: string,
  opts: { signal: AbortSignal; maxEntries?: number; maxMemoryBytes?: number; makeDir(): Promise<void> },
): Promise<{ tree?: ContextTree; entries: HeldEntry[] }> {
  const maxEntries = opts.maxEntries ?? 1_000_000;
  const maxMemory = opts.maxMemoryBytes ?? MAX_MEMORY_BYTES;
  let tree: ContextTree | undefined = maxMemory >= 0 ? new ContextTree() : undefined;
  // Before the tar flows: an await between piping and iterating would lose the entries parsed meanwhile.
  if (!tree) await opts.makeDir();
  opts.signal.throwIfAborted();
  const tarIn = await decompressed(body);
  const extract = tar.extract();
  tarIn.on('error', (err) => extract.destroy(err));
  body.on('error', (err) => extract.destroy(err));
  // A request body that ends early (the client hung up) must fail the unpacking, not look like the end of the tar.
  body.on('aborted', () => extract.destroy(invalidArgument('the client closed the connection while sending the build context')));
  const onAbort = () => extract.destroy(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('build cancelled'));
  opts.signal.addEventListener('abort', onAbort, { once: true });
  tarIn.pipe(extract);
  let held: HeldEntry[] = [];
  const disk = new DiskUnpack(dir);
  let count = 0;
  try {
    for await (const entry of extract as AsyncIterable<ExtractEntry>) {
      if (++count > maxEntries) throw invalidArgument(`invalid build context: more than ${maxEntries} entries`);
      if (tree) {
        const parts: Buffer[] = [];
        for await (const data of entry) parts.push(data as Buffer);
        const e = { header: entry.header, data: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
        if (tree.add(contextName(e.header.name), e.header, e.data) && tree.bytes <= maxMemory) {
          held.push(e);
          continue;
        }
        // From here on the context is unpacked as it comes, what was held first.
        tree = undefined;
        await opts.makeDir();
        for (const h of held) await disk.entry(heldEntry(h));
        held = [];
        await disk.entry(heldEntry(e));
        continue;
      }
      await disk.entry(entry);
    }
    if (!tree) await disk.finish();
  } catch (err) {
    extract.destroy();
    tarIn.unpipe(extract);
    tarIn.destroy();
    throw asContextError(err);
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
  }
  return tree ? { tree, entries: held } : { entries: [] };
}

/** Unpacks held entries into `dir` exactly as they would have been unpacked when they came. */
async function replay(entries: HeldEntry[], dir: string): Promise<void> {
  const disk = new DiskUnpack(dir);
  try {
    for (const e of entries) await disk.entry(heldEntry(e));
    await disk.finish();
  } catch (err) {
    throw asContextError(err);
  }
}

function heldEntry(e: HeldEntry): ExtractEntry {
  return {
    header: e.header,
    resume: () => undefined,
    async *[Symbol.asyncIterator]() {
      if (e.data.length) yield e.data;
    },
  };
}

/** One unpacking into a fresh directory. */
class DiskUnpack {
  // Directory modes and times are applied at the end: writing into a directory changes its mtime, and
  // a read-only directory mode would get in the way of later entries.
  private readonly dirs = new Map<string, PendingDirMeta>();
  // Names this unpacking made: the directory is fresh and private, so nothing else is there and a
  // name never made needs no lstat (a context of many small files is mostly such lookups otherwise).
  private readonly made = new Set<string>();

  constructor(private readonly root: string) {}

  entry(e: ExtractEntry): Promise<void> {
    return unpackEntry(this.root, e, this.dirs, this.made);
  }

  async finish(): Promise<void> {
    for (const meta of [...this.dirs.values()].reverse()) {
      await fs.chmod(meta.disk, meta.mode);
      if (meta.mtime) await fs.utimes(meta.disk, meta.mtime, meta.mtime);
    }
  }
}

/** Files up to this size are written with synchronous calls: one short block instead of five thread-pool trips. */
const SMALL_FILE = 256 * 1024;

async function unpackEntry(root: string, entry: ExtractEntry, dirs: Map<string, PendingDirMeta>, made: Set<string>): Promise<void> {
  const header = entry.header;
  const key = contextName(header.name);
  const type = header.type ?? 'file';
  const mode = (header.mode ?? 0o644) & 0o7777;
  if (key === '') {
    entry.resume();
    if (type !== 'directory') throw invalidArgument(`invalid build context: entry ${JSON.stringify(header.name)} has no name`);
    dirs.set('', { disk: root, mode: 0o755, mtime: header.mtime });
    return;
  }
  const disk = path.join(root, ...key.split('/'));
  await makeParents(root, key, dirs, made);
  const existing = made.has(key) ? await lstatOrUndefined(disk) : undefined;
  made.add(key);

  switch (type) {
    case 'directory': {
      entry.resume();
      if (existing && !existing.isDirectory()) await fs.rm(disk, { force: true });
      if (!existing?.isDirectory()) await fs.mkdir(disk, { mode: 0o700 });
      dirs.set(key, { disk, mode, mtime: header.mtime });
      return;
    }
    case 'file':
    case 'contiguous-file': {
      await replaceNonDirectory(disk, existing, header.name);
      // O_EXCL|O_NOFOLLOW: never write through anything that is already there.
      if ((header.size ?? 0) <= SMALL_FILE) {
        const parts: Buffer[] = [];
        for await (const data of entry) parts.push(data as Buffer);
        writeSmallFile(disk, Buffer.concat(parts), mode, header.mtime);
        return;
      }
      const handle = await fs.open(disk, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        for await (const data of entry) {
          const chunk = data as Buffer;
          let offset = 0;
          while (offset < chunk.length) offset += (await handle.write(chunk, offset, chunk.length - offset)).bytesWritten;
        }
        await handle.chmod(mode);
        if (header.mtime) await handle.utimes(header.mtime, header.mtime);
      } finally {
        await handle.close();
      }
      return;
    }
    case 'symlink': {
      entry.resume();
      const target = header.linkname ?? '';
      if (!target || target.includes('\0')) throw invalidArgument(`invalid build context: symlink ${JSON.stringify(header.name)} has no target`);
      await replaceNonDirectory(disk, existing, header.name);
      // Any target may be stored (COPY keeps links as links); nothing here ever resolves through it.
      await fs.symlink(target, disk);
      if (header.mtime) await fs.lutimes(disk, header.mtime, header.mtime).catch(() => undefined);
      return;
    }
    case 'link': {
      entry.resume();
      const targetKey = contextName(header.linkname ?? '');
      const targetDisk = path.join(root, ...targetKey.split('/'));
      // The target's parents must be real directories too, or a link could reach a file outside.
      await checkRealParents(root, targetKey, header.name);
      const target = await lstatOrUndefined(targetDisk);
      if (!targetKey || !target?.isFile()) {
        throw invalidArgument(`invalid build context: hard link ${JSON.stringify(header.name)} to a missing file (${header.linkname ?? ''})`);
      }
      if (targetKey === key) return;
      await replaceNonDirectory(disk, existing, header.name);
      await fs.link(targetDisk, disk);
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo':
      entry.resume();
      return;
    default:
      entry.resume();
      // Extended headers are consumed by the tar parser; anything else unknown is skipped as dockerd does.
      return;
  }
}

function writeSmallFile(disk: string, data: Buffer, mode: number, mtime: Date | undefined): void {
  const fd = openSync(disk, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
    fchmodSync(fd, mode);
    if (mtime) futimesSync(fd, mtime, mtime);
  } finally {
    closeSync(fd);
  }
}

/** Creates the directories above `key`, refusing to pass through a symlink or a file. */
async function makeParents(root: string, key: string, dirs: Map<string, PendingDirMeta>, made: Set<string>): Promise<void> {
  const parts = key.split('/');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const disk = path.join(root, ...parts.slice(0, i));
    // A directory this unpacking holds stays one: nothing may replace a directory (replaceNonDirectory).
    if (dirs.has(prefix)) continue;
    const st = made.has(prefix) ? await lstatOrUndefined(disk) : undefined;
    made.add(prefix);
    if (st?.isDirectory()) continue;
    if (st) throw invalidArgument(`invalid build context: ${JSON.stringify(key)} is below ${st.isSymbolicLink() ? 'a symlink' : 'a file'} (${prefix})`);
    await fs.mkdir(disk, { mode: 0o755 });
    if (!dirs.has(prefix)) dirs.set(prefix, { disk, mode: 0o755 });
  }
}

async function checkRealParents(root: string, key: string, name: string): Promise<void> {
  const parts = key.split('/');
  for (let i = 1; i < parts.length; i++) {
    const st = await lstatOrUndefined(path.join(root, ...parts.slice(0, i)));
    if (st && !st.isDirectory()) throw invalidArgument(`invalid build context: hard link ${JSON.stringify(name)} goes through a symlink or a file`);
  }
}

async function replaceNonDirectory(disk: string, existing: import('node:fs').Stats | undefined, name: string): Promise<void> {
  if (!existing) return;
  if (existing.isDirectory()) throw invalidArgument(`invalid build context: ${JSON.stringify(name)} replaces a directory`);
  await fs.rm(disk, { force: true });
}

async function lstatOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A context-relative, '/'-separated name; refuses absolute names, `..` and NUL bytes. */
function contextName(name: string): string {
  if (name.includes('\0')) throw invalidArgument('invalid build context: an entry name contains a NUL byte');
  if (name.startsWith('/')) throw invalidArgument(`invalid build context: entry ${JSON.stringify(name)} has an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`invalid build context: entry ${JSON.stringify(name)} is outside of the context`);
  return parts.join('/');
}

/**
 * Finds the Dockerfile as dockerd does: symlinks are followed but only inside the context, `Dockerfile`
 * falls back to `dockerfile`, and an empty one is refused.
 */
async function readDockerfile(dir: string, name: string): Promise<{ path: string; text: string }> {
  let full: string;
  try {
    full = await resolveInScope(dir, name);
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw invalidArgument(`forbidden path outside the build context: ${name} ()`);
  }
  const st = await fs.stat(full).catch(() => undefined);
  if (!st) {
    if (name === DEFAULT_DOCKERFILE) {
      const lower = name.toLowerCase();
      const lowerFull = await resolveInScope(dir, lower).catch(() => undefined);
      if (lowerFull && (await fs.stat(lowerFull).catch(() => undefined))?.isFile()) return readDockerfile(dir, lower);
    }
    throw invalidArgument(`Cannot locate specified Dockerfile: ${name}`);
  }
  if (!st.isFile()) throw invalidArgument(`unexpected error reading Dockerfile: read ${full}: is a directory`);
  const text = await fs.readFile(full, 'utf8');
  if (text.length === 0) throw invalidArgument(`the Dockerfile (${name}) cannot be empty`);
  return { path: name, text };
}

/**
 * `name` under `root` with every symlink resolved as if `root` were `/` (Docker's FollowSymlinkInScope):
 * a link can never lead out of the context.
 */
export async function resolveInScope(root: string, name: string): Promise<string> {
  let pending = name.split('/');
  const out: string[] = [];
  let hops = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    out.push(part);
    const disk = path.join(root, ...out);
    const st = await lstatOrUndefined(disk);
    if (!st?.isSymbolicLink()) continue;
    if (++hops > 255) throw invalidArgument(`too many symlinks resolving ${name}`);
    const target = await fs.readlink(disk);
    out.pop();
    if (target.startsWith('/')) out.length = 0;
    pending = [...target.split('/'), ...pending];
  }
  return path.join(root, ...out);
}

/** dockerd removes .dockerignore and the Dockerfile from the context when .dockerignore excludes them. */
async function removeIgnoredSpecialFiles(dir: string, dockerfilePath: string, ignored: IgnoreCheck): Promise<void> {
  const ignorePath = await resolveInScope(dir, '.dockerignore');
  let text: string;
  try {
    text = await fs.readFile(ignorePath, 'utf8');
  } catch {
    return; // no .dockerignore: nothing to remove
  }
  for (const name of ['.dockerignore', dockerfilePath]) {
    const rel = path.posix.normalize(name).replace(/^\/+/, '');
    if (ignored(text, rel)) await fs.rm(path.join(dir, ...rel.split('/')), { recursive: true, force: true });
  }
}

/** Tar and gzip parse errors become InvalidArgument; our own errors and I/O errors pass through. */
function asContextError(err: unknown): unknown {
  if (err instanceof BerthError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && (!code || code.startsWith('Z_'))) return invalidArgument(`invalid build context: ${err.message}`);
  return err;
}
