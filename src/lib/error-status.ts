import { BerthError, type ErrorKind } from './errors.js';

/**
 * The one place where service errors become HTTP statuses: the Engine API (api/errors.ts re-exports it)
 * and the swarm's node-to-node control plane (swarm/control/) answer with the same ones.
 */
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
