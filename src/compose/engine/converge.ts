/**
 * Convergence (`up`, `create`, what `run` needs): networks and volumes, images, then each
 * service's containers made to match the file, in dependency order and in parallel where the
 * graph allows; then the start phase, which waits for each service's depends_on conditions.
 */
import type { ComposeProject, ServiceConfig } from '../types.js';
import { assertSupported, containerCreateRequest, containerName, serviceConfigHash } from './create-request.js';
import { ensureImages, type EnsureImagesOptions } from './images.js';
import { injectedFilesArchive, injectedFilesKeepOwner } from './inject-files.js';
import { LABEL } from './labels.js';
import { ComposeError } from '../errors.js';
import { canonicalName, containerEventId, projectContainers, serviceOf, type ContainerSummary } from './containers.js';
import { buildGraph, forEachLimited, graphServices, walkGraph, type ServiceGraph } from './graph.js';
import { orphans, planService, restartDependents, serviceScale, type RecreateStrategy } from './plan.js';
import { ensureNetworks, ensureVolumes, errorText, usedNetworks } from './resources.js';
import { waitDependencies } from './conditions.js';
import { removeContainer, stopContainer } from './container-ops.js';
import type { ComposeContext } from './types.js';

export interface ConvergeOptions {
  /** Services named on the command line (empty: all). */
  services?: string[];
  noDeps?: boolean;
  /** For the named services (all when none are named). */
  recreate?: RecreateStrategy;
  /** For dependencies pulled in but not named. */
  recreateDependencies?: RecreateStrategy;
  /** --scale svc=n */
  scale?: Record<string, number>;
  removeOrphans?: boolean;
  ignoreOrphans?: boolean;
  /** -t: seconds to wait for a stop; absent: the container's own stop timeout. */
  timeout?: number;
  images?: EnsureImagesOptions;
  /** -V: recreated containers get new anonymous volumes instead of the old container's. */
  renewAnonVolumes?: boolean;
}

export interface ConvergeResult {
  graph: ServiceGraph;
  /** Containers made by this run (removed again if their start fails). */
  created: Set<string>;
}

/** Creates (or recreates) what the services need; starts nothing new (see startServices). */
export async function converge(ctx: ComposeContext, project: ComposeProject, opts: ConvergeOptions = {}): Promise<ConvergeResult> {
  assertSupported(project);
  const graph = buildGraph(project, opts.services ?? [], opts.noDeps);
  const services = graphServices(graph);
  const named = new Set(opts.services?.length ? opts.services : Object.keys(project.services));
  for (const key of Object.keys(opts.scale ?? {})) if (!project.services[key]) throw new ComposeError(`no such service: ${key}`);
  for (const name of services) {
    const svc = project.services[name]!;
    if (svc.container_name && serviceScale(svc, opts.scale?.[name]) > 1) {
      throw new ComposeError(`services.${name}: can't set container_name and ${name} as container name must be unique: invalid compose project`);
    }
  }

  const all = await projectContainers(ctx, project.name, { all: true, oneoff: false });
  const orphaned = orphans(project, all);
  if (orphaned.length && opts.removeOrphans) {
    await forEachLimited(orphaned, ctx.parallel, async (c) => {
      await stopContainer(ctx, c, opts.timeout);
      await removeContainer(ctx, c, { volumes: false });
    });
  } else if (orphaned.length && !opts.ignoreOrphans) {
    ctx.warn(
      `Found orphan containers (${orphaned.map(canonicalName).join(', ')}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`,
    );
  }

  // Images first, as docker compose's create: a missing image or a failed build leaves no network or volume.
  const imageIds = await ensureImages(ctx, project, services, opts.images ?? {});
  await ensureNetworks(ctx, project, usedNetworks(project, services));
  await ensureVolumes(ctx, project);

  const created = new Set<string>();
  const recreated = new Set<string>();
  await walkGraph(
    graph,
    async (name) => {
      throwIfCanceled(ctx);
      const service = project.services[name]!;
      let strategy = named.has(name) ? (opts.recreate ?? 'diverged') : (opts.recreateDependencies ?? 'diverged');
      if (strategy !== 'never' && restartDependents(project, recreated, name)) strategy = 'force';
      const existing = all.filter((c) => serviceOf(c) === name);
      const plan = planService(existing, {
        expected: serviceScale(service, opts.scale?.[name]),
        configHash: serviceConfigHash(service),
        imageId: imageIds.get(name),
        strategy,
      });
      if (plan.recreate.length) recreated.add(name);
      await forEachLimited(plan.remove, ctx.parallel, async (c) => {
        await stopContainer(ctx, c, opts.timeout);
        await removeContainer(ctx, c, { volumes: false });
      });
      for (const c of plan.keep) if (c.State === 'running') ctx.progress.event({ id: containerEventId(canonicalName(c)), status: 'Running', done: true });
      await forEachLimited(plan.recreate, ctx.parallel, async (c) => {
        created.add(await recreateContainer(ctx, project, service, c, imageIds.get(name), opts.timeout, !opts.renewAnonVolumes));
      });
      await forEachLimited(plan.create, ctx.parallel, async (n) => {
        created.add(await createContainer(ctx, project, service, n, imageIds.get(name)));
      });
    },
    { parallel: ctx.parallel },
  );
  return { graph, created };
}

/**
 * Creates replica `number` of `service` and connects its extra networks. A failure removes
 * what was made, so no half-configured container is left.
 */
export async function createContainer(
  ctx: ComposeContext,
  project: ComposeProject,
  service: ServiceConfig,
  number: number,
  imageId: string | undefined,
  extraLabels: Record<string, string> = {},
  report = true,
  inherit: OldMount[] = [],
): Promise<string> {
  const name = containerName(project, service, number);
  const eventId = containerEventId(name);
  if (report) ctx.progress.event({ id: eventId, status: 'Creating' });
  let id: string | undefined;
  try {
    const req = containerCreateRequest(project, service, { number, name, imageDigest: imageId });
    const labels = (req.body.Labels ?? {}) as Record<string, string>;
    if (imageId && !labels[LABEL.image]) labels[LABEL.image] = imageId;
    if (!labels[LABEL.dependsOn]) labels[LABEL.dependsOn] = dependsOnLabel(service);
    Object.assign(labels, extraLabels);
    req.body.Labels = labels;
    inheritAnonymousVolumes(req.body, inherit);
    const res = await ctx.client.json<{ Id: string }>('POST', '/containers/create', { query: { name: req.name, platform: req.platform }, json: req.body });
    id = res.Id;
    if (req.files?.length) {
      // Secrets and configs from `environment:`/`content:`: written in before the first start.
      const archive = await injectedFilesArchive(req.files);
      await ctx.client
        .request('PUT', `/containers/${id}/archive`, { query: { path: '/', copyUIDGID: injectedFilesKeepOwner(req.files) ? '1' : undefined }, body: archive, headers: { 'Content-Type': 'application/x-tar' } })
        .then((r) => r.resume());
    }
    for (const extra of req.extraNetworks) {
      const body = 'EndpointConfig' in extra.endpoint ? { ...extra.endpoint, Container: id } : { Container: id, EndpointConfig: extra.endpoint };
      await ctx.client.request('POST', `/networks/${encodeURIComponent(extra.network)}/connect`, { json: body }).then((r) => r.resume());
    }
  } catch (err) {
    ctx.progress.event({ id: eventId, status: 'Error', text: errorText(err), error: true });
    if (id) await ctx.client.request('DELETE', `/containers/${id}`, { query: { force: '1', v: '1' } }).then((r) => r.resume(), () => undefined);
    throw err;
  }
  if (report) ctx.progress.event({ id: eventId, status: 'Created', done: true });
  return id;
}

/** docker compose's depends_on label: "svc:condition:restart,...". */
function dependsOnLabel(service: ServiceConfig): string {
  return Object.entries(service.depends_on ?? {})
    .map(([dep, c]) => `${dep}:${c.condition}:${c.restart === true}`)
    .join(',');
}

/**
 * docker compose's recreate: stop the old container, rename it `<id12>_<name>`, create the new
 * one, remove the old. If creating fails, the old one gets its name back (and is left stopped).
 */
async function recreateContainer(
  ctx: ComposeContext,
  project: ComposeProject,
  service: ServiceConfig,
  old: ContainerSummary,
  imageId: string | undefined,
  timeout: number | undefined,
  inherit: boolean,
): Promise<string> {
  const name = canonicalName(old);
  const eventId = containerEventId(name);
  ctx.progress.event({ id: eventId, status: 'Recreate' });
  const oldMounts = inherit ? ((await ctx.client.json<{ Mounts?: OldMount[] }>('GET', `/containers/${old.Id}/json`)).Mounts ?? []) : [];
  await stopContainer(ctx, old, timeout, false);
  const tmpName = `${old.Id.slice(0, 12)}_${name}`;
  await ctx.client.request('POST', `/containers/${old.Id}/rename`, { query: { name: tmpName } }).then((r) => r.resume());
  const number = Number(old.Labels[LABEL.containerNumber]) || 1;
  let id: string;
  try {
    id = await createContainer(ctx, project, service, number, imageId, { [LABEL.replace]: old.Id }, false, oldMounts);
  } catch (err) {
    await ctx.client.request('POST', `/containers/${old.Id}/rename`, { query: { name } }).then((r) => r.resume(), () => undefined);
    throw err;
  }
  // Anonymous volumes the new container took over stay; the others go with the old container.
  const kept = new Set((await ctx.client.json<{ Mounts?: OldMount[] }>('GET', `/containers/${id}/json`)).Mounts?.map((m) => m.Name) ?? []);
  const before = inherit ? oldMounts : ((await ctx.client.json<{ Mounts?: OldMount[] }>('GET', `/containers/${old.Id}/json`)).Mounts ?? []);
  await ctx.client.request('DELETE', `/containers/${old.Id}`, { query: { force: '1' } }).then((r) => r.resume());
  for (const m of before) {
    if (m.Type !== 'volume' || !m.Name || kept.has(m.Name) || !isAnonymousName(m.Name, project)) continue;
    await ctx.client.request('DELETE', `/volumes/${m.Name}`).then((r) => r.resume(), () => undefined);
  }
  ctx.progress.event({ id: eventId, status: 'Recreated', done: true });
  return id;
}

export interface StartOptions {
  /** Containers made by this run: removed if their start fails (nothing half-made is left). */
  created?: Set<string>;
}

/**
 * The start phase: in dependency order, each service waits for its depends_on conditions, then
 * its containers that are not running are started.
 */
export async function startServices(ctx: ComposeContext, project: ComposeProject, graph: ServiceGraph, opts: StartOptions = {}): Promise<void> {
  const all = await projectContainers(ctx, project.name, { all: true, oneoff: false });
  await walkGraph(
    graph,
    async (name) => {
      throwIfCanceled(ctx);
      const service = project.services[name]!;
      const deps = Object.fromEntries(Object.entries(service.depends_on ?? {}).filter(([d]) => graph.deps.has(d)));
      await waitDependencies(ctx, project, deps);
      const mine = all.filter((c) => serviceOf(c) === name && c.State !== 'running');
      await forEachLimited(mine, ctx.parallel, (c) => startContainer(ctx, c, opts.created?.has(c.Id) ?? false));
    },
    { parallel: ctx.parallel },
  );
}

/** Starts a container; one this run made that fails to start is removed again. */
export async function startContainer(ctx: ComposeContext, c: ContainerSummary, removeOnFailure: boolean): Promise<void> {
  const eventId = containerEventId(canonicalName(c));
  ctx.progress.event({ id: eventId, status: 'Starting' });
  try {
    await ctx.client.request('POST', `/containers/${c.Id}/start`).then((r) => r.resume());
  } catch (err) {
    ctx.progress.event({ id: eventId, status: 'Error', text: errorText(err), error: true });
    if (removeOnFailure) await ctx.client.request('DELETE', `/containers/${c.Id}`, { query: { force: '1', v: '1' } }).then((r) => r.resume(), () => undefined);
    throw err;
  }
  ctx.progress.event({ id: eventId, status: 'Started', done: true });
}

/** A mount as GET /containers/{id}/json lists it. */
export interface OldMount {
  Type: string;
  Name?: string;
  Source?: string;
  Destination: string;
  RW?: boolean;
}

/** A volume name Docker generated (64 hex digits) that is none of the project's named volumes. */
function isAnonymousName(name: string, project: ComposeProject): boolean {
  return /^[0-9a-f]{64}$/.test(name) && !Object.values(project.volumes).some((v) => v.name === name);
}

/**
 * docker compose's inheritance on recreate: an anonymous volume of the service (a volume mount
 * without a source) takes the old container's volume at the same target, so its data survives.
 */
export function inheritAnonymousVolumes(body: Record<string, unknown>, old: OldMount[]): void {
  const host = body.HostConfig as { Mounts?: Array<{ Type?: string; Source?: string; Target?: string }> } | undefined;
  for (const m of host?.Mounts ?? []) {
    if (m.Type !== 'volume' || m.Source || !m.Target) continue;
    const prev = old.find((o) => o.Type === 'volume' && o.Name && o.Destination.replace(/\/+$/, '') === m.Target!.replace(/\/+$/, ''));
    if (prev) m.Source = prev.Name;
  }
}

/** Ctrl-C during convergence: no further service is touched. */
function throwIfCanceled(ctx: ComposeContext): void {
  if (ctx.signal?.aborted) throw new ComposeError('canceled');
}
