/**
 * `stack deploy|ls|ps|rm|services`, client-side as the docker CLI does them (cli/command/stack): a stack
 * is the services, networks, secrets and configs labelled `com.docker.stack.namespace=<stack>`.
 */
import type { CommandDef } from '../../args.js';
import type { Cli } from '../../streams.js';
import { CliError, DaemonError } from '../../errors.js';
import { filterFlag, filtersParam, formatFlag, isDefaultTable, renderRows } from '../common.js';
import { formatServiceList } from '../service/index.js';
import { waitConverged } from '../service/converge.js';
import { formatTasks } from '../tasks-table.js';
import { loadProject, ComposeError } from '../../../compose/index.js';
import { normalizeProjectName } from '../../../compose/project-name.js';
import { BerthError } from '../../../lib/errors.js';
import { checkKeys, checkStackName, convertStack, LABEL_NAMESPACE } from '../../../stack/index.js';
import type { Config, Secret, Service, SwarmNode, Task } from '../../../swarm/types.js';
import { deployStack, listStackObjects, removeServices, type ResolveImage } from './deploy.js';
import { sleep } from '../../../lib/sleep.js';

const RESOLVE_VALUES = ['always', 'changed', 'never'];

function stackName(name: string): string {
  const bad = checkStackName(name);
  if (bad) throw new CliError(bad);
  return name;
}

const deployCommand: CommandDef = {
  name: 'deploy',
  aliases: ['up'],
  usage: '[OPTIONS] STACK',
  short: 'Deploy a new stack or update an existing stack',
  aliasPaths: ['stack deploy', 'stack up'],
  args: { min: 1, max: 1 },
  flags: [
    { name: 'compose-file', short: 'c', type: 'strings', usage: 'Path to a Compose file, or "-" to read from stdin' },
    { name: 'detach', short: 'd', type: 'bool', default: true, usage: 'Exit immediately instead of waiting for the stack services to converge' },
    { name: 'prune', type: 'bool', usage: 'Prune services that are no longer referenced' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress progress output' },
    { name: 'resolve-image', type: 'string', default: 'always', usage: 'Query the registry to resolve image digest and supported platforms ("always", "changed", "never")' },
    { name: 'with-registry-auth', type: 'bool', usage: 'Send registry authentication details to Swarm agents' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const stack = stackName(inv.args[0]!);
    const files = f.list('compose-file');
    if (!files.length) throw new CliError('specify a Compose file (with --compose-file)');
    const resolveImage = f.string('resolve-image');
    let plan;
    try {
      const project = loadProject({
        workingDir: process.cwd(),
        files,
        // Names come from the stack, not from compose's project naming: names are left unset here.
        projectName: normalizeProjectName(stack) || 'stack',
        normalize: false,
        env: cli.env,
        warn: (m) => cli.err.write(`WARN[0000] ${m}\n`),
      });
      const { warnings } = checkKeys(project);
      if (warnings) cli.err.write(warnings);
      plan = convertStack(project, stack);
    } catch (err) {
      if (err instanceof BerthError || err instanceof ComposeError) throw new CliError(err.message);
      throw err;
    }
    if (!RESOLVE_VALUES.includes(resolveImage)) throw new CliError(`invalid option ${resolveImage} for flag --resolve-image`);
    const detach = f.bool('detach');
    if (detach && !f.changed('detach')) {
      cli.err.write('Since --detach=false was not specified, tasks will be created in the background.\nIn a future release, --detach=false will become the default.\n');
    }
    await deployStack(cli, plan, { prune: f.bool('prune'), withRegistryAuth: f.bool('with-registry-auth'), resolveImage: resolveImage as ResolveImage });
    if (!detach) {
      const services = await listStackObjects<Service>(cli, 'services', stack);
      const errors: string[] = [];
      for (const s of services) {
        try {
          await waitConverged(cli, s.ID, { quiet: f.bool('quiet') });
        } catch (err) {
          errors.push(`${s.ID}: ${(err as Error).message}`);
        }
      }
      if (errors.length) throw new CliError(errors.join('\n'));
    }
  },
};

const STACK_HEADERS = { Name: 'NAME', Services: 'SERVICES' };

const lsCommand: CommandDef = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  short: 'List stacks',
  aliasPaths: ['stack ls', 'stack list'],
  args: { max: 0 },
  flags: [formatFlag()],
  run: async (inv, cli) => {
    const services = (await cli.client().json<Service[]>('GET', '/services', { query: { filters: filtersParam([], [['label', LABEL_NAMESPACE]]) } })) ?? [];
    const counts = new Map<string, number>();
    for (const s of services) {
      const name = s.Spec.Labels?.[LABEL_NAMESPACE];
      if (name === undefined) throw new CliError(`cannot get label ${LABEL_NAMESPACE} for service ${s.ID}`);
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    const rows = [...counts].map(([Name, n]) => ({ Name, Services: String(n) })).sort((a, b) => a.Name.localeCompare(b.Name, undefined, { numeric: true }));
    const format = isDefaultTable(inv.flags.string('format')) ? 'table {{.Name}}\t{{.Services}}' : inv.flags.string('format');
    cli.out.write(renderRows(format, rows, STACK_HEADERS));
  },
};

const servicesCommand: CommandDef = {
  name: 'services',
  usage: '[OPTIONS] STACK',
  short: 'List the services in the stack',
  args: { min: 1, max: 1 },
  flags: [filterFlag(), formatFlag(), { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display IDs' }],
  run: async (inv, cli) => {
    const f = inv.flags;
    const stack = stackName(inv.args[0]!);
    const services = (await cli.client().json<Service[]>('GET', '/services', {
      query: { filters: filtersParam(f.list('filter'), [['label', `${LABEL_NAMESPACE}=${stack}`]]), status: !f.bool('quiet') || undefined },
    })) ?? [];
    if (!services.length) {
      cli.err.write(`Nothing found in stack: ${stack}\n`);
      return;
    }
    cli.out.write(formatServiceList(services, { format: f.string('format'), quiet: f.bool('quiet'), trunc: true }));
  },
};

/** Service and node names for the task table, each fetched once. */
async function taskNames(cli: Cli, tasks: Task[], resolve: boolean) {
  const services = new Map<string, string>();
  const nodes = new Map<string, string>();
  if (resolve) {
    for (const id of new Set(tasks.map((t) => t.ServiceID))) {
      services.set(id, await cli.client().json<Service>('GET', `/services/${id}`).then((s) => s.Spec.Name, () => id));
    }
    for (const id of new Set(tasks.map((t) => t.NodeID).filter((x): x is string => Boolean(x)))) {
      nodes.set(id, await cli.client().json<SwarmNode>('GET', `/nodes/${id}`).then((n) => n.Spec?.Name || n.Description?.Hostname || id, () => id));
    }
  }
  return { service: (id: string) => services.get(id) ?? id, node: (id: string) => nodes.get(id) ?? id };
}

const psCommand: CommandDef = {
  name: 'ps',
  usage: '[OPTIONS] STACK',
  short: 'List the tasks in the stack',
  args: { min: 1, max: 1 },
  flags: [
    filterFlag(),
    formatFlag(),
    { name: 'no-resolve', type: 'bool', usage: 'Do not map IDs to Names' },
    { name: 'no-trunc', type: 'bool', usage: 'Do not truncate output' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display task IDs' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const stack = stackName(inv.args[0]!);
    const tasks = (await cli.client().json<Task[]>('GET', '/tasks', { query: { filters: filtersParam(f.list('filter'), [['label', `${LABEL_NAMESPACE}=${stack}`]]) } })) ?? [];
    if (!tasks.length) throw new CliError(`nothing found in stack: ${stack}`);
    const names = await taskNames(cli, tasks, !f.bool('no-resolve'));
    cli.out.write(formatTasks(tasks, names, { format: f.string('format'), quiet: f.bool('quiet'), trunc: !f.bool('no-trunc'), nowMs: cli.now() }));
  },
};

/** Secrets and configs of a stack; a daemon without those endpoints has none. */
async function optionalList<T>(cli: Cli, kind: 'secrets' | 'configs', stack: string): Promise<T[]> {
  try {
    return await listStackObjects<T>(cli, kind, stack);
  } catch (err) {
    if (err instanceof DaemonError && (err.status === 404 || err.status === 501)) return [];
    throw err;
  }
}

async function removeEach(cli: Cli, kind: 'secret' | 'config' | 'network', items: Array<{ id: string; name: string }>): Promise<boolean> {
  let failed = false;
  for (const item of items) {
    cli.out.write(`Removing ${kind} ${item.name}\n`);
    try {
      (await cli.client().request('DELETE', `/${kind}s/${item.id}`)).resume();
    } catch (err) {
      failed = true;
      cli.err.write(`Failed to remove ${kind} ${item.id}: ${(err as Error).message}`);
    }
  }
  return failed;
}

const TERMINAL = new Set(['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned']);

const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['remove', 'down'],
  usage: '[OPTIONS] STACK [STACK...]',
  short: 'Remove one or more stacks',
  aliasPaths: ['stack rm', 'stack remove', 'stack down'],
  args: { min: 1 },
  flags: [{ name: 'detach', short: 'd', type: 'bool', default: true, usage: 'Do not wait for stack removal' }],
  run: async (inv, cli) => {
    for (const name of inv.args) stackName(name);
    const errors: string[] = [];
    for (const stack of inv.args) {
      const services = await listStackObjects<Service>(cli, 'services', stack);
      const networks = await listStackObjects<{ Id: string; Name: string }>(cli, 'networks', stack);
      const secrets = await optionalList<Secret>(cli, 'secrets', stack);
      const configs = await optionalList<Config>(cli, 'configs', stack);
      if (services.length + networks.length + secrets.length + configs.length === 0) {
        cli.err.write(`Nothing found in stack: ${stack}\n`);
        continue;
      }
      let failed = await removeServices(cli, services);
      failed = (await removeEach(cli, 'secret', secrets.map((s) => ({ id: s.ID, name: s.Spec.Name })))) || failed;
      failed = (await removeEach(cli, 'config', configs.map((c) => ({ id: c.ID, name: c.Spec.Name })))) || failed;
      failed = (await removeEach(cli, 'network', networks.map((n) => ({ id: n.Id, name: n.Name })))) || failed;
      if (failed) {
        errors.push(`failed to remove some resources from stack: ${stack}`);
        continue;
      }
      if (!inv.flags.bool('detach')) {
        for (;;) {
          const tasks = await listStackObjects<Task>(cli, 'tasks', stack);
          if (tasks.every((t) => TERMINAL.has(t.Status?.State))) break;
          await sleep(300);
        }
      }
    }
    if (errors.length) throw new CliError(errors.join('\n'));
  },
};

export const stackCommand: CommandDef = {
  name: 'stack',
  usage: '[OPTIONS]',
  short: 'Manage Swarm stacks',
  group: 'management',
  subcommands: [deployCommand, lsCommand, psCommand, rmCommand, servicesCommand],
};

