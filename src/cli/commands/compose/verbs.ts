/**
 * `compose kill`, `rm`, `pause`, `unpause`: one API call per container of the project (or of
 * the services named), all at once, with docker compose's progress lines and messages.
 */
import type { CommandDef } from '../../args.js';
import { pathName } from '../../client.js';
import { DaemonError } from '../../errors.js';
import type { Cli } from '../../streams.js';
import { composeContext, projectOrName } from './project-options.js';
import { canonicalName, projectContainers, serviceOf, type ContainerSummary } from './project-containers.js';
import { declaredOnly, forEachContainer } from './targets.js';
import { stopContainer } from './engine-bridge.js';
import type { ContainerSummary as EngineContainer } from '../../../compose/engine/index.js';

function onlyServices(containers: ContainerSummary[], services: string[]): ContainerSummary[] {
  return services.length ? containers.filter((c) => services.includes(serviceOf(c))) : containers;
}

export const killCommand: CommandDef = {
  name: 'kill',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Force stop service containers',
  flags: [
    { name: 'remove-orphans', type: 'bool', usage: 'Remove containers for services not defined in the Compose file' },
    { name: 'signal', short: 's', type: 'string', default: 'SIGKILL', usage: 'SIGNAL to send to the container' },
  ],
  run: async (inv, cli) => {
    const services = inv.args;
    const { project, name } = projectOrName(inv, cli, services);
    const ctx = composeContext(inv, cli);
    let containers = onlyServices(await projectContainers(ctx, name, { services }), services);
    if (!inv.flags.bool('remove-orphans')) containers = declaredOnly(project, containers);
    if (containers.length === 0) {
      cli.err.write('no container to kill\n');
      return;
    }
    const signal = inv.flags.string('signal');
    await forEachContainer(ctx, containers, { working: 'Killing', done: 'Killed', failed: 'Error while Killing' }, async (c) => {
      (await ctx.client.request('POST', `/containers/${pathName(c.Id)}/kill`, { query: { signal } })).resume();
    });
  },
};

function pauseVerb(name: 'pause' | 'unpause'): CommandDef {
  return {
    name,
    usage: '[SERVICE...]',
    short: name === 'pause' ? 'Pause services' : 'Unpause services',
    run: async (inv, cli) => {
      const services = inv.args;
      const { project, name: projectName } = projectOrName(inv, cli, services);
      const ctx = composeContext(inv, cli);
      const containers = declaredOnly(project, onlyServices(await projectContainers(ctx, projectName, { oneoff: false, services }), services));
      await forEachContainer(ctx, containers, { done: name === 'pause' ? 'Paused' : 'Unpaused' }, async (c) => {
        (await ctx.client.request('POST', `/containers/${pathName(c.Id)}/${name}`)).resume();
      });
    },
  };
}

export const pauseCommand = pauseVerb('pause');
export const unpauseCommand = pauseVerb('unpause');

/**
 * docker compose's confirmation: survey's `? msg (y/N)` on a terminal; piped, the message
 * alone and a line read back ("y", "yes", "true", "1" mean yes).
 */
export async function promptConfirm(cli: Cli, message: string): Promise<boolean> {
  cli.out.write(cli.in.isTTY ? `? ${message} (y/N) ` : message);
  const answer = (await readAnswer(cli)).trim().toLowerCase();
  return answer === 'y' || answer === 'yes' || answer === 'true' || answer === 't' || answer === '1';
}

function readAnswer(cli: Cli): Promise<string> {
  const input = cli.in;
  return new Promise((resolve) => {
    let buf = '';
    const done = () => {
      input.off('data', onData);
      input.off('end', done);
      input.off('error', done);
      input.pause();
      resolve(buf.split('\n')[0] ?? '');
    };
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      if (buf.includes('\n')) done();
    };
    input.on('data', onData);
    input.on('end', done);
    input.on('error', done);
    input.resume();
  });
}

interface InspectRunning {
  State?: { Running?: boolean } | null;
}

export const rmCommand: CommandDef = {
  name: 'rm',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Removes stopped service containers',
  long: `Removes stopped service containers

By default, anonymous volumes attached to containers will not be removed. You
can override this with -v. To list all volumes, use "docker volume ls".

Any data which is not in a volume will be lost.`,
  flags: [
    { name: 'all', short: 'a', type: 'bool', hidden: true, usage: 'Deprecated - no effect' },
    { name: 'force', short: 'f', type: 'bool', usage: "Don't ask to confirm removal" },
    { name: 'stop', short: 's', type: 'bool', usage: 'Stop the containers, if required, before removing' },
    { name: 'volumes', short: 'v', type: 'bool', usage: 'Remove any anonymous volumes attached to containers' },
  ],
  run: async (inv, cli) => {
    const fl = inv.flags;
    const services = inv.args;
    const { project, name } = projectOrName(inv, cli, services);
    const ctx = composeContext(inv, cli);
    if (fl.bool('stop')) {
      const running = declaredOnly(project, onlyServices(await projectContainers(ctx, name, { oneoff: false, services }), services));
      await Promise.all(running.map((c) => stopContainer(ctx, c as unknown as EngineContainer)));
    }
    const containers = declaredOnly(project, onlyServices(await projectContainers(ctx, name, { all: true, oneoff: false, services }), services));
    const stopped: ContainerSummary[] = [];
    for (const c of containers) {
      try {
        const i = await ctx.client.json<InspectRunning>('GET', `/containers/${pathName(c.Id)}/json`);
        if (!i?.State?.Running) stopped.push(c);
      } catch (err) {
        if (err instanceof DaemonError && err.status === 404) continue; // already gone (auto-remove)
        throw err;
      }
    }
    if (stopped.length === 0) {
      cli.err.write('No stopped containers\n');
      return;
    }
    const message = `Going to remove ${stopped.map(canonicalName).join(', ')}`;
    if (fl.bool('force')) cli.out.write(message + '\n');
    else if (!(await promptConfirm(cli, message))) return;
    await forEachContainer(ctx, stopped, { working: 'Removing', done: 'Removed' }, async (c) => {
      (await ctx.client.request('DELETE', `/containers/${pathName(c.Id)}`, { query: { force: fl.bool('force') || undefined, v: fl.bool('volumes') || undefined } })).resume();
    });
  },
};

