import type { Router } from '../router.js';
import { notImplemented, unavailable } from '../../lib/errors.js';

/** dockerd's answer to swarm-only endpoints on a node that is in no swarm. */
export const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

/**
 * Berth has no swarm mode, so it answers the swarm endpoints as a dockerd outside a swarm does (503),
 * rather than 404 "page not found": clients rely on that, e.g. docker-py's `leave_swarm(force=True)` ignores
 * 503 and `docker info`-style probes treat it as "swarm inactive". Only init and join differ: dockerd would
 * make a swarm, Berth cannot.
 */
export function swarmRoutes(router: Router): void {
  const notManager = () => {
    throw unavailable(NOT_A_MANAGER);
  };
  router.post('/swarm/leave', () => {
    throw unavailable('This node is not part of a swarm');
  });
  for (const path of ['/swarm/init', '/swarm/join']) {
    router.post(path, () => {
      throw notImplemented('swarm mode is not supported by Berth');
    });
  }
  router.get('/swarm', notManager);
  router.get('/swarm/unlockkey', notManager);
  router.post('/swarm/update', notManager);
  router.post('/swarm/unlock', notManager);
  // /services and /tasks: routes/services.ts and tasks.ts; /nodes: routes/nodes.ts (503 from managerStore()).
  for (const kind of ['secrets', 'configs']) {
    router.get(`/${kind}`, notManager);
    router.get(`/${kind}/{id}`, notManager);
    router.delete(`/${kind}/{id}`, notManager);
    router.post(`/${kind}/{id}/update`, notManager);
    router.post(`/${kind}/create`, notManager);
  }
  // /services/{id}/logs and /tasks/{id}/logs: routes/swarm-logs.ts.
}
