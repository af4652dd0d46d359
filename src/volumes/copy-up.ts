import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { log } from '../lib/log.js';

/**
 * Fills an empty volume with what the image has at the mount's destination, as Docker does when a
 * volume is first mounted by a container: files, directories and symlinks with their owners, modes and
 * times; hard links stay hard links. Device nodes, fifos and sockets are skipped. `src` must be a host
 * path already resolved inside the container's rootfs; nothing in it is followed (symlinks are copied as
 * symlinks). Returns false when `dst` was not empty or `src` is not a directory (nothing copied).
 */
export async function copyUp(src: string, dst: string): Promise<boolean> {
  const dstEntries = await fs.readdir(dst);
  if (dstEntries.length > 0) return false;
  let st: Stats;
  try {
    st = await fs.lstat(src);
  } catch {
    return false; // missing: nothing to copy
  }
  if (!st.isDirectory()) return false;
  const links = new Map<string, string>();
  await copyDirContents(src, dst, links);
  await applyMeta(dst, st);
  return true;
}

async function copyDirContents(src: string, dst: string, links: Map<string, string>): Promise<void> {
  for (const name of await fs.readdir(src)) {
    const from = path.join(src, name);
    const to = path.join(dst, name);
    const st = await fs.lstat(from);
    if (st.isDirectory()) {
      await fs.mkdir(to, { mode: 0o700 });
      await copyDirContents(from, to, links);
      await applyMeta(to, st);
    } else if (st.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(from), to);
      await fs.lchown(to, st.uid, st.gid);
      await fs.lutimes(to, st.atime, st.mtime);
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first) {
        await fs.link(first, to);
        continue;
      }
      await fs.copyFile(from, to);
      await applyMeta(to, st);
      if (st.nlink > 1) links.set(key, to);
    } else {
      log.debug('copy-up skips a special file', { path: from });
    }
  }
}

/** Owner first (chown clears set-id bits), then mode, then times. */
async function applyMeta(p: string, st: Stats): Promise<void> {
  await fs.chown(p, st.uid, st.gid);
  await fs.chmod(p, st.mode & 0o7777);
  await fs.utimes(p, st.atime, st.mtime);
}
