/**
 * Waiting for depends_on conditions with the daemon's real state: service_started (running),
 * service_healthy (State.Health.Status), service_completed_successfully (exited 0), worded as
 * docker compose words their failures. `required: false` turns a failure into a warning.
 */
import type { ComposeProject, DependsOnConfig } from '../types.js';
import { ComposeError } from '../errors.js';
import { canonicalName, containerEventId, projectContainers, type ContainerSummary } from './containers.js';
import type { ComposeContext } from './types.js';

export interface InspectedState {
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; Health?: { Status: string } };
  Config: { Healthcheck?: { Test?: string[] } };
}

const POLL_MS = 300;

export async function inspectContainer(ctx: ComposeContext, id: string): Promise<InspectedState> {
  return ctx.client.json<InspectedState>('GET', `/containers/${id}/json`);
}

function hasHealthcheck(info: InspectedState): boolean {
  const test = info.Config.Healthcheck?.Test;
  return !!test && test.length > 0 && test[0] !== 'NONE';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ComposeError('canceled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new ComposeError('canceled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * true once every container is healthy (or, with `fallbackRunning`, running when it has no
 * healthcheck); false while still starting; throws for exited/unhealthy/no healthcheck.
 */
export async function servicesHealthy(ctx: ComposeContext, containers: ContainerSummary[], fallbackRunning: boolean): Promise<boolean> {
  for (const c of containers) {
    const info = await inspectContainer(ctx, c.Id);
    const name = info.Name.replace(/^\//, '');
    if (!hasHealthcheck(info) && fallbackRunning) {
      if (info.State.Status === 'exited' || info.State.Status === 'dead') throw new ComposeError(`container ${name} exited (${info.State.ExitCode})`);
      if (info.State.Status !== 'running') return false;
      continue;
    }
    if (info.State.Status === 'exited') throw new ComposeError(`container ${name} exited (${info.State.ExitCode})`);
    if (!hasHealthcheck(info)) throw new ComposeError(`container ${name} has no healthcheck configured`);
    switch (info.State.Health?.Status) {
      case 'healthy':
        continue;
      case 'unhealthy':
        throw new ComposeError(`container ${name} is unhealthy`);
      case 'starting':
      case undefined:
        return false;
      default:
        throw new ComposeError(`container ${name} had unexpected health status "${info.State.Health?.Status}"`);
    }
  }
  return true;
}

/** Whether every container exited, and the first non-zero exit code (0 when all succeeded). */
async function servicesCompleted(ctx: ComposeContext, containers: ContainerSummary[]): Promise<{ exited: boolean; code: number }> {
  let code = 0;
  for (const c of containers) {
    const info = await inspectContainer(ctx, c.Id);
    if (info.State.Status !== 'exited' && info.State.Status !== 'dead') return { exited: false, code: 0 };
    if (info.State.ExitCode !== 0 && code === 0) code = info.State.ExitCode;
  }
  return { exited: true, code };
}

/** Waits for `dependsOn`'s conditions, as docker compose's waitDependencies. */
export async function waitDependencies(ctx: ComposeContext, project: ComposeProject, dependsOn: Record<string, DependsOnConfig>): Promise<void> {
  await Promise.all(
    Object.entries(dependsOn).map(async ([dep, config]) => {
      if (config.condition === 'service_started' || !project.services[dep]) return;
      const containers = (await projectContainers(ctx, project.name, { all: true, oneoff: false, services: [dep] })).filter((c) => c.Labels);
      if (containers.length === 0) {
        if (!config.required) return;
        throw new ComposeError(`service "${dep}" has no container to wait for`);
      }
      const ids = containers.map((c) => containerEventId(canonicalName(c)));
      for (const id of ids) ctx.progress.event({ id, status: 'Waiting' });
      for (;;) {
        if (config.condition === 'service_healthy') {
          let healthy: boolean;
          try {
            healthy = await servicesHealthy(ctx, containers, false);
          } catch (err) {
            const why = (err as Error).message;
            if (!config.required) {
              for (const id of ids) ctx.progress.event({ id, status: 'Skipped', text: `optional dependency "${dep}" failed to start`, done: true });
              ctx.warn(`optional dependency "${dep}" failed to start: ${why}`);
              return;
            }
            for (const id of ids) ctx.progress.event({ id, status: 'Error', error: true });
            throw new ComposeError(`dependency failed to start: ${why}`);
          }
          if (healthy) {
            for (const id of ids) ctx.progress.event({ id, status: 'Healthy', done: true });
            return;
          }
        } else {
          const { exited, code } = await servicesCompleted(ctx, containers);
          if (exited) {
            if (code === 0) {
              for (const id of ids) ctx.progress.event({ id, status: 'Exited', done: true });
              return;
            }
            const suffix = `"${dep}" didn't complete successfully: exit ${code}`;
            if (!config.required) {
              for (const id of ids) ctx.progress.event({ id, status: 'Skipped', text: `optional dependency ${suffix}`, done: true });
              ctx.warn(`optional dependency ${suffix}`);
              return;
            }
            for (const id of ids) ctx.progress.event({ id, status: 'Error', text: `service ${suffix}`, error: true });
            throw new ComposeError(`service ${suffix}`);
          }
        }
        await sleep(POLL_MS, ctx.signal);
      }
    }),
  );
}

export { sleep };
