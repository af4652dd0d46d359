/** Small HTTP helpers for the registry server: bodies with a limit, ranges, and JSON/error responses. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { regError, RegistryError } from './errors.js';

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw regError('MANIFEST_INVALID', `manifest is too large: ${declared} bytes (limit ${limit})`, undefined, 413);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > limit) throw regError('MANIFEST_INVALID', `manifest is too large (limit ${limit} bytes)`, undefined, 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A single `Range: bytes=` request over a blob of `size` bytes; undefined for none (or several: served whole). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) {
    if (/^bytes=.*,/.test(header)) return undefined;
    throw unsatisfiable(size);
  }
  let start: number;
  let end: number;
  if (m[1] === '') {
    if (m[2] === '') throw unsatisfiable(size);
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) throw unsatisfiable(size);
  }
  if (start >= size) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): RegistryError {
  const e = regError('RANGE_INVALID', 'requested range not satisfiable', { size }, 416);
  e.headers['Content-Range'] = `bytes */${size}`;
  return e;
}

/** Content-Range of an upload chunk: `start-end`, inclusive (a `bytes ` prefix and `/total` are tolerated). */
export function parseContentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw regError('RANGE_INVALID', `invalid Content-Range: ${header}`, undefined, 416);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start || !Number.isSafeInteger(end)) throw regError('RANGE_INVALID', `invalid Content-Range: ${header}`, undefined, 416);
  return { start, end };
}

export function contentLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { 'Content-Length': '0', ...headers });
  res.end();
}

/** `n` of a paginated list: a non-negative integer, or absent. */
export function pageSize(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw regError('PAGINATION_NUMBER_INVALID', undefined, { n: value });
  return Math.min(Number(value), 10_000);
}
