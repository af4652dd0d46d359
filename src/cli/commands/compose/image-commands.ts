/**
 * `compose build`, `pull`, `push`, `watch`. CONTRACT (issue 14): index.ts takes `imageCommands()`.
 */
import type { CommandDef } from '../../args.js';

export function imageCommands(): CommandDef[] {
  return [];
}
