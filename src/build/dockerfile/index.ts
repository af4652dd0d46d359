/**
 * The Dockerfile front end: text to the typed Dockerfile of types.ts (parser.ts, then instructions.ts),
 * with errors worded as Docker's classic builder prints them.
 */
import { BerthError } from '../../lib/errors.js';
import { buildDockerfile, InstructionError } from './instructions.js';
import { DockerfileSyntaxError, parse } from './parser.js';
import type { Dockerfile } from './types.js';

export { ShellLex, ExpandError, envLookupFromList, expandHeredocBody, type EnvLookup, type WordResult } from './expand.js';
export type * from './types.js';

/** An invalidArgument that also says where (the message alone is Docker's, which names only the line). */
export class DockerfileError extends BerthError {
  constructor(
    message: string,
    readonly file: string,
    readonly startLine: number,
    readonly endLine: number,
  ) {
    super('InvalidArgument', message);
  }
}

/**
 * Parses a Dockerfile. Throws DockerfileError (kind InvalidArgument) with Docker's wording: an error in an
 * instruction is `dockerfile parse error on line 3: unknown instruction: FOO`; a syntax error (bad
 * directive, unterminated heredoc, non-string JSON) is worded the same way; a file with nothing in it is
 * `file with no instructions`, and a stage-less one `no build stage in current context`.
 */
export function parseDockerfile(text: string, file: string): Dockerfile {
  try {
    return buildDockerfile(parse(text), file);
  } catch (err) {
    if (err instanceof InstructionError) {
      const message = err.parseError ? `dockerfile parse error on line ${err.startLine}: ${err.message}` : err.message;
      throw new DockerfileError(message, file, err.startLine, err.endLine);
    }
    if (err instanceof DockerfileSyntaxError) {
      const message = err.message === 'file with no instructions' ? err.message : `dockerfile parse error on line ${err.startLine}: ${err.message}`;
      throw new DockerfileError(message, file, err.startLine, err.endLine);
    }
    throw err;
  }
}
