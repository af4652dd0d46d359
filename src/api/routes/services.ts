import type { Router } from '../router.js';
import type { ServiceBackend } from '../backends.js';
import { readBody, sendJson, sendNoContent } from '../http.js';
import { knownServiceFields, serviceSpecSchema } from '../schemas/service.js';
import { invalidArgument } from '../../lib/errors.js';
import type { ServiceSpecInput } from '../../swarm/services/spec.js';

/** /services: swarm services on a manager (swarm/services/). */
export function serviceRoutes(router: Router, s: ServiceBackend): void {
  router.get('/services', async ({ res, query }) => {
    sendJson(res, 200, await s.services.list(query.get('filters') ?? undefined, parseBoolParam(query, 'status')));
  });

  router.post('/services/create', async ({ req, res }) => {
    const spec = knownServiceFields((await readBody(req, serviceSpecSchema)) ?? {}) as ServiceSpecInput;
    const created = await s.services.create(spec, registryAuth(req.headers));
    sendJson(res, 201, { ID: created.ID, Warnings: created.Warnings ?? null });
  });

  router.get('/services/{id}', async ({ res, params, query }) => {
    sendJson(res, 200, await s.services.inspect(params.id!, parseBoolParam(query, 'insertDefaults')));
  });

  router.post('/services/{id}/update', async ({ req, res, params, query }) => {
    const spec = knownServiceFields((await readBody(req, serviceSpecSchema)) ?? {}) as ServiceSpecInput;
    const raw = query.get('version') ?? '';
    // dockerd reads it with strconv.ParseUint and reports its error.
    if (!/^\d+$/.test(raw)) throw invalidArgument(`invalid service version '${raw}': strconv.ParseUint: parsing ${JSON.stringify(raw)}: invalid syntax`);
    const from = query.get('registryAuthFrom') ?? '';
    if (from && from !== 'spec' && from !== 'previous-spec') throw invalidArgument(`invalid registryAuthFrom '${from}'`);
    const result = await s.services.update(params.id!, spec, {
      version: Number(raw),
      rollback: query.get('rollback') ?? '',
      registryAuth: registryAuth(req.headers),
      registryAuthFrom: from,
    });
    // dockerd always has the key ("Warnings": null when none): docker-py's models return it and test it.
    sendJson(res, 200, { Warnings: result.Warnings ?? null });
  });

  router.delete('/services/{id}', async ({ res, params }) => {
    await s.services.remove(params.id!);
    sendNoContent(res, 200);
  });
}

/** X-Registry-Auth, kept for the nodes that pull the image (never shown). */
function registryAuth(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = headers['x-registry-auth'];
  return (Array.isArray(v) ? v[0] : v) || undefined;
}

/** Go's strconv.ParseBool on a query parameter, with dockerd's error ("invalid value for status: ..."). */
function parseBoolParam(query: URLSearchParams, name: string): boolean {
  const v = query.get(name) ?? '';
  if (v === '') return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw invalidArgument(`invalid value for ${name}: ${v}: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}
