import type { Router } from '../router.js';
import type { Services } from '../../daemon/daemon.js';
import { boolParam, intParam, readJson, sendJson, sendNoContent } from '../http.js';
import { invalidArgument } from '../../lib/errors.js';
import { listContainers } from '../../containers/list.js';
import { inspectView, summaryView } from '../../containers/views.js';
import { streamLogs, attachContainer } from '../../containers/streams.js';
import type { ExecCreateBody } from '../../containers/exec.js';
import { resizeSize } from './exec.js';
import { acceptWebSocket, webSocketKey } from '../websocket.js';
import { versionAtLeast } from '../version.js';
import { topProcesses } from '../../containers/top.js';
import type { ContainerConfig, HostConfig } from '../../runtime/spec.js';
import type { WaitCondition } from '../../containers/service.js';
import type { NetworkingConfig } from '../../networks/service.js';

export function containerRoutes(router: Router, s: Services): void {
  const containers = s.containers;

  router.get('/containers/json', async ({ res, query }) => {
    const list = listContainers(containers, {
      all: boolParam(query, 'all'),
      limit: intParam(query, 'limit'),
      filters: query.get('filters') ?? undefined,
    });
    const withSize = boolParam(query, 'size');
    const out = [];
    for (const c of list) out.push(summaryView(c, withSize ? await sizes(c) : undefined, s.networks.containerView(c)));
    sendJson(res, 200, out);
  });

  router.post('/containers/create', async ({ req, res, query }) => {
    const body = await readJson<ContainerConfig & { HostConfig?: HostConfig; NetworkingConfig?: NetworkingConfig | null }>(req);
    if (!body || typeof body !== 'object') throw invalidArgument('config cannot be empty in order to create a container');
    const { HostConfig: hostConfig, NetworkingConfig: networkingConfig, ...config } = body;
    const created = await containers.create({ name: query.get('name') ?? undefined, config, hostConfig: hostConfig ?? {}, networkingConfig });
    sendJson(res, 201, created);
  });

  router.post('/containers/prune', async ({ res, query }) => sendJson(res, 200, await containers.prune(query.get('filters') ?? undefined)));

  router.get('/containers/{id}/json', async ({ res, params, query }) => {
    const c = containers.resolve(params.id!);
    const lower = c.topChainId ? s.images.layers.lowerDirs(c.topChainId) : [];
    const view = inspectView(c, containers.runner.paths(c.id), lower, boolParam(query, 'size') ? await sizes(c) : undefined, s.networks.containerView(c));
    const execIds = containers.execs.idsOf(c.id);
    sendJson(res, 200, execIds.length ? { ...view, ExecIDs: execIds } : view);
  });

  router.post('/containers/{id}/start', async ({ res, params }) => {
    const outcome = await containers.start(params.id!);
    sendNoContent(res, outcome === 'already' ? 304 : 204);
  });

  router.post('/containers/{id}/stop', async ({ res, params, query }) => {
    const outcome = await containers.stop(params.id!, { signal: query.get('signal') ?? undefined, timeout: intParam(query, 't') });
    sendNoContent(res, outcome === 'already' ? 304 : 204);
  });

  router.post('/containers/{id}/restart', async ({ res, params, query }) => {
    await containers.restart(params.id!, { signal: query.get('signal') ?? undefined, timeout: intParam(query, 't') });
    sendNoContent(res);
  });

  router.post('/containers/{id}/kill', async ({ res, params, query }) => {
    await containers.kill(params.id!, query.get('signal') ?? undefined);
    sendNoContent(res);
  });

  router.post('/containers/{id}/pause', async ({ res, params }) => {
    await containers.pause(params.id!);
    sendNoContent(res);
  });

  router.post('/containers/{id}/unpause', async ({ res, params }) => {
    await containers.unpause(params.id!);
    sendNoContent(res);
  });

  router.post('/containers/{id}/wait', async ({ req, res, params, query }) => {
    const condition = (query.get('condition') || 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw invalidArgument(`invalid condition: "${condition}"`);
    const waiting = containers.wait(params.id!, condition);
    // Once the client has gone, a later failure of the wait has nobody to go to.
    waiting.catch(() => {});
    // Headers go out at once so that clients know the wait has begun (docker run relies on it).
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    let gone = (): void => {};
    const closed = new Promise<void>((r) => req.socket.once('close', (gone = r)));
    const result = await Promise.race([waiting, closed.then(() => undefined)]).finally(() => req.socket.off('close', gone));
    if (result && !res.writableEnded) res.end(JSON.stringify(result) + '\n');
  });

  router.delete('/containers/{id}', async ({ res, params, query }) => {
    await containers.remove(params.id!, { force: boolParam(query, 'force'), volumes: boolParam(query, 'v') });
    sendNoContent(res);
  });

  router.post('/containers/{id}/rename', ({ res, params, query }) => {
    const name = query.get('name');
    if (!name) throw invalidArgument('Neither old nor new names may be empty');
    containers.rename(params.id!, name);
    sendNoContent(res);
  });

  router.post('/containers/{id}/update', async ({ req, res, params }) => {
    const body = (await readJson<HostConfig>(req)) ?? {};
    sendJson(res, 200, await containers.update(params.id!, body));
  });

  router.get('/containers/{id}/logs', async (ctx) => {
    const c = containers.resolve(ctx.params.id!);
    await streamLogs(ctx, containers, c);
  });

  router.post('/containers/{id}/attach', async (ctx) => {
    const c = containers.resolve(ctx.params.id!);
    await attachContainer(ctx, containers, c);
  });

  router.get('/containers/{id}/attach/ws', async (ctx) => {
    const c = containers.resolve(ctx.params.id!);
    webSocketKey(ctx.req);
    // Binary frames from API 1.28 on, text frames before, as dockerd.
    await attachContainer(ctx, containers, c, () => acceptWebSocket(ctx.req, { binary: versionAtLeast(ctx.version, '1.28') }));
  });

  router.post('/containers/{id}/resize', async ({ res, params, query }) => {
    const { height, width } = resizeSize(query);
    const c = containers.resolve(params.id!);
    await containers.io.resize(c, height, width);
    containers.emit(c, 'resize', { height: String(height), width: String(width) });
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
  });

  router.post('/containers/{id}/exec', async ({ req, res, params }) => {
    const body = await readJson<ExecCreateBody>(req);
    if (!body || typeof body !== 'object') throw invalidArgument('config cannot be empty in order to create an exec');
    sendJson(res, 201, containers.execs.create(params.id!, body));
  });

  router.get('/containers/{id}/top', async ({ res, params, query }) => {
    const c = containers.resolve(params.id!);
    sendJson(res, 200, await topProcesses(containers, c, query.get('ps_args') || '-ef'));
  });

  async function sizes(c: import('../../containers/model.js').Container): Promise<{ rw: number; rootFs: number }> {
    const rw = await containers.sizeRw(c);
    return { rw, rootFs: rw + (s.images.store.get(c.imageId)?.size ?? 0) };
  }
}
