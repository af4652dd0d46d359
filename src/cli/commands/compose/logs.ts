/** `compose logs`: the project's container logs behind docker compose's prefixes, optionally followed. */
import type { CommandDef } from '../../args.js';
import { CliError } from '../../errors.js';
import { getTimestamp } from '../../gotime.js';
import { LogPrinter, startProjectLogs, useAnsi } from './log-printer.js';
import { ansiMode, composeContext, projectOrName } from './project-options.js';
import { projectContainers, serviceOf } from './project-containers.js';
import { specifiedContainer } from './targets.js';

export const logsCommand: CommandDef = {
  name: 'logs',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'View output from containers',
  flags: [
    { name: 'follow', short: 'f', type: 'bool', usage: 'Follow log output' },
    { name: 'index', type: 'int', usage: 'index of the container if service has multiple replicas' },
    { name: 'no-color', type: 'bool', usage: 'Produce monochrome output' },
    { name: 'no-log-prefix', type: 'bool', usage: "Don't print prefix in logs" },
    { name: 'since', type: 'string', usage: 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', default: 'all', usage: 'Number of lines to show from the end of the logs for each container' },
    { name: 'timestamps', short: 't', type: 'bool', usage: 'Show timestamps' },
    { name: 'until', type: 'string', usage: 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)' },
  ],
  run: async (inv, cli) => {
    const fl = inv.flags;
    const index = fl.int('index');
    if (index > 0 && inv.args.length !== 1) throw new CliError('--index requires one service to be selected');
    let services = inv.args;
    const { project, name } = projectOrName(inv, cli, services);
    // Services with `attach: false` stay quiet unless named.
    if (project && services.length === 0) {
      services = Object.values(project.services)
        .filter((s) => s.attach !== false)
        .map((s) => s.name);
    }
    const when = (flag: string) => {
      const v = fl.string(flag);
      if (v === '') return undefined;
      try {
        return getTimestamp(v, cli.now());
      } catch (err) {
        throw new CliError(`invalid value for "${flag}": ${(err as Error).message}`);
      }
    };
    const ctx = composeContext(inv, cli);
    const containers =
      index > 0
        ? [await specifiedContainer(ctx, name, services[0]!, { index, all: true, oneoff: false })]
        : (await projectContainers(ctx, name, { all: true, oneoff: false, services })).filter((c) => services.length === 0 || services.includes(serviceOf(c)));
    const printer = new LogPrinter(cli.out, cli.err, {
      color: !fl.bool('no-color') && useAnsi(ansiMode(inv, cli), cli.out),
      prefix: !fl.bool('no-log-prefix'),
    });
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    cli.signals?.on('SIGINT', onSignal);
    cli.signals?.on('SIGTERM', onSignal);
    try {
      const logs = await startProjectLogs(ctx.client, printer, {
        project: name,
        services,
        index: index || undefined,
        containers,
        follow: fl.bool('follow'),
        tail: fl.string('tail'),
        since: when('since'),
        until: when('until'),
        timestamps: fl.bool('timestamps'),
        signal: abort.signal,
      });
      await logs.done;
    } finally {
      cli.signals?.off('SIGINT', onSignal);
      cli.signals?.off('SIGTERM', onSignal);
    }
    // Interrupted: docker compose exits 130.
    if (abort.signal.aborted) return 130;
  },
};
