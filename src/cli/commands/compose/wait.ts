/**
 * `compose wait`: blocks until the services' containers stop, prints each exit as docker
 * compose does and exits with the last status; `--down-project` then takes the project down.
 */
import type { CommandDef } from '../../args.js';
import { pathName } from '../../client.js';
import { CliError } from '../../errors.js';
import { composeContext, projectOrName } from './project-options.js';
import { projectContainers, serviceOf } from './project-containers.js';
import { downProject } from './engine-bridge.js';

export const waitCommand: CommandDef = {
  name: 'wait',
  usage: 'SERVICE [SERVICE...] [OPTIONS]',
  short: 'Block until containers of all (or specified) services stop.',
  args: { min: 1 },
  flags: [{ name: 'down-project', type: 'bool', usage: 'Drops project when the first container stops' }],
  run: async (inv, cli) => {
    const services = inv.args;
    const { name } = projectOrName(inv, cli);
    const ctx = composeContext(inv, cli);
    const containers = (await projectContainers(ctx, name, { services })).filter((c) => services.includes(serviceOf(c)));
    if (containers.length === 0) throw new CliError(`no containers for project ${JSON.stringify(name)}`);
    let status = 0;
    try {
      await Promise.all(
        containers.map(async (c) => {
          const r = await ctx.client.json<{ StatusCode: number }>('POST', `/containers/${pathName(c.Id)}/wait`);
          cli.out.write(`container ${JSON.stringify(c.Id)} exited with status code ${r.StatusCode}\n`);
          status = r.StatusCode;
        }),
      );
    } catch (err) {
      // docker compose exits 42 when waiting itself failed.
      throw new CliError((err as Error).message, 42);
    }
    if (inv.flags.bool('down-project')) await downProject(ctx, name);
    return status;
  },
};
