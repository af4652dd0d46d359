import type { Router } from '../router.js';
import type { VolumeBackend } from '../backends.js';
import { boolParam, readBody, sendJson, sendNoContent } from '../http.js';
import { volumeCreateOptions } from '../schemas/network.js';
import { invalidArgument } from '../../lib/errors.js';

/** /volumes: list, create, inspect, remove, prune (Engine API v1.50). */
export function volumeRoutes(router: Router, s: VolumeBackend): void {
  const volumes = s.volumes;

  router.get('/volumes', async ({ res, query }) => sendJson(res, 200, await volumes.list(query.get('filters') ?? undefined)));

  router.post('/volumes/create', async ({ req, res }) => {
    const body = (await readBody(req, volumeCreateOptions)) ?? {};
    if (body.ClusterVolumeSpec) throw invalidArgument('cluster volumes require a swarm manager');
    const { volume } = await volumes.create({ name: body.Name, driver: body.Driver, driverOpts: body.DriverOpts, labels: body.Labels });
    sendJson(res, 201, volumes.view(volume));
  });

  router.post('/volumes/prune', async ({ res, query, version }) => sendJson(res, 200, await volumes.prune(query.get('filters') ?? undefined, version)));

  router.get('/volumes/{name}', async ({ res, params }) => sendJson(res, 200, await volumes.inspect(params.name!)));

  router.put('/volumes/{name}', ({ params }) => {
    volumes.get(params.name!);
    throw invalidArgument('volume update only valid for cluster volumes, but cluster volumes not supported');
  });

  router.delete('/volumes/{name}', async ({ res, params, query }) => {
    await volumes.remove(params.name!, { force: boolParam(query, 'force') });
    sendNoContent(res);
  });
}
