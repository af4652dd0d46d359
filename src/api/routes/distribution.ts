import type { Router } from '../router.js';
import type { DistributionBackend } from '../backends.js';
import { readJson, sendJson } from '../http.js';
import { credentialsOf, parseRegistryAuth } from '../../distribution/auth.js';
import { invalidArgument } from '../../lib/errors.js';

/** POST /auth and GET /distribution/{name}/json. Pull and push are under /images (routes/images.ts). */
export function distributionRoutes(router: Router, s: DistributionBackend): void {
  router.post('/auth', async ({ req, res }) => {
    const body = await readJson(req, 64 * 1024);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('invalid auth configuration: expected a JSON object');
    const creds = credentialsOf(body);
    const address = (body as Record<string, unknown>).serveraddress;
    if (address !== undefined && typeof address !== 'string') throw invalidArgument('invalid auth configuration: serveraddress must be a string');
    sendJson(res, 200, await s.distribution.login({ ...creds, serveraddress: address }));
  });

  router.get('/distribution/{name*}/json', async ({ req, res, params }) => {
    const creds = parseRegistryAuth(header(req.headers['x-registry-auth']));
    sendJson(res, 200, await s.distribution.inspect(params.name!, creds));
  });
}

export function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
