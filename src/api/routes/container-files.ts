import { pipeline } from 'node:stream/promises';
import type { ServerResponse } from 'node:http';
import type { Router } from '../router.js';
import type { ContainerFileBackend } from '../backends.js';
import { boolParam, readBody, sendJson } from '../http.js';
import { createRequest } from '../schemas/container.js';
import { invalidArgument } from '../../lib/errors.js';
import { archivePath, exportContainer, extractToDir, statPath, type PathStat } from '../../containers/archive.js';
import { containerChanges } from '../../containers/changes.js';
import { commitContainer } from '../../containers/commit.js';
import { containerStats } from '../../containers/stats.js';
import { versionAtLeast } from '../version.js';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

/** Files and watching: cp (archive), export, diff (changes), commit, stats. */
export function containerFileRoutes(router: Router, s: ContainerFileBackend): void {
  const containers = s.containers;

  const pathParam = (query: URLSearchParams): string => {
    const p = query.get('path');
    if (!p) throw invalidArgument('bad parameter: path cannot be empty');
    return p;
  };
  const statHeader = (stat: PathStat): string => Buffer.from(JSON.stringify(stat)).toString('base64');

  router.head('/containers/{id}/archive', async ({ res, params, query }) => {
    const stat = await statPath(containers, params.id!, pathParam(query));
    res.writeHead(200, { [STAT_HEADER]: statHeader(stat), 'Content-Type': 'application/json' });
    res.end();
  });

  router.get('/containers/{id}/archive', async ({ req, res, params, query }) => {
    await archivePath(containers, params.id!, pathParam(query), async (stat, tar) => {
      res.writeHead(200, { [STAT_HEADER]: statHeader(stat), 'Content-Type': 'application/x-tar' });
      await streamOut(tar, res, req.socket);
    });
  });

  router.put('/containers/{id}/archive', async ({ req, res, params, query }) => {
    await extractToDir(containers, params.id!, pathParam(query), req, {
      noOverwriteDirNonDir: boolParam(query, 'noOverwriteDirNonDir'),
      copyUIDGID: boolParam(query, 'copyUIDGID'),
    });
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  });

  router.get('/containers/{id}/export', async ({ req, res, params }) => {
    await exportContainer(containers, params.id!, async (tar) => {
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      await streamOut(tar, res, req.socket);
    });
  });

  router.get('/containers/{id}/changes', async ({ res, params }) => {
    sendJson(res, 200, await containerChanges(containers, params.id!));
  });

  router.post('/commit', async ({ req, res, query, version }) => {
    const type = req.headers['content-type'];
    if (type && !/^application\/json\b/i.test(type) && req.headers['content-length'] !== '0') {
      throw invalidArgument(`unsupported Content-Type header (${type}): must be 'application/json'`);
    }
    // The body is a container config as create takes it; HostConfig and NetworkingConfig play no part.
    const body = await readBody(req, createRequest);
    let config = null;
    if (body) {
      const { HostConfig: _h, NetworkingConfig: _n, ...rest } = body;
      void _h;
      void _n;
      config = rest;
    }
    // API 1.13 and later pause by default.
    const pause = query.get('pause') === null || query.get('pause') === '' ? versionAtLeast(version, '1.13') : boolParam(query, 'pause');
    const id = await commitContainer(containers, {
      container: query.get('container') ?? '',
      repo: query.get('repo') || undefined,
      tag: query.get('tag') || undefined,
      comment: query.get('comment') ?? '',
      author: query.get('author') ?? '',
      pause,
      changes: query.getAll('changes'),
      config,
    });
    sendJson(res, 201, { Id: id });
  });

  router.get('/containers/{id}/stats', async ({ res, params, query, version }) => {
    const c = containers.resolve(params.id!);
    const stream = boolParam(query, 'stream', true);
    const oneShot = versionAtLeast(version, '1.41') && boolParam(query, 'one-shot');
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    let started = false;
    for await (const doc of containerStats(containers, c, { stream, oneShot, signal: abort.signal })) {
      if (abort.signal.aborted) break;
      if (!started) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        started = true;
      }
      res.write(JSON.stringify(doc) + '\n');
    }
    if (!started) res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end();
  });
}

/** Streams a tar to the client; a client that goes away ends the tar (and so frees the container). */
async function streamOut(tar: NodeJS.ReadableStream & { destroy(err?: Error): void }, res: ServerResponse, socket: import('node:net').Socket): Promise<void> {
  let closed = false;
  const gone = (): void => {
    closed = true;
    tar.destroy();
  };
  socket.once('close', gone);
  try {
    await pipeline(tar, res);
  } catch (err) {
    if (!closed) throw err; // the client left: nothing to tell it
  } finally {
    socket.off('close', gone);
  }
}
