/**
 * One process at a time on a storage root: the online collector's safety rests on a lock inside the
 * process, so a second server, or an offline `registry gc`, on the same root must not run beside it.
 * The lock is a file holding the owner's pid; one left by a process that is gone is taken over.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export class RootInUseError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockRoot(root: string): Promise<() => Promise<void>> {
  const file = path.join(root, 'lock');
  await fs.mkdir(root, { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const h = await fs.open(file, 'wx');
      await h.writeFile(`${process.pid}\n`);
      await h.close();
      return async () => {
        await fs.rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw new RootInUseError(`${root} is in use by process ${pid} (a registry server or gc)`);
      await fs.rm(file, { force: true }); // stale: its owner is gone
    }
  }
  throw new RootInUseError(`could not lock ${root}`);
}
