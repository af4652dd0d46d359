/**
 * The /tasks API on the cluster store (dockerd's daemon/cluster/tasks.go over swarmkit's ListTasks):
 * filters desired-state, id (prefix), label (the service's labels, as swarmkit matches them), name
 * (prefix of `<service>.<slot or node>.<task id>`), node and service (ID, name or ID prefix).
 */
import { invalidArgument } from '../../lib/errors.js';
import { Filters } from '../../lib/filters.js';
import type { SwarmStore } from '../contracts.js';
import { TASK_STATE_ORDER, type Task, type TaskState } from '../types.js';
import { matchLabels, resolveIn } from './service-api.js';
import { taskName, taskView } from './views.js';

export class TaskApi {
  constructor(private readonly store: () => SwarmStore) {}

  async list(filtersRaw?: string): Promise<Array<Record<string, unknown>>> {
    const f = Filters.parse(filtersRaw, ['name', 'id', 'label', 'service', 'node', 'desired-state', '_up-to-date', 'runtime']);
    const desired: TaskState[] = [];
    for (const s of f.get('desired-state')) {
      const state = s.toLowerCase() as TaskState;
      // swarmkit's TaskState names, any case.
      if (TASK_STATE_ORDER.includes(state) || state === 'allocated') desired.push(state);
      else if (s !== '') throw invalidArgument(`Invalid desired-state filter: '${s}'`);
    }
    const store = this.store();
    const [tasks, services, nodes] = await Promise.all([store.tasks.list(), store.services.list(), store.nodes.list()]);
    const serviceIds = f.get('service').map((ref) => resolveIn(services, ref, 'service', (s) => s.Spec.Name).ID);
    const nodeIds = f.get('node').map((ref) => resolveIn(nodes, ref, 'node', (n) => n.Spec.Name || n.Description?.Hostname).ID);
    const byId = new Map(services.map((s) => [s.ID, s]));
    return tasks
      .filter((t) => !f.has('id') || f.get('id').some((p) => t.ID.startsWith(p)))
      .filter((t) => !f.has('name') || f.get('name').some((p) => taskName(t, byId.get(t.ServiceID)?.Spec.Name).startsWith(p)))
      .filter((t) => matchLabels(byId.get(t.ServiceID)?.Spec.Labels, f.get('label')))
      .filter((t) => !serviceIds.length || serviceIds.includes(t.ServiceID))
      .filter((t) => !nodeIds.length || (t.NodeID !== undefined && nodeIds.includes(t.NodeID)))
      .filter((t) => !desired.length || desired.includes(t.DesiredState))
      // `_up-to-date` (the docker CLI's progress display): tasks made from the service's current task spec.
      .filter((t) => !f.has('_up-to-date') || (byId.has(t.ServiceID) && canonical(t.Spec) === canonical(byId.get(t.ServiceID)!.Spec.TaskTemplate)))
      .sort((a, b) => (a.ID < b.ID ? -1 : 1))
      .map(taskView);
  }

  /** By full ID, name, then ID prefix (dockerd's getTask). */
  async resolve(ref: string): Promise<Task> {
    const store = this.store();
    const [tasks, services] = await Promise.all([store.tasks.list(), store.services.list()]);
    const names = new Map(services.map((s) => [s.ID, s.Spec.Name]));
    return resolveIn(tasks, ref, 'task', (t) => taskName(t, names.get(t.ServiceID)));
  }

  async inspect(ref: string): Promise<Record<string, unknown>> {
    return taskView(await this.resolve(ref));
  }
}

/** JSON with sorted keys, for comparing specs whatever order their keys came in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}
