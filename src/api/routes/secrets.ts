import { Type } from '@sinclair/typebox';
import type { Router } from '../router.js';
import { readBody, sendJson, sendNoContent } from '../http.js';
import { goMap, goString, goStruct } from '../schemas/decode.js';
import { invalidArgument } from '../../lib/errors.js';
import { compareVersions } from '../version.js';
import type { SecretApi } from '../../swarm/secrets/secret-api.js';

/** swarm.Driver (secret drivers, templating drivers). */
export const driver = () => goStruct('Driver', { Name: goString(), Options: goMap(goString()) }, '*swarm.Driver');
/** A Go []byte: base64 text in JSON (checked by the API, as Go's decoder would). */
export const goBytes = () => Type.String({ goType: '[]uint8' });

export const secretSpecSchema = goStruct('SecretSpec', { Name: goString(), Labels: goMap(goString()), Data: goBytes(), Driver: driver(), Templating: driver() }, 'swarm.SecretSpec');

/** ?version= as dockerd reads it (strconv.ParseUint), with its words. */
export function versionParam(query: URLSearchParams, kind: 'secret' | 'config'): number {
  const raw = query.get('version') ?? '';
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw invalidArgument(`invalid ${kind} version`);
  return Number(raw);
}

/** /secrets: on a manager (503 "not a swarm manager" elsewhere, from the store). */
export function secretRoutes(router: Router, s: { secrets: Pick<SecretApi, 'create' | 'list' | 'inspect' | 'update' | 'remove'> }): void {
  router.get('/secrets', async ({ res, query }) => sendJson(res, 200, await s.secrets.list(query.get('filters'))));

  router.post('/secrets/create', async ({ req, res, version }) => {
    const spec = (await readBody(req, secretSpecSchema)) ?? {};
    if (spec.Templating && compareVersions(version, '1.37') < 0) throw invalidArgument(`secret templating is not supported on the specified API version: ${version}`);
    sendJson(res, 201, await s.secrets.create(spec));
  });

  router.get('/secrets/{id}', async ({ res, params }) => sendJson(res, 200, await s.secrets.inspect(params.id!)));

  router.post('/secrets/{id}/update', async ({ req, res, params, query }) => {
    const spec = (await readBody(req, secretSpecSchema)) ?? {};
    await s.secrets.update(params.id!, versionParam(query, 'secret'), spec);
    sendNoContent(res, 200);
  });

  router.delete('/secrets/{id}', async ({ res, params }) => {
    await s.secrets.remove(params.id!);
    sendNoContent(res, 204);
  });
}
