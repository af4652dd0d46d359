/**
 * `docker diff`: the changes of a container's writable layer (the overlay upper directory) against its
 * image's layers, computed as dockerd's overlay2 driver does (archive.OverlayChanges):
 *  - the upper dir is walked in name order, a directory before its contents;
 *  - a whiteout (character device 0/0) is a deletion (Kind 2) of that name; an opaque directory that
 *    exists in a lower layer is a deletion too (its contents then count as added);
 *  - anything else is a modification (Kind 0) when the path exists in a lower layer, an addition (Kind 1)
 *    otherwise; a directory that exists below with the same size, mode and mtime is not reported;
 *  - the parent of an added or deleted path is reported as modified unless it already was (and it is not /).
 *
 * Docker keeps the mount points it makes for every container (/etc/hosts, /etc/hostname, /etc/resolv.conf,
 * /dev, /proc, /sys, ...) in an "init" layer below the writable one, so they never show up. Berth has no
 * init layer: runc makes the missing ones in the upper dir. They are left out here (and from commits) when
 * they are still what runc made (an empty file or directory that no image layer has), and so is a
 * directory that holds nothing else.
 *
 * The upper dir may belong to a running container: it is walked through a ScopedRoot (no symlink is ever
 * followed). Lower layers are read-only and are looked up component by component without following links.
 */
import { promises as fs, type BigIntStats, type Stats } from 'node:fs';
import path from 'node:path';
import type { ContainerService } from './service.js';
import type { Container } from './model.js';
import { Dir, ScopedRoot } from './scoped-fs.js';
import { listOpaqueDirs } from '../layers/overlay-tools.js';

export const enum ChangeKind {
  Modify = 0,
  Add = 1,
  Delete = 2,
}

export interface Change {
  Path: string;
  Kind: ChangeKind;
}

/** Mount points Docker keeps in a container's init layer (daemon/initlayer), plus /dev itself. */
const INIT_PATHS = new Set(['/dev', '/dev/pts', '/dev/shm', '/dev/console', '/proc', '/sys', '/.dockerenv', '/etc/resolv.conf', '/etc/hosts', '/etc/hostname', '/etc/mtab']);

/** Looks paths up in a container's image layers, topmost first. */
export class LowerLayers {
  constructor(private readonly dirs: string[]) {}

  /**
   * lstat of the path in the topmost layer that has it, or null if no layer has it or a layer above the
   * one that has it deleted it (whiteout) or holds a non-directory on the way.
   */
  async lstat(rel: string): Promise<BigIntStats | null> {
    const parts = rel.split('/').filter(Boolean);
    if (!parts.length) return null;
    for (const dir of this.dirs) {
      let hidden = false;
      let cur = dir;
      for (let i = 0; i < parts.length; i++) {
        cur = path.join(cur, parts[i]!);
        const st = await fs.lstat(cur, { bigint: true }).catch(() => null); // gone meanwhile: stop here
        if (!st) break;
        if (st.isCharacterDevice() && st.rdev === 0n) {
          hidden = true;
          break;
        }
        if (i === parts.length - 1) return st;
        if (!st.isDirectory()) {
          hidden = true;
          break;
        }
      }
      if (hidden) return null;
    }
    return null;
  }
}

export function lowerLayersOf(svc: ContainerService, c: Container): LowerLayers {
  return new LowerLayers(c.topChainId ? svc.images.layers.lowerDirs(c.topChainId) : []);
}

/**
 * What diff and commit leave out of a writable layer: the mount points runc made (see the module comment)
 * while they are still what runc made, and a directory that is only there to hold such mount points.
 * Judged through the upper dir's ScopedRoot; results are cached by path.
 */
export class RuntimeArtifacts {
  private readonly cache = new Map<string, boolean>();

  constructor(
    private readonly scoped: ScopedRoot,
    private readonly lowers: LowerLayers,
  ) {}

  /** Whether the entry `rel` (its lstat `st`, in directory `parent`) is left out. */
  async hidden(parent: Dir, rel: string, st: Stats | BigIntStats): Promise<boolean> {
    const cached = this.cache.get(rel);
    if (cached !== undefined) return cached;
    const result = await this.judge(parent, rel, st);
    this.cache.set(rel, result);
    return result;
  }

  private async judge(parent: Dir, rel: string, st: Stats | BigIntStats): Promise<boolean> {
    const initPath = INIT_PATHS.has(`/${rel}`);
    if (!initPath && !st.isDirectory()) return false;
    const lower = await this.lowers.lstat(rel);
    if (initPath && !lower) {
      if (st.isFile()) return Number(st.size) === 0;
      if (st.isSymbolicLink()) return true;
      if (st.isDirectory()) return (await this.children(parent, rel)) !== false;
      return false;
    }
    // A directory copied up only because runc made mount points in it.
    if (st.isDirectory() && lower?.isDirectory() && Number(lower.mode) === Number(st.mode)) return (await this.children(parent, rel)) === true;
    return false;
  }

  /** true if the directory has entries and all are hidden, 'empty' if it has none, false otherwise. */
  private async children(parent: Dir, rel: string): Promise<boolean | 'empty'> {
    let dir: Dir;
    try {
      dir = await this.scoped.openChild(parent, path.posix.basename(rel));
    } catch {
      return false; // gone or not a directory meanwhile
    }
    try {
      const names = await fs.readdir(dir.self);
      if (!names.length) return 'empty';
      for (const name of names) {
        const st = await fs.lstat(dir.at(name) as string).catch(() => null); // gone meanwhile: not hidden
        if (!st || !(await this.hidden(dir, `${rel}/${name}`, st))) return false;
      }
      return true;
    } finally {
      await dir.close();
    }
  }
}

/** Changes of the container's writable layer, in Docker's order and with Docker's kinds. */
export async function containerChanges(svc: ContainerService, ref: string): Promise<Change[]> {
  const c = svc.resolve(ref);
  const upper = svc.runner.paths(c.id).upper;
  const lowers = lowerLayersOf(svc, c);
  const opaque = await listOpaqueDirs(upper);
  const scoped = await ScopedRoot.open(upper);
  const artifacts = new RuntimeArtifacts(scoped, lowers);
  const changes: Change[] = [];
  const changedDirs = new Set<string>();

  const walk = async (dir: Dir, relDir: string): Promise<void> => {
    const names = await fs.readdir(dir.self, { encoding: 'buffer' });
    names.sort(Buffer.compare);
    for (const raw of names) {
      const name = raw.toString('utf8');
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      const p = `/${rel}`;
      const st = await fs.lstat(dir.at(raw), { bigint: true }).catch(() => null); // gone meanwhile: skipped
      if (!st) continue;
      if (await artifacts.hidden(dir, rel, st)) continue;
      let kind: ChangeKind | undefined;
      const lower = await lowers.lstat(rel);
      if (st.isCharacterDevice() && st.rdev === 0n) kind = ChangeKind.Delete;
      else if (st.isDirectory() && opaque.has(rel) && lower) kind = ChangeKind.Delete;
      else if (!lower) kind = ChangeKind.Add;
      else if (lower.isDirectory() && st.isDirectory() && st.size === lower.size && st.mode === lower.mode && sameFsTime(st.mtimeNs, lower.mtimeNs)) kind = undefined;
      else kind = ChangeKind.Modify;
      if (kind !== undefined) {
        if (st.isDirectory()) changedDirs.add(p);
        if (kind === ChangeKind.Add || kind === ChangeKind.Delete) {
          const parent = path.posix.dirname(p);
          if (parent !== '/' && !changedDirs.has(parent)) {
            changes.push({ Path: parent, Kind: ChangeKind.Modify });
            changedDirs.add(parent);
          }
        }
        changes.push({ Path: p, Kind: kind });
      }
      if (st.isDirectory()) {
        let child: Dir;
        try {
          child = await scoped.openChild(dir, name);
        } catch {
          continue; // replaced meanwhile
        }
        try {
          await walk(child, rel);
        } finally {
          await child.close();
        }
      }
    }
  };

  try {
    await walk(scoped.root, '');
  } finally {
    await scoped.close();
  }
  return changes;
}

/** Go's sameFsTime: equal, or equal seconds when one side has no sub-second part. */
function sameFsTime(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  const sec = 1_000_000_000n;
  return a / sec === b / sec && (a % sec === 0n || b % sec === 0n);
}
