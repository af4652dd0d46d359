import type { Container } from './model.js';
import type { ContainerService } from './service.js';
import { Filters } from '../lib/filters.js';
import { invalidArgument } from '../lib/errors.js';

const LIST_FILTERS = ['ancestor', 'before', 'expose', 'exited', 'health', 'id', 'isolation', 'is-task', 'label', 'name', 'network', 'publish', 'since', 'status', 'volume'];
const HEALTH = ['none', 'starting', 'healthy', 'unhealthy'];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** The containers GET /containers/json returns, newest first, with Docker's filter semantics. */
export function listContainers(svc: ContainerService, opts: { all?: boolean; limit?: number; filters?: string }): Container[] {
  const f = Filters.parse(opts.filters, LIST_FILTERS);
  for (const s of f.get('status')) if (!STATUSES.includes(s)) throw invalidArgument(`invalid filter 'status=${s}'`);
  for (const h of f.get('health')) {
    if (!HEALTH.includes(h)) throw invalidArgument(`invalid filter 'health=${h}': invalid value for health (${h}): must be one of ${HEALTH.join(', ')}`);
  }
  const exited = f.get('exited').map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw invalidArgument(`invalid filter 'exited=${v}'`);
    return n;
  });
  const before = f.get('before').map((r) => svc.resolve(r));
  const since = f.get('since').map((r) => svc.resolve(r));
  const ancestors = f.get('ancestor').map((r) => svc.images.tryResolve(r)?.id).filter(Boolean);
  const all = opts.all || (opts.limit !== undefined && opts.limit > 0) || f.has('status') || f.has('exited');

  let list = svc.store
    .all()
    .sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || (b.id < a.id ? -1 : 1))
    .filter((c) => {
      if (!all && !c.state.Running) return false;
      if (f.has('status') && !f.get('status').includes(c.state.Status)) return false;
      if (f.has('health') && !f.get('health').includes(c.state.Health?.Status ?? 'none')) return false;
      if (exited.length && (c.state.Running || c.state.StartedAt.startsWith('0001') || !exited.includes(c.state.ExitCode))) return false;
      if (f.has('name') && !f.get('name').some((n) => new RegExp(n.replace(/^\//, '')).test(c.name))) return false;
      if (f.has('id') && !f.get('id').some((id) => c.id.startsWith(id))) return false;
      if (!f.matchLabels(c.config.Labels)) return false;
      if (f.has('ancestor') && !ancestors.includes(c.imageId)) return false;
      if (before.some((b) => Date.parse(c.created) >= Date.parse(b.created))) return false;
      if (since.some((s) => Date.parse(c.created) <= Date.parse(s.created))) return false;
      if (f.has('network')) {
        // The networks the container is on, by name or id (networks/service.ts), as dockerd matches them.
        const on = svc.networking?.networksOf(c.id) ?? [c.hostConfig.NetworkMode ?? 'bridge'];
        if (!f.get('network').some((n) => on.includes(n))) return false;
      }
      // volume=<name, host source or destination>, as dockerd matches it
      if (f.has('volume') && !f.get('volume').some((v) => (c.mountPoints ?? []).some((m) => (m.Name || m.Source) === v || m.Destination === v))) return false;
      return true;
    });
  if (opts.limit !== undefined && opts.limit > 0) list = list.slice(0, opts.limit);
  return list;
}
