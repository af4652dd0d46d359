/**
 * `image inspect` and the generic `inspect`. The daemon's JSON is printed as received, only
 * re-indented, so field order and unknown fields survive exactly as docker shows them.
 */
import type { CommandDef } from '../args.js';
import { pathName, type QueryValue } from '../client.js';
import { CliError, DaemonError } from '../errors.js';
import { compactJson, indentJson } from '../jsonfmt.js';
import type { Cli } from '../streams.js';
import { compileFormat, executeFormat, inspectFormatFlag, platformParam, type TemplateErrors } from './common.js';

const FORMAT_ERRORS: TemplateErrors = {
  parse: { prefix: 'template parsing error: ', exitCode: 64 },
  exec: { prefix: 'template parsing error: ', exitCode: 1 },
};

/** A kind of object `inspect` can look up, and where the API keeps it. */
export interface ObjectKind {
  type: string;
  path(name: string): string;
}

const kind = (type: string, path: (n: string) => string): ObjectKind => ({ type, path });

/** Every kind `--type` accepts, in docker's list. */
export const OBJECT_KINDS: ObjectKind[] = [
  kind('config', (n) => `/configs/${pathName(n)}`),
  kind('container', (n) => `/containers/${pathName(n)}/json`),
  kind('image', (n) => `/images/${pathName(n)}/json`),
  kind('network', (n) => `/networks/${pathName(n)}`),
  kind('node', (n) => `/nodes/${pathName(n)}`),
  kind('plugin', (n) => `/plugins/${pathName(n)}/json`),
  kind('secret', (n) => `/secrets/${pathName(n)}`),
  kind('service', (n) => `/services/${pathName(n)}`),
  kind('task', (n) => `/tasks/${pathName(n)}`),
  kind('volume', (n) => `/volumes/${pathName(n)}`),
];

/**
 * The order an untyped `inspect NAME` tries, as docker does (swarm kinds only matter on swarm
 * managers, which Berth is not). A daemon without an endpoint answers 404, which counts as
 * "not this kind", so kinds can be served as the daemon grows without changing this list.
 */
export const RESOLUTION_ORDER = ['container', 'image', 'network', 'volume'];

function kindOf(type: string): ObjectKind {
  const k = OBJECT_KINDS.find((o) => o.type === type);
  if (!k) {
    const all = OBJECT_KINDS.map((o) => JSON.stringify(o.type)).join(', ');
    throw new CliError(`unknown type: ${JSON.stringify(type)}: must be one of ${all}`);
  }
  return k;
}

/** The text `inspect` prints for the raw JSON of each object found. */
export function renderInspect(raws: string[], format: string): string {
  if (format === '') return raws.length ? indentJson(`[${raws.join(',')}]`) + '\n' : '[]\n';
  if (format === 'json') return compactJson(`[${raws.join(',')}]`) + '\n';
  const tmpl = compileFormat(format, FORMAT_ERRORS);
  if (raws.length === 0) return '\n';
  return raws.map((raw) => executeFormat(tmpl, JSON.parse(raw), FORMAT_ERRORS) + '\n').join('');
}

/** Not found, or an endpoint the daemon does not have: try the next kind. */
function skippable(err: unknown): boolean {
  return err instanceof DaemonError && (err.status === 404 || err.status === 501);
}

/**
 * Looks every name up among `kinds`, prints what was found, then fails with all errors, as
 * docker does. With a single kind the daemon's own error is reported; otherwise a name found
 * nowhere is "No such object".
 */
export async function inspectObjects(
  cli: Cli,
  names: string[],
  kinds: ObjectKind[],
  format: string,
  queryFor: (k: ObjectKind) => Record<string, QueryValue> = () => ({}),
  onFound?: (k: ObjectKind) => void,
): Promise<void> {
  if (format !== '' && format !== 'json') compileFormat(format, FORMAT_ERRORS); // fail before any request
  const raws: string[] = [];
  const errors: string[] = [];
  for (const name of names) {
    let found = false;
    for (const k of kinds) {
      try {
        raws.push((await cli.client().text('GET', k.path(name), { query: queryFor(k) })).trim());
        onFound?.(k);
        found = true;
        break;
      } catch (err) {
        if (!(err instanceof DaemonError)) throw err;
        if (kinds.length === 1 || !skippable(err)) {
          errors.push(err.message);
          found = true;
          break;
        }
      }
    }
    if (!found) errors.push(`Error: No such object: ${name}`);
  }
  cli.out.write(renderInspect(raws, format));
  if (errors.length) throw new CliError(errors.join('\n'));
}

export const imageInspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  short: 'Display detailed information on one or more images',
  args: { min: 1 },
  flags: [
    inspectFormatFlag('f'),
    {
      name: 'platform',
      type: 'string',
      usage:
        "Inspect a specific platform of the multi-platform image.\nIf the image or the server is not multi-platform capable, the command will error out if the platform does not match.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)",
    },
  ],
  run: async (inv, cli) => {
    const platform = platformParam(inv.flags.string('platform'));
    await inspectObjects(cli, inv.args, [kindOf('image')], inv.flags.string('format'), () => ({ platform }));
  },
};

export const inspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  short: 'Return low-level information on Berth objects',
  args: { min: 1 },
  flags: [
    inspectFormatFlag('f'),
    { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', usage: 'Only inspect objects of the given type' },
  ],
  run: async (inv, cli) => {
    const type = inv.flags.string('type');
    const kinds = type ? [kindOf(type)] : RESOLUTION_ORDER.map(kindOf);
    // --size only means something for containers; docker sends it with container lookups.
    const size = inv.flags.bool('size') || undefined;
    const warnSize = (k: ObjectKind) => {
      if (size && k.type !== 'container') cli.err.write(`WARNING: --size ignored for ${k.type}\n`);
    };
    await inspectObjects(cli, inv.args, kinds, inv.flags.string('format'), (k) => (k.type === 'container' ? { size } : {}), warnSize);
  },
};

export const containerInspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Display detailed information on one or more containers',
  args: { min: 1 },
  flags: [inspectFormatFlag('f'), { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes' }],
  run: async (inv, cli) => {
    const size = inv.flags.bool('size') || undefined;
    await inspectObjects(cli, inv.args, [kindOf('container')], inv.flags.string('format'), () => ({ size }));
  },
};
