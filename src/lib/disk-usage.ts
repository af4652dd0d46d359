import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';

/**
 * Bytes of the files under a directory, as Docker counts a layer's or a volume's size: hard links once,
 * symlinks by their own size, unreadable parts skipped.
 */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return; // gone or unreadable meanwhile: not counted
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await fs.lstat(p).catch(() => undefined); // gone meanwhile: not counted
      if (!st) continue;
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
  };
  await walk(dir);
  return total;
}
