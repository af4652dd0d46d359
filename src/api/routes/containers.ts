import type { Router } from '../router.js';
import type { ContainerBackend } from '../backends.js';
import { boolParam, intParam, readBody, readJson, sendJson, sendNoContent } from '../http.js';
import { decode } from '../schemas/decode.js';
import { checkHealthcheck, consoleSize, createRequest, execOptions, updateConfig } from '../schemas/container.js';
import { invalidArgument, notFound } from '../../lib/errors.js';
import { configPlatform, formatPlatform, parsePlatform, platformMatches } from '../../images/archive-load.js';
import { listContainers } from '../../containers/list.js';
import { inspectView, summaryView } from '../../containers/views.js';
import { streamLogs } from '../streams/logs.js';
import { attachContainer } from '../streams/attach.js';
import { resizeSize } from './exec.js';
import { acceptWebSocket, webSocketKey } from '../websocket.js';
import { versionAtLeast } from '../version.js';
import { topProcesses } from '../../containers/top.js';
import type { WaitCondition } from '../../containers/service.js';
import { migrateContainerMac } from '../../networks/mac.js';

export function containerRoutes(router: Router, s: ContainerBackend): void {
  const containers = s.containers;

  router.get('/containers/json', async ({ res, query }) => {
    const list = listContainers(containers, {
      all: boolParam(query, 'all'),
      limit: intParam(query, 'limit'),
      filters: query.get('filters') ?? undefined,
    });
    const withSize = boolParam(query, 'size');
    const out = [];
    for (const c of list) out.push({ ...summaryView(c, withSize ? await sizes(c) : undefined, s.networks.containerView(c)), Names: containers.namesOf(c) });
    sendJson(res, 200, out);
  });

  router.post('/containers/create', async ({ req, res, query, version }) => {
    const raw = await readJson(req);
    if (raw === undefined) throw invalidArgument('invalid JSON: got EOF while reading request body');
    const { HostConfig: hostConfig, NetworkingConfig: networkingConfig, ...config } = decode(createRequest, raw);
    // Go leaves the embedded Config nil when the body sets none of its fields.
    if (!Object.keys(config).length) throw invalidArgument('config cannot be empty in order to create a container');
    checkHealthcheck(config.Healthcheck);
    // StartInterval came with API 1.44: older clients' values are ignored, as dockerd does.
    if (config.Healthcheck && !versionAtLeast(version, '1.44')) config.Healthcheck.StartInterval = 0;
    const platform = versionAtLeast(version, '1.41') ? query.get('platform') : null;
    if (platform && config.Image) requirePlatform(config.Image, platform);
    const mac = migrateContainerMac(config, hostConfig ?? {}, networkingConfig, versionAtLeast(version, '1.44'));
    const created = await containers.create({ name: query.get('name') ?? undefined, config, hostConfig: hostConfig ?? {}, networkingConfig: mac.networking });
    if (mac.warning) created.Warnings.push(mac.warning);
    sendJson(res, 201, created);
  });

  router.post('/containers/prune', async ({ res, query }) => sendJson(res, 200, await containers.prune(query.get('filters') ?? undefined)));

  router.get('/containers/{id}/json', async ({ res, params, query }) => {
    const c = containers.resolve(params.id!);
    const lower = c.topChainId ? s.images.layers.lowerDirs(c.topChainId) : [];
    const view = inspectView(c, containers.runner.paths(c.id), lower, boolParam(query, 'size') ? await sizes(c) : undefined, s.networks.containerView(c));
    (view.HostConfig as Record<string, unknown>).Links = containers.linksView(c);
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

  const removeContainer = async ({ res, params, query }: { res: import('node:http').ServerResponse; params: Record<string, string>; query: URLSearchParams }) => {
    // link=true removes the legacy link named by the id ("/parent/alias"), as dockerd's rmLink.
    if (boolParam(query, 'link')) containers.removeLink(params.id!);
    else await containers.remove(params.id!, { force: boolParam(query, 'force'), volumes: boolParam(query, 'v') });
    sendNoContent(res);
  };
  router.delete('/containers/{id}', removeContainer);
  // The Go client sends a link name unescaped: DELETE /containers//parent/alias?link=1.
  router.delete('/containers/{id*}', removeContainer);

  router.post('/containers/{id}/rename', ({ res, params, query }) => {
    const name = query.get('name');
    if (!name) throw invalidArgument('Neither old nor new names may be empty');
    containers.rename(params.id!, name);
    sendNoContent(res);
  });

  router.post('/containers/{id}/update', async ({ req, res, params }) => {
    const body = (await readBody(req, updateConfig)) ?? {};
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
    const { ConsoleSize, ...body } = (await readBody(req, execOptions)) ?? {};
    sendJson(res, 201, containers.execs.create(params.id!, { ...body, ConsoleSize: consoleSize(ConsoleSize) }));
  });

  router.get('/containers/{id}/top', async ({ res, params, query }) => {
    const c = containers.resolve(params.id!);
    sendJson(res, 200, await topProcesses(containers, c, query.get('ps_args') || '-ef'));
  });

  /** dockerd refuses (404) to create from an image that is not for the platform asked for. */
  function requirePlatform(ref: string, platform: string): void {
    const wanted = parsePlatform(platform);
    const have = configPlatform(s.images.resolve(ref).config);
    if (!platformMatches(have, wanted)) {
      throw notFound(`image with reference ${ref} was found but does not match the specified platform: wanted ${formatPlatform(wanted)}, actual: ${formatPlatform(have)}`);
    }
  }

  async function sizes(c: import('../../containers/model.js').Container): Promise<{ rw: number; rootFs: number }> {
    const rw = await containers.sizeRw(c);
    return { rw, rootFs: rw + (s.images.store.get(c.imageId)?.size ?? 0) };
  }
}
