/**
 * The registry's HTTP layer: routes of the OCI distribution-spec to RegistryService calls, auth first,
 * errors written as {"errors":[...]} in one place. Nothing a client sends can end the process: every
 * handler's failure becomes a response (or a closed connection, once a body has started).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { MediaType, MAX_MANIFEST_BYTES } from '../oci/media-types.js';
import { isDigest } from '../oci/manifest.js';
import { log } from '../lib/log.js';
import { messageOf } from '../lib/errors.js';
import { type Access } from './auth.js';
import { regError, RegistryError } from './errors.js';
import type { AccessGate } from './gate.js';
import type { GarbageCollector } from './gc.js';
import { contentLength, pageSize, parseContentRange, parseRange, readBody, sendEmpty, sendJson } from './http-util.js';
import { checkDigest, checkName, isRepositoryName, parseReference } from './names.js';
import type { RegistryService } from './service.js';

type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; ref: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uuid: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'referrers'; name: string; digest: string };

const ROUTES: Array<[RegExp, (m: RegExpExecArray) => Route]> = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1] })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1], ref: m[2] })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1] })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1], uuid: m[2] })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1], digest: m[2] })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1], digest: m[2] })],
];

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw regError('NAME_INVALID', 'invalid URL encoding');
  }
}

function route(pathname: string): Route | undefined {
  for (const [re, make] of ROUTES) {
    const m = re.exec(pathname);
    if (!m) continue;
    const r = make(m);
    if ('name' in r) r.name = checkName(decode(r.name));
    if ('ref' in r) r.ref = decode(r.ref);
    if ('digest' in r) r.digest = decode(r.digest);
    return r;
  }
  return undefined;
}

const WRITE = new Set(['PUT', 'POST', 'PATCH']);

/** The access a request needs, in Distribution's names. */
function neededAccess(r: Route, method: string, url: URL): Access[] {
  if (r.kind === 'base') return [];
  if (r.kind === 'catalog') return [{ type: 'registry', name: 'catalog', actions: ['*'] }];
  const repo = (actions: string[]): Access => ({ type: 'repository', name: r.name, actions });
  if (method === 'DELETE') return [repo(r.kind === 'upload' ? ['pull', 'push'] : ['delete'])];
  if (WRITE.has(method)) {
    const out = [repo(['pull', 'push'])];
    const from = url.searchParams.get('from');
    if (r.kind === 'uploads' && url.searchParams.has('mount') && from && isRepositoryName(from) && from !== r.name) out.push({ type: 'repository', name: from, actions: ['pull'] });
    return out;
  }
  return [repo(['pull'])];
}

function contentType(req: IncomingMessage): string | undefined {
  const v = req.headers['content-type'];
  return v ? v.split(';')[0].trim() : undefined;
}

function uploadHeaders(name: string, uuid: string, offset: number): Record<string, string> {
  return {
    Location: `/v2/${name}/blobs/uploads/${uuid}`,
    'Docker-Upload-UUID': uuid,
    Range: `0-${Math.max(0, offset - 1)}`,
  };
}

export function isLoopback(addr: string | undefined): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1' || (addr?.startsWith('127.') ?? false);
}

export interface HandlerDeps {
  service: RegistryService;
  gate: AccessGate;
  gc: GarbageCollector;
  /** The token endpoint, when the server issues its own tokens. */
  token?: (req: IncomingMessage, url: URL) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;
}

export class RegistryHandler {
  constructor(private readonly deps: HandlerDeps) {}

  /** The server's request listener. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    req.on('error', () => {}); // a client hanging up mid-body is reported by the stream the handler reads
    res.on('error', () => {});
    const started = Date.now();
    res.on('finish', () => log.debug('request', { method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started, remote: req.socket.remoteAddress }));
    this.handle(req, res).catch((err) => this.fail(req, res, err));
  };

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const e = err instanceof RegistryError ? err : undefined;
    if (!e) {
      // A client that went away is routine; anything else is worth a warning.
      const gone = req.destroyed || (err as NodeJS.ErrnoException)?.code === 'ECONNRESET' || messageOf(err) === 'aborted';
      (gone ? log.debug : log.warn)('registry request failed', { method: req.method, url: req.url, error: messageOf(err) });
    }
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const error = e ?? regError('UNKNOWN', messageOf(err));
    const text = req.method === 'HEAD' ? '' : error.body();
    const headers: Record<string, string | number> = { 'Docker-Distribution-API-Version': 'registry/2.0', 'Content-Type': 'application/json', ...error.headers };
    headers['Content-Length'] = Buffer.byteLength(req.method === 'HEAD' ? error.body() : text);
    // A body left unread would be taken for the next request.
    if (!req.complete) headers.Connection = 'close';
    res.writeHead(error.status, headers);
    res.end(text);
    if (!req.complete) req.resume();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://registry');
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (url.pathname === '/token' && this.deps.token) {
      const t = await this.deps.token(req, url);
      return sendJson(res, t.status, t.body, t.headers);
    }
    if (url.pathname === '/admin/gc') {
      if (method !== 'POST') throw regError('UNSUPPORTED');
      if (!isLoopback(req.socket.remoteAddress)) throw regError('DENIED', 'garbage collection may only be requested from the loopback interface');
      const result = await this.deps.gc.collect();
      return sendJson(res, 200, { marked: result.marked, removed: result.removed, keptYoung: result.keptYoung, bytesFreed: result.bytesFreed });
    }
    const r = route(url.pathname);
    if (!r) {
      if (url.pathname.startsWith('/v2/')) throw regError('NAME_INVALID', 'invalid repository name or unknown endpoint', { path: url.pathname }, 404);
      return sendJson(res, 404, { errors: [{ code: 'UNSUPPORTED', message: 'page not found', detail: {} }] });
    }
    this.deps.gate.check(req, neededAccess(r, method, url));
    switch (r.kind) {
      case 'base':
        if (method !== 'GET' && method !== 'HEAD') throw regError('UNSUPPORTED');
        return sendJson(res, 200, {});
      case 'catalog':
        return this.catalog(req, res, url);
      case 'tags':
        return this.tags(req, res, url, r.name);
      case 'manifest':
        return this.manifest(req, res, url, r.name, r.ref);
      case 'uploads':
        return this.uploads(req, res, url, r.name);
      case 'upload':
        return this.upload(req, res, url, r.name, r.uuid);
      case 'blob':
        return this.blob(req, res, r.name, r.digest);
      case 'referrers':
        return this.referrers(req, res, url, r.name, r.digest);
    }
  }

  private async catalog(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET') throw regError('UNSUPPORTED');
    const n = pageSize(url.searchParams.get('n'));
    const page = await this.deps.service.catalog(n, url.searchParams.get('last') ?? undefined);
    const headers: Record<string, string> = {};
    if (page.next !== undefined) headers.Link = `</v2/_catalog?last=${encodeURIComponent(page.next)}&n=${n}>; rel="next"`;
    sendJson(res, 200, { repositories: page.items }, headers);
  }

  private async tags(req: IncomingMessage, res: ServerResponse, url: URL, name: string): Promise<void> {
    if (req.method !== 'GET') throw regError('UNSUPPORTED');
    const n = pageSize(url.searchParams.get('n'));
    const page = await this.deps.service.tags(name, n, url.searchParams.get('last') ?? undefined);
    const headers: Record<string, string> = {};
    if (page.next !== undefined) headers.Link = `</v2/${name}/tags/list?last=${encodeURIComponent(page.next)}&n=${n}>; rel="next"`;
    sendJson(res, 200, { name, tags: page.items }, headers);
  }

  private async manifest(req: IncomingMessage, res: ServerResponse, url: URL, name: string, refText: string): Promise<void> {
    const ref = parseReference(refText);
    const svc = this.deps.service;
    switch (req.method) {
      case 'GET':
      case 'HEAD': {
        const m = await svc.getManifest(name, ref);
        res.writeHead(200, { 'Content-Type': m.mediaType, 'Content-Length': m.bytes.length, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"` });
        res.end(req.method === 'HEAD' ? undefined : m.bytes);
        return;
      }
      case 'PUT': {
        const bytes = await readBody(req, MAX_MANIFEST_BYTES);
        const result = await svc.putManifest(name, ref, bytes, contentType(req), url.searchParams.getAll('tag'));
        const headers: Record<string, string | string[]> = { Location: `/v2/${name}/manifests/${result.digest}`, 'Docker-Content-Digest': result.digest };
        if (result.subject) headers['OCI-Subject'] = result.subject;
        const extra = url.searchParams.getAll('tag');
        if (extra.length) headers['OCI-Tag'] = extra;
        return sendEmpty(res, 201, headers);
      }
      case 'DELETE':
        await svc.deleteManifest(name, ref);
        return sendEmpty(res, 202);
      default:
        throw regError('UNSUPPORTED');
    }
  }

  private async blob(req: IncomingMessage, res: ServerResponse, name: string, digestText: string): Promise<void> {
    const digest = checkDigest(digestText);
    const svc = this.deps.service;
    switch (req.method) {
      case 'HEAD': {
        const b = await svc.statBlob(name, digest);
        return sendEmpty(res, 200, { 'Content-Length': String(b.size), 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${digest}"` });
      }
      case 'GET': {
        const rangeHeader = req.headers.range;
        const b = await svc.blob(name, digest, rangeHeader !== undefined);
        const range = parseRange(rangeHeader, b.size);
        const headers: Record<string, string | number> = { 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${digest}"` };
        if (range) {
          headers['Content-Range'] = `bytes ${range.start}-${range.end}/${b.size}`;
          headers['Content-Length'] = range.end - range.start + 1;
          res.writeHead(206, headers);
        } else {
          headers['Content-Length'] = b.size;
          res.writeHead(200, headers);
        }
        await pipeline(b.open(range), res).catch(() => res.destroy());
        return;
      }
      case 'DELETE':
        await svc.deleteBlob(name, digest);
        return sendEmpty(res, 202, { 'Docker-Content-Digest': digest });
      default:
        throw regError('UNSUPPORTED');
    }
  }

  /** POST /v2/<name>/blobs/uploads/: a mount, a monolithic upload (?digest=) or a new session. */
  private async uploads(req: IncomingMessage, res: ServerResponse, url: URL, name: string): Promise<void> {
    if (req.method !== 'POST') throw regError('UNSUPPORTED');
    const svc = this.deps.service;
    const mount = url.searchParams.get('mount');
    if (mount !== null) {
      const digest = checkDigest(mount);
      const from = url.searchParams.get('from') ?? undefined;
      if (from !== undefined) checkName(from);
      if (await svc.mount(name, digest, from)) {
        return sendEmpty(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
      }
    }
    const digestParam = url.searchParams.get('digest');
    if (digestParam !== null) {
      const digest = checkDigest(digestParam);
      await svc.uploadWhole(name, digest, req, contentLength(req));
      return sendEmpty(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
    }
    const uuid = await svc.startUpload(name, url.searchParams.get('digest-algorithm') ?? undefined);
    sendEmpty(res, 202, uploadHeaders(name, uuid, 0));
  }

  private async upload(req: IncomingMessage, res: ServerResponse, url: URL, name: string, uuid: string): Promise<void> {
    const svc = this.deps.service;
    switch (req.method) {
      case 'GET': {
        const offset = await svc.uploadOffset(name, uuid);
        return sendEmpty(res, 204, uploadHeaders(name, uuid, offset));
      }
      case 'PATCH': {
        const range = parseContentRange(req.headers['content-range']);
        const offset = await svc.appendUpload(name, uuid, req, range, contentLength(req));
        return sendEmpty(res, 202, uploadHeaders(name, uuid, offset));
      }
      case 'PUT': {
        const digest = checkDigest(url.searchParams.get('digest'));
        const range = parseContentRange(req.headers['content-range']);
        const length = contentLength(req);
        const hasBody = range !== undefined || (length !== undefined && length > 0) || req.headers['transfer-encoding'] !== undefined;
        await svc.finishUpload(name, uuid, digest, hasBody ? req : undefined, range, length);
        return sendEmpty(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
      }
      case 'DELETE':
        await svc.cancelUpload(name, uuid);
        return sendEmpty(res, 204);
      default:
        throw regError('UNSUPPORTED');
    }
  }

  private async referrers(req: IncomingMessage, res: ServerResponse, url: URL, name: string, digestText: string): Promise<void> {
    if (req.method !== 'GET') throw regError('UNSUPPORTED');
    if (!isDigest(digestText)) throw regError('DIGEST_INVALID', 'invalid digest', { digest: digestText });
    const artifactType = url.searchParams.get('artifactType') ?? undefined;
    const manifests = await this.deps.service.referrers(name, digestText, artifactType);
    const headers: Record<string, string> = { 'Content-Type': MediaType.ociIndex };
    if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
    const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests });
    res.writeHead(200, { ...headers, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }
}
