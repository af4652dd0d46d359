import { BerthError, type ErrorKind } from '../lib/errors.js';

/** The one place where service errors become HTTP statuses. */
const STATUS: Record<ErrorKind, number> = {
  InvalidArgument: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  NotModified: 304,
  TooLarge: 413,
  Unavailable: 503,
  NotImplemented: 501,
  Internal: 500,
};

export function statusOf(err: unknown): number {
  if (err instanceof BerthError) return STATUS[err.kind];
  if (err instanceof SyntaxError) return 400;
  return 500;
}
