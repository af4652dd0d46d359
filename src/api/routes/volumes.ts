import type { Router } from '../router.js';
import type { Services } from '../../daemon/daemon.js';
import { boolParam, readJson, sendJson, sendNoContent } from '../http.js';
import { invalidArgument } from '../../lib/errors.js';

interface CreateBody {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  ClusterVolumeSpec?: unknown;
}

/** /volumes: list, create, inspect, remove, prune (Engine API v1.50). */
export function volumeRoutes(router: Router, s: Services): void {
  const volumes = s.volumes;

  router.get('/volumes', ({ res, query }) => sendJson(res, 200, volumes.list(query.get('filters') ?? undefined)));

  router.post('/volumes/create', async ({ req, res }) => {
    const body = (await readJson<CreateBody>(req)) ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('invalid volume create request');
    if (body.ClusterVolumeSpec) throw invalidArgument('cluster volumes require a swarm manager');
    for (const [field, value] of [
      ['DriverOpts', body.DriverOpts],
      ['Labels', body.Labels],
    ] as const) {
      if (value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string'))) {
        throw invalidArgument(`invalid ${field}: expected a map of strings`);
      }
    }
    const { volume } = await volumes.create({ name: body.Name, driver: body.Driver, driverOpts: body.DriverOpts, labels: body.Labels });
    sendJson(res, 201, volumes.view(volume));
  });

  router.post('/volumes/prune', async ({ res, query, version }) => sendJson(res, 200, await volumes.prune(query.get('filters') ?? undefined, version)));

  router.get('/volumes/{name}', ({ res, params }) => sendJson(res, 200, volumes.view(volumes.get(params.name!))));

  router.put('/volumes/{name}', ({ params }) => {
    volumes.get(params.name!);
    throw invalidArgument('volume update only valid for cluster volumes, but cluster volumes not supported');
  });

  router.delete('/volumes/{name}', async ({ res, params, query }) => {
    await volumes.remove(params.name!, { force: boolParam(query, 'force') });
    sendNoContent(res);
  });
}
