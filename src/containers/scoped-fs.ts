/**
 * A container's filesystem seen from the host the way the container sees it, for the work the daemon does
 * on it (cp, export, diff, commit).
 *
 * Paths are resolved as if the container's root were `/`: an absolute symlink target restarts at the
 * container root, `..` stops there, and a mount point (volumes, bind mounts, the /etc files Berth binds in)
 * is entered instead of what the root filesystem has at that path. Nothing is ever looked up by a host path
 * string that the container could change: every step is taken relative to an open directory
 * (`/proc/<pid>/fd/<fd>/<name>`, which is openat(2) for Node) with O_NOFOLLOW, so a running container that
 * swaps a directory for a symlink between two steps makes the step fail instead of leading outside.
 *
 * Lifecycle: `ScopedRoot.open` opens the root directory; every directory opened through it is closed by
 * `close` at the latest (walkers close theirs as they go). One ScopedRoot serves one request.
 */
import { constants as C, promises as fs, type BigIntStats, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Where Node can reach an open descriptor by path; the pid (not `self`) also works for child processes. */
const FD_ROOT = `/proc/${process.pid}/fd`;
/** As moby/sys/symlink's FollowSymlinkInScope. */
export const MAX_SYMLINK_HOPS = 255;

const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

/** A mount inside the container: its contents replace whatever the root filesystem has at `destination`. */
export interface MountPoint {
  /** Absolute and clean path in the container. */
  destination: string;
  /** Host file or directory (daemon-owned: trusted). */
  source: string;
  readOnly: boolean;
}

/** An open directory of the container and the container path it was reached by (symlink-free). */
export class Dir {
  private closed = false;

  constructor(
    readonly handle: FileHandle,
    readonly path: string,
    readonly readOnly: boolean,
    private readonly owner?: Set<Dir>,
  ) {
    owner?.add(this);
  }

  get fd(): number {
    return this.handle.fd;
  }

  /** A host path naming the directory itself. */
  get self(): string {
    return `${FD_ROOT}/${this.handle.fd}`;
  }

  /** A host path naming `name` in this directory, looked up relative to the open directory (openat). */
  at(name: string | Buffer): string | Buffer {
    if (typeof name === 'string') return `${FD_ROOT}/${this.handle.fd}/${name}`;
    return Buffer.concat([Buffer.from(`${FD_ROOT}/${this.handle.fd}/`), name]);
  }

  child(name: string): string {
    return joinPath(this.path, name);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owner?.delete(this);
    await this.handle.close().catch(() => {}); // already closed: nothing to undo
  }
}

/** What a container path designates. */
export type Target =
  /** A directory reached through the whole path (the root, a trailing '/', '.', '..', or a followed link). */
  | { kind: 'dir'; dir: Dir; path: string }
  /** A name in a directory (which may not exist: lstat tells). `mount` is set for a file mounted there. */
  | { kind: 'entry'; parent: Dir; name: string; path: string; mount?: MountPoint }
  /** Lenient resolution only: a directory on the way does not exist; `path` is the rest taken lexically. */
  | { kind: 'missing'; path: string };

export interface ResolveOptions {
  /** Follow a symlink in the last component too (stat does not; extraction and LinkTarget do). */
  followFinal?: boolean;
  /** Make missing directories on the way (0755, owned by the container's root), as an extraction's implied parents. */
  create?: boolean;
  /** Do not fail on a missing directory on the way (FollowSymlinkInScope evaluates "as much as possible"). */
  lenient?: boolean;
}

export class ScopedRoot {
  private readonly opened = new Set<Dir>();
  private readonly mounts: MountPoint[];
  /** Owner of the directories `create` makes (the container's root: remapped with --userns-remap). */
  private newDirOwner?: { uid: number; gid: number };
  private constructor(
    private readonly rootDir: Dir | undefined,
    mounts: MountPoint[],
  ) {
    this.mounts = mounts.map((m) => ({ ...m, destination: cleanAbs(m.destination) })).filter((m) => m.destination !== '/');
  }

  /**
   * Opens the container root (a host directory the daemon owns, e.g. the mounted overlay). `readOnly`
   * marks the root filesystem itself (HostConfig.ReadonlyRootfs); mounts carry their own flag.
   */
  static async open(rootfs: string, opts: { mounts?: MountPoint[]; readOnly?: boolean; newDirOwner?: { uid: number; gid: number } } = {}): Promise<ScopedRoot> {
    const handle = await fs.open(rootfs, C.O_RDONLY | C.O_DIRECTORY);
    const scoped = new ScopedRoot(undefined, opts.mounts ?? []);
    scoped.newDirOwner = opts.newDirOwner;
    const root = new Dir(handle, '/', Boolean(opts.readOnly), scoped.opened);
    (scoped as unknown as { rootDir: Dir }).rootDir = root;
    return scoped;
  }

  get root(): Dir {
    return this.rootDir!;
  }

  async close(): Promise<void> {
    for (const d of [...this.opened]) await d.close();
  }

  /** The mount whose destination is exactly this container path. */
  mountAt(containerPath: string): MountPoint | undefined {
    return this.mounts.find((m) => m.destination === containerPath);
  }

  /** Whether a mount sits at or below this container path (so it cannot be removed or replaced). */
  hasMountAtOrBelow(containerPath: string): boolean {
    const prefix = containerPath === '/' ? '/' : `${containerPath}/`;
    return this.mounts.some((m) => m.destination === containerPath || m.destination.startsWith(prefix));
  }

  /** Opens the directory `name` of `parent` (or the mount there) without following a symlink. */
  async openChild(parent: Dir, name: string): Promise<Dir> {
    const containerPath = parent.child(name);
    const mount = this.mountAt(containerPath);
    if (mount) {
      const handle = await fs.open(mount.source, C.O_RDONLY | C.O_DIRECTORY).catch((err: unknown) => {
        throw pathError(err, 'open', containerPath);
      });
      return new Dir(handle, containerPath, mount.readOnly, this.opened);
    }
    const handle = await fs.open(parent.at(name), DIR_FLAGS).catch((err: unknown) => {
      throw pathError(err, 'open', containerPath);
    });
    return new Dir(handle, containerPath, parent.readOnly, this.opened);
  }

  /** lstat of a name in a directory, or of the file mounted there; null when it does not exist. */
  async lstatAt(parent: Dir, name: string): Promise<Stats | null> {
    const mount = this.mountAt(parent.child(name));
    try {
      return mount ? await fs.stat(mount.source) : await fs.lstat(parent.at(name));
    } catch (err) {
      if (errno(err) === 'ENOENT') return null;
      throw pathError(err, 'lstat', parent.child(name));
    }
  }

  /** lstat with nanosecond times (for stat headers). */
  async lstatTargetBig(t: Target): Promise<BigIntStats | null> {
    try {
      if (t.kind === 'dir') return await t.dir.handle.stat({ bigint: true });
      if (t.kind === 'missing') return null;
      if (t.mount) return await fs.stat(t.mount.source, { bigint: true });
      return await fs.lstat(t.parent.at(t.name), { bigint: true });
    } catch (err) {
      if (errno(err) === 'ENOENT') return null;
      throw pathError(err, 'lstat', t.path);
    }
  }

  /**
   * Resolves a container path (relative paths are taken from the root). Every component but the last is
   * followed if it is a symlink; the last only with followFinal. Throws ENOENT/ENOTDIR/ELOOP errors
   * carrying the container path.
   */
  async resolve(p: string, opts: ResolveOptions = {}): Promise<Target> {
    return this.resolveFrom(this.root, p, opts);
  }

  /** As resolve, starting at `start` for a relative path (an absolute one, or a link, restarts at the root). */
  async resolveFrom(start: Dir, p: string, opts: ResolveOptions = {}): Promise<Target> {
    if (p.includes('\0')) throw pathError(codeError('EINVAL'), 'lstat', p);
    const owned = new Set<Dir>();
    let stack: Dir[] = p.startsWith('/') ? [this.root] : await this.chainTo(start, owned);
    const release = (d: Dir): void => {
      if (owned.has(d)) {
        owned.delete(d);
        void d.close();
      }
    };
    const releaseAll = (keep?: Dir): void => {
      for (const d of [...owned]) if (d !== keep) release(d);
    };
    let pending = p.split('/');
    let hops = 0;
    try {
      while (pending.length) {
        const comp = pending.shift()!;
        if (comp === '' || comp === '.') continue;
        const top = stack[stack.length - 1]!;
        if (comp === '..') {
          if (stack.length > 1) release(stack.pop()!);
          continue;
        }
        const last = pending.length === 0;
        const childPath = top.child(comp);
        const mount = this.mountAt(childPath);
        let st: Stats | null;
        try {
          st = mount ? await fs.stat(mount.source) : await fs.lstat(top.at(comp));
        } catch (err) {
          if (errno(err) !== 'ENOENT') throw pathError(err, 'lstat', childPath);
          st = null;
        }
        if (st === null) {
          if (last) {
            releaseAll(top);
            return { kind: 'entry', parent: top, name: comp, path: childPath };
          }
          if (opts.create) {
            if (top.readOnly) throw readOnlyError(top.path);
            await fs.mkdir(top.at(comp), 0o755).catch((err: unknown) => {
              if (errno(err) !== 'EEXIST') throw pathError(err, 'mkdir', childPath);
            });
            // Opened without following before its mode is set: never chmod by a path.
            const made = await this.openChild(top, comp);
            owned.add(made);
            if (this.newDirOwner) await made.handle.chown(this.newDirOwner.uid, this.newDirOwner.gid);
            await made.handle.chmod(0o755);
            stack.push(made);
            continue;
          }
          if (opts.lenient) {
            releaseAll();
            return { kind: 'missing', path: lexicalJoin(childPath, pending) };
          }
          throw pathError(codeError('ENOENT'), 'lstat', childPath);
        }
        if (!mount && st.isSymbolicLink() && (!last || opts.followFinal)) {
          if (++hops > MAX_SYMLINK_HOPS) throw pathError(codeError('ELOOP'), 'lstat', p);
          const target = await fs.readlink(top.at(comp)).catch((err: unknown) => {
            throw pathError(err, 'readlink', childPath);
          });
          if (target.startsWith('/')) {
            for (const d of stack.slice(1)) release(d);
            stack = [this.root];
          }
          pending = [...target.split('/'), ...pending];
          continue;
        }
        if (last) {
          if (mount && st.isDirectory()) {
            const d = await this.openChild(top, comp);
            releaseAll(d);
            return { kind: 'dir', dir: d, path: childPath };
          }
          releaseAll(top);
          return { kind: 'entry', parent: top, name: comp, path: childPath, ...(mount ? { mount } : {}) };
        }
        if (!st.isDirectory()) throw pathError(codeError('ENOTDIR'), 'lstat', lexicalJoin(childPath, pending));
        const d = await this.openChild(top, comp);
        owned.add(d);
        stack.push(d);
      }
      const dir = stack[stack.length - 1]!;
      releaseAll(dir);
      return { kind: 'dir', dir, path: dir.path };
    } catch (err) {
      releaseAll();
      throw err;
    }
  }

  /**
   * Re-opens a directory by its symlink-free container path (as recorded in Dir.path), refusing to follow
   * anything: undefined if it is no longer a directory reached that way.
   */
  async reopen(containerPath: string): Promise<Dir | undefined> {
    let cur = this.root;
    const opened: Dir[] = [];
    try {
      for (const comp of containerPath.split('/').filter(Boolean)) {
        cur = await this.openChild(cur, comp);
        opened.push(cur);
      }
    } catch {
      for (const d of opened) await d.close();
      return undefined;
    }
    for (const d of opened) if (d !== cur) await d.close();
    return cur;
  }

  /**
   * Removes `name` in `parent` and everything below it, never following a symlink (each directory is
   * opened with O_NOFOLLOW before it is emptied). Mount points cannot be removed (EBUSY), as in Docker.
   */
  async removeAll(parent: Dir, name: string | Buffer): Promise<void> {
    const containerPath = parent.child(typeof name === 'string' ? name : name.toString('utf8'));
    if (this.hasMountAtOrBelow(containerPath)) throw pathError(codeError('EBUSY'), 'unlinkat', containerPath);
    if (parent.readOnly) throw readOnlyError(containerPath);
    let st: Stats;
    try {
      st = await fs.lstat(parent.at(name));
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw pathError(err, 'lstat', containerPath);
    }
    if (!st.isDirectory()) {
      await fs.unlink(parent.at(name)).catch((err: unknown) => {
        if (errno(err) !== 'ENOENT') throw pathError(err, 'unlinkat', containerPath);
      });
      return;
    }
    let handle: FileHandle;
    try {
      handle = await fs.open(parent.at(name), DIR_FLAGS);
    } catch (err) {
      // Replaced by something else meanwhile: remove that instead.
      if (errno(err) === 'ELOOP' || errno(err) === 'ENOTDIR') return this.removeAll(parent, name);
      if (errno(err) === 'ENOENT') return;
      throw pathError(err, 'open', containerPath);
    }
    const dir = new Dir(handle, containerPath, parent.readOnly, this.opened);
    try {
      for (const child of await fs.readdir(dir.self, { encoding: 'buffer' })) await this.removeAll(dir, child);
    } finally {
      await dir.close();
    }
    await fs.rmdir(parent.at(name)).catch((err: unknown) => {
      if (errno(err) !== 'ENOENT') throw pathError(err, 'unlinkat', containerPath);
    });
  }

  /**
   * The directories from the root down to `d` (so that `..` from d goes to its real parent), re-opened by
   * d's symlink-free container path; the ones opened here are added to `owned`.
   */
  private async chainTo(d: Dir, owned: Set<Dir>): Promise<Dir[]> {
    const chain: Dir[] = [this.root];
    const comps = d.path.split('/').filter(Boolean);
    for (let i = 0; i < comps.length - 1; i++) {
      const next = await this.openChild(chain[chain.length - 1]!, comps[i]!);
      owned.add(next);
      chain.push(next);
    }
    if (d !== this.root) chain.push(d);
    return chain;
  }

  /** Closes the directories of a resolved target, except the root and those in `keep`. */
  async release(t: Target | Dir | undefined, ...keep: Dir[]): Promise<void> {
    const d = t === undefined ? undefined : t instanceof Dir ? t : t.kind === 'dir' ? t.dir : t.kind === 'entry' ? t.parent : undefined;
    if (d && d !== this.root && !keep.includes(d)) await d.close();
  }
}

// ---- helpers ------------------------------------------------------------------------------------

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EINVAL: 'invalid argument',
  EISDIR: 'is a directory',
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  EROFS: 'read-only file system',
  EXDEV: 'invalid cross-device link',
  ENOTEMPTY: 'directory not empty',
};

function codeError(code: string): NodeJS.ErrnoException {
  const e = new Error(ERRNO_TEXT[code] ?? code) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/**
 * An fs error re-worded with the container path instead of the /proc path it was reached by, in Go's
 * form ("lstat /etc/x: not a directory"), keeping the errno code.
 */
export function pathError(err: unknown, syscall: string, containerPath: string): NodeJS.ErrnoException {
  const code = errno(err);
  const text = (code && ERRNO_TEXT[code]) ?? (err instanceof Error ? err.message : String(err));
  const e = new Error(`${syscall} ${containerPath}: ${text}`) as NodeJS.ErrnoException;
  if (code) e.code = code;
  return e;
}

function readOnlyError(containerPath: string): NodeJS.ErrnoException {
  const e = new Error(`mkdir ${containerPath}: read-only file system`) as NodeJS.ErrnoException;
  e.code = 'EROFS';
  return e;
}

/** Joins a container directory path and a name. */
export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** A clean absolute container path (Go's filepath.Clean of "/" + p). */
export function cleanAbs(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/\/+$/, '') || '/';
}

/** base + the remaining components, taken lexically. */
function lexicalJoin(base: string, rest: string[]): string {
  return cleanAbs([base, ...rest].join('/'));
}

/**
 * Go's os.FileMode bits for a Unix st_mode, as a Go program's os.Lstat reports them (the `mode` of
 * Docker's X-Docker-Container-Path-Stat): permission bits, then setuid/setgid/sticky and the type as
 * Go's own high bits.
 */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  switch (mode & C.S_IFMT) {
    case C.S_IFDIR:
      m += 2 ** 31;
      break;
    case C.S_IFLNK:
      m += 2 ** 27;
      break;
    case C.S_IFBLK:
      m += 2 ** 26;
      break;
    case C.S_IFCHR:
      m += 2 ** 26 + 2 ** 21;
      break;
    case C.S_IFIFO:
      m += 2 ** 25;
      break;
    case C.S_IFSOCK:
      m += 2 ** 24;
      break;
  }
  if (mode & 0o4000) m += 2 ** 23;
  if (mode & 0o2000) m += 2 ** 22;
  if (mode & 0o1000) m += 2 ** 20;
  return m;
}
