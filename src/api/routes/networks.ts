import type { Router } from '../router.js';
import type { NetworkBackend } from '../backends.js';
import { readBody, sendJson, sendNoContent } from '../http.js';
import { networkConnectOptions, networkCreateRequest, networkDisconnectOptions } from '../schemas/network.js';
import { conflict, forbidden, invalidArgument, isKind } from '../../lib/errors.js';
import { NOT_A_MANAGER_INACTIVE as NOT_A_MANAGER } from '../../swarm/manager/errors.js';

/** dockerd's answer to an overlay network created on a node that is no swarm manager. */

export function networkRoutes(router: Router, s: NetworkBackend): void {
  const networks = s.networks;

  // On a swarm manager the cluster's networks come first, then the local ones it does not list
  // already (the overlay part makes local twins of cluster networks under the same ID).
  router.get('/networks', async ({ res, query }) => {
    const filters = query.get('filters') ?? undefined;
    const local = networks.list(filters);
    const cluster = s.cluster?.manager();
    if (!cluster) return sendJson(res, 200, local);
    const shared = await cluster.list(filters);
    const ids = new Set(shared.map((n) => n.Id));
    sendJson(res, 200, [...shared, ...local.filter((n) => !ids.has(n.Id as string))]);
  });

  router.post('/networks/create', async ({ req, res }) => {
    const body = await readBody(req, networkCreateRequest);
    if (!body) throw invalidArgument('network config cannot be empty');
    const cluster = s.cluster?.manager();
    const name = body.Name ?? '';
    if (cluster && name && (await cluster.tryResolve(name).catch(() => undefined))?.Spec.Name.toLowerCase() === name.toLowerCase()) throw conflict(`network with name ${name} already exists`);
    if (body.Driver === 'overlay' && s.cluster) {
      if (!cluster) throw forbidden(NOT_A_MANAGER);
      if (networks.list(JSON.stringify({ name: [name] })).some((n) => n.Name === name)) throw conflict(`network with name ${name} already exists`);
      const created = await cluster.create(body);
      return sendJson(res, 201, { Id: created.ID, Warning: '' });
    }
    sendJson(res, 201, await networks.create(body));
  });

  // On a manager, unused cluster networks (never ingress) go first, as dockerd's clusterNetworkPrune.
  router.post('/networks/prune', async ({ res, query }) => {
    const filters = query.get('filters') ?? undefined;
    const shared = (await s.cluster?.manager()?.prune(filters)) ?? [];
    const local = await networks.prune(filters);
    sendJson(res, 200, { ...local, NetworksDeleted: [...shared, ...(local.NetworksDeleted ?? [])] });
  });

  router.get('/networks/{id}', async ({ res, params, query }) => {
    const cluster = s.cluster?.manager();
    // ?scope=swarm (what the docker CLI asks when it resolves a service's networks): the cluster's only.
    if (cluster && query.get('scope') === 'swarm') return sendJson(res, 200, await cluster.inspect(params.id!));
    try {
      sendJson(res, 200, networks.inspect(params.id!));
    } catch (err) {
      if (!cluster || !isKind(err, 'NotFound')) throw err;
      sendJson(res, 200, await cluster.inspect(params.id!));
    }
  });

  router.delete('/networks/{id}', async ({ res, params }) => {
    const cluster = s.cluster?.manager();
    const shared = cluster && (await cluster.tryResolve(params.id!));
    if (shared) await cluster.remove(shared.ID);
    else await networks.remove(params.id!);
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
