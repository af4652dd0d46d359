/**
 * Registry errors as Docker words them. A registry answers errors as {"errors":[{code,message,detail}]};
 * Docker shows each as "<code in lower case with spaces>: <message>", and Berth keeps that text.
 */
import { BerthError } from '../lib/errors.js';

export interface RegistryErrorEntry {
  code: string;
  message: string;
}

/** An error response of a registry: its HTTP status and the errors its body listed. */
export class RegistryResponseError extends Error {
  constructor(
    readonly status: number,
    readonly errors: RegistryErrorEntry[],
    message: string,
    /** The request answered, in Go's words: 'Get "https://host/v2/..."'. */
    readonly request = '',
  ) {
    super(message);
  }

  has(...codes: string[]): boolean {
    return this.errors.some((e) => codes.includes(e.code));
  }
}

/** Docker's text for a registry error list: "manifest unknown: manifest unknown". */
export function describeErrors(errors: RegistryErrorEntry[]): string {
  return errors.map((e) => `${e.code.toLowerCase().replace(/_/g, ' ')}: ${e.message}`).join(', ');
}

/** Reads the errors of a registry's error body; anything unparsable gives none. */
export function parseErrorBody(body: Buffer): RegistryErrorEntry[] {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: unknown; details?: unknown };
    if (!parsed || !Array.isArray(parsed.errors)) return [];
    return parsed.errors
      .filter((e): e is Record<string, unknown> => !!e && typeof e === 'object')
      .map((e) => ({ code: typeof e.code === 'string' ? e.code : 'UNKNOWN', message: typeof e.message === 'string' ? e.message : '' }));
  } catch {
    return []; // not JSON: described by its status instead
  }
}

/** The error for a registry's non-success answer to `method url`. */
export function responseError(method: string, url: string, status: number, body: Buffer): RegistryResponseError {
  const errors = parseErrorBody(body);
  const request = `${method[0]}${method.slice(1).toLowerCase()} ${JSON.stringify(url)}`;
  if (errors.length) return new RegistryResponseError(status, errors, describeErrors(errors), request);
  if (status === 401) return new RegistryResponseError(status, [{ code: 'UNAUTHORIZED', message: 'authentication required' }], 'unauthorized: authentication required', request);
  const text = body.toString('utf8').trim().slice(0, 200);
  const reason = `${status} ${STATUS_TEXT[status] ?? ''}`.trim();
  return new RegistryResponseError(status, [], `error from registry: ${request}: ${reason}${text && !text.startsWith('<') ? `: ${text}` : ''}`, request);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Request Entity Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? '';
}

export const unauthorized = (message: string) => new BerthError('Unauthorized', message);
