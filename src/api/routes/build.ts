import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Router } from '../router.js';
import type { BuildBackend } from '../backends.js';
import { boolParam, sendJson } from '../http.js';
import { BuildStream } from '../streams/build.js';
import { receiveContext } from '../../build/context.js';
import { BuildTrace } from '../../build/trace.js';
import { BerthError, invalidArgument, notImplemented } from '../../lib/errors.js';
import { familiarString, parseReference, withDefaultTag } from '../../images/reference.js';
import { versionAtLeast } from '../version.js';
import { Filters } from '../../lib/filters.js';
import type { BuildRequest } from '../../build/types.js';
import { goValueKind, scanFirstValue } from '../schemas/go-json.js';

/** The query of POST /build as dockerd decodes it (newImageBuildOptions), minus the context. */
export type BuildQuery = Omit<BuildRequest, 'context' | 'dockerfilePath' | 'dockerfileText' | 'signal' | 'authConfigs'> & {
  dockerfile: string;
  quiet: boolean;
  remote: string;
  /** `buildid`: the id POST /build/cancel names. */
  buildId: string;
  /** Berth's own: BuildEvents as aux messages (see docs/build.md). */
  structured: boolean;
};

/** POST /build, /build/prune and /build/cancel. */
export function buildRoutes(router: Router, s: BuildBackend): void {
  /** Builds that gave a `buildid`, so /build/cancel can stop them. */
  const running = new Map<string, AbortController>();

  router.post('/build', async ({ req, res, query, version }) => {
    const q = parseBuildQuery(query, version);
    if (q.remote) throw unsupportedRemote(q.remote);
    const authConfigs = registryConfig(req);
    const cancel = new AbortController();
    // The client hanging up (before or during the build) stops everything and cleans up.
    const onClose = () => {
      if (!res.writableEnded) cancel.abort(new Error('the client closed the connection'));
    };
    res.once('close', onClose);
    req.once('aborted', onClose);
    req.socket.once('close', onClose);
    if (q.buildId) running.set(q.buildId, cancel);
    const trace = BuildTrace.start();
    try {
      const context = await receiveContext(req, {
        scratchDir: s.scratchDir,
        dockerfile: q.dockerfile,
        signal: cancel.signal,
        ignored: s.dockerignore,
      });
      trace?.mark('context');
      try {
        await runBuild(res, s, q, {
          ...q,
          context,
          dockerfilePath: context.dockerfilePath,
          dockerfileText: context.dockerfileText,
          authConfigs,
          signal: cancel.signal,
          ...(trace ? { trace } : {}),
        });
      } finally {
        await context.dispose();
        trace?.mark('dispose');
      }
      // The answer ends only once the context is gone, so a client that sees it never sees leftovers.
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end();
    } finally {
      trace?.end();
      if (q.buildId && running.get(q.buildId) === cancel) running.delete(q.buildId);
      res.off('close', onClose);
      req.socket.off('close', onClose);
    }
  });

  router.post('/build/prune', async ({ res, query, version }) => {
    const filters = Filters.parse(query.get('filters'), PRUNE_FILTERS);
    const keepStorage = bytesParam(query, versionAtLeast(version, '1.48') && query.get('reserved-space') ? 'reserved-space' : 'keep-storage');
    const report = await s.build.prune({ all: boolParam(query, 'all'), filters: filtersRecord(filters), keepStorage });
    sendJson(res, 200, { CachesDeleted: report.CachesDeleted.length ? report.CachesDeleted : null, SpaceReclaimed: report.SpaceReclaimed });
  });

  router.post('/build/cancel', ({ res, query }) => {
    const id = query.get('id') ?? '';
    if (!id) throw invalidArgument('build ID not provided');
    running.get(id)?.abort(new Error('Build cancelled'));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '0' });
    res.end();
  });
}

async function runBuild(res: ServerResponse, s: BuildBackend, q: BuildQuery, req: BuildRequest): Promise<void> {
  const out = new BuildStream(
    (data) => {
      if (res.writableEnded || res.destroyed) return;
      if (!res.headersSent) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
      }
      // Messages written in one turn of the event loop (a run of cached steps) go out in one write.
      if (!res.writableCorked) {
        res.cork();
        setImmediate(() => res.uncork());
      }
      res.write(data);
    },
    { quiet: q.quiet, aux: true, structured: q.structured },
  );
  try {
    const result = await s.build.build(req, (e) => out.event(e));
    out.success(result);
  } catch (err) {
    // Before the first byte of output the error is the HTTP answer (dockerd's errf), after it a stream message.
    if (!out.failure(err)) throw err;
  }
}

/** newImageBuildOptions: the query of POST /build, with dockerd's errors for malformed values. */
export function parseBuildQuery(query: URLSearchParams, version: string): BuildQuery {
  if (query.getAll('securityopt').length) throw invalidArgument('security options are not supported on linux');
  const forceRm = boolParam(query, 'forcerm');
  const rm = forceRm || (query.get('rm') ?? '') === '' || boolParam(query, 'rm');
  const shm = query.get('shmsize') ?? '';
  let shmSize: number | undefined;
  if (shm !== '') {
    if (!/^[+-]?\d+$/.test(shm)) throw invalidArgument(`strconv.ParseInt: parsing ${JSON.stringify(shm)}: invalid syntax`);
    shmSize = Number(shm);
    if (!Number.isSafeInteger(shmSize)) throw invalidArgument(`strconv.ParseInt: parsing ${JSON.stringify(shm)}: value out of range`);
  }
  const isolation = query.get('isolation') ?? '';
  if (isolation !== '' && !['default', ''].includes(isolation.toLowerCase())) throw invalidArgument(`unsupported isolation: ${JSON.stringify(isolation)}`);
  const ulimits = query.get('ulimits') ?? '';
  if (ulimits !== '') jsonParam(ulimits, 'error reading ulimit settings', (v) => Array.isArray(v) || v === null, 'array', '[]*container.Ulimit');
  const buildArgs = (jsonParam(query.get('buildargs') ?? '', 'error reading build args', isStringOrNullMap, 'object', 'map[string]*string') ?? {}) as Record<string, string | null>;
  const labels = (jsonParam(query.get('labels') ?? '', 'error reading labels', isStringMap, 'object', 'map[string]string') ?? {}) as Record<string, string>;
  const cacheFrom = (jsonParam(query.get('cachefrom') ?? '', 'error reading cache-from', isStringArray, 'array', '[]string') ?? []) as string[];
  const builderVersion = query.get('version') ?? '';
  if (builderVersion !== '' && builderVersion !== '1') {
    if (builderVersion === '2') throw notImplemented('BuildKit (builder version 2) is not supported by Berth; use the classic builder (version=1)');
    throw invalidArgument(`invalid version ${JSON.stringify(builderVersion)}`);
  }
  if (boolParam(query, 'squash')) throw invalidArgument('squash is only supported with experimental mode');
  return {
    dockerfile: query.get('dockerfile') ?? '',
    quiet: boolParam(query, 'q'),
    noCache: boolParam(query, 'nocache'),
    forceRm,
    rm,
    pull: boolParam(query, 'pull'),
    networkMode: query.get('networkmode') || undefined,
    tags: sanitizeTags(query.getAll('t')),
    extraHosts: query.getAll('extrahosts'),
    target: query.get('target') || undefined,
    remote: query.get('remote') ?? '',
    buildId: query.get('buildid') ?? '',
    platform: versionAtLeast(version, '1.32') ? query.get('platform') || undefined : undefined,
    shmSize,
    buildArgs,
    labels,
    cacheFrom,
    structured: boolParam(query, 'berthprogress'),
  };
}

/** dockerd's sanitizeRepoAndTags: valid references, no digests, `:latest` added, duplicates dropped. */
export function sanitizeTags(tags: string[]): string[] {
  const out: string[] = [];
  for (const tag of tags) {
    if (tag === '') continue;
    const ref = parseReference(tag);
    if (ref.digest !== undefined) throw invalidArgument('build tag cannot contain a digest');
    const familiar = familiarString(withDefaultTag(ref));
    if (!out.includes(familiar)) out.push(familiar);
  }
  return out;
}

/** A JSON query value decoded as Go's json.Unmarshal would, with the wrapped wording of dockerd. */
function jsonParam(raw: string, context: string, valid: (v: unknown) => boolean, kind: string, goType: string): unknown {
  if (raw === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    const scanned = scanFirstValue(raw.trim());
    // json.Unmarshal (not a Decoder): a value cut short is "unexpected end of JSON input".
    const error = 'error' in scanned ? scanned.error.replace(/^unexpected EOF$/, 'unexpected end of JSON input') : 'invalid character after top-level value';
    throw invalidArgument(`${context}: ${error}`);
  }
  if (value === null) return undefined;
  if (!valid(value)) {
    // Go names the element that does not fit when the container itself does.
    const element = Array.isArray(value) === (kind === 'array') && typeof value === 'object';
    const bad = element ? Object.values(value as object).find((x) => !elementOk(x, goType)) : value;
    const type = element ? goType.replace(/^(\[\]|map\[string\])\*?/, '') : goType;
    throw invalidArgument(`${context}: json: cannot unmarshal ${goValueKind(bad)} into Go value of type ${type}`);
  }
  return value;
}

function elementOk(x: unknown, goType: string): boolean {
  return typeof x === 'string' || (x === null && goType.includes('*string'));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringMap = (v: unknown) => isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string');
const isStringOrNullMap = (v: unknown) => isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string' || x === null);
const isStringArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** X-Registry-Config: base64url JSON of registry auth configs; dockerd ignores what it cannot decode. */
function registryConfig(req: IncomingMessage): Record<string, unknown> {
  const raw = req.headers['x-registry-config'];
  if (typeof raw !== 'string' || raw === '') return {};
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    return isPlainObject(value) ? value : {};
  } catch {
    return {};
  }
}

/** Git and URL contexts need network access Berth's builder does not do; dockerd's wording for the rest. */
function unsupportedRemote(remote: string): BerthError {
  if (remote === 'client-session') {
    return invalidArgument('experimental session with v1 builder is no longer supported, use builder version v2 (BuildKit) instead');
  }
  if (/^(https?:\/\/|git:\/\/|git@|github\.com\/)/.test(remote)) return notImplemented(`remote build contexts are not supported: ${remote}`);
  return invalidArgument(`remoteURL (${remote}) could not be recognized as URL`);
}

function bytesParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name) ?? '';
  if (raw === '') return undefined;
  if (!/^[+-]?\d+$/.test(raw)) {
    throw invalidArgument(`${name} is in bytes and expects an integer, got ${raw}: strconv.Atoi: parsing ${JSON.stringify(raw)}: invalid syntax`);
  }
  return Number(raw);
}

const PRUNE_FILTERS = ['until', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private'];

function filtersRecord(filters: Filters): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const key of PRUNE_FILTERS) if (filters.has(key)) out[key] = filters.get(key);
  return out;
}
