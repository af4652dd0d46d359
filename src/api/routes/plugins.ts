import type { Router } from '../router.js';
import { sendJson } from '../http.js';
import { notFound } from '../../lib/errors.js';
import { Filters } from '../../lib/filters.js';

/**
 * /plugins: Berth has no managed plugins, so the list is empty and every named plugin is missing,
 * in dockerd's words. Clients (compose, tests) list plugins before and after their work.
 */
export function pluginRoutes(router: Router): void {
  router.get('/plugins', ({ res, query }) => {
    Filters.parse(query.get('filters'), ['capability', 'enabled']);
    sendJson(res, 200, []);
  });
  const missing = ({ params }: { params: Record<string, string> }) => {
    throw notFound(`plugin ${JSON.stringify(params.name)} not found`);
  };
  router.get('/plugins/{name*}/json', missing);
  router.delete('/plugins/{name*}', missing);
  for (const action of ['enable', 'disable', 'upgrade', 'push', 'set']) router.post(`/plugins/{name*}/${action}`, missing);
}
