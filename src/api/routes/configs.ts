import type { Router } from '../router.js';
import { readBody, sendJson, sendNoContent } from '../http.js';
import { goMap, goString, goStruct } from '../schemas/decode.js';
import type { ConfigApi } from '../../swarm/secrets/config-api.js';
import { driver, goBytes, versionParam } from './secrets.js';
import { compareVersions } from '../version.js';
import { invalidArgument } from '../../lib/errors.js';

export const configSpecSchema = goStruct('ConfigSpec', { Name: goString(), Labels: goMap(goString()), Data: goBytes(), Templating: driver() }, 'swarm.ConfigSpec');

/** /configs: on a manager. */
export function configRoutes(router: Router, s: { configs: Pick<ConfigApi, 'create' | 'list' | 'inspect' | 'update' | 'remove'> }): void {
  router.get('/configs', async ({ res, query }) => sendJson(res, 200, await s.configs.list(query.get('filters'))));

  router.post('/configs/create', async ({ req, res, version }) => {
    const spec = (await readBody(req, configSpecSchema)) ?? {};
    if (spec.Templating && compareVersions(version, '1.37') < 0) throw invalidArgument(`config templating is not supported on the specified API version: ${version}`);
    sendJson(res, 201, await s.configs.create(spec));
  });

  router.get('/configs/{id}', async ({ res, params }) => sendJson(res, 200, await s.configs.inspect(params.id!)));

  router.post('/configs/{id}/update', async ({ req, res, params, query }) => {
    const spec = (await readBody(req, configSpecSchema)) ?? {};
    await s.configs.update(params.id!, versionParam(query, 'config'), spec);
    sendNoContent(res, 200);
  });

  router.delete('/configs/{id}', async ({ res, params }) => {
    await s.configs.remove(params.id!);
    sendNoContent(res, 204);
  });
}
