import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/**
 * Writes a file so that readers see either the old content or the new, never a half-written one.
 * durable: false skips the fsync, for files that are rewritten before each use (a container's /etc
 * files and bundle), where the fsync is most of the cost and a crash loses nothing that matters.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644, opts: { durable?: boolean } = {}): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const handle = await fs.open(tmp, 'w', mode);
  try {
    await handle.writeFile(data);
    if (opts.durable !== false) await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}
