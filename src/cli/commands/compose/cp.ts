/**
 * `compose cp`: berth's own `cp` between the local filesystem and a service's container(s):
 * to every container of the service (or replica --index), from its first one.
 */
import { PROGRAM, type CommandDef } from '../../args.js';
import { CliError } from '../../errors.js';
import { cpCommand as containerCp, splitCpArg } from '../cp.js';
import { composeContext, toProjectName } from './project-options.js';
import { canonicalName, projectContainers, serviceOf, sortedByName, type ContainerSummary } from './project-containers.js';
import { specifiedContainer } from './targets.js';
import { delegate } from './exec.js';

export const cpCommand: CommandDef = {
  name: 'cp',
  // A getter: the program's name ("berth", or "docker" for the plugin) is set after modules load.
  get usage() {
    return `[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\t${PROGRAM} compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH`;
  },
  short: 'Copy files/folders between a service container and the local filesystem',
  args: { min: 2, max: 2 },
  flags: [
    { name: 'all', type: 'bool', usage: 'Include containers created by the run command' },
    { name: 'archive', short: 'a', type: 'bool', usage: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', usage: 'Always follow symbol link in SRC_PATH' },
    { name: 'index', type: 'int', usage: 'Index of the container if service has multiple replicas' },
  ],
  run: async (inv, cli) => {
    const fl = inv.flags;
    const [source, destination] = inv.args as [string, string];
    if (source === '') throw new CliError('source can not be empty');
    if (destination === '') throw new CliError('destination can not be empty');
    const [srcService, srcPath] = splitCpArg(source);
    const [dstService, dstPath] = splitCpArg(destination);
    if (srcService && dstService) throw new CliError('copying between services is not supported');
    if (!srcService && !dstService) throw new CliError('unknown copy direction');
    const service = srcService || dstService;
    const name = toProjectName(inv, cli);
    const ctx = composeContext(inv, cli);
    let targets: ContainerSummary[];
    if (fl.int('index') > 0) {
      targets = [await specifiedContainer(ctx, name, service, { index: fl.int('index'), all: true, oneoff: false })];
    } else {
      targets = (await projectContainers(ctx, name, { all: true, oneoff: fl.bool('all') ? undefined : false, services: [service] })).filter((c) => serviceOf(c) === service);
      if (targets.length === 0) throw new CliError(`no container found for service ${JSON.stringify(service)}`);
      if (srcService) targets = sortedByName(targets).slice(0, 1);
    }
    const flags = [...(fl.bool('archive') ? ['--archive'] : []), ...(fl.bool('follow-link') ? ['--follow-link'] : []), '--quiet'];
    await Promise.all(
      targets.map(async (c) => {
        const id = canonicalName(c);
        const text = srcService ? `copy ${id}:${srcPath} to ${dstPath}` : `copy ${srcPath} to ${id}:${dstPath}`;
        ctx.progress.event({ id, status: 'Copying', text });
        const args = srcService ? [`${c.Id}:${srcPath}`, dstPath] : [srcPath, `${c.Id}:${dstPath}`];
        await delegate(containerCp('cp'), [...flags, ...args], cli);
        ctx.progress.event({ id, status: 'Copied', text, done: true });
      }),
    );
    ctx.progress.close();
  },
};
