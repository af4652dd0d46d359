/**
 * `config create|inspect|ls|rm`: POST /configs/create, GET /configs/{id}, GET /configs,
 * DELETE /configs/{id}, with docker's flags, columns and messages (cli/command/config).
 */
import type { CommandDef } from '../args.js';
import { CliError } from '../errors.js';
import { filtersParam, inspectFormatFlag, keyValuePairs } from './common.js';
import { formatObjectList, inspectObjects, labelFlag, labelLines, listFlags, prettyTime, readObjectData, removeObjects, type SwarmObjectSummary } from './secrets.js';

/** `config inspect --pretty` (docker's configInspectPrettyTemplate), with its newline. */
export function prettyConfig(c: SwarmObjectSummary): string {
  const data = c.Spec?.Data ? Buffer.from(c.Spec.Data, 'base64').toString('utf8') : '';
  return `ID:\t\t\t${c.ID}\nName:\t\t\t${c.Spec?.Name ?? ''}${labelLines(c.Spec?.Labels)}\nCreated at:            \t${prettyTime(c.CreatedAt)}\nUpdated at:            \t${prettyTime(c.UpdatedAt)}\nData:\n${data}\n`;
}

const createCommand: CommandDef = {
  name: 'create',
  usage: '[OPTIONS] CONFIG file|-',
  short: 'Create a config from a file or STDIN',
  args: { min: 2, max: 2 },
  flags: [labelFlag('Config labels'), { name: 'template-driver', type: 'string', usage: 'Template driver' }],
  run: async (inv, cli) => {
    const f = inv.flags;
    const [name, file] = inv.args as [string, string];
    let data: Buffer;
    try {
      data = await readObjectData(cli, file, 'config');
    } catch (err) {
      throw new CliError(`error reading content from ${JSON.stringify(file)}: ${(err as Error).message}`);
    }
    const spec = {
      Name: name,
      Labels: keyValuePairs(f.list('label')),
      Data: data.toString('base64'),
      ...(f.string('template-driver') ? { Templating: { Name: f.string('template-driver') } } : {}),
    };
    const created = await cli.client().json<{ ID: string }>('POST', '/configs/create', { json: spec });
    cli.out.write(`${created.ID}\n`);
  },
};

const inspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] CONFIG [CONFIG...]',
  short: 'Display detailed information on one or more configs',
  args: { min: 1 },
  flags: [
    inspectFormatFlag('f'),
    { name: 'pretty', type: 'bool', usage: 'Print the information in a human friendly format' },
  ],
  run: async (inv, cli) => {
    const format = inv.flags.bool('pretty') ? 'pretty' : inv.flags.string('format');
    await inspectObjects(cli, 'configs', inv.args, format, prettyConfig);
  },
};

const lsCommand: CommandDef = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  short: 'List configs',
  aliasPaths: ['config ls', 'config list'],
  args: { max: 0 },
  flags: listFlags,
  run: async (inv, cli) => {
    const f = inv.flags;
    const items = (await cli.client().json<SwarmObjectSummary[] | null>('GET', '/configs', { query: { filters: filtersParam(f.list('filter')) } })) ?? [];
    cli.out.write(formatObjectList(items, { format: f.string('format'), quiet: f.bool('quiet'), nowMs: cli.now(), kind: 'config' }));
  },
};

const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'CONFIG [CONFIG...]',
  short: 'Remove one or more configs',
  aliasPaths: ['config rm', 'config remove'],
  args: { min: 1 },
  run: async (inv, cli) => removeObjects(cli, 'configs', inv.args),
};

export const configCommand: CommandDef = {
  name: 'config',
  short: 'Manage Swarm configs',
  group: 'management',
  subcommands: [createCommand, inspectCommand, lsCommand, rmCommand],
};
