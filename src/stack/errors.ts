/** Errors in a stack's definition: bad input, worded as docker stack deploy words it. */
import { BerthError } from '../lib/errors.js';

export class StackError extends BerthError {
  constructor(message: string) {
    super('InvalidArgument', message);
  }
}
