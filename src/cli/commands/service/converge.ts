/**
 * Waiting for a service to converge after create/update/scale/rollback, as the docker CLI does without
 * --detach: the running tasks counted against the desired ones, then "verify: Service <id> converged".
 * On a terminal the progress line is redrawn in place; otherwise only the final lines are printed.
 * An update that pauses or a rollback that ends in failure ends the wait with the daemon's message.
 */
import type { Cli } from '../../streams.js';
import { CliError } from '../../errors.js';
import { filtersParam } from '../common.js';
import type { Service, SwarmNode, Task } from '../../../swarm/types.js';
import { sleep } from '../../../lib/sleep.js';

export async function waitConverged(cli: Cli, serviceId: string, opts: { quiet: boolean; rollback?: boolean; pollMs?: number }): Promise<void> {
  const tty = Boolean((cli.out as { isTTY?: boolean }).isTTY) && !opts.quiet;
  let lastLine = '';
  for (;;) {
    const s = await cli.client().json<Service>('GET', `/services/${serviceId}`);
    const tasks = (await cli.client().json<Task[]>('GET', '/tasks', { query: { filters: filtersParam([], [['service', serviceId], ['desired-state', 'running']]) } })) ?? [];
    let desired: number;
    if (s.Spec.Mode.Replicated) desired = s.Spec.Mode.Replicated.Replicas ?? 1;
    else if (s.Spec.Mode.Global) {
      const nodes = (await cli.client().json<SwarmNode[]>('GET', '/nodes')) ?? [];
      desired = nodes.filter((n) => n.Status?.State === 'ready' && n.Spec?.Availability === 'active').length;
    } else return; // jobs: docker's progress for jobs counts completions; not waited for here
    const version = s.Version.Index;
    const current = tasks.filter((t) => t.Status?.State === 'running' && (t.BerthSpecVersion === undefined || !s.UpdateStatus || s.UpdateStatus.State.endsWith('completed') || t.BerthSpecVersion <= version)).length;
    const state = s.UpdateStatus?.State;
    const line = `overall progress: ${Math.min(current, desired)} out of ${desired} tasks`;
    if (tty && line !== lastLine) cli.out.write(`\r\x1b[2K${line}`);
    lastLine = line;
    if (state === 'paused' || state === 'rollback_paused') {
      if (tty) cli.out.write('\n');
      throw new CliError(s.UpdateStatus?.Message ?? `update ${state}`);
    }
    const updating = state === 'updating' || state === 'rollback_started';
    if (!updating && current >= desired) {
      if (!opts.quiet) cli.out.write(`${tty ? '\n' : `${line}\n`}verify: Service ${serviceId} converged \n`);
      return;
    }
    await sleep(opts.pollMs ?? 300);
  }
}
