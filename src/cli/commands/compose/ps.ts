/**
 * `compose ps`: the project's containers in docker compose's columns (NAME IMAGE COMMAND
 * SERVICE CREATED STATUS PORTS), or as JSON lines, a template, IDs (-q) or service names.
 */
import type { CommandDef } from '../../args.js';
import { pathName, type ApiClient } from '../../client.js';
import { CliError, DaemonError } from '../../errors.js';
import { formatGoString, unixLocal } from '../../gotime.js';
import { FORMAT_HELP } from '../../help.js';
import { ellipsis, goQuote, truncateId } from '../../text.js';
import { humanSizeWithPrecision, timeAgo } from '../../units.js';
import { isDefaultTable, renderRows } from '../common.js';
import { CONTAINER_HEADERS } from '../object-rows.js';
import { LABEL } from '../../../compose/engine/labels.js';
import { composeContext, projectOrName } from './project-options.js';
import { canonicalName, projectContainers, serviceOf, type ContainerSummary } from './project-containers.js';
import { assertServices } from './targets.js';

const DEFAULT_TABLE = 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}';

/** `docker ps`'s column titles, with NAME, PROJECT and SERVICE for NAMES (and no PLATFORM), as docker compose's. */
const { Names: _names, Platform: _platform, ...containerHeaders } = CONTAINER_HEADERS;
export const PS_HEADERS: Record<string, string> = { ...containerHeaders, Name: 'NAME', Project: 'PROJECT', Service: 'SERVICE' };

/** A container as `compose ps` knows it: the list entry plus health and exit code from inspect. */
export interface PsContainer extends ContainerSummary {
  Health?: string;
  ExitCode?: number;
}

interface Publisher {
  URL: string;
  TargetPort: number;
  PublishedPort: number;
  Protocol: string;
}

function publishers(c: ContainerSummary): Publisher[] {
  return [...(c.Ports ?? [])]
    .sort((a, b) => a.PrivatePort - b.PrivatePort)
    .map((p) => ({ URL: p.IP ?? '', TargetPort: p.PrivatePort, PublishedPort: p.PublicPort ?? 0, Protocol: p.Type }));
}

function joinHostPort(ip: string, port: string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** docker's DisplayablePorts: "0.0.0.0:8080->80/tcp, 9000-9001/tcp", ranges folded. */
export function displayablePorts(ports: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }>): string {
  const sorted = [...ports].sort(
    (a, b) =>
      a.PrivatePort - b.PrivatePort || (a.IP ?? '').localeCompare(b.IP ?? '') || (a.PublicPort ?? 0) - (b.PublicPort ?? 0) || a.Type.localeCompare(b.Type),
  );
  const groups = new Map<string, { first: number; last: number }>();
  const order: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const form = (key: string, first: number, last: number) => {
    const [a, b] = key.split('/') as [string, string | undefined];
    const ip = b === undefined ? '' : a;
    const type = b === undefined ? a : b;
    let group = first === last ? String(first) : `${first}-${last}`;
    if (ip) group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of sorted) {
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== p.PrivatePort) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
      order.push(key);
    } else if (p.PrivatePort === g.last + 1) {
      g.last = p.PrivatePort;
    } else {
      result.push(form(key, g.first, g.last));
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    }
  }
  for (const key of order) result.push(form(key, groups.get(key)!.first, groups.get(key)!.last));
  return [...result, ...hostMappings].join(', ');
}

/** docker compose's ContainerContext: its fields in the order Go marshals them (sorted). */
export function psRow(c: PsContainer, opts: { trunc: boolean; now: number }): Record<string, unknown> {
  const created = c.Created ?? 0;
  const command = c.Command ?? '';
  const mounts = (c.Mounts ?? []).map((m) => {
    const name = m.Name || m.Source || '';
    return opts.trunc ? ellipsis(name, 15) : name;
  });
  const names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
  const own = names.find((n) => !n.includes('/'));
  const sizeRw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
  const row: Record<string, unknown> = {
    Command: goQuote(opts.trunc ? ellipsis(command, 20) : command),
    CreatedAt: formatGoString(unixLocal(created)),
    ExitCode: c.ExitCode ?? 0,
    Health: c.Health ?? '',
    ID: opts.trunc ? truncateId(c.Id) : c.Id,
    Image: c.Image ?? '',
    Labels: Object.entries(c.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: mounts.join(','),
    Name: canonicalName(c),
    Names: (opts.trunc && own !== undefined ? [own] : names).join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    Ports: displayablePorts(c.Ports ?? []),
    Project: c.Labels?.[LABEL.project] ?? '',
    Publishers: publishers(c),
    RunningFor: timeAgo(created * 1000, opts.now),
    Service: serviceOf(c),
    Size: (c.SizeRootFs ?? 0) > 0 ? `${sizeRw} (virtual ${humanSizeWithPrecision(c.SizeRootFs!, 3)})` : sizeRw,
    State: c.State ?? '',
    Status: c.Status ?? '',
  };
  Object.defineProperty(row, 'Label', { value: (name: string) => c.Labels?.[name] ?? '', enumerable: false });
  return row;
}

export interface PsOutputOptions {
  format: string;
  quiet: boolean;
  services: boolean;
  trunc: boolean;
  now: number;
}

/** Everything `compose ps` prints for these containers (sorted by name as docker compose does). */
export function formatPs(containers: PsContainer[], opts: PsOutputOptions): string {
  const sorted = [...containers].sort((a, b) => (canonicalName(a) < canonicalName(b) ? -1 : canonicalName(a) > canonicalName(b) ? 1 : 0));
  if (opts.quiet) return sorted.map((c) => `${c.Id}\n`).join('');
  if (opts.services) {
    const names: string[] = [];
    for (const c of sorted) if (!names.includes(serviceOf(c))) names.push(serviceOf(c));
    return names.join('\n') + '\n';
  }
  const format = isDefaultTable(opts.format) ? DEFAULT_TABLE : opts.format;
  return renderRows(format, sorted.map((c) => psRow(c, opts)), { ...PS_HEADERS, Label: (name: string) => name });
}

/** `--filter status=x` as docker compose parses it (the only filter it knows). */
export function parsePsFilter(filter: string): string[] {
  if (filter === '') return [];
  const eq = filter.indexOf('=');
  if (eq === -1) throw new CliError('arguments to --filter should be in form KEY=VAL');
  const key = filter.slice(0, eq);
  if (key === 'status') return [filter.slice(eq + 1)];
  if (key === 'source') throw new CliError('not implemented');
  throw new CliError(`unknown filter ${key}`);
}

export const psCommand: CommandDef = {
  name: 'ps',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'List containers',
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Show all stopped containers (including those created by the run command)' },
    { name: 'filter', type: 'string', usage: 'Filter services by a property (supported filters: status)' },
    { name: 'format', type: 'string', usage: FORMAT_HELP },
    { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
    { name: 'orphans', type: 'bool', default: true, usage: 'Include orphaned services (not declared by project)' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display IDs' },
    { name: 'services', type: 'bool', usage: 'Display services' },
    { name: 'status', type: 'list', valueName: 'stringArray', usage: 'Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]' },
  ],
  run: async (inv, cli) => {
    const fl = inv.flags;
    const statuses = [...fl.list('status'), ...parsePsFilter(fl.string('filter'))];
    let services = inv.args;
    const { project, name } = projectOrName(inv, cli, services);
    assertServices(project, services);
    if (project && services.length === 0 && !fl.bool('orphans')) services = Object.keys(project.services);
    const ctx = composeContext(inv, cli);
    const all = fl.bool('all') || statuses.length > 0;
    let containers: PsContainer[] = await projectContainers(ctx, name, { all, oneoff: all ? undefined : false, services });
    if (services.length) containers = containers.filter((c) => services.includes(serviceOf(c)));
    containers = await Promise.all(containers.map((c) => withHealth(ctx.client, c)));
    if (statuses.length) containers = containers.filter((c) => statuses.includes(c.State ?? ''));
    cli.out.write(formatPs(containers, { format: fl.string('format'), quiet: fl.bool('quiet'), services: fl.bool('services'), trunc: !fl.bool('no-trunc'), now: cli.now() }));
  },
};

interface InspectHealth {
  State?: { Status?: string; ExitCode?: number; Health?: { Status?: string } | null } | null;
}

/** Health (running containers) and exit code (stopped ones), which only inspect tells. */
async function withHealth(client: ApiClient, c: ContainerSummary): Promise<PsContainer> {
  try {
    const i = await client.json<InspectHealth>('GET', `/containers/${pathName(c.Id)}/json`);
    const state = i?.State;
    if (state?.Status === 'running') return { ...c, Health: state.Health?.Status ?? '' };
    if (state?.Status === 'exited' || state?.Status === 'dead') return { ...c, ExitCode: state.ExitCode ?? 0 };
    return c;
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return c; // removed meanwhile
    throw err;
  }
}
