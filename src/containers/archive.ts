/**
 * `docker cp` and `docker export`: the archive endpoints (stat, get, put) and the container's whole
 * filesystem as a tar, on running and stopped containers alike.
 *
 * Paths are the container's: they are resolved through a ScopedRoot (see scoped-fs.ts), so symlinks behave
 * as if the container root were `/` and nothing outside the container is ever read or written. Docker's
 * rules apply on top: `..` in the requested path is taken lexically first (Go's filepath.Join("/", path)),
 * a trailing `/` or `/.` is kept and means "the directory itself", and the last component is not followed
 * when it is a symlink (stat and get), but is for extraction.
 *
 * A stopped container's root filesystem is mounted for the operation and unmounted after, under the
 * container's lock, so a `start` waits for the copy. A running container's root is opened under the lock
 * (its exit cannot unmount it in between) and then used without it: the open directory keeps the overlay
 * alive even if the container exits while a long copy streams.
 *
 * Mounts: the files Berth binds into a container (/etc/hosts, /etc/hostname, /etc/resolv.conf) are seen
 * by cp as the container sees them; `containerMounts` is where volumes and bind mounts join them.
 */
import { existsSync, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Container } from './model.js';
import type { ContainerService } from './service.js';
import { ScopedRoot, cleanAbs, errno, goFileMode, type MountPoint, type Target } from './scoped-fs.js';
import { tarTarget } from './tar-writer.js';
import { extractTar } from './extract.js';
import { isMounted, unmount } from '../layers/mount.js';
import { resolveUser } from '../runtime/user.js';
import { rootPair, toContainerId, toHostId } from '../runtime/userns.js';
import { BerthError, conflict, internal, invalidArgument, messageOf, notFound } from '../lib/errors.js';
import { log, debugIgnored } from '../lib/log.js';

/** Docker's ContainerPathStat (X-Docker-Container-Path-Stat): mode holds Go's os.FileMode bits. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/**
 * The mounts cp sees in the container, by container path: binds and volumes (by their host path; tmpfs
 * mounts exist only inside a running container and are not seen), and the /etc files Berth binds in once
 * they have been written (at the first start), unless a mount takes their place.
 */
export function containerMounts(svc: ContainerService, c: Container): MountPoint[] {
  const p = svc.runner.paths(c.id);
  const readOnly = Boolean(c.hostConfig.ReadonlyRootfs);
  const out: MountPoint[] = [];
  for (const m of c.mountPoints ?? []) {
    if (m.Type === 'tmpfs' || !m.Source || !existsSync(m.Source)) continue;
    out.push({ destination: cleanAbs(m.Destination), source: m.Source, readOnly: !m.RW });
  }
  const taken = new Set(out.map((m) => m.destination));
  for (const [destination, source] of [
    ['/etc/resolv.conf', p.resolvConf],
    ['/etc/hostname', p.hostname],
    ['/etc/hosts', p.hosts],
  ] as const) {
    if (!taken.has(destination) && existsSync(source)) out.push({ destination, source, readOnly });
  }
  return out;
}

/** The kernel's overflow id: what an id outside the user namespace's ranges shows as inside it. */
const OVERFLOW_ID = 65534;

/**
 * Owner translations for --userns-remap, where the container's files are owned on disk by ids shifted into
 * the daemon's subordinate ranges: tars show the container's ids, and ids from a tar are shifted on the way
 * in. Identity without remapping.
 */
export function ownerMaps(svc: ContainerService): {
  toContainer?: (uid: number, gid: number) => { uid: number; gid: number };
  toHost?: (uid: number, gid: number) => { uid: number; gid: number };
  root?: { uid: number; gid: number };
} {
  const m = svc.runner.idMapping;
  if (!m) return {};
  return {
    toContainer: (uid, gid) => ({ uid: toContainerId(uid, m.uidMaps) ?? OVERFLOW_ID, gid: toContainerId(gid, m.gidMaps) ?? OVERFLOW_ID }),
    toHost: (uid, gid) => {
      const hu = toHostId(uid, m.uidMaps);
      const hg = toHostId(gid, m.gidMaps);
      if (hu === undefined || hg === undefined) throw invalidArgument(`uid ${uid} or gid ${gid} is not mapped in the container's user namespace`);
      return { uid: hu, gid: hg };
    },
    root: rootPair(m),
  };
}

/**
 * Runs fn with the container's filesystem open (see the module comment for the locking). `mounts`: whether
 * mounts are seen (cp) or only the root filesystem (export).
 */
export async function withContainerFs<T>(
  svc: ContainerService,
  c: Container,
  opts: { mounts: boolean },
  fn: (scoped: ScopedRoot) => Promise<T>,
): Promise<T> {
  const p = svc.runner.paths(c.id);
  const open = (): Promise<ScopedRoot> =>
    ScopedRoot.open(p.rootfs, {
      mounts: opts.mounts ? containerMounts(svc, c) : [],
      readOnly: Boolean(c.hostConfig.ReadonlyRootfs),
      newDirOwner: ownerMaps(svc).root,
    });
  const use = async (scoped: ScopedRoot): Promise<T> => {
    try {
      return await fn(scoped);
    } finally {
      await scoped.close();
    }
  };
  // Running (and not between two runs of a restart policy): the rootfs is mounted by the run.
  const runs = (): boolean => c.state.Running && !c.state.Restarting && isMounted(p.rootfs);
  const live = await svc.withLock(c.id, async () => {
    usable(svc, c);
    return runs() ? open() : undefined;
  });
  if (live) return use(live);
  return svc.withLock(c.id, async () => {
    usable(svc, c);
    if (runs()) return use(await open());
    // Stopped: mounted for the operation, under the lock, so no start can mount it meanwhile.
    const mountHere = !isMounted(p.rootfs);
    if (mountHere) await svc.runner.mountRootfs(c);
    try {
      return await use(await open());
    } finally {
      if (mountHere) {
        await unmount(p.rootfs).catch((err) => log.warn('unmounting a container rootfs after a copy failed', { id: c.id, error: messageOf(err) }));
        await fs.rmdir(p.rootfs).catch(debugIgnored('removing a temporary rootfs mount point failed'));
        await fs.rmdir(p.bundle).catch(debugIgnored('removing a temporary bundle directory failed'));
      }
    }
  });
}

function usable(svc: ContainerService, c: Container): void {
  if (!svc.store.get(c.id)) throw notFound(`No such container: ${c.id}`);
  if (c.state.Status === 'removing') throw conflict(`container ${c.id} is being removed`);
}

// ---- paths ------------------------------------------------------------------------------------

/** Go's filepath.Base. */
export function goBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/**
 * Docker's archive.PreserveTrailingDotOrSeparator(filepath.Join("/", p), p): the path cleaned lexically
 * as an absolute path, keeping a trailing '/.' or '/'.
 */
export function containerAbsPath(p: string): string {
  let clean = cleanAbs(p);
  if (goBase(clean) !== '.' && goBase(p) === '.') clean += clean.endsWith('/') ? '.' : '/.';
  if (!clean.endsWith('/') && p.endsWith('/')) clean += '/';
  return clean;
}

/** A Go time.Time as JSON (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC. */
export function goTimeJson(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso}${frac ? `.${frac}` : ''}Z`;
}

/** Maps a filesystem error on `path` to what Docker answers. */
function fsFailure(err: unknown, path: string, ref: string): unknown {
  if (err instanceof BerthError) return err;
  if (errno(err) === 'ENOENT') return notFound(`Could not find the file ${path} in container ${ref}`);
  if (errno(err) === 'ENOTDIR' || errno(err) === 'ELOOP' || errno(err) === 'EINVAL') return invalidArgument(messageOf(err));
  if (errno(err) === 'EROFS' || errno(err) === 'EBUSY' || errno(err) === 'EEXIST') return conflict(messageOf(err));
  return internal(messageOf(err), err);
}

async function statTarget(scoped: ScopedRoot, target: Target, absPath: string): Promise<PathStat> {
  const st = await scoped.lstatTargetBig(target);
  if (!st) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    const full = await scoped.resolve(absPath, { followFinal: true, lenient: true });
    linkTarget = full.path;
    await scoped.release(full);
  }
  return { name: goBase(absPath), size: Number(st.size), mode: goFileMode(Number(st.mode)), mtime: goTimeJson(st.mtimeNs), linkTarget };
}

// ---- the operations -----------------------------------------------------------------------------

/** HEAD /containers/{id}/archive: what `path` is, without following a final symlink. */
export async function statPath(svc: ContainerService, ref: string, path: string): Promise<PathStat> {
  const c = svc.resolve(ref);
  return withContainerFs(svc, c, { mounts: true }, async (scoped) => {
    const absPath = containerAbsPath(path);
    try {
      const target = await scoped.resolve(absPath);
      try {
        return await statTarget(scoped, target, absPath);
      } finally {
        await scoped.release(target);
      }
    } catch (err) {
      throw fsFailure(err, path, ref);
    }
  });
}

/**
 * GET /containers/{id}/archive: a tar of `path` handed to `consume` with its stat; the filesystem stays
 * open (and a stopped container's rootfs mounted) until consume settles. Entries are named as Docker
 * names them: a directory's own entry is the base name of the path ('etc/', './' for 'dir/.', '/' for
 * the root) and everything below it is under that name.
 */
export async function archivePath(
  svc: ContainerService,
  ref: string,
  path: string,
  consume: (stat: PathStat, tar: Readable) => Promise<void>,
): Promise<void> {
  const c = svc.resolve(ref);
  await withContainerFs(svc, c, { mounts: true }, async (scoped) => {
    const absPath = containerAbsPath(path);
    let target: Target;
    let stat: PathStat;
    try {
      target = await scoped.resolve(absPath);
      stat = await statTarget(scoped, target, absPath);
    } catch (err) {
      throw fsFailure(err, path, ref);
    }
    const base = goBase(absPath);
    const isDir = (stat.mode & 2 ** 31) !== 0;
    const names = isDir ? { rootName: base === '/' ? '/' : `${base}/`, prefix: base === '/' ? '/' : `${base}/` } : { rootName: base };
    svc.emit(c, 'archive-path');
    const tar = tarTarget(scoped, target, { ...names, owners: ownerMaps(svc).toContainer });
    try {
      await consume(stat, tar);
    } finally {
      tar.destroy();
      await tar.settled; // nothing may still read through the directories that are about to close
    }
  });
}

/**
 * PUT /containers/{id}/archive: unpacks a tar (plain or gzip) into the directory `path` designates (a
 * final symlink is followed). noOverwriteDirNonDir refuses to replace a directory by a non-directory and
 * the other way round; copyUIDGID gives every file the container user's uid/gid (when it has a User).
 */
export async function extractToDir(
  svc: ContainerService,
  ref: string,
  path: string,
  input: Readable,
  opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean },
): Promise<void> {
  const c = svc.resolve(ref);
  await withContainerFs(svc, c, { mounts: true }, async (scoped) => {
    const absPath = containerAbsPath(path);
    let target: Target;
    try {
      target = await scoped.resolve(absPath, { followFinal: true });
    } catch (err) {
      throw fsFailure(err, path, ref);
    }
    try {
      let dest;
      if (target.kind === 'dir') dest = target.dir;
      else if (target.kind === 'entry') {
        const st = await scoped.lstatAt(target.parent, target.name);
        if (!st) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
        if (!st.isDirectory()) throw invalidArgument('extraction point is not a directory');
        dest = await scoped.openChild(target.parent, target.name);
        await scoped.release(target);
      } else throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
      if (dest.readOnly) {
        const inMount = containerMounts(svc, c).some((m) => dest.path === m.destination || dest.path.startsWith(`${m.destination}/`));
        throw invalidArgument(inMount ? 'mounted volume is marked read-only' : 'container rootfs is marked read-only');
      }
      const { toHost } = ownerMaps(svc);
      let chownTo: { uid: number; gid: number } | undefined;
      if (opts.copyUIDGID && c.config.User) {
        const u = resolveUser(svc.runner.paths(c.id).rootfs, c.config.User);
        chownTo = toHost ? toHost(u.uid, u.gid) : { uid: u.uid, gid: u.gid };
      }
      await extractTar(scoped, dest, input, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir, chownTo, toHost });
    } catch (err) {
      input.resume();
      throw fsFailure(err, path, ref);
    }
  });
  svc.emit(c, 'extract-to-dir');
}

/** GET /containers/{id}/export: the whole root filesystem (merged view, no mounts) as a tar. */
export async function exportContainer(svc: ContainerService, ref: string, consume: (tar: Readable) => Promise<void>): Promise<void> {
  const c = svc.resolve(ref);
  if (c.state.Dead) throw conflict(`You cannot export container ${c.id} which is Dead`);
  if (c.state.Status === 'removing') throw conflict(`You cannot export container ${c.id} which is being removed`);
  await withContainerFs(svc, c, { mounts: false }, async (scoped) => {
    const tar = tarTarget(scoped, { kind: 'dir', dir: scoped.root, path: '/' }, { prefix: '', owners: ownerMaps(svc).toContainer });
    try {
      await consume(tar);
    } finally {
      tar.destroy();
      await tar.settled;
    }
  });
  svc.emit(c, 'export');
}
