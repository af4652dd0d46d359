/**
 * The interpolation environment of a project: the `.env` of the project directory (or the `--env-file`
 * files instead, later ones winning), under the process environment, which always wins.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readEnvFile } from './env-file.js';
import type { WarnFn } from './errors.js';

export function projectEnvironment(
  projectDir: string,
  processEnv: Record<string, string | undefined>,
  envFiles: string[] | undefined,
  warn: WarnFn,
): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(processEnv)) if (value !== undefined) base[key] = value;
  const files = envFiles && envFiles.length > 0 ? envFiles.map((f) => path.resolve(projectDir, f)) : [path.join(projectDir, '.env')];
  const fromFiles: Record<string, string> = {};
  for (const file of files) {
    if (!envFiles?.length && !existsSync(file)) continue;
    Object.assign(fromFiles, readEnvFile(file, (name) => base[name] ?? fromFiles[name], true, warn));
  }
  return { ...fromFiles, ...base };
}
