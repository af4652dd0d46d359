/**
 * The containers of a project as the compose commands see them, and how docker compose names
 * them on screen. `projectContainers` stands in for c-engine's export of the same name
 * (src/compose/engine/index.ts) until that is on main; the signature is the contract's.
 */
import type { ComposeContext } from '../../../compose/engine/types.js';
import { LABEL, projectFilter } from '../../../compose/engine/labels.js';
import { filtersParam } from '../common.js';
import type { ContainerSummary } from '../object-rows.js';

export type { ContainerSummary };

export interface ProjectContainersOptions {
  /** Stopped containers too (`ps -a`). */
  all?: boolean;
  /** true: only `run` containers; false: none of them; undefined: both. */
  oneoff?: boolean;
  services?: string[];
}

/** The project's containers, as docker compose's getContainers lists them (filtered by labels). */
export async function projectContainers(ctx: ComposeContext, projectName: string, opts: ProjectContainersOptions = {}): Promise<ContainerSummary[]> {
  const labels = [projectFilter(projectName)];
  if (opts.services?.length === 1) labels.push(`${LABEL.service}=${opts.services[0]}`);
  if (opts.oneoff !== undefined) labels.push(`${LABEL.oneoff}=${opts.oneoff ? 'True' : 'False'}`);
  const list = await ctx.client.json<ContainerSummary[]>('GET', '/containers/json', {
    query: { all: opts.all || undefined, filters: filtersParam(labels.map((l) => `label=${l}`)) },
  });
  const services = opts.services ?? [];
  return (list ?? []).filter((c) => services.length <= 1 || services.includes(c.Labels?.[LABEL.service] ?? ''));
}

/** The container's own name (not a link alias), as docker compose's getCanonicalContainerName. */
export function canonicalName(c: Pick<ContainerSummary, 'Id' | 'Names'>): string {
  const names = c.Names ?? [];
  if (names.length === 0) return c.Id.slice(0, 12);
  const own = names.find((n) => n.lastIndexOf('/') === 0);
  return (own ?? names[0]!).replace(/^\//, '');
}

/** `<project>-<service>-<n>`: the name docker compose gives a replica. */
export function defaultContainerName(project: string, service: string, number: string | number): string {
  return `${project}-${service}-${number}`;
}

/**
 * The name logs and `up` show: `web-1` for `demo-web-1`; a `container_name` stays whole
 * (docker compose's getContainerNameWithoutProject).
 */
export function nameWithoutProject(c: Pick<ContainerSummary, 'Id' | 'Names' | 'Labels'>): string {
  const labels = c.Labels ?? {};
  const project = labels[LABEL.project] ?? '';
  const name = canonicalName(c);
  const expected = defaultContainerName(project, labels[LABEL.service] ?? '', labels[LABEL.containerNumber] ?? '');
  return name === expected ? name.slice(project.length + 1) : name;
}

export function serviceOf(c: Pick<ContainerSummary, 'Labels'>): string {
  return c.Labels?.[LABEL.service] ?? '';
}

export function numberOf(c: Pick<ContainerSummary, 'Labels'>): number {
  return Number(c.Labels?.[LABEL.containerNumber] ?? 0) || 0;
}

export function isOneoff(c: Pick<ContainerSummary, 'Labels'>): boolean {
  return c.Labels?.[LABEL.oneoff] === 'True';
}

/** Sorted by name, as docker compose's Containers.sorted(). */
export function sortedByName<T extends Pick<ContainerSummary, 'Id' | 'Names'>>(list: T[]): T[] {
  return [...list].sort((a, b) => (canonicalName(a) < canonicalName(b) ? -1 : canonicalName(a) > canonicalName(b) ? 1 : 0));
}
