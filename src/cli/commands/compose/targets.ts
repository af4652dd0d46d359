/**
 * Finding the containers a compose command acts on, with docker compose's messages when there
 * are none: `no such service: x`, `service "web" is not running`, and its progress names.
 */
import type { ComposeProject } from '../../../compose/index.js';
import type { ComposeContext, ProgressEvent } from '../../../compose/engine/types.js';
import { LABEL } from '../../../compose/engine/labels.js';
import { CliError } from '../../errors.js';
import { canonicalName, isOneoff, numberOf, projectContainers, serviceOf, type ContainerSummary } from './project-containers.js';

/** docker compose's check of services named on the command line against the file. */
export function assertServices(project: ComposeProject | undefined, services: string[]): void {
  if (!project) return;
  for (const s of services) if (!project.services[s]) throw new CliError(`no such service: ${s}`);
}

/** Only the containers of services the file declares (when there is a file), as docker compose filters them. */
export function declaredOnly(project: ComposeProject | undefined, containers: ContainerSummary[]): ContainerSummary[] {
  if (!project) return containers;
  return containers.filter((c) => !!project.services[serviceOf(c)]);
}

/**
 * The one container of `service` a command acts on (docker compose's getSpecifiedContainer):
 * replica `index` when given, else the lowest-numbered one, one-off containers last.
 */
export async function specifiedContainer(
  ctx: ComposeContext,
  project: string,
  service: string,
  opts: { index?: number; all?: boolean; oneoff?: boolean },
): Promise<ContainerSummary> {
  let list = await projectContainers(ctx, project, { all: opts.all, oneoff: opts.oneoff, services: [service] });
  if (opts.index) list = list.filter((c) => c.Labels?.[LABEL.containerNumber] === String(opts.index));
  if (list.length === 0) {
    if (opts.index) throw new CliError(`service ${JSON.stringify(service)} is not running container #${opts.index}`);
    throw new CliError(`service ${JSON.stringify(service)} is not running`);
  }
  list.sort((a, b) => {
    if (isOneoff(a) || isOneoff(b)) return Number(isOneoff(a)) - Number(isOneoff(b));
    return numberOf(a) - numberOf(b);
  });
  return list[0]!;
}

/** "Container demo-web-1", the resource name docker compose's progress shows. */
export function progressName(c: ContainerSummary): string {
  return `Container ${canonicalName(c)}`;
}

/**
 * Runs `op` on every container at once with docker compose's progress lines around it
 * (`working` then `done`, or an error line), and fails with the first error.
 */
export async function forEachContainer(
  ctx: ComposeContext,
  containers: ContainerSummary[],
  words: { working?: string; done: string; failed?: string },
  op: (c: ContainerSummary) => Promise<void>,
): Promise<void> {
  const event = (e: ProgressEvent) => ctx.progress.event(e);
  const results = await Promise.allSettled(
    containers.map(async (c) => {
      const id = progressName(c);
      if (words.working) event({ id, status: words.working });
      try {
        await op(c);
      } catch (err) {
        event({ id, status: 'Error', text: words.failed ?? (err as Error).message, error: true });
        throw err;
      }
      event({ id, status: words.done, done: true });
    }),
  );
  ctx.progress.close();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
