/**
 * The containers of a project as the compose commands see them, and how docker compose names
 * them on screen, with the fields of the API's container summary the commands print.
 */
import type { ComposeContext } from '../../../compose/engine/types.js';
import { LABEL } from '../../../compose/engine/labels.js';
import { projectContainers as engineProjectContainers, type ProjectContainersOptions } from '../../../compose/engine/index.js';
import type { ContainerSummary } from '../object-rows.js';

export type { ContainerSummary };

export type { ProjectContainersOptions };

/** The project's containers (the engine's listing by label, sorted by name). */
export async function projectContainers(ctx: ComposeContext, projectName: string, opts: ProjectContainersOptions = {}): Promise<ContainerSummary[]> {
  return (await engineProjectContainers(ctx, projectName, opts)) as unknown as ContainerSummary[];
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
