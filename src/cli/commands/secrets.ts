/**
 * `secret create|inspect|ls|rm`: POST /secrets/create, GET /secrets/{id}, GET /secrets,
 * DELETE /secrets/{id}, with docker's flags, columns and messages (cli/command/secret). The parts
 * `config` shares (reading the data, labels, rows, pretty text) are exported for configs.ts.
 */
import { promises as fs } from 'node:fs';
import type { CommandDef, FlagDef } from '../args.js';
import { pathName } from '../client.js';
import { CliError, fsErrorMessage } from '../errors.js';
import { formatGoString, parseRFC3339 } from '../gotime.js';
import type { Cli } from '../streams.js';
import type { HeaderTitle } from '../template/index.js';
import { timeAgo } from '../units.js';
import { filterFlag, filtersParam, formatFlag, inspectFormatFlag, isDefaultTable, keyValuePairs, renderRows } from './common.js';
import { renderInspect } from './inspect.js';
import { naturalLess, prettyPrint } from './node-format.js';

/** A secret or config as GET /secrets and /configs return them (the fields read here). */
export interface SwarmObjectSummary {
  ID: string;
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec?: { Name?: string; Labels?: Record<string, string> | null; Data?: string; Driver?: { Name?: string } | null };
}

/** docker's opts.ValidateLabel. */
export const labelFlag = (usage: string): FlagDef => ({
  name: 'label', short: 'l', type: 'list', usage,
  check: (v) => (v.split('=')[0]!.trim() === '' ? `invalid label '${v}': empty name` : undefined),
});

/** docker's readSecretData/readConfigData: a file or "-" (stdin), at most twice the daemon's limit, never empty. */
export async function readObjectData(cli: Cli, file: string, kind: 'secret' | 'config'): Promise<Buffer> {
  const limit = 2 * (kind === 'secret' ? 500 : 1000) * 1024;
  if (file === '') throw new CliError(`${kind} file is required`);
  let data: Buffer;
  if (file === '-') {
    data = await readLimited(cli.in, limit);
    if (!data.length) throw new CliError('error reading from STDIN: data is empty');
    return data;
  }
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    throw new CliError(`error reading from ${file}: ${fsErrorMessage('open', file, err)}`);
  }
  try {
    data = await readLimited(handle.createReadStream({ autoClose: false }), limit);
  } catch (err) {
    throw new CliError(`error reading from ${file}: ${fsErrorMessage('read', file, err)}`);
  } finally {
    await handle.close();
  }
  if (!data.length) throw new CliError(`error reading from ${file}: data is empty`);
  return data;
}

async function readLimited(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(b.subarray(0, Math.max(0, limit - size)));
    size += b.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks);
}

const labelsText = (labels: Record<string, string> | null | undefined): string =>
  Object.keys(labels ?? {}).map((k) => `${k}=${labels![k]}`).sort().join(',');

/** One `ls` row: docker's secretContext/configContext fields (Driver for secrets only). */
export function objectRow(x: SwarmObjectSummary, nowMs: number, withDriver: boolean): Record<string, string> {
  const ago = (t: string | undefined) => timeAgo(t ? Date.parse(t) : 0, nowMs);
  const row: Record<string, string> = {
    CreatedAt: ago(x.CreatedAt),
    ...(withDriver ? { Driver: x.Spec?.Driver?.Name ?? '' } : {}),
    ID: x.ID,
    Labels: labelsText(x.Spec?.Labels),
    Name: x.Spec?.Name ?? '',
    UpdatedAt: ago(x.UpdatedAt),
  };
  Object.defineProperty(row, 'Label', { value: (name: string) => x.Spec?.Labels?.[name] ?? '', enumerable: false });
  return row;
}

export function formatObjectList(items: SwarmObjectSummary[], o: { format: string; quiet: boolean; nowMs: number; kind: 'secret' | 'config' }): string {
  const withDriver = o.kind === 'secret';
  const table = withDriver ? 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}' : 'table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}';
  const format = isDefaultTable(o.format) ? (o.quiet ? '{{.ID}}' : table) : o.format;
  const name = (x: SwarmObjectSummary) => x.Spec?.Name ?? '';
  const sorted = items
    .map((x, i) => ({ x, i }))
    .sort((a, b) => (naturalLess(name(a.x), name(b.x)) ? -1 : naturalLess(name(b.x), name(a.x)) ? 1 : a.i - b.i))
    .map((e) => e.x);
  const headers: Record<string, HeaderTitle> = { ID: 'ID', Name: 'NAME', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS', Label: (n: string) => n, ...(withDriver ? { Driver: 'DRIVER' } : {}) };
  return renderRows(format, sorted.map((x) => objectRow(x, o.nowMs, withDriver)), headers);
}

/** docker's formatter.PrettyPrint of a time.Time: Go's String(), first letter kept, the rest lower case. */
export function prettyTime(s: string | undefined): string {
  const t = s ? parseRFC3339(s) : undefined;
  return prettyPrint(t ? formatGoString(t) : '0001-01-01 00:00:00 +0000 UTC');
}

export function labelLines(labels: Record<string, string> | null | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (!keys.length) return '';
  return '\nLabels:' + keys.map((k) => `\n - ${k}${labels![k] ? `=${labels![k]}` : ''}`).join('');
}

/** `secret inspect --pretty` (docker's secretInspectPrettyTemplate), with its newline. */
export function prettySecret(s: SwarmObjectSummary): string {
  return `ID:              ${s.ID}\nName:              ${s.Spec?.Name ?? ''}${labelLines(s.Spec?.Labels)}\nDriver:            ${s.Spec?.Driver?.Name ?? ''}\nCreated at:        ${prettyTime(s.CreatedAt)}\nUpdated at:        ${prettyTime(s.UpdatedAt)}\n`;
}

/** inspect [--pretty] [-f]: pretty stops at the first error (as docker's formatter), templates collect them. */
export async function inspectObjects(cli: Cli, kind: 'secrets' | 'configs', refs: string[], format: string, pretty: (x: SwarmObjectSummary) => string): Promise<void> {
  if (format.startsWith('pretty') && format !== 'pretty') throw new CliError('cannot supply extra formatting options to the pretty template');
  if (format === 'pretty') {
    let out = '';
    try {
      for (const ref of refs) out += pretty(await cli.client().json<SwarmObjectSummary>('GET', `/${kind}/${pathName(ref)}`));
    } finally {
      cli.out.write(out);
    }
    return;
  }
  renderInspect([], format); // a bad template fails before any request
  const raws: string[] = [];
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      raws.push((await cli.client().text('GET', `/${kind}/${pathName(ref)}`)).trim());
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      errors.push(err.message);
    }
  }
  cli.out.write(renderInspect(raws, format));
  if (errors.length) throw new CliError(errors.join('\n'));
}

/** rm: every name tried, each removed one printed, the errors together at the end. */
export async function removeObjects(cli: Cli, kind: 'secrets' | 'configs', refs: string[]): Promise<void> {
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      (await cli.client().request('DELETE', `/${kind}/${pathName(ref)}`)).resume();
      cli.out.write(`${ref}\n`);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      errors.push(err.message);
    }
  }
  if (errors.length) throw new CliError(errors.join('\n'));
}

const createCommand: CommandDef = {
  name: 'create',
  usage: '[OPTIONS] SECRET [file|-]',
  short: 'Create a secret from a file or STDIN as content',
  args: { min: 1, max: 2 },
  flags: [
    { name: 'driver', short: 'd', type: 'string', usage: 'Secret driver' },
    labelFlag('Secret labels'),
    { name: 'template-driver', type: 'string', usage: 'Template driver' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const [name, file = ''] = inv.args as [string, string?];
    const driver = f.string('driver');
    let data: Buffer | undefined;
    if (driver) {
      if (file) throw new CliError('when using secret driver secret data must be empty');
    } else data = await readObjectData(cli, file, 'secret');
    const spec = {
      Name: name,
      Labels: keyValuePairs(f.list('label')),
      ...(data ? { Data: data.toString('base64') } : {}),
      ...(driver ? { Driver: { Name: driver } } : {}),
      ...(f.string('template-driver') ? { Templating: { Name: f.string('template-driver') } } : {}),
    };
    const created = await cli.client().json<{ ID: string }>('POST', '/secrets/create', { json: spec });
    cli.out.write(`${created.ID}\n`);
  },
};

const inspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] SECRET [SECRET...]',
  short: 'Display detailed information on one or more secrets',
  args: { min: 1 },
  flags: [inspectFormatFlag('f'), { name: 'pretty', type: 'bool', usage: 'Print the information in a human friendly format' }],
  run: async (inv, cli) => {
    const format = inv.flags.bool('pretty') ? 'pretty' : inv.flags.string('format');
    await inspectObjects(cli, 'secrets', inv.args, format, prettySecret);
  },
};

export const listFlags: FlagDef[] = [filterFlag(), formatFlag(), { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display IDs' }];

const lsCommand: CommandDef = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  short: 'List secrets',
  aliasPaths: ['secret ls', 'secret list'],
  args: { max: 0 },
  flags: listFlags,
  run: async (inv, cli) => {
    const f = inv.flags;
    const items = (await cli.client().json<SwarmObjectSummary[] | null>('GET', '/secrets', { query: { filters: filtersParam(f.list('filter')) } })) ?? [];
    cli.out.write(formatObjectList(items, { format: f.string('format'), quiet: f.bool('quiet'), nowMs: cli.now(), kind: 'secret' }));
  },
};

const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'SECRET [SECRET...]',
  short: 'Remove one or more secrets',
  aliasPaths: ['secret rm', 'secret remove'],
  args: { min: 1 },
  run: async (inv, cli) => removeObjects(cli, 'secrets', inv.args),
};

export const secretCommand: CommandDef = {
  name: 'secret',
  short: 'Manage Swarm secrets',
  group: 'management',
  subcommands: [createCommand, inspectCommand, lsCommand, rmCommand],
};
