/**
 * `network ls|create|inspect|rm|prune|connect|disconnect`: GET /networks, POST /networks/create,
 * GET /networks/{id}, DELETE /networks/{id}, POST /networks/prune, POST /networks/{id}/connect and
 * /disconnect, with docker's flags, columns and messages.
 */
import type { CommandDef } from '../args.js';
import { pathName } from '../client.js';
import { CliError, DaemonError } from '../errors.js';
import { formatGoString, parseRFC3339 } from '../gotime.js';
import { truncateId } from '../text.js';
import { confirm, filterFlag, filtersParam, formatFlag, isDefaultTable, renderRows, keyValuePairs } from './common.js';
import { inspectObjects } from './inspect.js';
import { inspectFormatFlag } from './common.js';

/** A network as GET /networks returns it (the fields the CLI reads). */
export interface NetworkSummary {
  Id: string;
  Name: string;
  Created?: string;
  Driver?: string;
  Scope?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
}

export const NETWORK_HEADERS: Record<string, string> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

const DEFAULT_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

/** One line of `network ls`: docker's networkContext fields, keys in JSON (sorted) order. */
export function networkRow(n: NetworkSummary, trunc: boolean): Record<string, string> {
  const created = n.Created ? parseRFC3339(n.Created) : undefined;
  return {
    CreatedAt: created ? formatGoString(created) : '',
    Driver: n.Driver ?? '',
    ID: trunc ? truncateId(n.Id) : n.Id,
    IPv4: String(n.EnableIPv4 ?? true),
    IPv6: String(n.EnableIPv6 ?? false),
    Internal: String(n.Internal ?? false),
    Labels: Object.keys(n.Labels ?? {})
      .sort()
      .map((k) => `${k}=${n.Labels![k]}`)
      .join(','),
    Name: n.Name,
    Scope: n.Scope ?? '',
  };
}

export function formatNetworkList(networks: NetworkSummary[], opts: { format: string; quiet: boolean; noTrunc: boolean }): string {
  const format = isDefaultTable(opts.format) ? (opts.quiet ? '{{.ID}}' : DEFAULT_FORMAT) : opts.format;
  // docker sorts by name (natural order) before printing
  const sorted = [...networks].sort((a, b) => a.Name.localeCompare(b.Name, undefined, { numeric: true }));
  return renderRows(format, sorted.map((n) => networkRow(n, !opts.noTrunc)), NETWORK_HEADERS);
}

const lsCommand: CommandDef = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  short: 'List networks',
  aliasPaths: ['network ls', 'network list'],
  args: { max: 0 },
  flags: [
    filterFlag('Provide filter values (e.g. "driver=bridge")'),
    formatFlag(),
    { name: 'no-trunc', type: 'bool', usage: 'Do not truncate the output' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display network IDs' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const networks = await cli.client().json<NetworkSummary[]>('GET', '/networks', { query: { filters: filtersParam(f.list('filter')) } });
    cli.out.write(formatNetworkList(networks ?? [], { format: f.string('format'), quiet: f.bool('quiet'), noTrunc: f.bool('no-trunc') }));
  },
};


/** docker's consolidateIpam: gateways and ranges go with the subnet that contains them. */
export function ipamConfig(subnets: string[], ranges: string[], gateways: string[]): Array<Record<string, string>> {
  if (subnets.length < ranges.length || subnets.length < gateways.length) throw new CliError('every ip-range or gateway must have a corresponding subnet');
  const contains = (subnet: string, ip: string): boolean => {
    const [net, bits] = subnet.split('/');
    const n = (a: string) => a.split('.').reduce((acc, b) => acc * 256 + Number(b), 0);
    const size = 2 ** (32 - Number(bits));
    return Math.floor(n(net!) / size) === Math.floor(n(ip.split('/')[0]!) / size);
  };
  return subnets.map((s) => {
    const cfg: Record<string, string> = { Subnet: s };
    const r = ranges.find((x) => contains(s, x));
    if (r) cfg.IPRange = r;
    const g = gateways.find((x) => contains(s, x));
    if (g) cfg.Gateway = g;
    return cfg;
  });
}

const createCommand: CommandDef = {
  name: 'create',
  usage: '[OPTIONS] NETWORK',
  short: 'Create a network',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'attachable', type: 'bool', usage: 'Enable manual container attachment' },
    { name: 'aux-address', type: 'list', usage: 'Auxiliary IPv4 or IPv6 addresses used by Network driver' },
    { name: 'driver', short: 'd', type: 'string', default: 'bridge', usage: 'Driver to manage the Network' },
    { name: 'gateway', type: 'strings', usage: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'internal', type: 'bool', usage: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'strings', usage: 'Allocate container ip from a sub-range' },
    { name: 'ipam-driver', type: 'string', default: 'default', usage: 'IP Address Management Driver' },
    { name: 'ipam-opt', type: 'list', usage: 'Set IPAM driver specific options' },
    { name: 'ipv6', type: 'bool', usage: 'Enable or disable IPv6 networking' },
    { name: 'label', type: 'list', usage: 'Set metadata on a network' },
    { name: 'opt', short: 'o', type: 'list', usage: 'Set driver specific options' },
    { name: 'subnet', type: 'strings', usage: 'Subnet in CIDR format that represents a network segment' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const body = {
      Name: inv.args[0],
      Driver: f.string('driver') || 'bridge',
      Options: keyValuePairs(f.list('opt')),
      IPAM: { Driver: f.string('ipam-driver') || 'default', Config: ipamConfig(f.list('subnet'), f.list('ip-range'), f.list('gateway')), Options: keyValuePairs(f.list('ipam-opt')) },
      Internal: f.bool('internal'),
      EnableIPv6: f.bool('ipv6') || undefined,
      Attachable: f.bool('attachable'),
      Labels: keyValuePairs(f.list('label')),
    };
    const res = await cli.client().json<{ Id: string; Warning?: string }>('POST', '/networks/create', { json: body });
    if (res.Warning) cli.err.write(`${res.Warning}\n`);
    cli.out.write(`${res.Id}\n`);
  },
};

const inspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  short: 'Display detailed information on one or more networks',
  args: { min: 1 },
  flags: [inspectFormatFlag('f'), { name: 'verbose', short: 'v', type: 'bool', usage: 'Verbose output for diagnostics' }],
  run: async (inv, cli) => {
    await inspectObjects(cli, inv.args, [{ type: 'network', path: (n) => `/networks/${pathName(n)}` }], inv.flags.string('format'));
  },
};

const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'NETWORK [NETWORK...]',
  short: 'Remove one or more networks',
  aliasPaths: ['network rm', 'network remove'],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Do not error if the network does not exist' }],
  run: async (inv, cli) => {
    const errors: string[] = [];
    for (const name of inv.args) {
      try {
        (await cli.client().request('DELETE', `/networks/${pathName(name)}`)).resume();
        cli.out.write(`${name}\n`);
      } catch (err) {
        if (!(err instanceof DaemonError)) throw err;
        if (inv.flags.bool('force') && err.status === 404) continue;
        errors.push(err.message);
      }
    }
    if (errors.length) throw new CliError(errors.join('\n'));
  },
};

const PRUNE_WARNING = 'WARNING! This will remove all custom networks not used by at least one container.';

const pruneCommand: CommandDef = {
  name: 'prune',
  usage: '[OPTIONS]',
  short: 'Remove all unused networks',
  args: { max: 0 },
  flags: [filterFlag('Provide filter values (e.g. "until=<timestamp>")', null), { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' }],
  run: async (inv, cli) => {
    if (!inv.flags.bool('force') && !(await confirm(cli, PRUNE_WARNING))) return;
    const report = await cli.client().json<{ NetworksDeleted?: string[] | null }>('POST', '/networks/prune', { query: { filters: filtersParam(inv.flags.list('filter')) } });
    const deleted = report?.NetworksDeleted ?? [];
    if (deleted.length) cli.out.write(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}`);
  },
};

const connectCommand: CommandDef = {
  name: 'connect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  short: 'Connect a container to a network',
  args: { min: 2, max: 2 },
  flags: [
    { name: 'alias', type: 'list', usage: 'Add network-scoped alias for the container' },
    { name: 'driver-opt', type: 'list', usage: 'driver options for the network' },
    { name: 'ip', type: 'string', usage: 'IPv4 address (e.g., "172.30.100.104")' },
    { name: 'ip6', type: 'string', usage: 'IPv6 address (e.g., "2001:db8::33")' },
    { name: 'link', type: 'list', usage: 'Add link to another container' },
    { name: 'link-local-ip', type: 'list', usage: 'Add a link-local address for the container' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const [network, container] = inv.args as [string, string];
    const ipam = { IPv4Address: f.string('ip') || undefined, IPv6Address: f.string('ip6') || undefined, LinkLocalIPs: f.list('link-local-ip').length ? f.list('link-local-ip') : undefined };
    const EndpointConfig = {
      IPAMConfig: ipam.IPv4Address || ipam.IPv6Address || ipam.LinkLocalIPs ? ipam : undefined,
      Links: f.list('link').length ? f.list('link') : undefined,
      Aliases: f.list('alias').length ? f.list('alias') : undefined,
      DriverOpts: f.list('driver-opt').length ? keyValuePairs(f.list('driver-opt')) : undefined,
    };
    (await cli.client().request('POST', `/networks/${pathName(network)}/connect`, { json: { Container: container, EndpointConfig } })).resume();
  },
};

const disconnectCommand: CommandDef = {
  name: 'disconnect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  short: 'Disconnect a container from a network',
  args: { min: 2, max: 2 },
  flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force the container to disconnect from a network' }],
  run: async (inv, cli) => {
    const [network, container] = inv.args as [string, string];
    (await cli.client().request('POST', `/networks/${pathName(network)}/disconnect`, { json: { Container: container, Force: inv.flags.bool('force') } })).resume();
  },
};

export const networkCommand: CommandDef = {
  name: 'network',
  short: 'Manage networks',
  group: 'management',
  subcommands: [connectCommand, createCommand, disconnectCommand, inspectCommand, lsCommand, pruneCommand, rmCommand],
};
