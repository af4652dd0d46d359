/**
 * What convergence does to one service's containers, decided without touching the daemon (so it
 * is unit-tested): which existing containers are removed (scale down), recreated (config hash or
 * image changed, or forced), started (stopped ones), left running, and which numbers are created.
 */
import { LABEL } from './labels.js';
import { numberOf, type ContainerSummary } from './containers.js';
import type { ComposeProject, ServiceConfig } from '../types.js';

/** docker compose's recreate strategies: diverged (default), force (--force-recreate), never (--no-recreate). */
export type RecreateStrategy = 'diverged' | 'force' | 'never';

export interface ServicePlan {
  remove: ContainerSummary[];
  recreate: ContainerSummary[];
  /** Existing, up to date, not running: started in the start phase. */
  keep: ContainerSummary[];
  /** Replica numbers to create. */
  create: number[];
}

export interface PlanInput {
  expected: number;
  configHash: string;
  /** The image ID the service resolves to now (undefined: not compared). */
  imageId?: string;
  strategy: RecreateStrategy;
}

/** The replica count: --scale, else scale, else deploy.replicas, else 1. */
export function serviceScale(service: ServiceConfig, override?: number): number {
  if (override !== undefined) return override;
  if (typeof service.scale === 'number') return service.scale;
  if (typeof service.deploy?.replicas === 'number') return service.deploy.replicas;
  return 1;
}

export function mustRecreate(c: ContainerSummary, input: Omit<PlanInput, 'expected'>): boolean {
  if (input.strategy === 'never') return false;
  if (input.strategy === 'force') return true;
  if (c.Labels[LABEL.configHash] !== input.configHash) return true;
  if (input.imageId) {
    const had = c.Labels[LABEL.image] ?? c.ImageID;
    if (had && had !== input.imageId) return true;
  }
  return false;
}

export function planService(existing: ContainerSummary[], input: PlanInput): ServicePlan {
  // Obsolete ones first, then by number: scaling down removes obsolete and high numbers first.
  const ordered = [...existing].sort((a, b) => {
    const oa = mustRecreate(a, input) ? 0 : 1;
    const ob = mustRecreate(b, input) ? 0 : 1;
    return oa - ob || numberOf(a) - numberOf(b);
  });
  const plan: ServicePlan = { remove: [], recreate: [], keep: [], create: [] };
  const surplus = Math.max(ordered.length - input.expected, 0);
  // Remove the surplus from the end of the keep order: obsolete first, then the highest numbers.
  const byRemoval = [...ordered].sort((a, b) => {
    const oa = mustRecreate(a, input) ? 0 : 1;
    const ob = mustRecreate(b, input) ? 0 : 1;
    return oa - ob || numberOf(b) - numberOf(a);
  });
  const removed = new Set(byRemoval.slice(0, surplus));
  for (const c of ordered) {
    if (removed.has(c)) plan.remove.push(c);
    else if (mustRecreate(c, input)) plan.recreate.push(c);
    else plan.keep.push(c);
  }
  const used = new Set([...plan.recreate, ...plan.keep].map(numberOf));
  for (let n = 1; plan.create.length < input.expected - used.size; n++) {
    if (!used.has(n)) plan.create.push(n);
  }
  return plan;
}

/**
 * Services whose containers must be recreated because a dependency was, and their depends_on
 * asks for it (`restart: true`). Docker compose v2 recreates the whole chain; Berth only this.
 */
export function restartDependents(project: ComposeProject, recreated: Set<string>, service: string): boolean {
  const deps = project.services[service]?.depends_on ?? {};
  return Object.entries(deps).some(([dep, config]) => config.restart === true && recreated.has(dep));
}

/** Containers of the project whose service is not in the file (nor disabled by profiles). */
export function orphans(project: ComposeProject, containers: ContainerSummary[]): ContainerSummary[] {
  return containers.filter((c) => {
    const svc = c.Labels[LABEL.service] ?? '';
    if (c.Labels[LABEL.oneoff] === 'True') return false;
    return !project.services[svc] && !project.disabledServices[svc];
  });
}
