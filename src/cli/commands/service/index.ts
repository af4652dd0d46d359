/**
 * `service create|inspect|logs|ls|ps|rm|rollback|scale|update` over /services and /tasks, with the docker
 * CLI's flags, columns and messages (cli/command/service). Without --detach the commands wait for the
 * service to converge, as the docker CLI does, printing its progress (converge.ts).
 */
import type { CommandDef, FlagValues } from '../../args.js';
import type { Cli } from '../../streams.js';
import { pathName } from '../../client.js';
import { CliError, DaemonError } from '../../errors.js';
import { getTimestamp } from '../../gotime.js';
import { StdDemuxer } from '../../stdcopy.js';
import { truncateId } from '../../text.js';
import type { ConfigReference, SecretReference, Service, ServiceSpec, SwarmNode, Task } from '../../../swarm/types.js';
import { filterFlag, filtersParam, formatFlag, inspectFormatFlag, isDefaultTable, renderRows } from '../common.js';
import { inspectObjects } from '../inspect.js';
import { displayImage, formatTasks } from '../tasks-table.js';
import { applyUpdateFlags, applyUpdateRefs, createOnlyFlags, resolveCreateRefs, serviceFlags, specFromCreateFlags, updateOnlyFlags } from './spec-flags.js';
import type { ListByName } from './file-refs.js';
import { waitConverged } from './converge.js';

type ServiceWithStatus = Service & { ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks?: number } };

const SERVICE_HEADERS: Record<string, string> = { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' };
const DEFAULT_LS_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}';

function modeName(spec: ServiceSpec): string {
  const m = spec.Mode ?? {};
  return m.Global ? 'global' : m.ReplicatedJob ? 'replicated job' : m.GlobalJob ? 'global job' : 'replicated';
}

function replicasText(s: ServiceWithStatus): string {
  const st = s.ServiceStatus;
  const running = st?.RunningTasks ?? 0;
  const m = s.Spec.Mode ?? {};
  if (m.ReplicatedJob) return `${running}/${m.ReplicatedJob.MaxConcurrent ?? 1} (${st?.CompletedTasks ?? 0}/${m.ReplicatedJob.TotalCompletions ?? 1} completed)`;
  if (m.GlobalJob) return `${running}/${st?.DesiredTasks ?? 0} (${st?.CompletedTasks ?? 0}/${st?.DesiredTasks ?? 0} completed)`;
  const desired = m.Replicated ? (m.Replicated.Replicas ?? 1) : (st?.DesiredTasks ?? 0);
  const max = s.Spec.TaskTemplate?.Placement?.MaxReplicas;
  return `${running}/${desired}${max ? ` (max ${max} per node)` : ''}`;
}

function portsText(s: Service): string {
  return (s.Endpoint?.Ports ?? [])
    .filter((p) => (p.PublishMode ?? 'ingress') === 'ingress')
    .map((p) => `*:${p.PublishedPort}->${p.TargetPort}/${p.Protocol ?? 'tcp'}`)
    .join(', ');
}

export function formatServiceList(services: ServiceWithStatus[], opts: { format: string; quiet: boolean; trunc: boolean }): string {
  const format = isDefaultTable(opts.format) ? (opts.quiet ? '{{.ID}}' : DEFAULT_LS_FORMAT) : opts.format;
  const sorted = [...services].sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name, undefined, { numeric: true }));
  return renderRows(format, sorted.map((s) => ({
    ID: opts.trunc ? truncateId(s.ID) : s.ID,
    Image: displayImage(s.Spec.TaskTemplate?.ContainerSpec?.Image ?? '', true),
    Mode: modeName(s.Spec),
    Name: s.Spec.Name,
    Ports: portsText(s),
    Replicas: replicasText(s),
  })), SERVICE_HEADERS);
}

async function getService(cli: Cli, name: string): Promise<Service> {
  return cli.client().json<Service>('GET', `/services/${pathName(name)}`, { query: { insertDefaults: false } });
}

/** Node ids -> hostnames (or the node's Spec.Name), service ids -> names, fetched once each. */
function resolver(cli: Cli, services: Service[] = []) {
  const serviceNames = new Map(services.map((s) => [s.ID, s.Spec.Name]));
  const nodeNames = new Map<string, string>();
  return {
    async load(tasks: Task[]): Promise<void> {
      for (const id of new Set(tasks.map((t) => t.ServiceID))) {
        if (serviceNames.has(id)) continue;
        serviceNames.set(id, await cli.client().json<Service>('GET', `/services/${id}`).then((s) => s.Spec.Name, () => id));
      }
      for (const id of new Set(tasks.map((t) => t.NodeID).filter((x): x is string => Boolean(x)))) {
        if (nodeNames.has(id)) continue;
        nodeNames.set(id, await cli.client().json<SwarmNode>('GET', `/nodes/${id}`).then((n) => n.Spec?.Name || n.Description?.Hostname || id, () => id));
      }
    },
    service: (id: string) => serviceNames.get(id) ?? id,
    node: (id: string) => nodeNames.get(id) ?? id,
  };
}

function progressWanted(f: FlagValues): boolean {
  return !f.bool('detach');
}

/** GET /secrets or /configs with the names as filters (docker's SecretList/ConfigList in ParseSecrets). */
function listByName(cli: Cli): ListByName {
  return async (kind, names) =>
    (await cli.client().json<Array<{ ID: string; Spec: { Name: string } }>>('GET', kind === 'secret' ? '/secrets' : '/configs', { query: { filters: filtersParam([], names.map((n) => ['name', n])) } })) ?? [];
}

const createCommand: CommandDef = {
  name: 'create',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create a new service',
  args: { min: 1 },
  noInterspersed: true,
  flags: [...serviceFlags(), ...createOnlyFlags()],
  run: async (inv, cli) => {
    const f = inv.flags;
    const [image, ...args] = inv.args as [string, ...string[]];
    const spec = specFromCreateFlags(f, image, args, process.cwd());
    await resolveCreateRefs(spec, f, listByName(cli));
    const res = await cli.client().json<{ ID: string; Warnings?: string[] | null }>('POST', '/services/create', { json: spec });
    for (const w of res.Warnings ?? []) cli.err.write(`${w}\n`);
    cli.out.write(`${res.ID}\n`);
    if (progressWanted(f)) await waitConverged(cli, res.ID, { quiet: f.bool('quiet') });
  },
};

const inspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  short: 'Display detailed information on one or more services',
  args: { min: 1 },
  flags: [inspectFormatFlag('f'), { name: 'pretty', type: 'bool', usage: 'Print the information in a human friendly format' }],
  run: async (inv, cli) => {
    if (inv.flags.bool('pretty')) {
      if (inv.flags.string('format')) throw new CliError('--format is incompatible with human friendly format');
      const out: string[] = [];
      for (const name of inv.args) out.push(prettyService(await getService(cli, name)));
      cli.out.write(out.join('\n\n') + '\n');
      return;
    }
    await inspectObjects(cli, inv.args, [{ type: 'service', path: (n) => `/services/${pathName(n)}?insertDefaults=false` }], inv.flags.string('format'));
  },
};

/** A short human-friendly view (the main fields docker's --pretty prints). */
export function prettyService(s: Service): string {
  const spec = s.Spec;
  const cs = spec.TaskTemplate?.ContainerSpec;
  const lines = [`ID:\t\t${s.ID}`, `Name:\t\t${spec.Name}`];
  const labels = Object.entries(spec.Labels ?? {});
  if (labels.length) lines.push('Labels:', ...labels.map(([k, v]) => ` ${k}=${v}`));
  lines.push(`Service Mode:\t${spec.Mode?.Global ? 'Global' : spec.Mode?.ReplicatedJob ? 'Replicated Job' : spec.Mode?.GlobalJob ? 'Global Job' : 'Replicated'}`);
  if (spec.Mode?.Replicated) lines.push(` Replicas:\t${spec.Mode.Replicated.Replicas ?? 1}`);
  if (s.UpdateStatus) lines.push('UpdateStatus:', ` State:\t\t${s.UpdateStatus.State}`, ...(s.UpdateStatus.Message ? [` Message:\t${s.UpdateStatus.Message}`] : []));
  const placement = spec.TaskTemplate?.Placement;
  lines.push('Placement:');
  if (placement?.Constraints?.length) lines.push(` Constraints:\t[${placement.Constraints.join(' ')}]`);
  const u = spec.UpdateConfig;
  if (u) lines.push('UpdateConfig:', ` Parallelism:\t${u.Parallelism ?? 1}`, ...(u.Delay ? [` Delay:\t\t${u.Delay / 1e9}s`] : []), ` On failure:\t${u.FailureAction ?? 'pause'}`, ` Max failure ratio: ${u.MaxFailureRatio ?? 0}`, ` Update order:      ${u.Order ?? 'stop-first'}`);
  lines.push('ContainerSpec:', ` Image:\t\t${cs?.Image ?? ''}`);
  if (cs?.Args?.length) lines.push(` Args:\t\t${cs.Args.join(' ')} `);
  if (cs?.Env?.length) lines.push(' Env:\t\t' + cs.Env.join(' '));
  const configs = (cs?.Configs ?? []) as ConfigReference[];
  if (configs.length) lines.push('Configs:', ...configs.map((c) => ` Target:\t${c.File?.Name ?? ''}\n  Source:\t${c.ConfigName ?? ''}`));
  const secrets = (cs?.Secrets ?? []) as SecretReference[];
  if (secrets.length) lines.push('Secrets:', ...secrets.map((c) => ` Target:\t${c.File?.Name ?? ''}\n  Source:\t${c.SecretName ?? ''}`));
  lines.push(`Endpoint Mode:\t${spec.EndpointSpec?.Mode ?? 'vip'}`);
  const ports = s.Endpoint?.Ports ?? [];
  if (ports.length) lines.push('Ports:', ...ports.map((p) => ` PublishedPort = ${p.PublishedPort}\n  Protocol = ${p.Protocol}\n  TargetPort = ${p.TargetPort}\n  PublishMode = ${p.PublishMode}`));
  return lines.join('\n');
}

const lsCommand: CommandDef = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  short: 'List services',
  aliasPaths: ['service ls', 'service list'],
  args: { max: 0 },
  flags: [filterFlag('Filter output based on conditions provided'), formatFlag(), { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display IDs' }],
  run: async (inv, cli) => {
    const f = inv.flags;
    const services = await cli.client().json<ServiceWithStatus[]>('GET', '/services', { query: { filters: filtersParam(f.list('filter')), status: true } });
    cli.out.write(formatServiceList(services ?? [], { format: f.string('format'), quiet: f.bool('quiet'), trunc: true }));
  },
};

const psCommand: CommandDef = {
  name: 'ps',
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  short: 'List the tasks of one or more services',
  args: { min: 1 },
  flags: [
    filterFlag('Filter output based on conditions provided'),
    formatFlag(),
    { name: 'no-resolve', type: 'bool', usage: 'Do not map IDs to Names' },
    { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display task IDs' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const services: Service[] = [];
    const missing: string[] = [];
    for (const name of inv.args) {
      try {
        services.push(await getService(cli, name));
      } catch (err) {
        if (err instanceof DaemonError && err.status === 404) missing.push(`no such service: ${name}`);
        else throw err;
      }
    }
    const tasks: Task[] = [];
    for (const s of services) {
      tasks.push(...((await cli.client().json<Task[]>('GET', '/tasks', { query: { filters: filtersParam(f.list('filter'), [['service', s.ID]]) } })) ?? []));
    }
    const names = resolver(cli, services);
    if (!f.bool('no-resolve')) await names.load(tasks);
    const plain = { service: (id: string) => (f.bool('no-resolve') ? id : names.service(id)), node: (id: string) => (f.bool('no-resolve') ? id : names.node(id)) };
    if (tasks.length || !missing.length) cli.out.write(formatTasks(tasks, plain, { format: f.string('format'), quiet: f.bool('quiet'), trunc: !f.bool('no-trunc'), nowMs: cli.now() }));
    if (missing.length) throw new CliError(missing.join('\n'));
  },
};

const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'SERVICE [SERVICE...]',
  short: 'Remove one or more services',
  aliasPaths: ['service rm', 'service remove'],
  args: { min: 1 },
  run: async (inv, cli) => {
    const errors: string[] = [];
    for (const name of inv.args) {
      try {
        (await cli.client().request('DELETE', `/services/${pathName(name)}`)).resume();
        cli.out.write(`${name}\n`);
      } catch (err) {
        if (!(err instanceof DaemonError)) throw err;
        errors.push(err.message);
      }
    }
    if (errors.length) throw new CliError(errors.join('\n'));
  },
};

async function postUpdate(cli: Cli, s: Service, spec: ServiceSpec, query: Record<string, string | undefined> = {}): Promise<void> {
  const res = await cli.client().json<{ Warnings?: string[] | null }>('POST', `/services/${s.ID}/update`, { query: { version: String(s.Version.Index), ...query }, json: spec });
  for (const w of res?.Warnings ?? []) cli.err.write(`${w}\n`);
}

const updateCommand: CommandDef = {
  name: 'update',
  usage: '[OPTIONS] SERVICE',
  short: 'Update a service',
  args: { min: 1, max: 1 },
  flags: [...serviceFlags(), ...updateOnlyFlags()],
  run: async (inv, cli) => {
    const f = inv.flags;
    const name = inv.args[0]!;
    const s = await getService(cli, name);
    if (f.bool('rollback')) {
      await postUpdate(cli, s, s.Spec, { rollback: 'previous' });
    } else {
      const spec = applyUpdateFlags(s.Spec, f, process.cwd());
      await applyUpdateRefs(spec, f, listByName(cli));
      await postUpdate(cli, s, spec);
    }
    cli.out.write(`${name}\n`);
    if (progressWanted(f)) await waitConverged(cli, s.ID, { quiet: f.bool('quiet'), rollback: f.bool('rollback') });
  },
};

const rollbackCommand: CommandDef = {
  name: 'rollback',
  usage: '[OPTIONS] SERVICE',
  short: 'Revert changes to a service\'s configuration',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'detach', short: 'd', type: 'bool', usage: 'Exit immediately instead of waiting for the service to converge' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress progress output' },
  ],
  run: async (inv, cli) => {
    const name = inv.args[0]!;
    const s = await getService(cli, name);
    await postUpdate(cli, s, s.Spec, { rollback: 'previous' });
    cli.out.write(`${name}\n`);
    if (progressWanted(inv.flags)) await waitConverged(cli, s.ID, { quiet: inv.flags.bool('quiet'), rollback: true });
  },
};

const scaleCommand: CommandDef = {
  name: 'scale',
  usage: 'SERVICE=REPLICAS [SERVICE=REPLICAS...]',
  short: 'Scale one or multiple replicated services',
  args: { min: 1 },
  flags: [{ name: 'detach', short: 'd', type: 'bool', usage: 'Exit immediately instead of waiting for the service to converge' }],
  run: async (inv, cli) => {
    for (const arg of inv.args) {
      const [, , value] = /^([^=]*)(?:=(.*))?$/.exec(arg)!;
      if (value === undefined) throw new CliError(`invalid scale specifier '${arg}'.\nSee '${inv.path} --help'.\n\nUsage:  ${inv.path} SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services`);
      if (!/^\d+$/.test(value)) throw new CliError(`invalid replicas value ${value}: strconv.ParseUint: parsing "${value}": invalid syntax`);
    }
    const errors: string[] = [];
    const scaled: string[] = [];
    for (const arg of inv.args) {
      const i = arg.indexOf('=');
      const name = arg.slice(0, i);
      const replicas = Number(arg.slice(i + 1));
      try {
        const s = await getService(cli, name);
        const spec = structuredClone(s.Spec);
        if (spec.Mode.Replicated) spec.Mode.Replicated.Replicas = replicas;
        else if (spec.Mode.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = replicas;
        else throw new CliError(`scale can only be used with replicated or replicated-job mode`);
        await postUpdate(cli, s, spec);
        cli.out.write(`${name} scaled to ${replicas}\n`);
        scaled.push(s.ID);
      } catch (err) {
        errors.push(`${name}: ${(err as Error).message}`);
      }
    }
    if (progressWanted(inv.flags)) for (const id of scaled) await waitConverged(cli, id, { quiet: false });
    if (errors.length) throw new CliError(errors.join('\n'));
  },
};

const logsCommand: CommandDef = {
  name: 'logs',
  usage: '[OPTIONS] SERVICE|TASK',
  short: 'Fetch the logs of a service or task',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'details', type: 'bool', usage: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', usage: 'Follow log output' },
    { name: 'no-resolve', type: 'bool', usage: 'Do not map IDs to Names in output' },
    { name: 'no-task-ids', type: 'bool', usage: 'Do not include task IDs in output' },
    { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
    { name: 'raw', type: 'bool', usage: 'Do not neatly format logs' },
    { name: 'since', type: 'string', usage: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', default: 'all', usage: 'Number of lines to show from the end of the logs' },
    { name: 'timestamps', short: 't', type: 'bool', usage: 'Show timestamps' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const target = inv.args[0]!;
    let kind: 'services' | 'tasks' = 'services';
    let tty = false;
    let serviceId = '';
    try {
      const s = await getService(cli, target);
      serviceId = s.ID;
      tty = Boolean(s.Spec.TaskTemplate?.ContainerSpec?.TTY);
    } catch (err) {
      if (!(err instanceof DaemonError && err.status === 404)) throw err;
      const t = await cli.client().json<Task>('GET', `/tasks/${pathName(target)}`).catch(() => {
        throw new CliError(`no such task or service: ${target}`);
      });
      kind = 'tasks';
      serviceId = t.ID;
      tty = Boolean(t.Spec?.ContainerSpec?.TTY);
    }
    const since = f.string('since') ? getTimestamp(f.string('since'), cli.now()) : undefined;
    const res = await cli.client().request('GET', `/${kind}/${serviceId}/logs`, {
      query: { details: true, follow: f.bool('follow') || undefined, stdout: true, stderr: true, since, tail: f.string('tail'), timestamps: f.bool('timestamps') || undefined },
    });
    const names = resolver(cli);
    const taskCache = new Map<string, Task | undefined>();
    const prefixed = async (chunk: Buffer): Promise<Buffer> => {
      if (f.bool('raw')) return chunk;
      const out: string[] = [];
      for (const line of chunk.toString('utf8').split(/(?<=\n)/)) {
        if (!line) continue;
        const sp = line.indexOf(' ');
        const details = Object.fromEntries(line.slice(0, sp).split(',').map((kv) => kv.split('=', 2) as [string, string]));
        const msg = line.slice(sp + 1);
        const taskId = details['com.docker.swarm.task.id'] ?? '';
        if (!taskCache.has(taskId)) taskCache.set(taskId, await cli.client().json<Task>('GET', `/tasks/${taskId}`).catch(() => undefined));
        const t = taskCache.get(taskId);
        if (t && !f.bool('no-resolve')) await names.load([t]);
        const svc = f.bool('no-resolve') ? details['com.docker.swarm.service.id'] ?? '' : names.service(t?.ServiceID ?? details['com.docker.swarm.service.id'] ?? '');
        let taskName = `${svc}.${t?.Slot ? t.Slot : t?.NodeID ?? ''}`;
        if (!f.bool('no-task-ids')) taskName += `.${f.bool('no-trunc') ? taskId : truncateId(taskId)}`;
        const nodeId = details['com.docker.swarm.node.id'] ?? '';
        const node = f.bool('no-resolve') ? nodeId : names.node(nodeId);
        const extra = f.bool('details') ? Object.entries(details).filter(([k]) => !k.startsWith('com.docker.swarm.')).map(([k, v]) => `${k}=${v}`).join(',') : '';
        out.push(`${taskName}@${node}    | ${extra ? `${extra} ` : ''}${msg}`);
      }
      return Buffer.from(out.join(''));
    };
    let queue = Promise.resolve();
    const write = (stream: 'out' | 'err') => (b: Buffer) => {
      queue = queue.then(async () => { cli[stream].write(await prefixed(b)); });
    };
    if (tty) {
      for await (const chunk of res) write('out')(chunk as Buffer);
    } else {
      const demux = new StdDemuxer(write('out'), write('err'));
      for await (const chunk of res) demux.push(chunk as Buffer);
    }
    await queue;
  },
};

export const serviceCommand: CommandDef = {
  name: 'service',
  short: 'Manage Swarm services',
  group: 'management',
  subcommands: [createCommand, inspectCommand, logsCommand, lsCommand, psCommand, rmCommand, rollbackCommand, scaleCommand, updateCommand],
};
