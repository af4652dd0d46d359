import type { Router } from '../router.js';
import type { NetworkBackend } from '../backends.js';
import { readBody, sendJson, sendNoContent } from '../http.js';
import { networkConnectOptions, networkCreateRequest, networkDisconnectOptions } from '../schemas/network.js';
import { invalidArgument } from '../../lib/errors.js';

export function networkRoutes(router: Router, s: NetworkBackend): void {
  const networks = s.networks;

  router.get('/networks', ({ res, query }) => sendJson(res, 200, networks.list(query.get('filters') ?? undefined)));

  router.post('/networks/create', async ({ req, res }) => {
    const body = await readBody(req, networkCreateRequest);
    if (!body) throw invalidArgument('network config cannot be empty');
    sendJson(res, 201, await networks.create(body));
  });

  router.post('/networks/prune', async ({ res, query }) => sendJson(res, 200, await networks.prune(query.get('filters') ?? undefined)));

  router.get('/networks/{id}', ({ res, params }) => sendJson(res, 200, networks.inspect(params.id!)));

  router.delete('/networks/{id}', async ({ res, params }) => {
    await networks.remove(params.id!);
    sendNoContent(res);
  });

  router.post('/networks/{id}/connect', async ({ req, res, params }) => {
    const body = (await readBody(req, networkConnectOptions)) ?? {};
    if (!body.Container) throw invalidArgument('no container specified');
    const network = networks.resolve(params.id!);
    const c = s.containers.resolve(body.Container);
    if (await networks.connect(network.id, c, body.EndpointConfig ?? {})) await s.containers.useEmbeddedDns(c);
    sendNoContent(res, 200);
  });

  router.post('/networks/{id}/disconnect', async ({ req, res, params }) => {
    const body = (await readBody(req, networkDisconnectOptions)) ?? {};
    if (!body.Container) throw invalidArgument('no container specified');
    const c = body.Force ? s.containers.tryResolve(body.Container) : s.containers.resolve(body.Container);
    if (!c) await networks.forceEndpointDelete(body.Container, params.id!);
    else await networks.disconnect(params.id!, c, Boolean(body.Force));
    sendNoContent(res, 200);
  });
}
