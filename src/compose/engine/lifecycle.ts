/**
 * `start`, `stop`, `restart` and `down` over a project's existing containers: in dependency order
 * to start, in reverse to stop and remove, independent services at once.
 */
import type { ComposeProject } from '../types.js';
import { ComposeError } from '../errors.js';
import { pathName } from '../../cli/client.js';
import { DaemonError } from '../../cli/errors.js';
import { canonicalName, containerEventId, projectContainers, serviceOf, type ContainerSummary } from './containers.js';
import { buildGraph, forEachLimited, walkGraph } from './graph.js';
import { orphans } from './plan.js';
import { startContainer } from './converge.js';
import { waitDependencies } from './conditions.js';
import { removeContainer, stopContainer } from './container-ops.js';
import { errorText, projectNetworks, projectVolumes, removeNetwork, removeVolume } from './resources.js';
import { serviceImageName } from './images.js';
import type { ComposeContext } from './types.js';

/** `compose start`: existing containers started in dependency order, conditions awaited. */
export async function startProject(ctx: ComposeContext, project: ComposeProject, services: string[] = []): Promise<void> {
  const graph = buildGraph(project, services, true);
  const all = await projectContainers(ctx, project.name, { all: true, oneoff: false });
  if (!all.some((c) => graph.deps.has(serviceOf(c)))) throw new ComposeError('no containers to start');
  await walkGraph(
    graph,
    async (name) => {
      const service = project.services[name]!;
      const mine = all.filter((c) => serviceOf(c) === name);
      if (!mine.length) return;
      const deps = Object.fromEntries(Object.entries(service.depends_on ?? {}).filter(([d]) => graph.deps.has(d)));
      await waitDependencies(ctx, project, deps);
      await forEachLimited(
        mine.filter((c) => c.State !== 'running'),
        ctx.parallel,
        (c) => startContainer(ctx, c, false),
      );
    },
    { parallel: ctx.parallel },
  );
}

/** `compose stop`: dependents first. */
export async function stopProject(ctx: ComposeContext, project: ComposeProject, services: string[] = [], timeout?: number): Promise<void> {
  const graph = buildGraph(project, [], true);
  const wanted = services.length ? new Set(services) : undefined;
  const all = await projectContainers(ctx, project.name, { all: false });
  await forEachServiceContainer(ctx, graph, all, wanted, true, (c) => stopContainer(ctx, c, timeout));
}

/** Runs `op` on the containers of each wanted service, service by service along the depends_on graph (dependents first with `reverse`). */
function forEachServiceContainer(
  ctx: ComposeContext,
  graph: ReturnType<typeof buildGraph>,
  all: ContainerSummary[],
  wanted: Set<string> | undefined,
  reverse: boolean,
  op: (c: ContainerSummary) => Promise<void>,
): Promise<void> {
  return walkGraph(
    graph,
    async (name) => {
      if (wanted && !wanted.has(name)) return;
      await forEachLimited(
        all.filter((c) => serviceOf(c) === name),
        ctx.parallel,
        op,
      );
    },
    { parallel: ctx.parallel, reverse },
  );
}

/** `compose restart`: each container restarted, services in dependency order. */
export async function restartProject(ctx: ComposeContext, project: ComposeProject, services: string[] = [], timeout?: number, noDeps = false): Promise<void> {
  const graph = buildGraph(project, [], true);
  const wanted = services.length ? new Set(services) : undefined;
  if (wanted && !noDeps) {
    // docker compose restarts what depends on the named services too.
    for (const s of [...wanted]) for (const [name, svc] of Object.entries(project.services)) if (svc.depends_on?.[s]) wanted.add(name);
  }
  const all = await projectContainers(ctx, project.name, { all: true, oneoff: false });
  await forEachServiceContainer(ctx, graph, all, wanted, false, async (c) => {
    const id = containerEventId(canonicalName(c));
    ctx.progress.event({ id, status: 'Restarting' });
    try {
      await ctx.client.request('POST', `/containers/${c.Id}/restart`, { query: { t: timeout } }).then((r) => r.resume());
    } catch (err) {
      ctx.progress.event({ id, status: 'Error', text: errorText(err), error: true });
      throw err;
    }
    ctx.progress.event({ id, status: 'Started', done: true });
  });
}

export interface DownOptions {
  removeOrphans?: boolean;
  volumes?: boolean;
  /** --rmi local|all */
  images?: 'local' | 'all';
  timeout?: number;
  /** Only these services' containers (networks and volumes are left then, as docker compose does). */
  services?: string[];
}

/**
 * `compose down`: containers stopped and removed (dependents first), then the project's networks;
 * `volumes`: its named volumes and the containers' anonymous ones; `images`: its images.
 */
export async function downProject(ctx: ComposeContext, project: ComposeProject, opts: DownOptions = {}): Promise<void> {
  const graph = buildGraph(project, [], true);
  let all = await projectContainers(ctx, project.name, { all: true });
  const orphaned = orphans(project, all);
  if (orphaned.length && !opts.removeOrphans) {
    ctx.warn(
      `Found orphan containers (${orphaned.map(canonicalName).join(', ')}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
    );
    const gone = new Set(orphaned);
    all = all.filter((c) => !gone.has(c));
  }
  const wanted = opts.services?.length ? new Set(opts.services) : undefined;
  const anonymous = new Set<string>();
  const stopAndRemove = async (c: ContainerSummary) => {
    if (opts.volumes) for (const v of await anonymousVolumes(ctx, c, project)) anonymous.add(v);
    await stopContainer(ctx, c, opts.timeout);
    await removeContainer(ctx, c, { volumes: !!opts.volumes });
  };
  await forEachServiceContainer(ctx, graph, all, wanted, true, stopAndRemove);
  // Containers of services not in the graph: orphans (with --remove-orphans) and disabled profiles.
  if (!wanted) await forEachLimited(all.filter((c) => !graph.deps.has(serviceOf(c))), ctx.parallel, stopAndRemove);
  if (wanted) return;

  for (const net of Object.values(project.networks)) {
    if (net.external) continue;
    if (!(await exists(ctx, `/networks/${pathName(net.name)}`))) continue;
    await removeNetwork(ctx, net.name);
  }
  if (opts.volumes) {
    // An anonymous volume a recreated container inherited is mounted by name, so `rm -v` keeps it.
    for (const name of anonymous) await ctx.client.request('DELETE', `/volumes/${name}`).then((r) => r.resume(), () => undefined);
    for (const vol of Object.values(project.volumes)) {
      if (vol.external) continue;
      if (!(await exists(ctx, `/volumes/${pathName(vol.name)}`))) continue;
      await removeVolume(ctx, vol.name);
    }
  }
  if (opts.images) {
    const names = new Set<string>();
    for (const [name, svc] of Object.entries(project.services)) {
      if (opts.images === 'local' && svc.image) continue; // a custom tag: only --rmi all removes it
      names.add(serviceImageName(project, name));
    }
    for (const image of names) {
      if (!(await exists(ctx, `/images/${pathName(image)}/json`))) continue;
      const id = `Image ${image}`;
      ctx.progress.event({ id, status: 'Removing' });
      try {
        await ctx.client.json('DELETE', `/images/${pathName(image)}`);
      } catch (err) {
        ctx.progress.event({ id, status: 'Error', text: errorText(err), error: true });
        throw err;
      }
      ctx.progress.event({ id, status: 'Removed', done: true });
    }
  }
}

async function exists(ctx: ComposeContext, path: string): Promise<boolean> {
  try {
    await ctx.client.json('GET', path);
    return true;
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return false;
    throw err;
  }
}

/**
 * `compose -p NAME down` without a compose file: everything carrying the project label goes
 * (containers, networks, with `volumes` its volumes), as docker compose does from labels alone.
 */
export async function downByName(ctx: ComposeContext, projectName: string, opts: Pick<DownOptions, 'volumes' | 'timeout'> = {}): Promise<void> {
  const all = await projectContainers(ctx, projectName, { all: true });
  const anonymous = new Set<string>();
  await forEachLimited(all, ctx.parallel, async (c) => {
    if (opts.volumes) for (const v of await anonymousVolumes(ctx, c)) anonymous.add(v);
    await stopContainer(ctx, c, opts.timeout);
    await removeContainer(ctx, c, { volumes: !!opts.volumes });
  });
  for (const name of anonymous) await ctx.client.request('DELETE', `/volumes/${name}`).then((r) => r.resume(), () => undefined);
  for (const net of await projectNetworks(ctx, projectName)) await removeNetwork(ctx, net.Name);
  if (opts.volumes) for (const vol of await projectVolumes(ctx, projectName)) await removeVolume(ctx, vol.Name);
}

/** The anonymous volumes (Docker-generated names, none of the project's) mounted in `c`. */
async function anonymousVolumes(ctx: ComposeContext, c: ContainerSummary, project?: ComposeProject): Promise<string[]> {
  const info = await ctx.client.json<{ Mounts?: Array<{ Type: string; Name?: string }> }>('GET', `/containers/${c.Id}/json`);
  const named = new Set(Object.values(project?.volumes ?? {}).map((v) => v.name));
  return (info.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name && /^[0-9a-f]{64}$/.test(m.Name) && !named.has(m.Name)).map((m) => m.Name!);
}
