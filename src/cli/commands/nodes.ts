/**
 * `node ls|inspect|ps|update|promote|demote|rm`: GET /nodes, GET /nodes/{id}, GET /tasks,
 * POST /nodes/{id}/update, DELETE /nodes/{id}, with docker's flags, output and messages.
 */
import type { CommandDef, FlagValues } from '../args.js';
import { pathName } from '../client.js';
import { CliError } from '../errors.js';
import type { Cli } from '../streams.js';
import { filterFlag, filtersParam, formatFlag, inspectFormatFlag, keyValuePairs } from './common.js';
import { renderInspect } from './inspect.js';
import { formatNodeList, prettyNode, type NodeSummary } from './node-format.js';
import type { Task } from '../../swarm/types.js';
import { formatTasks } from './tasks-table.js';

interface InfoSwarm {
  Swarm?: { NodeID?: string; Cluster?: { TLSInfo?: { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string } } | null };
}

/** docker's node.Reference: "self" is this daemon's node. */
async function reference(cli: Cli, ref: string): Promise<string> {
  if (ref !== 'self') return ref;
  const info = await cli.client().json<InfoSwarm>('GET', '/info');
  const id = info?.Swarm?.NodeID ?? '';
  if (id) return id;
  // Not a manager, probably: the swarm endpoint says so in its own words.
  (await cli.client().request('GET', '/nodes')).resume();
  throw new CliError('node ID not found in /info');
}

const getNode = (cli: Cli, ref: string) => cli.client().json<NodeSummary & { Version?: { Index: number } }>('GET', `/nodes/${pathName(ref)}`);

const lsCommand: CommandDef = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  short: 'List nodes in the swarm',
  aliasPaths: ['node ls', 'node list'],
  args: { max: 0 },
  flags: [filterFlag(), formatFlag(), { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display IDs' }],
  run: async (inv, cli) => {
    const f = inv.flags;
    const nodes = (await cli.client().json<NodeSummary[] | null>('GET', '/nodes', { query: { filters: filtersParam(f.list('filter')) } })) ?? [];
    let info: InfoSwarm = {};
    if (nodes.length && !f.bool('quiet')) info = (await cli.client().json<InfoSwarm>('GET', '/info')) ?? {};
    cli.out.write(
      formatNodeList(nodes, { format: f.string('format'), quiet: f.bool('quiet'), selfId: info.Swarm?.NodeID ?? '', ...(info.Swarm?.Cluster?.TLSInfo ? { clusterTls: info.Swarm.Cluster.TLSInfo } : {}) }),
    );
  },
};

const inspectCommand: CommandDef = {
  name: 'inspect',
  usage: '[OPTIONS] self|NODE [NODE...]',
  short: 'Display detailed information on one or more nodes',
  args: { min: 1 },
  flags: [inspectFormatFlag('f'), { name: 'pretty', type: 'bool', usage: 'Print the information in a human friendly format' }],
  run: async (inv, cli) => {
    const format = inv.flags.bool('pretty') ? 'pretty' : inv.flags.string('format');
    if (format.startsWith('pretty') && format !== 'pretty') throw new CliError('cannot supply extra formatting options to the pretty template');
    if (format === 'pretty') {
      let out = '';
      for (const ref of inv.args) out += prettyNode(await getNode(cli, await reference(cli, ref))) + '\n';
      cli.out.write(out);
      return;
    }
    renderInspect([], format); // a bad template fails before any request
    const raws: string[] = [];
    const errors: string[] = [];
    for (const ref of inv.args) {
      try {
        raws.push((await cli.client().text('GET', `/nodes/${pathName(await reference(cli, ref))}`)).trim());
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        errors.push(err.message);
      }
    }
    cli.out.write(renderInspect(raws, format));
    if (errors.length) throw new CliError(errors.join('\n'));
  },
};

/** docker's idresolver: names of services and nodes by ID, best effort, cached. */
class NameResolver {
  private readonly cache = new Map<string, string>();
  constructor(
    private readonly cli: Cli,
    private readonly off: boolean,
  ) {}

  async service(id: string): Promise<string> {
    return this.lookup(`s:${id}`, id, async () => (await this.cli.client().json<{ Spec?: { Name?: string } }>('GET', `/services/${pathName(id)}`))?.Spec?.Name ?? '');
  }

  async node(id: string): Promise<string> {
    return this.lookup(`n:${id}`, id, async () => {
      const n = await getNode(this.cli, id);
      return n?.Spec?.Name || n?.Description?.Hostname || id;
    });
  }

  private async lookup(key: string, id: string, get: () => Promise<string>): Promise<string> {
    if (this.off) return id;
    if (!this.cache.has(key)) {
      let name = id;
      try {
        name = await get();
      } catch {
        // best effort, as docker: the ID stands in
      }
      this.cache.set(key, name);
    }
    return this.cache.get(key)!;
  }
}

const psCommand: CommandDef = {
  name: 'ps',
  usage: '[OPTIONS] [NODE...]',
  short: 'List tasks running on one or more nodes, defaults to current node',
  flags: [
    filterFlag(),
    { name: 'format', type: 'string', usage: 'Pretty-print tasks using a Go template' },
    { name: 'no-resolve', type: 'bool', usage: 'Do not map IDs to Names' },
    { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display task IDs' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const refs = inv.args.length ? inv.args : ['self'];
    const errors: string[] = [];
    const tasks: Task[] = [];
    for (const ref of refs) {
      try {
        const node = await getNode(cli, await reference(cli, ref));
        const filters = filtersParam(f.list('filter'), [['node', node.ID]]);
        tasks.push(...((await cli.client().json<Task[] | null>('GET', '/tasks', { query: { filters } })) ?? []));
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        errors.push(err.message);
      }
    }
    if (errors.length === 0 || tasks.length) {
      const names = new NameResolver(cli, f.bool('no-resolve'));
      const services = new Map<string, string>();
      const nodes = new Map<string, string>();
      for (const t of tasks) {
        services.set(t.ServiceID, await names.service(t.ServiceID));
        nodes.set(t.NodeID ?? '', await names.node(t.NodeID ?? ''));
      }
      cli.out.write(
        formatTasks(tasks, { service: (id) => services.get(id) ?? id, node: (id) => nodes.get(id) ?? id }, {
          format: f.string('format'), quiet: f.bool('quiet'), trunc: !f.bool('no-trunc'), nowMs: cli.now(),
        }),
      );
    }
    if (errors.length) throw new CliError(errors.join('\n'));
  },
};

class NoRoleChange extends Error {}

/** docker's updateNodes: inspect, change the spec, update at the inspected version. */
async function updateNodes(cli: Cli, refs: string[], change: (node: NodeSummary & { Spec: NonNullable<NodeSummary['Spec']> }) => void, done: (ref: string) => void): Promise<void> {
  for (const ref of refs) {
    const node = await getNode(cli, ref);
    node.Spec ??= {};
    try {
      change(node as NodeSummary & { Spec: NonNullable<NodeSummary['Spec']> });
    } catch (err) {
      if (err instanceof NoRoleChange) continue;
      throw err;
    }
    const res = await cli.client().request('POST', `/nodes/${pathName(node.ID)}/update`, { query: { version: String(node.Version?.Index ?? 0) }, json: node.Spec });
    res.resume();
    done(ref);
  }
}


export function mergeNodeUpdate(spec: NonNullable<NodeSummary['Spec']>, f: FlagValues): void {
  if (f.changed('role')) spec.Role = f.string('role');
  if (f.changed('availability')) spec.Availability = f.string('availability');
  spec.Labels ??= {};
  if (f.changed('label-add')) Object.assign(spec.Labels, keyValuePairs(f.list('label-add')));
  if (f.changed('label-rm')) {
    for (const k of f.list('label-rm')) {
      if (!(k in spec.Labels)) throw new CliError(`key ${k} doesn't exist in node's labels`);
      delete spec.Labels[k];
    }
  }
}

const updateCommand: CommandDef = {
  name: 'update',
  usage: '[OPTIONS] NODE',
  short: 'Update a node',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'availability', type: 'string', usage: 'Availability of the node ("active", "pause", "drain")' },
    { name: 'label-add', type: 'list', usage: 'Add or update a node label ("key=value")' },
    { name: 'label-rm', type: 'list', usage: 'Remove a node label if exists' },
    { name: 'role', type: 'string', usage: 'Role of the node ("worker", "manager")' },
  ],
  run: async (inv, cli) => {
    await updateNodes(cli, [inv.args[0]!], (n) => mergeNodeUpdate(n.Spec, inv.flags), () => cli.out.write(`${inv.args[0]}\n`));
  },
};

const promoteCommand: CommandDef = {
  name: 'promote',
  usage: 'NODE [NODE...]',
  short: 'Promote one or more nodes to manager in the swarm',
  args: { min: 1 },
  run: async (inv, cli) => {
    await updateNodes(cli, inv.args, (n) => {
      if (n.Spec.Role === 'manager') {
        cli.out.write(`Node ${n.ID} is already a manager.\n`);
        throw new NoRoleChange();
      }
      n.Spec.Role = 'manager';
    }, (ref) => cli.out.write(`Node ${ref} promoted to a manager in the swarm.\n`));
  },
};

const demoteCommand: CommandDef = {
  name: 'demote',
  usage: 'NODE [NODE...]',
  short: 'Demote one or more nodes from manager in the swarm',
  args: { min: 1 },
  run: async (inv, cli) => {
    await updateNodes(cli, inv.args, (n) => {
      if (n.Spec.Role === 'worker') {
        cli.out.write(`Node ${n.ID} is already a worker.\n`);
        throw new NoRoleChange();
      }
      n.Spec.Role = 'worker';
    }, (ref) => cli.out.write(`Manager ${ref} demoted in the swarm.\n`));
  },
};

const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['remove'],
  usage: '[OPTIONS] NODE [NODE...]',
  short: 'Remove one or more nodes from the swarm',
  aliasPaths: ['node rm', 'node remove'],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force remove a node from the swarm' }],
  run: async (inv, cli) => {
    const errors: string[] = [];
    for (const id of inv.args) {
      try {
        (await cli.client().request('DELETE', `/nodes/${pathName(id)}`, { query: { force: inv.flags.bool('force') ? '1' : undefined } })).resume();
        cli.out.write(`${id}\n`);
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        errors.push(err.message);
      }
    }
    if (errors.length) throw new CliError(errors.join('\n'));
  },
};

export const nodeCommand: CommandDef = {
  name: 'node',
  short: 'Manage Swarm nodes',
  group: 'management',
  subcommands: [demoteCommand, inspectCommand, lsCommand, promoteCommand, psCommand, rmCommand, updateCommand],
};
