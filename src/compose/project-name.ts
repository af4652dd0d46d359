/**
 * Project names: `-p` over COMPOSE_PROJECT_NAME over the file's `name` over the directory's name.
 * An explicit name must already be valid; one taken from a directory is normalised as docker compose does.
 */
import { ComposeError } from './errors.js';

const VALID = /^[a-z0-9][a-z0-9_-]*$/;

export function isValidProjectName(name: string): boolean {
  return VALID.test(name);
}

/** Lower-cases, drops characters outside [a-z0-9_-], then drops leading `_` and `-`. */
export function normalizeProjectName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[_-]+/, '');
}

export function invalidProjectName(name: string): ComposeError {
  return new ComposeError(
    `invalid project name "${name}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`,
  );
}

export interface ProjectNameSources {
  flag?: string;
  env?: string;
  file?: string;
  directory: string;
}

export function resolveProjectName(sources: ProjectNameSources): string {
  for (const explicit of [sources.flag, sources.env, sources.file]) {
    if (explicit !== undefined && explicit !== '') {
      if (!isValidProjectName(explicit)) throw invalidProjectName(explicit);
      return explicit;
    }
  }
  const fromDir = normalizeProjectName(sources.directory);
  if (fromDir === '') throw new ComposeError(`project name must not be empty`);
  return fromDir;
}
