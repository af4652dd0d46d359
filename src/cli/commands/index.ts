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
import { containerInspectCommand, imageInspectCommand, inspectCommand } from './inspect.js';
import {
  containerPruneCommand,
  killCommand,
  logsCommand,
  pauseCommand,
  psCommand,
  renameCommand,
  restartCommand,
  rmCommand as containerRmCommand,
  startCommand,
  stopCommand,
  topCommand,
  unpauseCommand,
  updateCommand,
  waitCommand,
} from './containers.js';
import { createCommand, runCommand } from './run.js';
import { cpCommand } from './cp.js';
import { attachCommand, commitCommand, diffCommand, execCommand, exportCommand, statsCommand } from './interactive.js';
import { portCommand } from './run-ports.js';
import { versionCommand } from './version.js';
import { certsCommand } from './certs.js';
import { networkCommand } from './networks.js';
import { serviceCommand } from './service/index.js';
import { volumeCommand } from './volumes.js';
import { nodeCommand } from './nodes.js';
import { secretCommand } from './secrets.js';
import { configCommand } from './configs.js';
import { swarmCommand } from './swarm.js';
import { stackCommand } from './stack/index.js';
import { pullCommand, pushCommand } from './pull-push.js';
import { loginCommand, logoutCommand } from './registry-auth.js';
import { registryCommand } from './registry.js';
import { buildCommand, builderCommand } from './build.js';
import { composeCommand } from './compose/index.js';
import { tlsGlobalFlags } from '../tls.js';
import { configDir } from '../credentials.js';

export const GLOBAL_FLAGS: FlagDef[] = [
  { name: 'config', type: 'string', usage: 'Location of client config files', default: configDir(undefined, process.env) },
  { name: 'debug', short: 'D', type: 'bool', usage: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', usage: 'Daemon socket to connect to' },
  {
    name: 'log-level',
    short: 'l',
    type: 'string',
    default: 'info',
    usage: 'Set the logging level ("debug", "info", "warn", "error", "fatal")',
  },
  ...tlsGlobalFlags(process.env),
  { name: 'version', short: 'v', type: 'bool', usage: 'Print version information and quit' },
];

const imageCommand: CommandDef = {
  name: 'image',
  short: 'Manage images',
  group: 'management',
  subcommands: [
    buildCommand('build'),
    historyCommand('history'),
    importCommand('import'),
    imageInspectCommand,
    loadCommand('load'),
    listCommand('ls', ['list']),
    pruneCommand,
    pullCommand('pull'),
    pushCommand('push'),
    rmCommand('rm', ['rmi', 'remove']),
    saveCommand('save'),
    tagCommand('tag'),
  ],
};

const containerCommand: CommandDef = {
  name: 'container',
  short: 'Manage containers',
  group: 'management',
  subcommands: [
    attachCommand('attach'),
    commitCommand('commit'),
    cpCommand('cp'),
    createCommand('create'),
    diffCommand('diff'),
    execCommand('exec'),
    exportCommand('export'),
    containerInspectCommand,
    killCommand('kill'),
    logsCommand('logs'),
    psCommand('ls', ['ls', 'list', 'ps']),
    pauseCommand('pause'),
    portCommand('port'),
    containerPruneCommand,
    renameCommand('rename'),
    restartCommand('restart'),
    containerRmCommand('rm', ['rm', 'remove']),
    runCommand('run'),
    startCommand('start'),
    statsCommand('stats'),
    stopCommand('stop'),
    topCommand('top'),
    unpauseCommand('unpause'),
    updateCommand('update'),
    waitCommand('wait'),
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
    { ...runCommand('run'), group: 'common' },
    { ...execCommand('exec'), group: 'common' },
    { ...psCommand('ps'), group: 'common' },
    { ...buildCommand('build'), group: 'common' },
    { ...pullCommand('pull'), group: 'common' },
    { ...pushCommand('push'), group: 'common' },
    { ...listCommand('images'), group: 'common' },
    { ...loginCommand('login'), group: 'common' },
    { ...logoutCommand('logout'), group: 'common' },
    versionCommand,
    infoCommand('info', 'common'),
    // Management commands.
    builderCommand,
    composeCommand,
    configCommand,
    containerCommand,
    imageCommand,
    networkCommand,
    nodeCommand,
    secretCommand,
    serviceCommand,
    stackCommand,
    swarmCommand,
    systemCommand,
    volumeCommand,
    certsCommand,
    registryCommand,
    // Top-level shortcuts.
    attachCommand('attach'),
    commitCommand('commit'),
    cpCommand('cp'),
    createCommand('create'),
    diffCommand('diff'),
    eventsCommand('events'),
    exportCommand('export'),
    historyCommand('history'),
    importCommand('import'),
    inspectCommand,
    killCommand('kill'),
    loadCommand('load'),
    logsCommand('logs'),
    pauseCommand('pause'),
    portCommand('port'),
    renameCommand('rename'),
    restartCommand('restart'),
    containerRmCommand('rm'),
    rmCommand('rmi'),
    saveCommand('save'),
    startCommand('start'),
    statsCommand('stats'),
    stopCommand('stop'),
    tagCommand('tag'),
    topCommand('top'),
    unpauseCommand('unpause'),
    updateCommand('update'),
    waitCommand('wait'),
  ],
};
