/**
 * The command tree: what `berth` accepts, with docker's names, aliases and grouping. Several
 * commands appear twice (`berth images` and `berth image ls`) as docker has them.
 */
import type { CommandDef, FlagDef } from '../args.js';
import { importCommand, loadCommand, saveCommand } from './archive.js';
import { dfCommand } from './df.js';
import { eventsCommand } from './events.js';
import { historyCommand } from './history.js';
import { listCommand, pruneCommand, rmCommand, tagCommand } from './images.js';
import { infoCommand } from './info.js';
import { imageInspectCommand, inspectCommand } from './inspect.js';
import { versionCommand } from './version.js';

export const GLOBAL_FLAGS: FlagDef[] = [
  { name: 'debug', short: 'D', type: 'bool', usage: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', usage: 'Daemon socket to connect to' },
  {
    name: 'log-level',
    short: 'l',
    type: 'string',
    default: 'info',
    usage: 'Set the logging level ("debug", "info", "warn", "error", "fatal")',
  },
  { name: 'version', short: 'v', type: 'bool', usage: 'Print version information and quit' },
];

const imageCommand: CommandDef = {
  name: 'image',
  short: 'Manage images',
  group: 'management',
  subcommands: [
    historyCommand('history'),
    importCommand('import'),
    imageInspectCommand,
    loadCommand('load'),
    listCommand('ls', ['list']),
    pruneCommand,
    rmCommand('rm', ['rmi', 'remove']),
    saveCommand('save'),
    tagCommand('tag'),
  ],
};

const systemCommand: CommandDef = {
  name: 'system',
  short: 'Manage Berth',
  group: 'management',
  subcommands: [dfCommand, eventsCommand('events'), infoCommand('info')],
};

export const rootCommand: CommandDef = {
  name: 'berth',
  usage: '[OPTIONS] COMMAND [ARG...]',
  short: 'A self-sufficient runtime for containers',
  flags: GLOBAL_FLAGS,
  subcommands: [
    // Common commands, in docker's order.
    { ...listCommand('images'), group: 'common' },
    versionCommand,
    infoCommand('info', 'common'),
    // Management commands.
    imageCommand,
    systemCommand,
    // Top-level shortcuts.
    eventsCommand('events'),
    historyCommand('history'),
    importCommand('import'),
    inspectCommand,
    loadCommand('load'),
    rmCommand('rmi'),
    saveCommand('save'),
    tagCommand('tag'),
  ],
};
