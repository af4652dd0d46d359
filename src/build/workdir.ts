/**
 * WORKDIR makes its directory, as Docker's builder does: when the path is missing from the image, a
 * layer with the missing directories (root-owned, 0755) is added.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { Layer, LayerStore } from '../layers/store.js';

export async function workdirLayer(layers: LayerStore, topChainId: string | null, workdir: string): Promise<Layer | null> {
  const parts = workdir.split('/').filter(Boolean);
  if (!parts.length) return null;
  const lowers = topChainId ? layers.lowerDirs(topChainId) : [];
  const missing: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    if (!(await existsInLayers(lowers, rel))) missing.push(rel);
  }
  if (!missing.length) return null;
  const pack = tar.pack();
  const mtime = new Date();
  for (const rel of missing) pack.entry({ name: `${rel}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime });
  pack.finalize();
  return layers.register(pack as unknown as Readable, topChainId);
}

/** Whether a path is in the merged view of the lower dirs (topmost first), whiteouts considered. */
async function existsInLayers(lowers: string[], rel: string): Promise<boolean> {
  for (const dir of lowers) {
    const parent = path.dirname(rel);
    const base = path.basename(rel);
    if (await present(path.join(dir, parent, `.wh.${base}`))) return false;
    const st = await fs.lstat(path.join(dir, rel)).catch(() => undefined);
    if (st) return st.isDirectory() || st.isSymbolicLink();
  }
  return false;
}

async function present(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}
