/**
 * `compose up`, `down`, `create`, `start`, `stop`, `restart`: the commands that converge a
 * project's containers. CONTRACT (issue 14): index.ts takes `lifecycleCommands()`.
 */
import type { CommandDef } from '../../args.js';

export function lifecycleCommands(): CommandDef[] {
  return [];
}
