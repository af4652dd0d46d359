/**
 * `volume create|inspect|ls|prune|rm`: POST /volumes/create, GET /volumes/{name}, GET /volumes,
 * POST /volumes/prune, DELETE /volumes/{name}, with docker's flags, columns and messages.
 */
import type { CommandDef } from '../args.js';
import { pathName } from '../client.js';
import { CliError, DaemonError } from '../errors.js';
import { humanSize } from '../units.js';
import type { HeaderTitle } from '../template/index.js';
import { confirm, filterFlag, filtersParam, formatFlag, inspectFormatFlag, isDefaultTable, renderRows, keyValuePairs } from './common.js';
import { inspectObjects } from './inspect.js';

/** A volume as the API returns it (the fields the CLI reads). */
export interface VolumeSummary {
  Name: string;
  Driver?: string;
  Scope?: string;
  Mountpoint?: string;
  Labels?: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number } | null;
}

export const VOLUME_HEADERS: Record<string, HeaderTitle> = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};

const DEFAULT_FORMAT = 'table {{.Driver}}\t{{.Name}}';

/** One line of `volume ls`: docker's volumeContext fields, keys in JSON (sorted) order. */
export function volumeRow(v: VolumeSummary): Record<string, string> {
  const row: Record<string, string> = {
    Availability: 'N/A',
    Driver: v.Driver ?? '',
    Group: 'N/A',
    Labels: Object.keys(v.Labels ?? {})
      .sort()
      .map((k) => `${k}=${v.Labels![k]}`)
      .join(','),
    Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
    Mountpoint: v.Mountpoint ?? '',
    Name: v.Name,
    Scope: v.Scope ?? '',
    Size: v.UsageData && v.UsageData.Size >= 0 ? humanSize(v.UsageData.Size) : 'N/A',
    Status: 'N/A',
  };
  // docker's volumeContext.Label method; not a field, so JSON output leaves it out.
  Object.defineProperty(row, 'Label', { value: (name: string) => v.Labels?.[name] ?? '', enumerable: false });
  return row;
}

export function formatVolumeList(volumes: VolumeSummary[], opts: { format: string; quiet: boolean }): string {
  const format = isDefaultTable(opts.format) ? (opts.quiet ? '{{.Name}}' : DEFAULT_FORMAT) : opts.format;
  // docker sorts by name (natural order) before printing
  const sorted = [...volumes].sort((a, b) => a.Name.localeCompare(b.Name, undefined, { numeric: true }));
  return renderRows(format, sorted.map(volumeRow), { ...VOLUME_HEADERS, Label: (name: string) => name });
}


const createCommand: CommandDef = {
  name: 'create',
  usage: '[OPTIONS] [VOLUME]',
  short: 'Create a volume',
  args: { max: 1 },
  flags: [
    { name: 'driver', short: 'd', type: 'string', default: 'local', usage: 'Specify volume driver name' },
    { name: 'label', type: 'list', usage: 'Set metadata for a volume' },
    { name: 'name', type: 'string', usage: 'Specify volume name', hidden: true },
    { name: 'opt', short: 'o', type: 'list', valueName: 'map', usage: 'Set driver specific options' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const byFlag = f.string('name');
    const arg = inv.args[0] ?? '';
    if (byFlag && arg && byFlag !== arg) throw new CliError('conflicting options: cannot specify a volume-name through both --name and as a positional arg');
    const body = { Name: arg || byFlag, Driver: f.string('driver') || 'local', DriverOpts: keyValuePairs(f.list('opt')), Labels: keyValuePairs(f.list('label')) };
    const v = await cli.client().json<VolumeSummary>('POST', '/volumes/create', { json: body });
    cli.out.write(`${v.Name}\n`);
  },
};

const inspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  short: 'Display detailed information on one or more volumes',
  args: { min: 1 },
  flags: [inspectFormatFlag('f')],
  run: async (inv, cli) => {
    await inspectObjects(cli, inv.args, [{ type: 'volume', path: (n) => `/volumes/${pathName(n)}` }], inv.flags.string('format'));
  },
};

const lsCommand: CommandDef = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  short: 'List volumes',
  aliasPaths: ['volume ls', 'volume list'],
  args: { max: 0 },
  flags: [
    filterFlag('Provide filter values (e.g. "dangling=true")'),
    formatFlag(),
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display volume names' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const res = await cli.client().json<{ Volumes?: VolumeSummary[] | null }>('GET', '/volumes', { query: { filters: filtersParam(f.list('filter')) } });
    cli.out.write(formatVolumeList(res?.Volumes ?? [], { format: f.string('format'), quiet: f.bool('quiet') }));
  },
};

const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['remove'],
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  short: 'Remove one or more volumes',
  aliasPaths: ['volume rm', 'volume remove'],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force the removal of one or more volumes' }],
  run: async (inv, cli) => {
    const errors: string[] = [];
    for (const name of inv.args) {
      try {
        (await cli.client().request('DELETE', `/volumes/${pathName(name)}`, { query: { force: inv.flags.bool('force') ? '1' : undefined } })).resume();
        cli.out.write(`${name}\n`);
      } catch (err) {
        if (!(err instanceof DaemonError)) throw err;
        errors.push(err.message);
      }
    }
    if (errors.length) throw new CliError(errors.join('\n'));
  },
};

const ANONYMOUS_WARNING = 'WARNING! This will remove anonymous local volumes not used by at least one container.';
const ALL_WARNING = 'WARNING! This will remove all local volumes not used by at least one container.';

/** What `volume prune` prints for the daemon's report. */
export function formatVolumePruneReport(report: { VolumesDeleted?: string[] | null; SpaceReclaimed?: number }): string {
  const deleted = report.VolumesDeleted ?? [];
  let out = '';
  if (deleted.length) out = `Deleted Volumes:\n${deleted.map((n) => `${n}\n`).join('')}\n`;
  return `${out}Total reclaimed space: ${humanSize(deleted.length ? (report.SpaceReclaimed ?? 0) : 0)}\n`;
}

const pruneCommand: CommandDef = {
  name: 'prune',
  usage: '[OPTIONS]',
  short: 'Remove unused local volumes',
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused volumes, not just anonymous ones' },
    filterFlag('Provide filter values (e.g. "label=<label>")', null),
    { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
  ],
  run: async (inv, cli) => {
    const all = inv.flags.bool('all');
    const given = inv.flags.list('filter');
    if (all && given.some((p) => p.split('=')[0] === 'all')) throw new CliError('conflicting options: cannot specify both --all and --filter all=1');
    if (!inv.flags.bool('force') && !(await confirm(cli, all ? ALL_WARNING : ANONYMOUS_WARNING))) return;
    const filters = filtersParam(given, all ? [['all', 'true']] : []);
    const report = await cli.client().json<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/volumes/prune', { query: { filters } });
    cli.out.write(formatVolumePruneReport(report ?? {}));
  },
};

const updateCommand: CommandDef = {
  name: 'update',
  usage: '[OPTIONS] [VOLUME]',
  short: 'Update a volume (cluster volumes only)',
  args: { min: 1, max: 1 },
  flags: [{ name: 'availability', type: 'string', default: 'active', usage: 'Cluster Volume availability ("active", "pause", "drain")' }],
  run: async (inv, cli) => {
    const v = await cli.client().json<{ ClusterVolume?: unknown }>('GET', `/volumes/${pathName(inv.args[0]!)}`);
    if (!v.ClusterVolume) throw new CliError('can only update cluster volumes');
  },
};

export const volumeCommand: CommandDef = {
  name: 'volume',
  short: 'Manage volumes',
  group: 'management',
  subcommands: [createCommand, inspectCommand, lsCommand, pruneCommand, rmCommand, updateCommand],
};
