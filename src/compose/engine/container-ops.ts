/** Stopping and removing one container, with docker compose's progress lines. */
import { canonicalName, containerEventId, type ContainerSummary } from './containers.js';
import { errorText } from './resources.js';
import type { ComposeContext } from './types.js';

/** Stops `c` (no-op when not running). `report: false` for a stop inside a recreate. */
export async function stopContainer(ctx: ComposeContext, c: ContainerSummary, timeout?: number, report = true): Promise<void> {
  if (c.State !== 'running' && c.State !== 'restarting' && c.State !== 'paused') return;
  const id = containerEventId(canonicalName(c));
  if (report) ctx.progress.event({ id, status: 'Stopping' });
  try {
    await ctx.client.request('POST', `/containers/${c.Id}/stop`, { query: { t: timeout } }).then((r) => r.resume());
  } catch (err) {
    ctx.progress.event({ id, status: 'Error', text: errorText(err), error: true });
    throw err;
  }
  if (report) ctx.progress.event({ id, status: 'Stopped', done: true });
}

export async function removeContainer(ctx: ComposeContext, c: ContainerSummary, opts: { volumes: boolean }): Promise<void> {
  const id = containerEventId(canonicalName(c));
  ctx.progress.event({ id, status: 'Removing' });
  try {
    await ctx.client.request('DELETE', `/containers/${c.Id}`, { query: { force: '1', v: opts.volumes ? '1' : undefined } }).then((r) => r.resume());
  } catch (err) {
    ctx.progress.event({ id, status: 'Error', text: errorText(err), error: true });
    throw err;
  }
  ctx.progress.event({ id, status: 'Removed', done: true });
}
