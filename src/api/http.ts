import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Static, TSchema } from '@sinclair/typebox';
import { invalidArgument, tooLarge } from '../lib/errors.js';
import { parseJsonText } from './schemas/go-json.js';
import { decode } from './schemas/decode.js';

/** What a route handler gets: the request, the response, path parameters and the query. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for (from the /vX.Y prefix), or the daemon's own. */
  version: string;
  /**
   * Takes over the connection for a raw stream (attach, exec start): answers 101 UPGRADED when the
   * client asked to upgrade, 200 otherwise, and hands back the socket.
   */
  hijack: (contentType: string) => import('node:net').Socket;
}

/** JSON request bodies are small; anything larger than this is a mistake or an attack. */
export const MAX_JSON_BODY = 8 * 1024 * 1024;

/** Bodies read before the handler (by authorization plugins, plugins/authz.ts): readJson returns them. */
const bodiesReadEarly = new WeakMap<IncomingMessage, Buffer>();
export function replayBody(req: IncomingMessage, body: Buffer): void {
  bodiesReadEarly.set(req, body);
}

/**
 * Reads a JSON body as dockerd does: undefined when empty, Docker's words (`invalid JSON: ...`, Go's
 * syntax messages) when it is not JSON. Callers decode the value with a schema (readBody).
 */
export async function readJson(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<unknown> {
  const early = bodiesReadEarly.get(req);
  if (early) {
    bodiesReadEarly.delete(req);
    if (early.length > limit) throw tooLarge(`request body is larger than ${limit} bytes`);
    return parseBody(early.toString('utf8'));
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(`request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return parseBody(Buffer.concat(chunks).toString('utf8'));
}

/** Parses a body's text (see readJson). */
export function parseBody(text: string): unknown {
  const parsed = parseJsonText(text);
  if (parsed === undefined) return undefined;
  if ('error' in parsed) throw invalidArgument(parsed.error);
  return parsed.value;
}

/** Reads a JSON body and decodes it with a schema (api/schemas); undefined when the body is empty. */
export async function readBody<T extends TSchema>(req: IncomingMessage, schema: T): Promise<Static<T> | undefined> {
  const value = await readJson(req);
  return value === undefined ? undefined : decode(schema, value);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

export function sendNoContent(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** Starts a stream of JSON messages (pull/load/import progress), one object per line. */
export function startJsonStream(res: ServerResponse): (message: unknown) => void {
  if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/json' });
  return (message) => {
    if (!res.writableEnded) res.write(JSON.stringify(message) + '\n');
  };
}

/** Docker's query boolean: "", "0", "no", "false" and "none" are false; anything else is true. */
export function boolParam(query: URLSearchParams, name: string, fallback = false): boolean {
  const raw = query.get(name);
  if (raw === null) return fallback;
  return !['', '0', 'no', 'false', 'none'].includes(raw.trim().toLowerCase());
}

export function intParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  // dockerd reads these with strconv.Atoi and returns its error (as a 400 here, never a 500).
  if (!/^[+-]?\d+$/.test(raw)) throw invalidArgument(`strconv.Atoi: parsing ${JSON.stringify(raw)}: invalid syntax`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`strconv.Atoi: parsing ${JSON.stringify(raw)}: value out of range`);
  return n;
}
