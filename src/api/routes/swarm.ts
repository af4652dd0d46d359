import type { Router } from '../router.js';
import type { SwarmBackend } from '../backends.js';
import { boolParam, readJson, sendJson } from '../http.js';
import { invalidArgument, notImplemented } from '../../lib/errors.js';

/**
 * /swarm*: the node's swarm membership, through the SwarmService (swarm/manager/). The other kinds'
 * routes (/nodes, /services, /tasks, /secrets, /configs) are served by their parts when those register
 * before this; what no part has claimed answers as dockerd does where it cannot serve it (503 with
 * the reason this node cannot, from managerStore()), or 501 on a manager.
 */
export function swarmRoutes(router: Router, s: SwarmBackend): void {
  const swarm = s.swarm;
  const body = async (req: Parameters<typeof readJson>[0]) => {
    const b = await readJson(req);
    if (b !== undefined && (typeof b !== 'object' || b === null || Array.isArray(b))) throw invalidArgument('invalid JSON: expected an object');
    return (b ?? {}) as Record<string, any>;
  };

  router.get('/swarm', async ({ res }) => sendJson(res, 200, await swarm.inspect()));
  router.post('/swarm/init', async ({ req, res }) => sendJson(res, 200, await swarm.init(await body(req))));
  router.post('/swarm/join', async ({ req, res }) => {
    await swarm.join(await body(req));
    sendJson(res, 200, null);
  });
  router.post('/swarm/leave', async ({ res, query }) => {
    await swarm.leave(boolParam(query, 'force'));
    sendJson(res, 200, null);
  });
  router.post('/swarm/update', async ({ req, res, query }) => {
    const version = Number(query.get('version'));
    await swarm.update(version, await body(req), {
      rotateWorkerToken: boolParam(query, 'rotateWorkerToken'),
      rotateManagerToken: boolParam(query, 'rotateManagerToken'),
      rotateManagerUnlockKey: boolParam(query, 'rotateManagerUnlockKey'),
    });
    sendJson(res, 200, null);
  });
  router.get('/swarm/unlockkey', async ({ res }) => sendJson(res, 200, await swarm.unlockKey()));
  router.post('/swarm/unlock', async ({ req, res }) => {
    await swarm.unlock(String((await body(req)).UnlockKey ?? ''));
    sendJson(res, 200, null);
  });

  const unclaimed = () => {
    swarm.managerStore(); // the 503 dockerd gives when this node is not a (usable) manager
    throw notImplemented('not supported by Berth yet');
  };
  for (const kind of ['nodes', 'services', 'tasks', 'secrets', 'configs']) {
    router.get(`/${kind}`, unclaimed);
    router.get(`/${kind}/{id}`, unclaimed);
    router.delete(`/${kind}/{id}`, unclaimed);
    router.post(`/${kind}/{id}/update`, unclaimed);
    if (kind !== 'nodes' && kind !== 'tasks') router.post(`/${kind}/create`, unclaimed);
  }
  router.get('/services/{id}/logs', unclaimed);
  router.get('/tasks/{id}/logs', unclaimed);
}
