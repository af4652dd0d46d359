/**
 * The host's device nodes, for privileged containers: every character and block device under /dev, as
 * runc's HostDevices finds them (Docker gives a privileged container all of them).
 *
 * Lifecycle: read at each privileged start (devices come and go), nothing cached.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface HostDevice {
  type: 'c' | 'b';
  path: string;
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** Directories under /dev that hold no devices of their own or belong to the container (runc's list). */
const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

export function devMajorMinor(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

/** Every device node under `root` (default /dev), recursively; /dev/console and symlinks are left out. */
export function hostDevices(root = '/dev'): HostDevice[] {
  const out: HostDevice[] = [];
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // unreadable or gone: no devices from it
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(p);
        continue;
      }
      if (e.name === 'console' || !(e.isCharacterDevice() || e.isBlockDevice())) continue;
      let st: fs.BigIntStats;
      try {
        st = fs.lstatSync(p, { bigint: true });
      } catch {
        continue; // gone meanwhile
      }
      out.push({
        type: e.isCharacterDevice() ? 'c' : 'b',
        path: p,
        ...devMajorMinor(st.rdev),
        fileMode: Number(st.mode) & 0o7777,
        uid: Number(st.uid),
        gid: Number(st.gid),
      });
    }
  };
  walk(root);
  return out;
}
