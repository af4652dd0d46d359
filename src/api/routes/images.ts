import type { Router } from '../router.js';
import type { ImageBackend } from '../backends.js';
import { boolParam, sendJson, startJsonStream } from '../http.js';
import { loadArchive } from '../../images/archive-load.js';
import { saveArchive } from '../../images/archive-save.js';
import { versionAtLeast } from '../version.js';
import { invalidArgument, notImplemented, messageOf } from '../../lib/errors.js';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRegistryAuth } from '../../distribution/auth.js';
import type { ProgressMessage } from '../../distribution/progress.js';

export function imageRoutes(router: Router, s: ImageBackend): void {
  const images = s.images;

  router.get('/images/json', ({ res, query, version }) => {
    const list = images.list({
      filters: query.get('filters') ?? undefined,
      all: boolParam(query, 'all'),
      digests: boolParam(query, 'digests'),
    });
    // A repository name given as ?filter= (API < 1.41) is the same as a reference filter.
    // Before API 1.44 dockerd also sent VirtualSize, equal to Size.
    sendJson(res, 200, versionAtLeast(version, '1.44') ? list : list.map((i) => ({ ...i, VirtualSize: i.Size })));
  });

  router.post('/images/create', async ({ req, res, query }) => {
    const fromSrc = query.get('fromSrc');
    const fromImage = query.get('fromImage');
    if (fromImage) {
      await progressStream(req, res, (out, signal) =>
        s.distribution.pull(
          { name: fromImage, tag: query.get('tag') || undefined, platform: query.get('platform') || undefined, creds: registryAuth(req), signal },
          out,
        ),
      );
      return;
    }
    if (fromSrc !== '-') {
      throw invalidArgument(fromSrc ? `importing from a URL is not supported: ${fromSrc}` : 'one of fromImage or fromSrc is required');
    }
    const changes = query.getAll('changes');
    // Nothing to report until the image exists, so errors still get their own status code.
    const id = await images.importRootfs(req, {
      repo: query.get('repo') ?? undefined,
      tag: query.get('tag') ?? undefined,
      message: query.get('message') ?? undefined,
      changes,
      platform: query.get('platform') ?? undefined,
    });
    startJsonStream(res)({ status: id });
    res.end();
  });

  router.get('/images/get', async ({ res, query }) => {
    await sendArchive(res, query.getAll('names'));
  });

  router.post('/images/load', async ({ req, res, query }) => {
    const quiet = boolParam(query, 'quiet');
    const send = startJsonStream(res);
    void quiet; // Berth prints no progress bars, so quiet and verbose answers are the same.
    try {
      await images.writing(() =>
        loadArchive(images, req, (m) => send(m), { platform: query.get('platform') ?? undefined, tmpDir: s.scratchDir }),
      );
    } catch (err) {
      send({ errorDetail: { message: messageOf(err) }, error: messageOf(err) });
    }
    res.end();
  });

  router.post('/images/prune', async ({ res, query }) => {
    sendJson(res, 200, await images.prune(query.get('filters') ?? undefined));
  });

  router.get('/images/search', () => {
    throw notImplemented('searching registries is not supported yet');
  });

  router.get('/images/{name*}/json', ({ req, res, params, version }) => {
    const body = images.inspect(params.name!);
    // Fields dockerd dropped from newer API versions but still sends to older clients (moby's image_routes.go).
    if (!versionAtLeast(version, '1.45') || isComposeV1(req)) Object.assign(body, images.legacyInspectFields(params.name!));
    if (!versionAtLeast(version, '1.44')) body.VirtualSize = body.Size;
    sendJson(res, 200, body);
  });
  router.get('/images/{name*}/history', ({ res, params }) => sendJson(res, 200, images.history(params.name!)));
  router.get('/images/{name*}/get', async ({ res, params }) => sendArchive(res, [params.name!]));
  router.post('/images/{name*}/tag', ({ res, params, query }) => {
    const repo = query.get('repo');
    if (!repo) throw invalidArgument('repository name must have at least one component');
    // A repository named like a digest algorithm would read as a digest (dockerd's check, before the lookup).
    if (repo.replace(/^(docker\.io|index\.docker\.io)\//, '').replace(/^library\//, '') === 'sha256') {
      throw invalidArgument('refusing to create an ambiguous tag using digest algorithm as name');
    }
    images.tag(params.name!, repo, query.get('tag') || undefined);
    res.writeHead(201);
    res.end();
  });
  router.post('/images/{name*}/push', async ({ req, res, params, query }) => {
    const tag = query.get('tag') || undefined;
    s.distribution.checkPush(params.name!, tag);
    await progressStream(req, res, (out, signal) => s.distribution.push({ name: params.name!, tag, creds: registryAuth(req), signal }, out));
  });
  router.delete('/images/{name*}', async ({ res, params, query }) => {
    sendJson(res, 200, await images.remove(params.name!, { force: boolParam(query, 'force'), noprune: boolParam(query, 'noprune') }));
  });

  async function sendArchive(res: import('node:http').ServerResponse, names: string[]): Promise<void> {
    if (!names.length) throw invalidArgument('no images named');
    const tar = await saveArchive(images, names);
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(tar, res);
  }
}

function registryAuth(req: IncomingMessage) {
  const h = req.headers['x-registry-auth'];
  return parseRegistryAuth(Array.isArray(h) ? h[0] : h);
}

/**
 * A pull or push as dockerd streams it: the status line waits for the first message, so an error before
 * it gets its own status code; after it, the error is the stream's last line. A client that hangs up
 * cancels the operation.
 */
async function progressStream(
  req: IncomingMessage,
  res: ServerResponse,
  run: (out: (m: ProgressMessage) => void, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.on('close', onClose);
  let send: ((m: unknown) => void) | undefined;
  const out = (m: ProgressMessage) => {
    if (res.destroyed) return;
    send ??= startJsonStream(res);
    send(m);
  };
  try {
    await run(out, abort.signal);
  } catch (err) {
    if (!send && !res.destroyed) throw err;
    out({ errorDetail: { message: messageOf(err) }, error: messageOf(err) });
  } finally {
    res.off('close', onClose);
  }
  if (!res.destroyed) res.end();
  void req;
}

/**
 * docker-compose 1.x negotiates the daemon's newest API version yet reads ContainerConfig, which
 * dockerd stopped sending at 1.45 (its `KeyError: 'ContainerConfig'` when recreating a container on
 * Docker 25+). It names itself in its User-Agent: "docker-compose/1.29.2 docker-py/5.0.3 Linux/...".
 */
function isComposeV1(req: IncomingMessage): boolean {
  return /^docker-compose\/1\./.test(req.headers['user-agent'] ?? '');
}
