/**
 * The compose engine's entry points for the commands: containers of a project, convergence
 * (up/create), the start phase, dependencies for `run`, and the lifecycle operations.
 */
import type { ComposeProject } from '../types.js';
import type { ComposeContext } from './types.js';
import { converge, startServices } from './converge.js';
import { waitDependencies } from './conditions.js';
import { ensureNetworks, ensureVolumes, usedNetworks } from './resources.js';

export { projectContainers, canonicalName, serviceOf, numberOf, isOneoff, type ContainerSummary, type ProjectContainersOptions } from './containers.js';
export { converge, startServices, createContainer, startContainer, type ConvergeOptions } from './converge.js';
export { waitDependencies, servicesHealthy } from './conditions.js';
export { buildGraph, dependencyOrder, walkGraph } from './graph.js';

/**
 * What `compose run SERVICE` needs first: the service's depends_on converged (created or
 * recreated as `up` would, their own dependencies too), started in dependency order, and their
 * conditions met (service_healthy, service_completed_successfully).
 */
export async function startDependencies(ctx: ComposeContext, project: ComposeProject, serviceName: string): Promise<void> {
  const service = project.services[serviceName];
  if (!service) return;
  const deps = Object.keys(service.depends_on ?? {}).filter((d) => project.services[d]);
  if (deps.length) {
    const { graph, created } = await converge(ctx, project, { services: deps, ignoreOrphans: true });
    await startServices(ctx, project, graph, { created });
  }
  const own = Object.fromEntries(Object.entries(service.depends_on ?? {}).filter(([d]) => project.services[d]));
  await waitDependencies(ctx, project, own);
}

export { startProject, stopProject, restartProject, downProject, downByName, type DownOptions } from './lifecycle.js';
export { waitForProject, attachProject, killProject, type LogConsumer, type AttachOptions } from './up.js';
export { ensureNetworks, ensureVolumes } from './resources.js';

/** The project's networks and volumes, made when missing (what `run --no-deps` still needs). */
export async function ensureProjectResources(ctx: ComposeContext, project: ComposeProject, services: string[] = Object.keys(project.services)): Promise<void> {
  await ensureNetworks(ctx, project, usedNetworks(project, services));
  await ensureVolumes(ctx, project);
}
