/**
 * The .dockerignore rules of a context for `berth build`, as the docker CLI picks them: `<Dockerfile>.dockerignore`
 * beside the Dockerfile when it exists, else the context's `.dockerignore`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { IgnoreMatcher, dockerignorePathFor, readDockerignore } from '../build/dockerignore.js';
import type { IgnoreRules } from './build-context.js';

export async function loadIgnoreRules(contextDir: string, dockerfileRel: string | null): Promise<IgnoreRules | undefined> {
  const candidates = [
    ...(dockerfileRel === null ? [] : [dockerignorePathFor(path.resolve(contextDir, dockerfileRel))]),
    path.join(contextDir, '.dockerignore'),
  ];
  for (const file of candidates) {
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) return new IgnoreMatcher(readDockerignore(text));
  }
  return undefined;
}
