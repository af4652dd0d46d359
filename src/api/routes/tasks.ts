import type { Router } from '../router.js';
import type { TaskBackend } from '../backends.js';
import { sendJson } from '../http.js';

/** /tasks: swarm tasks on a manager (swarm/services/). Task logs are the agent part's route. */
export function taskRoutes(router: Router, s: TaskBackend): void {
  router.get('/tasks', async ({ res, query }) => sendJson(res, 200, await s.tasks.list(query.get('filters') ?? undefined)));
  router.get('/tasks/{id}', async ({ res, params }) => sendJson(res, 200, await s.tasks.inspect(params.id!)));
}
