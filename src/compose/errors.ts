/**
 * Errors from reading a Compose file. The message is what the user sees, worded as docker compose
 * words it; the kind lets a later API or CLI layer treat every one as bad input.
 */
import { BerthError } from '../lib/errors.js';

export class ComposeError extends BerthError {
  constructor(message: string) {
    super('InvalidArgument', message);
  }
}

/** Warnings (unset variables, several default files) go to whoever loads the project. */
export type WarnFn = (message: string) => void;
