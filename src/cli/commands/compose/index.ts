/**
 * `berth compose`: docker compose's command tree. The subcommands come from several modules
 * (lifecycle, images, the rest here); the persistent flags are project-options.ts's.
 */
import type { CommandDef } from '../../args.js';
import { composeFlags } from './project-options.js';
import { lifecycleCommands } from './lifecycle.js';
import { imageCommands } from './image-commands.js';
import { psCommand } from './ps.js';
import { lsCommand } from './ls.js';
import { logsCommand } from './logs.js';
import { execCommand } from './exec.js';
import { runCommand } from './run.js';
import { killCommand, pauseCommand, rmCommand, unpauseCommand } from './verbs.js';
import { topCommand } from './top.js';
import { portCommand } from './port.js';
import { imagesCommand } from './images.js';
import { eventsCommand } from './events.js';
import { cpCommand } from './cp.js';
import { waitCommand } from './wait.js';
import { versionCommand } from './version.js';
import { configCommand } from './config.js';


/** The commands of this module (all but the lifecycle and image ones). */
export function otherCommands(): CommandDef[] {
  return [
    psCommand,
    lsCommand,
    logsCommand,
    execCommand,
    runCommand,
    topCommand,
    imagesCommand,
    portCommand,
    eventsCommand,
    cpCommand,
    waitCommand,
    killCommand,
    rmCommand,
    pauseCommand,
    unpauseCommand,
    versionCommand,
    configCommand,
  ];
}

export const composeCommand: CommandDef = {
  name: 'compose',
  usage: '[OPTIONS] COMMAND',
  short: 'Docker Compose',
  long: 'Define and run multi-container applications with Docker',
  group: 'management',
  persistentFlags: composeFlags,
  subcommands: [...lifecycleCommands(), ...imageCommands(), ...otherCommands()].sort((a, b) => a.name.localeCompare(b.name)),
};
