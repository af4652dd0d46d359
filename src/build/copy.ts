/**
 * COPY and ADD for the builder: what an instruction writes, planned against its source root and the target
 * image's root, as a checksum (the cache key's source part) and a layer tar.
 *
 * The rules are Docker's classic builder's (moby builder/dockerfile copy.go, internals.go), and BuildKit's
 * for what the classic builder lacks (--chmod, --exclude, --parents, heredocs):
 * - sources are relative to the source root whatever they start with; links are followed inside it only
 *   (`..` and absolute link targets stop at the root); wildcards are Go's filepath.Match; a directory's
 *   contents are copied, not the directory; links inside copied trees stay links;
 * - the destination is relative to the workdir; a trailing '/' (or an existing directory) means "into";
 *   links on the way are followed inside the target root; new directories are 0755, existing ones keep
 *   their metadata;
 * - owners are root's unless --chown, except COPY --from, which keeps the source's owners;
 * - ADD unpacks a local tar (plain, gzip, bzip2, xz, zstd; by content) and downloads URLs.
 * The layer holds only what is written and the directories above it; whiteouts are never emitted (a
 * source file named `.wh.*` cannot be represented in a layer and is left out).
 */
import { promises as fs, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { invalidArgument, isKind } from '../lib/errors.js';
import { splitDev } from '../layers/overlay-tools.js';
import { checksumOf, digestAll, layerTar, type EntryContent, type EntryType, type PlannedEntry } from './copy-layer.js';
import { parseChmod, resolveChown, type ChmodSpec, type Owner } from './copy-owner.js';
import { cleanSourcePath, containsWildcards, expandWildcards, lstatInRoot, resolveScoped, resolveSource } from './copy-paths.js';
import { isArchiveFile, readArchive } from './copy-archive.js';
import { downloadSource, isURL } from './copy-download.js';
import { ExcludeMatcher } from './copy-exclude.js';

export interface CopySpec {
  /** ADD: local tars unpacked, URLs fetched. */
  add: boolean;
  /** Expanded words, wildcards allowed, relative to sourceRoot. */
  sources: string[];
  /** Already expanded (COPY <<EOF /dest). */
  heredocs: Array<{ name: string; content: string }>;
  /** Expanded; relative to workdir when not absolute. */
  dest: string;
  /** The image's WorkingDir ('' is /). */
  workdir: string;
  chown?: string;
  chmod?: string;
  exclude: string[];
  parents: boolean;
  unpack?: boolean;
  checksum?: string;
  keepGitDir?: boolean;
  link: boolean;
}

export interface CopyRoots {
  /** The context dir (already .dockerignore-filtered) or a read-only stage/image rootfs. */
  sourceRoot: string;
  fromContext: boolean;
  /** The parent image's read-only rootfs (dest links, existing dirs, --chown names); null for scratch. */
  targetRoot: string | null;
  signal: AbortSignal;
  /** Where downloads and unpacked archives wait for the layer (default: the system's temp dir). */
  tempDir?: string;
}

export interface PreparedCopy {
  /** sha256 over what would be written (names, modes, owners, contents): the cache key's source part. */
  checksum: string;
  /** The layer as a tar for LayerStore.register(tar, parentChainId). */
  layer(): Readable;
  /** Temp files (downloads, unpacked archives) go. */
  dispose(): Promise<void>;
}

/** One thing to copy, after sources were expanded. */
type SourceItem =
  /** A directory: its contents go into the destination. */
  | { kind: 'dir'; name: string; hostPath: string; root: string; parentsPath?: string }
  /** A file (or device, FIFO) of a root, a download (noDecompress), or inline data (a heredoc). */
  | {
      kind: 'file';
      name: string;
      stat: Stats | null;
      content: EntryContent;
      noDecompress: boolean;
      mtime?: Date;
      mode?: number;
      parentsPath?: string;
    };

const ROOT: Owner = { uid: 0, gid: 0 };

export async function prepareCopy(spec: CopySpec, roots: CopyRoots): Promise<PreparedCopy> {
  const cmd = spec.add ? 'ADD' : 'COPY';
  const signal = roots.signal;
  signal.throwIfAborted();
  let tempDir: string | undefined;
  const dispose = async (): Promise<void> => {
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  };
  const temp = async (): Promise<string> => {
    if (!tempDir) {
      const base = roots.tempDir ?? os.tmpdir();
      await fs.mkdir(base, { recursive: true });
      tempDir = await fs.mkdtemp(path.join(base, 'berth-copy-'));
    }
    return tempDir;
  };
  try {
    const chmod = spec.chmod ? parseChmod(spec.chmod) : null;
    const exclude = spec.exclude.length ? new ExcludeMatcher(spec.exclude) : null;
    let items: SourceItem[];
    try {
      items = await collectSources(spec, roots, temp, exclude);
    } catch (err) {
      if (isKind(err, 'InvalidArgument') || isKind(err, 'NotFound')) throw invalidArgument(`${cmd} failed: ${err.message}`);
      throw err;
    }
    if (items.length === 0) throw invalidArgument(`${cmd} failed: no source files were specified`);
    if (items.length > 1 && !spec.dest.endsWith('/')) {
      throw invalidArgument(`When using ${cmd} with more than one source file, the destination must be a directory and end with a /`);
    }
    // COPY --from keeps the source's owners; everything else is root's unless --chown says otherwise.
    const identity: Owner | null = spec.chown ? resolveChown(spec.chown, roots.targetRoot) : roots.fromContext ? ROOT : null;

    const planner = new Planner(roots.targetRoot, signal, chmod);
    const destAbs = normalizeDest(spec.workdir, spec.dest);
    const destRel = roots.targetRoot === null ? cleanRel(destAbs) : path.relative(path.resolve(roots.targetRoot), resolveScoped(roots.targetRoot, destAbs));
    try {
      for (const item of items) {
        signal.throwIfAborted();
        await planItem(planner, item, { spec, destAbs, destRel, identity, exclude, temp });
      }
    } catch (err) {
      if (isKind(err, 'InvalidArgument')) throw invalidArgument(`failed to copy files: ${err.message}`);
      throw err;
    }
    const entries = planner.finish();
    await digestAll(entries, signal);
    return {
      checksum: checksumOf(entries),
      layer: () => layerTar(entries, signal),
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** moby's normalizeDest: relative to the workdir, keeping a trailing '/'. */
export function normalizeDest(workdir: string, dest: string): string {
  if (dest.startsWith('/')) return dest;
  const joined = path.posix.join('/', workdir, dest);
  return dest.endsWith('/') && !joined.endsWith('/') ? `${joined}/` : joined;
}

function cleanRel(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/^\/+|\/+$/g, '');
}

// ---- sources ------------------------------------------------------------------------------------

async function collectSources(
  spec: CopySpec,
  roots: CopyRoots,
  temp: () => Promise<string>,
  exclude: ExcludeMatcher | null,
): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  if (spec.checksum !== undefined && spec.checksum !== '') {
    if (!spec.add) throw invalidArgument('checksum can\'t be specified for COPY');
    if (spec.sources.length !== 1) throw invalidArgument('checksum can\'t be specified for multiple sources');
    if (!isURL(spec.sources[0] ?? '')) throw invalidArgument('checksum requires HTTP(S) or Git sources');
  }
  for (const source of spec.sources) {
    roots.signal.throwIfAborted();
    if (isURL(source)) {
      if (!spec.add) throw invalidArgument('source can\'t be a URL for COPY');
      const d = await downloadSource(source, await temp(), { checksum: spec.checksum, destIsDir: spec.dest.endsWith('/'), signal: roots.signal });
      items.push({ kind: 'file', name: d.name, stat: d.stat, content: { hostPath: d.hostPath, root: d.root }, noDecompress: spec.unpack !== true, mtime: d.mtime });
      continue;
    }
    if (spec.parents) {
      items.push(...(await parentsSources(source, roots, exclude)));
      continue;
    }
    const orig = cleanSourcePath(source);
    const names = containsWildcards(orig) ? await expandWildcards(roots.sourceRoot, orig, roots.signal) : [orig];
    for (const name of names) {
      // A wildcard match that --exclude names is not copied at all.
      if (exclude && containsWildcards(orig) && exclude.matches(name)) continue;
      const item = await sourceItem(roots, name);
      if (!item) {
        if (roots.fromContext) throw invalidArgument(`file not found in build context or excluded by .dockerignore: stat ${name}: file does not exist`);
        throw invalidArgument(`stat ${name}: file does not exist`);
      }
      items.push(item);
    }
  }
  for (const doc of spec.heredocs) {
    items.push({ kind: 'file', name: doc.name, stat: null, content: { data: Buffer.from(doc.content) }, noDecompress: true, mode: 0o644, mtime: new Date() });
  }
  return items;
}

/** A source path resolved in its root: undefined when it does not exist. */
async function sourceItem(roots: CopyRoots, name: string, parentsPath?: string): Promise<SourceItem | undefined> {
  const r = await resolveSource(roots.sourceRoot, name);
  if (!r.stat) return undefined;
  const base = path.posix.basename(name) || path.posix.basename(r.rel);
  if (r.stat.isDirectory()) return { kind: 'dir', name: base, hostPath: r.hostPath, root: roots.sourceRoot, parentsPath };
  return { kind: 'file', name: base, stat: r.stat, content: { hostPath: r.hostPath, root: roots.sourceRoot }, noDecompress: false, parentsPath };
}

/**
 * --parents (BuildKit): the source's path is kept under the destination, from the root or from a `/./`
 * pivot in the source. Without wildcards the path must exist.
 */
async function parentsSources(source: string, roots: CopyRoots, exclude: ExcludeMatcher | null): Promise<SourceItem[]> {
  const pivot = source.indexOf('/./');
  const baseRaw = pivot >= 0 ? source.slice(0, pivot) : '';
  const pattern = cleanSourcePath(pivot >= 0 ? source.slice(pivot + 3) : source);
  const base = cleanRel(baseRaw);
  const full = base === '' ? pattern : `${base}/${pattern}`;
  const wild = containsWildcards(full);
  const names = wild ? await expandWildcards(roots.sourceRoot, full, roots.signal) : [cleanRel(full)];
  const items: SourceItem[] = [];
  for (const name of names) {
    if (exclude && wild && exclude.matches(name)) continue;
    const kept = base === '' ? name : path.posix.relative(base, name);
    const item = await sourceItem(roots, name, kept.startsWith('..') ? path.posix.basename(name) : kept);
    if (!item) {
      if (roots.fromContext) throw invalidArgument(`file not found in build context or excluded by .dockerignore: stat ${name}: file does not exist`);
      throw invalidArgument(`stat ${name}: file does not exist`);
    }
    items.push(item);
  }
  return items;
}

// ---- planning -----------------------------------------------------------------------------------

interface PlanContext {
  spec: CopySpec;
  destAbs: string;
  destRel: string;
  identity: Owner | null;
  exclude: ExcludeMatcher | null;
  temp: () => Promise<string>;
}

async function planItem(planner: Planner, item: SourceItem, ctx: PlanContext): Promise<void> {
  const { spec, identity } = ctx;
  let destRel = ctx.destRel;
  if (item.parentsPath !== undefined) {
    // The kept path goes under the destination, its directories made as the source has them.
    const dirs = path.posix.dirname(item.parentsPath);
    await planner.ensureDir(destRel, { owner: ROOT });
    if (dirs !== '.') await planner.copyParentDirs(item, destRel, dirs, identity);
    destRel = joinRel(destRel, item.parentsPath);
    if (item.kind === 'file') {
      await planner.ensureParents(destRel, { owner: identity ?? ROOT });
      await planner.putSource(destRel, item, identity);
    } else {
      await planner.putStat(destRel, await fs.stat(item.hostPath), identity);
      await planner.copyTree(item.hostPath, item.root, destRel, identity, ctx.exclude);
    }
    return;
  }
  if (item.kind === 'dir') {
    // moby's copyDirectory: parents made as root, the destination as the copy's owner, the existing
    // destination left as it is; then the tree.
    await planner.ensureParents(destRel, { owner: ROOT });
    await planner.ensureDir(destRel, { owner: identity ?? ROOT });
    await planner.copyTree(item.hostPath, item.root, destRel, identity, ctx.exclude);
    return;
  }
  if (spec.add && spec.unpack !== false && !item.noDecompress && 'hostPath' in item.content && (await isArchiveFile(item.content.root, item.content.hostPath))) {
    await planner.ensureParents(destRel, { owner: ROOT });
    await planner.ensureDir(destRel, { owner: ROOT });
    const tmp = await ctx.temp();
    const archived = await readArchive(item.content.root, item.content.hostPath, tmp, planner.signal);
    for (const a of archived) {
      const target = joinRel(destRel, a.path);
      await planner.ensureParents(target, { owner: ROOT });
      planner.put({
        ...a,
        path: target,
        linkname: a.type === 'link' ? joinRel(destRel, a.linkname!) : a.linkname,
      });
    }
    return;
  }
  const intoDir = ctx.destAbs.endsWith('/') || destRel === '' || (await planner.isDir(destRel));
  const target = intoDir ? joinRel(destRel, item.name) : destRel;
  if (target === '') throw invalidArgument('cannot copy to /: it is a directory');
  await planner.ensureParents(target, { owner: identity ?? ROOT });
  await planner.putSource(target, item, identity);
}

function joinRel(a: string, b: string): string {
  if (a === '') return b;
  if (b === '') return a;
  return `${a}/${b}`;
}

interface NewDir {
  owner: Owner;
}

/** The entries of one instruction, keyed by path; later writes replace earlier ones, as in Docker. */
class Planner {
  private readonly entries = new Map<string, PlannedEntry>();
  private readonly now = new Date(Math.floor(Date.now() / 1000) * 1000);

  constructor(
    private readonly targetRoot: string | null,
    readonly signal: AbortSignal,
    private readonly chmod: ChmodSpec | null,
  ) {}

  async isDir(rel: string): Promise<boolean> {
    const planned = this.entries.get(rel);
    if (planned) return planned.type === 'directory';
    if (rel === '') return true;
    const st = this.targetRoot === null ? null : await lstatInRoot(this.targetRoot, rel);
    return st?.isDirectory() ?? false;
  }

  put(e: PlannedEntry): void {
    const old = this.entries.get(e.path);
    if (old?.type === 'directory' && e.type !== 'directory') {
      const prefix = `${e.path}/`;
      for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
    }
    this.entries.set(e.path, e);
  }

  /** The directories above `rel` (not `rel` itself). */
  async ensureParents(rel: string, fresh: NewDir): Promise<void> {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) await this.ensureDir(parts.slice(0, i).join('/'), fresh);
  }

  /** `rel` as a directory: planned ones stay, existing ones keep their metadata, missing ones are made. */
  async ensureDir(rel: string, fresh: NewDir): Promise<void> {
    if (rel === '') return;
    const planned = this.entries.get(rel);
    if (planned?.type === 'directory') return;
    if (!planned) {
      const st = this.targetRoot === null ? null : await lstatInRoot(this.targetRoot, rel);
      if (st?.isDirectory()) {
        // Emitted unchanged: the layer's directory replaces the image's in the overlay.
        this.put({ path: rel, type: 'directory', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: secondsOf(st.mtime), size: 0 });
        return;
      }
      if (st && !st.isSymbolicLink()) throw invalidArgument(`mkdir /${rel}: not a directory`);
    }
    this.put({ path: rel, type: 'directory', mode: this.chmod?.octal ?? 0o755, uid: fresh.owner.uid, gid: fresh.owner.gid, mtime: this.now, size: 0 });
  }

  /** --parents: the directories between the pivot and the item, as the source has them. */
  async copyParentDirs(item: SourceItem, destRel: string, dirs: string, identity: Owner | null): Promise<void> {
    const hostPath = item.kind === 'dir' ? item.hostPath : 'hostPath' in item.content ? item.content.hostPath : '';
    const parts = dirs.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const rel = joinRel(destRel, parts.slice(0, i).join('/'));
      if (this.entries.get(rel)?.type === 'directory') continue;
      const up = parts.length - i + 1;
      const srcDir = path.resolve(hostPath, ...Array<string>(up).fill('..'));
      const st = await fs.lstat(srcDir).catch(() => null);
      if (!st?.isDirectory()) {
        await this.ensureDir(rel, { owner: identity ?? ROOT });
        continue;
      }
      await this.putStat(rel, st, identity);
    }
  }

  async putStat(target: string, st: Stats, identity: Owner | null, hostPath?: string): Promise<void> {
    const e = await this.fromStat(target, st, identity, hostPath);
    if (e) this.put(e);
  }

  /** A file-like source at `target`. */
  async putSource(target: string, item: Extract<SourceItem, { kind: 'file' }>, identity: Owner | null): Promise<void> {
    if (isWhiteoutName(target)) return;
    if (item.stat && !item.stat.isFile()) {
      await this.putStat(target, item.stat, identity);
      return;
    }
    // The digest is read later, for all files at once (digestAll).
    const size = 'data' in item.content ? item.content.data.length : (item.stat?.size ?? 0);
    const baseMode = item.mode ?? (item.stat ? item.stat.mode & 0o7777 : 0o600);
    const owner = identity ?? (item.stat ? { uid: item.stat.uid, gid: item.stat.gid } : ROOT);
    this.put({
      path: target,
      type: 'file',
      mode: this.chmod ? this.chmod.apply(baseMode, false) : baseMode,
      uid: owner.uid,
      gid: owner.gid,
      mtime: item.mtime ? secondsOf(item.mtime) : item.stat ? secondsOf(item.stat.mtime) : this.now,
      size,
      content: item.content,
    });
  }

  /** A directory's contents, links kept as links, nothing followed. */
  async copyTree(hostDir: string, root: string, destRel: string, identity: Owner | null, exclude: ExcludeMatcher | null): Promise<void> {
    // Files linked several times in the tree stay hard links, as moby's tar of a directory keeps them
    // (busybox's /bin is hundreds of names for one file).
    const seen = new Map<string, PlannedEntry>();
    const walk = async (dir: string, rel: string): Promise<void> => {
      this.signal.throwIfAborted();
      const names = (await fs.readdir(dir)).sort();
      // A directory's entries are looked at all at once: each lstat waits on the thread pool.
      const stats = await Promise.all(names.map((name) => fs.lstat(path.join(dir, name))));
      for (const [i, name] of names.entries()) {
        const childRel = rel === '' ? name : `${rel}/${name}`;
        const excluded = exclude?.matches(childRel) ?? false;
        if (excluded && !exclude!.mayReinclude(childRel)) continue;
        if (isWhiteoutName(name)) continue;
        const hostPath = path.join(dir, name);
        const st = stats[i]!;
        const target = joinRel(destRel, childRel);
        if (st.isDirectory()) {
          if (excluded && !(await this.hasIncluded(hostPath, childRel, exclude!))) continue;
          await this.putStat(target, st, identity);
          await walk(hostPath, childRel);
          continue;
        }
        if (excluded) continue;
        if (st.isFile()) {
          const inode = `${st.dev}:${st.ino}`;
          const first = st.nlink > 1 ? seen.get(inode) : undefined;
          if (first && this.entries.get(first.path) === first) {
            this.put({ ...first, path: target, type: 'link', linkname: first.path, linkOf: first });
            continue;
          }
          await this.putSource(target, { kind: 'file', name, stat: st, content: { hostPath, root }, noDecompress: true }, identity);
          const made = this.entries.get(target);
          if (st.nlink > 1 && made?.type === 'file') seen.set(inode, made);
          continue;
        }
        await this.putStat(target, st, identity, hostPath);
      }
    };
    await walk(hostDir, '');
  }

  /** Whether an excluded directory holds something an exception pattern brings back. */
  private async hasIncluded(hostDir: string, rel: string, exclude: ExcludeMatcher): Promise<boolean> {
    for (const name of await fs.readdir(hostDir)) {
      const childRel = `${rel}/${name}`;
      if (!exclude.matches(childRel)) return true;
      const st = await fs.lstat(path.join(hostDir, name));
      if (st.isDirectory() && exclude.mayReinclude(childRel) && (await this.hasIncluded(path.join(hostDir, name), childRel, exclude))) return true;
    }
    return false;
  }

  /** An entry from a source's lstat (a link's target read); undefined for what a tar cannot hold (sockets). */
  async fromStat(target: string, st: Stats, identity: Owner | null, hostPath?: string): Promise<PlannedEntry | undefined> {
    const type = entryType(st);
    if (type === undefined || type === 'file') return undefined;
    const base = st.mode & 0o7777;
    const mode = type === 'symlink' || !this.chmod ? base : this.chmod.apply(base, type === 'directory');
    const owner = identity ?? { uid: st.uid, gid: st.gid };
    const e: PlannedEntry = { path: target, type, mode, uid: owner.uid, gid: owner.gid, mtime: secondsOf(st.mtime), size: 0 };
    if (type === 'character-device' || type === 'block-device') {
      const { major, minor } = splitDev(st.rdev);
      e.devmajor = major;
      e.devminor = minor;
    }
    if (type === 'symlink') {
      if (hostPath === undefined) return undefined;
      e.linkname = await fs.readlink(hostPath);
    }
    return e;
  }

  finish(): PlannedEntry[] {
    for (const e of this.entries.values()) {
      if (e.linkOf && e.type === 'link' && this.entries.get(e.linkname!) !== e.linkOf) this.entries.set(e.path, { ...e, type: 'file', linkname: undefined });
    }
    return [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

function entryType(st: Stats): EntryType | undefined {
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

function isWhiteoutName(p: string): boolean {
  return path.posix.basename(p).startsWith('.wh.');
}

function secondsOf(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

