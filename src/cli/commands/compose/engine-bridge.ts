/**
 * What `compose run` needs from the engine (c-engine's src/compose/engine/index.ts):
 * `startDependencies(ctx, project, service)`. Until that is on this branch, this stand-in makes
 * the project's networks and volumes and starts one container for each service `service`
 * depends on (transitively) that has none running; no health conditions, no recreation.
 */
import type { ComposeProject } from '../../../compose/index.js';
import type { ComposeContext } from '../../../compose/engine/types.js';
import { containerCreateRequest, containerName, networkCreateRequest, volumeCreateRequest } from '../../../compose/engine/create-request.js';
import { ensureImages } from '../../../compose/engine/images.js';
import { pathName } from '../../client.js';
import { DaemonError } from '../../errors.js';
import { projectContainers } from './project-containers.js';

async function exists(ctx: ComposeContext, path: string): Promise<boolean> {
  try {
    (await ctx.client.request('GET', path)).resume();
    return true;
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return false;
    throw err;
  }
}

/** The project's networks and volumes, made when missing (external ones are left alone). */
export async function ensureProjectResources(ctx: ComposeContext, project: ComposeProject): Promise<void> {
  for (const [key, net] of Object.entries(project.networks)) {
    if (net.external || (await exists(ctx, `/networks/${pathName(net.name)}`))) continue;
    ctx.progress.event({ id: `Network ${net.name}`, status: 'Creating' });
    (await ctx.client.request('POST', '/networks/create', { json: networkCreateRequest(project, key) })).resume();
    ctx.progress.event({ id: `Network ${net.name}`, status: 'Created', done: true });
  }
  for (const [key, vol] of Object.entries(project.volumes)) {
    if (vol.external || (await exists(ctx, `/volumes/${pathName(vol.name)}`))) continue;
    ctx.progress.event({ id: `Volume ${vol.name}`, status: 'Creating' });
    (await ctx.client.request('POST', '/volumes/create', { json: volumeCreateRequest(project, key) })).resume();
    ctx.progress.event({ id: `Volume ${vol.name}`, status: 'Created', done: true });
  }
}

/** Every service `service` depends on, directly or not, dependencies first. */
export function dependencyOrder(project: ComposeProject, service: string): string[] {
  const order: string[] = [];
  const visit = (name: string) => {
    for (const dep of Object.keys(project.services[name]?.depends_on ?? {})) {
      if (!project.services[dep] || order.includes(dep)) continue;
      visit(dep);
      order.push(dep);
    }
  };
  visit(service);
  return order.filter((s) => s !== service);
}

export async function startDependencies(ctx: ComposeContext, project: ComposeProject, service: string): Promise<void> {
  await ensureProjectResources(ctx, project);
  const deps = dependencyOrder(project, service);
  if (deps.length) await ensureImages(ctx, project, deps);
  for (const dep of deps) {
    const existing = await projectContainers(ctx, project.name, { all: true, oneoff: false, services: [dep] });
    const running = existing.find((c) => c.State === 'running');
    if (running) continue;
    let id = existing[0]?.Id;
    const svc = project.services[dep]!;
    const name = containerName(project, svc, 1);
    if (!id) {
      ctx.progress.event({ id: `Container ${name}`, status: 'Creating' });
      const req = containerCreateRequest(project, svc, { number: 1, name });
      id = (await ctx.client.json<{ Id: string }>('POST', '/containers/create', { query: { name: req.name }, json: req.body })).Id;
      for (const n of req.extraNetworks) (await ctx.client.request('POST', `/networks/${pathName(n.network)}/connect`, { json: { Container: id, EndpointConfig: n.endpoint } })).resume();
      ctx.progress.event({ id: `Container ${name}`, status: 'Created', done: true });
    }
    ctx.progress.event({ id: `Container ${name}`, status: 'Starting' });
    (await ctx.client.request('POST', `/containers/${pathName(id)}/start`)).resume();
    ctx.progress.event({ id: `Container ${name}`, status: 'Started', done: true });
  }
}

/**
 * Stand-in for c-engine's `down` as `wait --down-project` uses it: the project's containers
 * (one-off ones too) removed by force, then its networks.
 */
export async function downProject(ctx: ComposeContext, project: string): Promise<void> {
  const containers = await projectContainers(ctx, project, { all: true });
  await Promise.all(
    containers.map(async (c) => {
      const id = `Container ${(c.Names?.[0] ?? c.Id).replace(/^\//, '')}`;
      ctx.progress.event({ id, status: 'Removing' });
      (await ctx.client.request('DELETE', `/containers/${pathName(c.Id)}`, { query: { force: true } })).resume();
      ctx.progress.event({ id, status: 'Removed', done: true });
    }),
  );
  const networks = await ctx.client.json<Array<{ Id: string; Name: string }>>('GET', '/networks', {
    query: { filters: JSON.stringify({ label: { [`com.docker.compose.project=${project}`]: true } }) },
  });
  for (const n of networks ?? []) {
    ctx.progress.event({ id: `Network ${n.Name}`, status: 'Removing' });
    (await ctx.client.request('DELETE', `/networks/${pathName(n.Id)}`)).resume();
    ctx.progress.event({ id: `Network ${n.Name}`, status: 'Removed', done: true });
  }
  ctx.progress.close();
}
