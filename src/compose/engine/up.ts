/**
 * `up` after convergence: `--wait` (every container running, or healthy when it has a
 * healthcheck), and attached mode: the containers' output followed until they exit, with
 * --abort-on-container-exit / --exit-code-from and a graceful stop on Ctrl-C.
 */
import type { ComposeProject } from '../types.js';
import { ComposeError } from '../errors.js';
import { StdDemuxer } from '../../cli/stdcopy.js';
import { canonicalName, containerEventId, projectContainers, serviceOf, type ContainerSummary } from './containers.js';
import { servicesHealthy, sleep } from './conditions.js';
import { forEachLimited } from './graph.js';
import type { ComposeContext } from './types.js';

/**
 * `up --wait`: waits until every container of `services` is running, or healthy when it has a
 * healthcheck; `timeoutSeconds` > 0 bounds the wait (docker compose's "application not healthy
 * after ...").
 */
export async function waitForProject(ctx: ComposeContext, project: ComposeProject, services: string[], timeoutSeconds = 0): Promise<void> {
  const containers = (await projectContainers(ctx, project.name, { all: true, oneoff: false })).filter((c) => services.includes(serviceOf(c)));
  const deadline = timeoutSeconds > 0 ? Date.now() + timeoutSeconds * 1000 : Infinity;
  await Promise.all(
    containers.map(async (c) => {
      const id = containerEventId(canonicalName(c));
      ctx.progress.event({ id, status: 'Waiting' });
      for (;;) {
        let healthy: boolean;
        try {
          healthy = await servicesHealthy(ctx, [c], true);
        } catch (err) {
          ctx.progress.event({ id, status: 'Error', text: (err as Error).message, error: true });
          throw err;
        }
        if (healthy) {
          ctx.progress.event({ id, status: 'Healthy', done: true });
          return;
        }
        if (Date.now() > deadline) {
          ctx.progress.event({ id, status: 'Error', error: true });
          throw new ComposeError(`application not healthy after ${goSeconds(timeoutSeconds)}`);
        }
        await sleep(300, ctx.signal);
      }
    }),
  );
}

/** Go's Duration.String() for whole seconds ("10s", "1m30s"). */
function goSeconds(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${sec}s`;
}

/** Where attached mode sends what it reads (the CLI's log printer). */
export interface LogConsumer {
  /** The containers about to be followed, before any line. */
  register(names: string[]): void;
  /** One line (without its newline) from container `name`. */
  line(name: string, service: string, stream: 'stdout' | 'stderr', text: string): void;
  /** `web-1 exited with code 0` */
  exited(name: string, code: number): void;
  /** A line of compose's own (Aborting on container exit..., Gracefully stopping...). */
  info(text: string): void;
}

export interface AttachOptions {
  /** Services whose containers are followed. */
  services: string[];
  /** --abort-on-container-exit (implied by --exit-code-from). */
  abortOnExit?: boolean;
  /** --abort-on-container-failure */
  abortOnFailure?: boolean;
  exitCodeFrom?: string;
  /** -t for the stop that ends the session. */
  timeout?: number;
  /** --timestamps: each line after its RFC 3339 time, as the daemon gives it. */
  timestamps?: boolean;
}

/** The name attached mode prefixes lines with: the container name without `<project>-`. */
export function logName(projectName: string, containerName: string): string {
  return containerName.startsWith(`${projectName}-`) ? containerName.slice(projectName.length + 1) : containerName;
}

/**
 * Follows the containers' output until they all exit, or until one exits with abortOnExit, or
 * until ctx.signal aborts (Ctrl-C): then the project's containers are stopped. Resolves with
 * up's exit code.
 */
export async function attachProject(ctx: ComposeContext, project: ComposeProject, consumer: LogConsumer, opts: AttachOptions): Promise<number> {
  const containers = (await projectContainers(ctx, project.name, { all: true, oneoff: false })).filter((c) => opts.services.includes(serviceOf(c)));
  consumer.register(containers.map((c) => logName(project.name, canonicalName(c))));
  let exitCode = 0;
  let exitCodeSet = false;
  let stopping: Promise<void> | undefined;
  const stopAll = (reason: string) => {
    if (stopping) return stopping;
    consumer.info(reason);
    stopping = stopContainers(ctx, project, opts.timeout);
    return stopping;
  };
  const abort = () => void stopAll('Gracefully stopping... (press Ctrl+C again to force)').catch(() => undefined);
  ctx.signal?.addEventListener('abort', abort, { once: true });
  try {
    await Promise.all(
      containers.map(async (c) => {
        const name = logName(project.name, canonicalName(c));
        const code = await follow(ctx, c, !!opts.timestamps, (stream, text) => consumer.line(name, serviceOf(c), stream, text));
        consumer.exited(name, code);
        const service = serviceOf(c);
        if (opts.exitCodeFrom ? service === opts.exitCodeFrom && !exitCodeSet : (opts.abortOnExit || (opts.abortOnFailure && code !== 0)) && !exitCodeSet) {
          exitCode = code;
          exitCodeSet = true;
        }
        if (!stopping && !ctx.signal?.aborted && (opts.abortOnExit || (opts.abortOnFailure && code !== 0))) {
          await stopAll('Aborting on container exit...');
        }
      }),
    );
    if (stopping) await stopping;
  } finally {
    ctx.signal?.removeEventListener('abort', abort);
  }
  if (ctx.signal?.aborted) return 130;
  return exitCode;
}

/** Streams one container's output line by line until it ends; resolves with its exit code. */
async function follow(ctx: ComposeContext, c: ContainerSummary, timestamps: boolean, onLine: (stream: 'stdout' | 'stderr', text: string) => void): Promise<number> {
  const info = await ctx.client.json<{ Config?: { Tty?: boolean } }>('GET', `/containers/${c.Id}/json`);
  const res = await ctx.client.request('GET', `/containers/${c.Id}/logs`, { query: { follow: '1', stdout: '1', stderr: '1', timestamps: timestamps ? '1' : undefined } });
  const pending = { stdout: '', stderr: '' };
  const take = (stream: 'stdout' | 'stderr') => (b: Buffer) => {
    pending[stream] += b.toString('utf8');
    let nl: number;
    while ((nl = pending[stream].indexOf('\n')) >= 0) {
      onLine(stream, pending[stream].slice(0, nl).replace(/\r$/, ''));
      pending[stream] = pending[stream].slice(nl + 1);
    }
  };
  const demux = info.Config?.Tty ? undefined : new StdDemuxer(take('stdout'), take('stderr'));
  for await (const chunk of res) {
    if (demux) demux.push(chunk as Buffer);
    else take('stdout')(chunk as Buffer);
  }
  for (const stream of ['stdout', 'stderr'] as const) if (pending[stream]) onLine(stream, pending[stream]);
  const waited = await ctx.client.json<{ StatusCode: number }>('POST', `/containers/${c.Id}/wait`);
  return waited?.StatusCode ?? 0;
}

/** Stops every running container of the project (dependents are not waited for: a session ends). */
async function stopContainers(ctx: ComposeContext, project: ComposeProject, timeout?: number): Promise<void> {
  const running = await projectContainers(ctx, project.name, { all: false, oneoff: false });
  await forEachLimited(running, ctx.parallel, async (c) => {
    const id = containerEventId(canonicalName(c));
    ctx.progress.event({ id, status: 'Stopping' });
    await ctx.client.request('POST', `/containers/${c.Id}/stop`, { query: { t: timeout } }).then((r) => r.resume());
    ctx.progress.event({ id, status: 'Stopped', done: true });
  });
  ctx.progress.close();
}

/** The second Ctrl-C: kill what is still running. */
export async function killProject(ctx: ComposeContext, projectName: string): Promise<void> {
  const running = await projectContainers(ctx, projectName, { all: false, oneoff: false });
  await Promise.all(running.map((c) => ctx.client.request('POST', `/containers/${c.Id}/kill`).then((r) => r.resume(), () => undefined)));
}
