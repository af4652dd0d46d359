/**
 * `compose config`'s flags as docker compose defines them (cmd/compose/config.go), and their meaning
 * as loader options and render options, so the CLI command is only: load with `load`, print
 * renderConfig(project, render).
 */
import type { FlagDef } from '../cli/args.js';
import type { RenderConfigOptions } from './config-output.js';
import type { LoadOptions } from './loader.js';

export const configFlags: FlagDef[] = [
  { name: 'format', type: 'string', usage: 'Format the output. Values: [yaml | json]' },
  { name: 'quiet', short: 'q', type: 'bool', usage: "Only validate the configuration, don't print anything" },
  { name: 'no-interpolate', type: 'bool', usage: "Don't interpolate environment variables" },
  { name: 'no-normalize', type: 'bool', usage: "Don't normalize compose model" },
  { name: 'no-path-resolution', type: 'bool', usage: "Don't resolve file paths" },
  { name: 'no-consistency', type: 'bool', usage: "Don't check model consistency - warning: may produce invalid Compose output" },
  { name: 'services', type: 'bool', usage: 'Print the service names, one per line.' },
  { name: 'volumes', type: 'bool', usage: 'Print the volume names, one per line.' },
  { name: 'networks', type: 'bool', usage: 'Print the network names, one per line.' },
  { name: 'profiles', type: 'bool', usage: 'Print the profile names, one per line.' },
  { name: 'images', type: 'bool', usage: 'Print the image names, one per line.' },
  { name: 'hash', type: 'string', usage: 'Print the service config hash, one per line.' },
  { name: 'environment', type: 'bool', usage: 'Print environment used for interpolation.' },
  { name: 'output', short: 'o', type: 'string', usage: 'Save to file (default to stdout)' },
];

interface FlagValues {
  bool(name: string): boolean;
  string(name: string): string;
}

export function configOptionsFromFlags(flags: FlagValues): { load: Partial<LoadOptions>; render: RenderConfigOptions } {
  const load: Partial<LoadOptions> = {};
  if (flags.bool('no-interpolate')) load.interpolate = false;
  if (flags.bool('no-normalize')) load.normalize = false;
  if (flags.bool('no-path-resolution')) load.resolvePaths = false;
  if (flags.bool('no-consistency')) load.consistency = false;
  const render: RenderConfigOptions = {
    services: flags.bool('services'),
    volumes: flags.bool('volumes'),
    networks: flags.bool('networks'),
    profiles: flags.bool('profiles'),
    images: flags.bool('images'),
    environment: flags.bool('environment'),
    hash: flags.string('hash') || undefined,
    quiet: flags.bool('quiet'),
    format: flags.string('format') || undefined,
    output: flags.string('output') || undefined,
    interpolated: !flags.bool('no-interpolate'),
  };
  return { load, render };
}
