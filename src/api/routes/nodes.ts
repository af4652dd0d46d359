import type { Router } from '../router.js';
import type { NodeBackend } from '../backends.js';
import { boolParam, readBody, sendJson, sendNoContent } from '../http.js';
import { goMap, goString, goStruct } from '../schemas/decode.js';
import { NodeApi } from '../../swarm/dispatcher/node-api.js';

/** POST /nodes/{id}/update: swarm.NodeSpec. */
const nodeSpec = goStruct('NodeSpec', { Name: goString(), Labels: goMap(goString()), Role: goString(), Availability: goString() }, 'swarm.NodeSpec');

/** /nodes: list, inspect, update, remove (on a manager; 503 from managerStore() elsewhere). */
export function nodeRoutes(router: Router, s: NodeBackend): void {
  const nodes = new NodeApi(s);

  router.get('/nodes', async ({ res, query }) => sendJson(res, 200, await nodes.list(query.get('filters'))));

  router.get('/nodes/{id}', async ({ res, params }) => sendJson(res, 200, await nodes.inspect(params.id!)));

  router.post('/nodes/{id}/update', async ({ req, res, params, query }) => {
    const spec = await readBody(req, nodeSpec);
    await nodes.update(params.id!, query.get('version'), spec as Parameters<NodeApi['update']>[2]);
    sendNoContent(res, 200);
  });

  router.delete('/nodes/{id}', async ({ res, params, query }) => {
    await nodes.remove(params.id!, boolParam(query, 'force'));
    sendNoContent(res, 200);
  });
}
