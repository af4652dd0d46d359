/**
 * What the commands here take from the compose engine (src/compose/engine/), in one place:
 * `run`'s dependencies and networks, `rm -s`'s stop, `wait --down-project`'s down.
 */
import type { ComposeProject } from '../../../compose/index.js';
import type { ComposeContext } from '../../../compose/engine/types.js';
import { startDependencies as engineStartDependencies } from '../../../compose/engine/index.js';
import { ensureNetworks, ensureVolumes, usedNetworks } from '../../../compose/engine/resources.js';
import { downByName } from '../../../compose/engine/lifecycle.js';

export { stopContainer } from '../../../compose/engine/container-ops.js';

/** The networks `service` uses and the project's volumes, made when missing (`run --no-deps` too). */
export async function ensureProjectResources(ctx: ComposeContext, project: ComposeProject, service: string): Promise<void> {
  await ensureNetworks(ctx, project, usedNetworks(project, [service]));
  await ensureVolumes(ctx, project);
}

/** docker compose's run: what `service` depends on converged, started and its conditions met. */
export async function startDependencies(ctx: ComposeContext, project: ComposeProject, service: string): Promise<void> {
  await ensureProjectResources(ctx, project, service);
  await engineStartDependencies(ctx, project, service);
}

/** `wait --down-project`: docker compose's Down by name, orphans included. */
export async function downProject(ctx: ComposeContext, projectName: string): Promise<void> {
  await downByName(ctx, projectName);
  ctx.progress.close();
}
