/**
 * Which files make the project when no `-f` is given: the first of docker compose's names in the working
 * directory or the nearest parent that has one, plus its override file; a warning when several names exist.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ComposeError, type WarnFn } from './errors.js';

export const DEFAULT_FILE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
export const DEFAULT_OVERRIDE_NAMES = ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

function pick(dir: string, names: string[], warn: WarnFn): string | undefined {
  const found = names.map((name) => path.join(dir, name)).filter((file) => existsSync(file));
  if (found.length > 1) {
    warn(`Found multiple config files with supported names: ${found.join(', ')}`);
    warn(`Using ${found[0]}`);
  }
  return found[0];
}

export function findDefaultFiles(workingDir: string, warn: WarnFn): string[] {
  let dir = path.resolve(workingDir);
  for (;;) {
    const main = pick(dir, DEFAULT_FILE_NAMES, warn);
    if (main) {
      const override = pick(dir, DEFAULT_OVERRIDE_NAMES, warn);
      return override ? [main, override] : [main];
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new ComposeError('no configuration file provided: not found');
    dir = parent;
  }
}
