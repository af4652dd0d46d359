/**
 * A read-only view of an image's filesystem for the builder: the source of `COPY --from` and the target
 * root that COPY resolves destinations, existing directories and `--chown` names against.
 *
 * An image's layers are mounted as an overlay with lower dirs only and `ro`. overlayfs refuses a single
 * lower dir without an upper, so an empty directory is stacked under a one-layer image (it adds nothing:
 * the layer's own root directory still gives the root its attributes). A scratch image is an empty
 * directory. Whatever happens, nothing stays mounted or on disk once `release` ran, and a failed mount
 * leaves nothing behind.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LayerStore } from '../layers/store.js';
import { isMounted, unmount } from '../layers/mount.js';
import { internal } from '../lib/errors.js';
import { execFileText } from '../lib/exec-file.js';

export interface MountedRootfs {
  /** The directory showing the image's files (read-only). */
  path: string;
  /** Unmounts and removes the directories made for the view; safe to call more than once. */
  release(): Promise<void>;
}

/**
 * Mounts the image whose top layer is `topChainId` (null: scratch) under a fresh directory inside
 * `scratchDir` (created if missing; the caller removes it when it is done with all views).
 */
export async function mountImageRootfs(layers: LayerStore, topChainId: string | null, scratchDir: string): Promise<MountedRootfs> {
  await fs.mkdir(scratchDir, { recursive: true });
  const base = await fs.mkdtemp(path.join(scratchDir, 'rootfs-'));
  const target = path.join(base, 'merged');
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    // unmount first: removing a mounted tree would walk into the image's layers.
    if (isMounted(target)) await unmount(target);
    if (isMounted(target)) throw internal(`unmounting ${target} failed: still mounted`);
    released = true;
    await fs.rm(base, { recursive: true, force: true });
  };
  try {
    await fs.mkdir(target);
    const lowerDirs = topChainId === null ? [] : layers.lowerDirs(topChainId);
    if (topChainId !== null && lowerDirs.length === 0) throw internal(`layer ${topChainId} is not in the layer store`);
    if (lowerDirs.length > 0) {
      // The layers directory is the working directory of mount(8), so lowerdir= holds short relative
      // paths and a deep image still fits in the kernel's one-page option limit.
      const layersDir = path.dirname(path.dirname(lowerDirs[0]!));
      if (lowerDirs.length === 1) {
        const empty = path.join(base, 'empty');
        await fs.mkdir(empty, { mode: 0o755 });
        lowerDirs.push(empty);
      }
      const lowers = lowerDirs.map((d) => path.relative(layersDir, d)).join(':');
      try {
        await execFileText('mount', ['-t', 'overlay', 'overlay', '-o', `ro,nodev,nosuid,lowerdir=${lowers}`, target], { cwd: layersDir });
      } catch (err) {
        const e = err as { detail?: string; message?: string };
        throw internal(`mounting the image's root filesystem failed: ${(e.detail ?? e.message ?? String(err)).trim()}`, err);
      }
    }
    return { path: target, release };
  } catch (err) {
    await release().catch(() => {}); // the first error is the one to report
    throw err;
  }
}
