/**
 * Each task's secrets and configs on a tmpfs of its own, as dockerd does for a container
 * (createSecretsDir / remountSecretDir): `<root>/<taskId>` is a tmpfs (nodev, nosuid, noexec, mode
 * 0700) that gets the files with their owner and mode, then is remounted read-only. Nothing of a
 * secret is ever written before the tmpfs is in place, so nothing reaches the node's disks. The
 * directory goes when the task's container does (TaskRunner.removeContainer), when the node leaves
 * the swarm, and at agent start for tasks whose container is gone.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execFileText } from '../../lib/exec-file.js';
import { sleep } from '../../lib/sleep.js';
import { isMounted, mountFilesystem, unmount } from '../../layers/mount.js';
import type { TaskFile } from './payload-files.js';

export interface TaskFileStore {
  /** Makes the task's directory afresh with these files, read-only; returns its path on the node. */
  write(taskId: string, files: TaskFile[]): Promise<string>;
  /** Unmounts and removes the task's directory; nothing to do when it has none. */
  remove(taskId: string): Promise<void>;
  /** The tasks that have a directory. */
  list(): Promise<string[]>;
}

const TMPFS_OPTIONS = 'nodev,nosuid,noexec,mode=0700';

/** Task IDs are the store's: plain alphanumerics, so they cannot name a path outside the root. */
function checkTaskId(taskId: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(taskId)) throw new Error(`invalid task id ${JSON.stringify(taskId)}`);
}

/** dockerd retries the read-only remount on EBUSY: on a busy host the fresh tmpfs can be held for a moment (moby#48783). */
async function remountReadOnly(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await execFileText('mount', ['-o', `remount,ro,${TMPFS_OPTIONS}`, dir]);
      return;
    } catch (err) {
      if (attempt >= 4 || !/busy/i.test((err as Error).message)) throw new Error(`unable to remount dir as readonly: ${(err as Error).message}`);
      await sleep(10 + attempt * 25);
    }
  }
}

/** The store on the node: `root` is `<exec-root>/swarm-secrets`. */
export function tmpfsTaskFiles(root: string): TaskFileStore {
  const dirOf = (taskId: string) => {
    checkTaskId(taskId);
    return path.join(root, taskId);
  };

  async function remove(taskId: string): Promise<void> {
    const dir = dirOf(taskId);
    await unmount(dir);
    // Only an empty mount point is left: rmdir, never a recursive delete (which would reach into a tmpfs still mounted).
    await fs.rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  return {
    async write(taskId, files) {
      const dir = dirOf(taskId);
      await remove(taskId);
      await fs.mkdir(root, { recursive: true, mode: 0o700 });
      await fs.mkdir(dir, { mode: 0o700 });
      try {
        await mountFilesystem('tmpfs', dir, 'tmpfs', TMPFS_OPTIONS);
        // Whatever happened, no byte is written unless the tmpfs is really there.
        if (!isMounted(dir)) throw new Error(`unable to setup secret mount: ${dir} is not a mount point`);
        for (const f of files) {
          if (!/^[A-Za-z0-9_.-]+$/.test(f.name) || f.name.startsWith('.')) throw new Error(`invalid task file name ${JSON.stringify(f.name)}`);
          const file = path.join(dir, f.name);
          await fs.writeFile(file, f.data, { mode: f.mode, flag: 'wx' });
          await fs.chown(file, f.uid, f.gid);
          await fs.chmod(file, f.mode);
        }
        await remountReadOnly(dir);
        return dir;
      } catch (err) {
        await remove(taskId).catch(() => undefined);
        throw err;
      }
    },
    remove,
    async list() {
      const names = await fs.readdir(root).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [] as string[];
        throw err;
      });
      return names.filter((n) => /^[A-Za-z0-9_-]+$/.test(n));
    },
  };
}
