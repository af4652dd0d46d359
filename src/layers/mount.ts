import { readFileSync } from 'node:fs';
import { internal } from '../lib/errors.js';
import { execFileText as run } from '../lib/exec-file.js';

/**
 * The adapter for mount(8) and umount(8): Node has no mount syscall. Overlay options are passed
 * relative to `cwd` (the layers directory) so that many layers fit in the kernel's one-page limit.
 */
export async function mountOverlay(target: string, opts: { lowerDirs: string[]; upperDir: string; workDir: string; cwd: string }): Promise<void> {
  const options = `lowerdir=${opts.lowerDirs.join(':')},upperdir=${opts.upperDir},workdir=${opts.workDir}`;
  try {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', options, target], { cwd: opts.cwd });
  } catch (err) {
    throw internal(`mounting the container's root filesystem failed: ${stderrOf(err)}`, err);
  }
}

/**
 * `mount -t <type> -o <options> <device> <target>`, as the local volume driver does with its type,
 * o and device options (e.g. tmpfs, nfs, or type=none + o=bind). Throws with mount(8)'s own words.
 */
export async function mountFilesystem(device: string, target: string, type: string, options: string): Promise<void> {
  const args = [...(type ? ['-t', type] : []), ...(options ? ['-o', options] : []), '--source', device, '--target', target];
  try {
    await run('mount', args);
  } catch (err) {
    const said = stderrOf(err).split('\n')[0]!.replace(/^mount: /, '');
    throw internal(`mount ${device}:${target}: ${said}`, err);
  }
}

export async function unmount(target: string): Promise<void> {
  if (!isMounted(target)) return;
  try {
    await run('umount', [target]);
  } catch (err) {
    // A busy mount (a process still holding it) is detached lazily rather than left behind.
    try {
      await run('umount', ['-l', target]);
    } catch {
      throw internal(`unmounting ${target} failed: ${stderrOf(err)}`, err);
    }
  }
}

export function isMounted(target: string): boolean {
  const escaped = target.replace(/ /g, '\\040');
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === escaped);
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(err)).trim();
}
