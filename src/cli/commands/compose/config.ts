/**
 * `compose config`: the resolved model, or one of its lists (--services, --volumes, ...). The
 * flags and their meaning are the file model's (src/compose/config-flags.ts), the text its
 * renderConfig's (src/compose/config-output.ts).
 */
import type { CommandDef } from '../../args.js';
import { renderConfig } from '../../../compose/index.js';
import { configFlags, configOptionsFromFlags } from '../../../compose/config-flags.js';
import { loadComposeProject } from './project-options.js';

export const configCommand: CommandDef = {
  name: 'config',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Parse, resolve and render compose file in canonical format',
  flags: configFlags,
  run: async (inv, cli) => {
    const { load, render } = configOptionsFromFlags(inv.flags);
    cli.out.write(renderConfig(loadComposeProject(inv, cli, inv.args, load), render));
  },
};
