/**
 * The project's containers as the daemon lists them (by the com.docker.compose.project label),
 * and the small facts the engine reads off a container summary.
 */
import { LABEL, projectFilter } from './labels.js';
import type { ComposeContext } from './types.js';

/** The fields of GET /containers/json the engine reads. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID?: string;
  State: string;
  Status?: string;
  Created?: number;
  Labels: Record<string, string>;
  [key: string]: unknown;
}

export interface ProjectContainersOptions {
  /** Stopped containers too (docker's `all`). */
  all?: boolean;
  /** true: only `compose run` containers; false: none of them; absent: both. */
  oneoff?: boolean;
  /** Only these services' containers. */
  services?: string[];
}

/** The project's containers, sorted by name as docker compose sorts them (`ps`, `stop`, ...). */
export async function projectContainers(ctx: ComposeContext, projectName: string, opts: ProjectContainersOptions = {}): Promise<ContainerSummary[]> {
  const labels = [projectFilter(projectName)];
  if (opts.oneoff !== undefined) labels.push(`${LABEL.oneoff}=${opts.oneoff ? 'True' : 'False'}`);
  if (opts.services?.length === 1) labels.push(`${LABEL.service}=${opts.services[0]}`);
  const list = await ctx.client.json<ContainerSummary[]>('GET', '/containers/json', {
    query: { all: opts.all ? '1' : undefined, filters: JSON.stringify({ label: labels }) },
  });
  const wanted = opts.services && opts.services.length > 1 ? new Set(opts.services) : undefined;
  return (list ?? [])
    .filter((c) => !wanted || wanted.has(serviceOf(c)))
    .sort((a, b) => (canonicalName(a) < canonicalName(b) ? -1 : canonicalName(a) > canonicalName(b) ? 1 : 0));
}

/** The container's own name (not a link alias), without the leading slash. */
export function canonicalName(c: Pick<ContainerSummary, 'Names' | 'Id'>): string {
  const names = c.Names ?? [];
  const own = names.find((n) => n.lastIndexOf('/') === 0) ?? names[0];
  return own ? own.replace(/^\//, '') : c.Id.slice(0, 12);
}

export function serviceOf(c: ContainerSummary): string {
  return c.Labels?.[LABEL.service] ?? '';
}

export function numberOf(c: ContainerSummary): number {
  const n = Number(c.Labels?.[LABEL.containerNumber]);
  return Number.isFinite(n) ? n : 0;
}

export function isOneoff(c: ContainerSummary): boolean {
  return c.Labels?.[LABEL.oneoff] === 'True';
}

/** "Container p-web-1": how progress lines name a container. */
export function containerEventId(name: string): string {
  return `Container ${name}`;
}
