/**
 * The .dockerignore rules of a context for `berth build` (the matcher is build/dockerignore.ts's, once it is
 * merged; until then nothing is ignored).
 */
import type { IgnoreRules } from './build-context.js';

export async function loadIgnoreRules(contextDir: string, dockerfileRel: string | null): Promise<IgnoreRules | undefined> {
  void contextDir;
  void dockerfileRel;
  return undefined;
}
