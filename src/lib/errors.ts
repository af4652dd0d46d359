/**
 * Typed errors thrown by services. The API maps each kind to an HTTP status in one place
 * (api/errors.ts); the message is what the user sees, so it follows Docker's wording.
 */
export type ErrorKind =
  | 'InvalidArgument'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'Conflict'
  | 'NotModified'
  | 'TooLarge'
  | 'Unavailable'
  | 'NotImplemented'
  | 'Internal';

export class BerthError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = kind;
  }
}

export const invalidArgument = (message: string) => new BerthError('InvalidArgument', message);
export const notFound = (message: string) => new BerthError('NotFound', message);
export const conflict = (message: string) => new BerthError('Conflict', message);
export const forbidden = (message: string) => new BerthError('Forbidden', message);
export const notModified = (message: string) => new BerthError('NotModified', message);
export const tooLarge = (message: string) => new BerthError('TooLarge', message);
export const unavailable = (message: string) => new BerthError('Unavailable', message);
export const notImplemented = (message: string) => new BerthError('NotImplemented', message);
export const internal = (message: string, cause?: unknown) => new BerthError('Internal', message, { cause });

export function isKind(err: unknown, kind: ErrorKind): err is BerthError {
  return err instanceof BerthError && err.kind === kind;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
