import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The absolute path of a program, searched in PATH and then in the usual system directories. */
export function findExecutable(name: string): string | undefined {
  if (name.includes('/')) return name;
  const dirs = `${process.env.PATH ?? ''}:${FALLBACK_PATH}`.split(':').filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
