/**
 * The container commands other than create/run: ps, start, stop, restart, kill, pause,
 * unpause, wait, rm, rename, update, logs, top and prune, with docker 28's requests, output
 * and failure behaviour (carry on past a failed name, fail at the end).
 */
import type { CommandDef, FlagDef, Invocation } from '../args.js';
import { pathName } from '../client.js';
import { CliError, DaemonError } from '../errors.js';
import { getTimestamp } from '../gotime.js';
import type { Cli } from '../streams.js';
import { StdDemuxer } from '../stdcopy.js';
import { tabwrite } from '../tabwriter.js';
import { humanSize } from '../units.js';
import { attachAndStart, bytesValue, checkBytes, parseNanoCpus, parseRestartPolicy } from './run.js';
import { confirm, filterFlag, filtersParam, formatFlag, isDefaultTable, renderRows } from './common.js';
import { CONTAINER_HEADERS, containerRow, type ContainerSummary } from './object-rows.js';

const path = (name: string, rest = '') => `/containers/${pathName(name)}${rest}`;

/** `berth container X` and `berth X`: the paths docker lists under "Aliases:". */
const aliases = (name: string, extra: string[] = []) => [`container ${name}`, ...extra, name];

/**
 * Runs `op` for every name, printing each name that succeeded in argument order and failing
 * at the end with all the errors, as docker's container verbs do. `parallel` sends all
 * requests at once (stop, kill, pause, unpause, rm do), else one after the other.
 */
async function forEachName(
  cli: Cli,
  names: string[],
  op: (name: string) => Promise<string | void>,
  opts: { parallel?: boolean; ignore?: (err: unknown) => boolean } = {},
): Promise<void> {
  const errors: string[] = [];
  const settle = (name: string) =>
    op(name).then(
      (line) => ({ ok: true as const, line: line ?? name }),
      (err: unknown) => ({ ok: false as const, err }),
    );
  const pending = opts.parallel ? names.map(settle) : undefined;
  for (let i = 0; i < names.length; i++) {
    const r = pending ? await pending[i]! : await settle(names[i]!);
    if (r.ok) {
      cli.out.write(`${r.line}\n`);
      continue;
    }
    if (!(r.err instanceof CliError)) throw r.err;
    if (opts.ignore?.(r.err)) {
      cli.err.write(`${r.err.message}\n`);
      continue;
    }
    errors.push(r.err.message);
  }
  if (errors.length) throw new CliError(errors.join('\n'));
}

async function post(cli: Cli, p: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<void> {
  (await cli.client().request('POST', p, { query })).resume();
}

function verb(name: string, short: string, usage: string, flags: FlagDef[], run: CommandDef['run']): CommandDef {
  return { name, usage, short, aliasPaths: aliases(name), args: { min: 1 }, ...(flags.length ? { flags } : {}), run };
}

// ---- start ------------------------------------------------------------------------------

interface ContainerJson {
  Id: string;
  Config?: { Tty?: boolean; OpenStdin?: boolean } | null;
  HostConfig?: { AutoRemove?: boolean } | null;
}

export function startCommand(name: string): CommandDef {
  return verb(
    name,
    'Start one or more stopped containers',
    '[OPTIONS] CONTAINER [CONTAINER...]',
    [
      { name: 'attach', short: 'a', type: 'bool', usage: 'Attach STDOUT/STDERR and forward signals' },
      { name: 'checkpoint', type: 'string', usage: 'Restore from this checkpoint' },
      { name: 'checkpoint-dir', type: 'string', usage: 'Use a custom checkpoint storage directory' },
      { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
      { name: 'interactive', short: 'i', type: 'bool', usage: "Attach container's STDIN" },
    ],
    async (inv, cli) => {
      const fl = inv.flags;
      if (fl.bool('attach') || fl.bool('interactive')) {
        if (inv.args.length > 1) throw new CliError('you cannot start and attach multiple containers at once');
        const c = await cli.client().json<ContainerJson>('GET', path(inv.args[0]!, '/json'));
        const tty = !!c.Config?.Tty;
        const stdin = fl.bool('interactive') && !!c.Config?.OpenStdin;
        if (tty && stdin && !cli.in.isTTY) throw new CliError('the input device is not a TTY');
        const condition = c.HostConfig?.AutoRemove ? 'removed' : 'next-exit';
        return attachAndStart(
          cli,
          c.Id,
          { stdin, stdout: fl.bool('attach'), stderr: fl.bool('attach'), tty, detachKeys: fl.string('detach-keys'), sigProxy: !tty },
          condition,
          (err) => {
            throw err;
          },
        );
      }
      const failed: string[] = [];
      for (const c of inv.args) {
        try {
          await post(cli, path(c, '/start'), {
            checkpoint: fl.string('checkpoint') || undefined,
            'checkpoint-dir': fl.string('checkpoint-dir') || undefined,
          });
          cli.out.write(`${c}\n`);
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          cli.err.write(`${err.message}\n`);
          failed.push(c);
        }
      }
      if (failed.length) throw new CliError(`Error: failed to start containers: ${failed.join(', ')}`);
    },
  );
}

// ---- stop, restart, kill, pause, unpause, wait, rm ------------------------------------

const signalFlag: FlagDef = { name: 'signal', short: 's', type: 'string', usage: 'Signal to send to the container' };
const timeoutFlag: FlagDef = { name: 'timeout', short: 't', type: 'int', usage: 'Seconds to wait before killing the container' };
/** docker still accepts the old --time spelling, hidden. */
const timeFlag: FlagDef = { name: 'time', type: 'int', usage: 'Seconds to wait before killing the container (deprecated: use --timeout)', hidden: true };

function stopQuery(inv: Invocation): Record<string, string | number | undefined> {
  const fl = inv.flags;
  let t: number | undefined;
  if (fl.changed('timeout')) t = fl.int('timeout');
  else if (fl.changed('time')) t = fl.int('time');
  return { signal: fl.string('signal') || undefined, t };
}

export function stopCommand(name: string): CommandDef {
  return verb(name, 'Stop one or more running containers', '[OPTIONS] CONTAINER [CONTAINER...]', [signalFlag, timeoutFlag, timeFlag], async (inv, cli) => {
    if (inv.flags.changed('time') && inv.flags.changed('timeout')) throw new CliError('conflicting options: --time and --timeout');
    const query = stopQuery(inv);
    await forEachName(cli, inv.args, (c) => post(cli, path(c, '/stop'), query), { parallel: true });
  });
}

export function restartCommand(name: string): CommandDef {
  return verb(name, 'Restart one or more containers', '[OPTIONS] CONTAINER [CONTAINER...]', [signalFlag, timeoutFlag, timeFlag], async (inv, cli) => {
    if (inv.flags.changed('time') && inv.flags.changed('timeout')) throw new CliError('conflicting options: --time and --timeout');
    const query = stopQuery(inv);
    await forEachName(cli, inv.args, (c) => post(cli, path(c, '/restart'), query));
  });
}

export function killCommand(name: string): CommandDef {
  return verb(name, 'Kill one or more running containers', '[OPTIONS] CONTAINER [CONTAINER...]', [signalFlag], async (inv, cli) => {
    const signal = inv.flags.string('signal') || undefined;
    await forEachName(cli, inv.args, (c) => post(cli, path(c, '/kill'), { signal }), { parallel: true });
  });
}

export function pauseCommand(name: string): CommandDef {
  return verb(name, 'Pause all processes within one or more containers', 'CONTAINER [CONTAINER...]', [], async (inv, cli) => {
    await forEachName(cli, inv.args, (c) => post(cli, path(c, '/pause')), { parallel: true });
  });
}

export function unpauseCommand(name: string): CommandDef {
  return verb(name, 'Unpause all processes within one or more containers', 'CONTAINER [CONTAINER...]', [], async (inv, cli) => {
    await forEachName(cli, inv.args, (c) => post(cli, path(c, '/unpause')), { parallel: true });
  });
}

export function waitCommand(name: string): CommandDef {
  return verb(name, 'Block until one or more containers stop, then print their exit codes', 'CONTAINER [CONTAINER...]', [], async (inv, cli) => {
    await forEachName(cli, inv.args, async (c) => {
      const r = await cli.client().json<{ StatusCode: number }>('POST', path(c, '/wait'));
      return String(r.StatusCode);
    });
  });
}

export function rmCommand(name: string, names = [name]): CommandDef {
  return {
    ...verb(
      name,
      'Remove one or more containers',
      '[OPTIONS] CONTAINER [CONTAINER...]',
      [
        { name: 'force', short: 'f', type: 'bool', usage: 'Force the removal of a running container (uses SIGKILL)' },
        { name: 'link', short: 'l', type: 'bool', usage: 'Remove the specified link' },
        { name: 'volumes', short: 'v', type: 'bool', usage: 'Remove anonymous volumes associated with the container' },
      ],
      async (inv, cli) => {
        const fl = inv.flags;
        const force = fl.bool('force');
        const query = { force: force || undefined, link: fl.bool('link') || undefined, v: fl.bool('volumes') || undefined };
        await forEachName(
          cli,
          inv.args,
          async (c) => {
            const trimmed = c.replace(/^\/+|\/+$/g, '');
            if (trimmed === '') throw new CliError('Container name cannot be empty');
            (await cli.client().request('DELETE', path(trimmed), { query })).resume();
          },
          // `rm -f` of a container that is already gone says so but does not fail.
          { parallel: true, ignore: (err) => force && err instanceof DaemonError && err.status === 404 },
        );
      },
    ),
    aliasPaths: ['container rm', 'container remove', 'rm'],
    ...(names.length > 1 && { aliases: names.slice(1) }),
  };
}

// ---- rename, update ---------------------------------------------------------------------

export function renameCommand(name: string): CommandDef {
  return {
    name,
    usage: 'CONTAINER NEW_NAME',
    short: 'Rename a container',
    aliasPaths: aliases(name),
    args: { min: 2, max: 2 },
    run: async (inv, cli) => {
      const oldName = inv.args[0]!.trim();
      const newName = inv.args[1]!.trim();
      if (oldName === '' || newName === '') throw new CliError('Error: Neither old nor new names may be empty');
      try {
        await post(cli, path(oldName, '/rename'), { name: newName });
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        throw new CliError(`${err.message}\nError: failed to rename container named ${oldName}`);
      }
    },
  };
}

function checkUint16(v: string): string | undefined {
  if (!/^\d+$/.test(v)) return `strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`;
  return Number(v) > 65535 ? `strconv.ParseUint: parsing ${JSON.stringify(v)}: value out of range` : undefined;
}

function checkCpus(v: string): string | undefined {
  try {
    parseNanoCpus(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The body docker 28 sends to POST /containers/{id}/update. */
export function updateBody(inv: Invocation): Record<string, unknown> {
  const fl = inv.flags;
  return {
    CpuShares: fl.int('cpu-shares'),
    Memory: bytesValue(fl.string('memory')),
    NanoCpus: fl.string('cpus') === '' ? 0 : Number(parseNanoCpus(fl.string('cpus'))),
    CgroupParent: '',
    BlkioWeight: fl.string('blkio-weight') === '' ? 0 : Number(fl.string('blkio-weight')),
    BlkioWeightDevice: null,
    BlkioDeviceReadBps: null,
    BlkioDeviceWriteBps: null,
    BlkioDeviceReadIOps: null,
    BlkioDeviceWriteIOps: null,
    CpuPeriod: fl.int('cpu-period'),
    CpuQuota: fl.int('cpu-quota'),
    CpuRealtimePeriod: fl.int('cpu-rt-period'),
    CpuRealtimeRuntime: fl.int('cpu-rt-runtime'),
    CpusetCpus: fl.string('cpuset-cpus'),
    CpusetMems: fl.string('cpuset-mems'),
    Devices: null,
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: bytesValue(fl.string('memory-reservation')),
    MemorySwap: bytesValue(fl.string('memory-swap')),
    MemorySwappiness: null,
    OomKillDisable: null,
    PidsLimit: fl.changed('pids-limit') ? fl.int('pids-limit') : null,
    Ulimits: null,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    RestartPolicy: parseRestartPolicy(fl.string('restart')),
  };
}

const UPDATE_FLAGS: FlagDef[] = [
  {
    name: 'blkio-weight',
    type: 'string',
    valueName: 'uint16',
    // pflag prints "(default 0)" for uint16 flags.
    usage: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)',
    check: checkUint16,
  },
  { name: 'cpu-period', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-rt-period', type: 'int', usage: 'Limit the CPU real-time period in microseconds' },
  { name: 'cpu-rt-runtime', type: 'int', usage: 'Limit the CPU real-time runtime in microseconds' },
  { name: 'cpu-shares', short: 'c', type: 'int', usage: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'string', valueName: 'decimal', usage: 'Number of CPUs', check: checkCpus },
  { name: 'cpuset-cpus', type: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'memory', short: 'm', type: 'string', valueName: 'bytes', usage: 'Memory limit', check: checkBytes },
  { name: 'memory-reservation', type: 'string', valueName: 'bytes', usage: 'Memory soft limit', check: checkBytes },
  {
    name: 'memory-swap',
    type: 'string',
    valueName: 'bytes',
    usage: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap',
    check: (v) => (v === '-1' ? undefined : checkBytes(v)),
  },
  { name: 'pids-limit', type: 'int', usage: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'restart', type: 'string', usage: 'Restart policy to apply when a container exits' },
];

export function updateCommand(name: string): CommandDef {
  return verb(name, 'Update configuration of one or more containers', '[OPTIONS] CONTAINER [CONTAINER...]', UPDATE_FLAGS, async (inv, cli) => {
    if (!UPDATE_FLAGS.some((d) => inv.flags.changed(d.name))) throw new CliError('you must provide one or more flags when using this command');
    const body = updateBody(inv);
    await forEachName(cli, inv.args, async (c) => {
      const r = await cli.client().json<{ Warnings?: string[] | null }>('POST', path(c, '/update'), { json: body });
      for (const w of r?.Warnings ?? []) cli.err.write(`${w}\n`);
    });
  });
}

// ---- ps ---------------------------------------------------------------------------------

const PS_DEFAULT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export interface PsOptions {
  format: string;
  quiet: boolean;
  size: boolean;
  noTrunc: boolean;
  now: number;
}

/** docker's NewContainerFormat. */
export function psFormat(format: string, quiet: boolean, size: boolean): string {
  if (isDefaultTable(format)) {
    if (quiet) return '{{.ID}}';
    return size ? `${PS_DEFAULT}\t{{.Size}}` : PS_DEFAULT;
  }
  return format;
}

/** The whole `ps` output for an API answer. */
export function formatContainerList(containers: ContainerSummary[], opts: PsOptions): string {
  const rows = containers.map((c) => {
    const row = containerRow(c, { trunc: !opts.noTrunc, now: opts.now });
    // docker's containerContext.Label method; not a field, so JSON output leaves it out.
    Object.defineProperty(row, 'Label', { value: (name: string) => c.Labels?.[name] ?? '', enumerable: false });
    return row;
  });
  return renderRows(psFormat(opts.format, opts.quiet, opts.size), rows, { ...CONTAINER_HEADERS, Label: (name: string) => name });
}

export function psCommand(name: string, names = [name]): CommandDef {
  return {
    name,
    ...(names.length > 1 && { aliases: names.slice(1) }),
    usage: '[OPTIONS]',
    short: 'List containers',
    aliasPaths: ['container ls', 'container list', 'container ps', 'ps'],
    args: { max: 0 },
    flags: [
      { name: 'all', short: 'a', type: 'bool', usage: 'Show all containers (default shows just running)' },
      filterFlag(),
      formatFlag(),
      { name: 'last', short: 'n', type: 'int', default: -1, usage: 'Show n last created containers (includes all states)' },
      { name: 'latest', short: 'l', type: 'bool', usage: 'Show the latest created container (includes all states)' },
      { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display container IDs' },
      { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes' },
    ],
    run: async (inv, cli) => {
      const fl = inv.flags;
      let format = fl.string('format');
      const quiet = fl.bool('quiet');
      if (quiet && format !== '') {
        cli.err.write('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
        format = '';
      }
      let limit = fl.int('last');
      if (fl.bool('latest') && limit === -1) limit = 1;
      // A template that shows .Size asks the daemon for sizes, as docker does.
      const size = fl.bool('size') || (!quiet && !fl.changed('size') && format !== '' && /\.Size\b|\bjson\s+\.\s*\}\}/.test(format));
      const containers = await cli.client().json<ContainerSummary[]>('GET', '/containers/json', {
        query: {
          all: fl.bool('all') || undefined,
          filters: filtersParam(fl.list('filter')),
          limit: limit > 0 ? limit : undefined,
          size: size || undefined,
        },
      });
      cli.out.write(formatContainerList(containers ?? [], { format, quiet, size: fl.bool('size'), noTrunc: fl.bool('no-trunc'), now: cli.now() }));
    },
  };
}

// ---- logs -------------------------------------------------------------------------------

export function logsCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] CONTAINER',
    short: 'Fetch the logs of a container',
    aliasPaths: aliases(name),
    args: { min: 1, max: 1 },
    flags: [
      { name: 'details', type: 'bool', usage: 'Show extra details provided to logs' },
      { name: 'follow', short: 'f', type: 'bool', usage: 'Follow log output' },
      { name: 'since', type: 'string', usage: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
      { name: 'tail', short: 'n', type: 'string', default: 'all', usage: 'Number of lines to show from the end of the logs' },
      { name: 'timestamps', short: 't', type: 'bool', usage: 'Show timestamps' },
      { name: 'until', type: 'string', usage: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    ],
    run: async (inv, cli) => {
      const fl = inv.flags;
      const c = await cli.client().json<ContainerJson>('GET', path(inv.args[0]!, '/json'));
      const now = cli.now();
      const when = (flag: string) => {
        const v = fl.string(flag);
        if (v === '') return undefined;
        try {
          return getTimestamp(v, now);
        } catch (err) {
          throw new CliError(`invalid value for "${flag}": ${(err as Error).message}`);
        }
      };
      const res = await cli.client().request('GET', path(c.Id, '/logs'), {
        query: {
          details: fl.bool('details') || undefined,
          follow: fl.bool('follow') || undefined,
          since: when('since'),
          stderr: true,
          stdout: true,
          tail: fl.string('tail'),
          timestamps: fl.bool('timestamps') || undefined,
          until: when('until'),
        },
      });
      if (c.Config?.Tty) {
        for await (const chunk of res) cli.out.write(chunk as Buffer);
        return;
      }
      const demux = new StdDemuxer(
        (b) => cli.out.write(b),
        (b) => cli.err.write(b),
      );
      for await (const chunk of res) demux.push(chunk as Buffer);
    },
  };
}

// ---- top --------------------------------------------------------------------------------

/** `top` output: the daemon's titles and rows through tabwriter(20, 1, 3, ' '). */
export function formatTop(top: { Titles?: string[] | null; Processes?: string[][] | null }): string {
  let text = (top.Titles ?? []).join('\t') + '\n';
  for (const p of top.Processes ?? []) text += p.join('\t') + '\n';
  return tabwrite(text, { minWidth: 20, tabWidth: 1, padding: 3, padChar: ' ' });
}

export function topCommand(name: string): CommandDef {
  return {
    name,
    usage: 'CONTAINER [ps OPTIONS]',
    short: 'Display the running processes of a container',
    aliasPaths: aliases(name),
    args: { min: 1 },
    noInterspersed: true,
    run: async (inv, cli) => {
      const [c, ...psArgs] = inv.args as [string, ...string[]];
      const top = await cli.client().json<{ Titles?: string[]; Processes?: string[][] }>('GET', path(c, '/top'), {
        query: { ps_args: psArgs.length ? psArgs.join(' ') : undefined },
      });
      cli.out.write(formatTop(top ?? {}));
    },
  };
}

// ---- prune ------------------------------------------------------------------------------

export function formatContainerPrune(report: { ContainersDeleted?: string[] | null; SpaceReclaimed?: number }): string {
  const deleted = report.ContainersDeleted ?? [];
  let out = '';
  if (deleted.length) out = `Deleted Containers:\n${deleted.map((id) => `${id}\n`).join('')}\n`;
  return `${out}Total reclaimed space: ${humanSize(deleted.length ? (report.SpaceReclaimed ?? 0) : 0)}\n`;
}

export const containerPruneCommand: CommandDef = {
  name: 'prune',
  usage: '[OPTIONS]',
  short: 'Remove all stopped containers',
  args: { max: 0 },
  flags: [filterFlag('Provide filter values (e.g. "until=<timestamp>")', null), { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' }],
  run: async (inv, cli) => {
    if (!inv.flags.bool('force') && !(await confirm(cli, 'WARNING! This will remove all stopped containers.'))) return;
    const report = await cli.client().json<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/containers/prune', {
      query: { filters: filtersParam(inv.flags.list('filter')) },
    });
    cli.out.write(formatContainerPrune(report ?? {}));
  },
};
