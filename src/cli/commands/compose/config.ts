/**
 * `compose config`: the resolved model, or one of its lists (--services, --volumes, ...),
 * printed by the file model's renderConfig (src/compose/config-output.ts).
 */
import type { CommandDef } from '../../args.js';
import { renderConfig } from '../../../compose/index.js';
import { loadComposeProject } from './project-options.js';

export const configCommand: CommandDef = {
  name: 'config',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Parse, resolve and render compose file in canonical format',
  flags: [
    { name: 'format', type: 'string', usage: 'Format the output. Values: [yaml | json]' },
    { name: 'hash', type: 'string', usage: 'Print the service config hash, one per line.' },
    { name: 'images', type: 'bool', usage: 'Print the image names, one per line.' },
    { name: 'networks', type: 'bool', usage: 'Print the network names, one per line.' },
    { name: 'no-consistency', type: 'bool', usage: "Don't check model consistency - warning: may produce invalid Compose output" },
    { name: 'no-interpolate', type: 'bool', usage: "Don't interpolate environment variables" },
    { name: 'no-normalize', type: 'bool', usage: "Don't normalize compose model" },
    { name: 'no-path-resolution', type: 'bool', usage: "Don't resolve file paths" },
    { name: 'output', short: 'o', type: 'string', usage: 'Save to file (default to stdout)' },
    { name: 'profiles', type: 'bool', usage: 'Print the profile names, one per line.' },
    { name: 'quiet', short: 'q', type: 'bool', usage: "Only validate the configuration, don't print anything" },
    { name: 'services', type: 'bool', usage: 'Print the service names, one per line.' },
    { name: 'volumes', type: 'bool', usage: 'Print the volume names, one per line.' },
  ],
  run: async (inv, cli) => {
    const fl = inv.flags;
    const project = loadComposeProject(inv, cli, inv.args, {
      ...(fl.bool('no-interpolate') && { interpolate: false }),
      ...(fl.bool('no-normalize') && { normalize: false }),
      ...(fl.bool('no-path-resolution') && { resolvePaths: false }),
      ...(fl.bool('no-consistency') && { consistency: false }),
    });
    cli.out.write(
      renderConfig(project, {
        services: fl.bool('services'),
        volumes: fl.bool('volumes'),
        networks: fl.bool('networks'),
        hash: fl.string('hash') || undefined,
        profiles: fl.bool('profiles'),
        images: fl.bool('images'),
        quiet: fl.bool('quiet'),
        format: fl.string('format') || undefined,
        output: fl.string('output') || undefined,
        interpolated: !fl.bool('no-interpolate'),
      }),
    );
  },
};
