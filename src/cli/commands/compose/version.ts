/** `compose version`: docker compose's version line, naming Berth's build of it. */
import type { CommandDef } from '../../args.js';
import { COMPOSE_VERSION } from '../../../compose/engine/labels.js';

export const composeVersion = `v${COMPOSE_VERSION}`;

export const versionCommand: CommandDef = {
  name: 'version',
  usage: '[OPTIONS]',
  short: 'Show the Docker Compose version information',
  args: { max: 0 },
  flags: [
    { name: 'format', short: 'f', type: 'string', usage: 'Format the output. Values: [pretty | json]. (Default: pretty)' },
    { name: 'short', type: 'bool', usage: "Shows only Compose's version number" },
  ],
  run: async (inv, cli) => {
    if (inv.flags.bool('short')) cli.out.write(`${COMPOSE_VERSION}\n`);
    else if (inv.flags.string('format') === 'json') cli.out.write(`{"version":${JSON.stringify(composeVersion)}}\n`);
    else cli.out.write(`Docker Compose version ${composeVersion}\n`);
  },
};
