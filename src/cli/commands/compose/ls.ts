/**
 * `compose ls`: the projects that have containers on the daemon, found by their labels,
 * with docker compose's combined status ("running(2), exited(1)") and config files.
 */
import type { CommandDef } from '../../args.js';
import { CliError } from '../../errors.js';
import { tabwrite } from '../../tabwriter.js';
import { filtersParam } from '../common.js';
import { LABEL } from '../../../compose/engine/labels.js';
import type { ContainerSummary } from './project-containers.js';

export interface Stack {
  Name: string;
  Status: string;
  ConfigFiles: string;
}

/** "exited(1), running(2)": states sorted, each with its count. */
export function combinedStatus(states: string[]): string {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts.keys()]
    .sort()
    .map((s) => `${s}(${counts.get(s)})`)
    .join(', ');
}

/** The projects of these containers, sorted by name (docker compose's containersToStacks). */
export function containersToStacks(containers: ContainerSummary[], warn: (m: string) => void = () => undefined): Stack[] {
  const byProject = new Map<string, ContainerSummary[]>();
  for (const c of containers) {
    const project = c.Labels?.[LABEL.project];
    if (project === undefined) throw new CliError(`no label "${LABEL.project}" set on container "${c.Id}" of compose project`);
    if (!byProject.has(project)) byProject.set(project, []);
    byProject.get(project)!.push(c);
  }
  return [...byProject.keys()].sort().map((name) => {
    const list = byProject.get(name)!;
    let configFiles: string;
    const missing = list.find((c) => c.Labels?.[LABEL.configFiles] === undefined);
    if (missing) {
      warn(`no label "${LABEL.configFiles}" set on container "${missing.Id}" of compose project`);
      configFiles = 'N/A';
    } else {
      const files: string[] = [];
      for (const c of list) for (const f of c.Labels![LABEL.configFiles]!.split(',')) if (!files.includes(f)) files.push(f);
      configFiles = files.join(',');
    }
    return { Name: name, Status: combinedStatus(list.map((c) => c.State ?? '')), ConfigFiles: configFiles };
  });
}

/** `--filter name=x`: the exact name or a regular expression matching it, as docker compose matches. */
export function filterStacks(stacks: Stack[], filters: string[]): Stack[] {
  const names: string[] = [];
  for (const f of filters) {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq);
    if (key !== 'name') throw new CliError(`invalid filter '${key}'`);
    names.push(f.slice(eq + 1));
  }
  if (filters.length === 0) return stacks;
  return stacks.filter((s) =>
    names.some((n) => {
      if (n === s.Name) return true;
      try {
        return new RegExp(n).test(s.Name);
      } catch {
        return false;
      }
    }),
  );
}

export function formatStacks(stacks: Stack[], format: string, quiet: boolean): string {
  if (quiet) return stacks.map((s) => `${s.Name}\n`).join('');
  switch (format.toLowerCase()) {
    case '':
    case 'table':
    case 'pretty': {
      const lines = ['NAME\tSTATUS\tCONFIG FILES', ...stacks.map((s) => `${s.Name}\t${s.Status}\t${s.ConfigFiles}`)];
      return tabwrite(lines.join('\n') + '\n', { minWidth: 20, tabWidth: 1, padding: 3, padChar: ' ' });
    }
    case 'json':
      return JSON.stringify(stacks) + '\n';
    case '{{json .}}':
      return stacks.map((s) => JSON.stringify(s) + '\n').join('');
    default:
      throw new CliError(`format value ${JSON.stringify(format)} could not be parsed: parsing failed`);
  }
}

export const lsCommand: CommandDef = {
  name: 'ls',
  usage: '[OPTIONS]',
  short: 'List running compose projects',
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Show all stopped Compose projects' },
    { name: 'filter', type: 'filter', usage: 'Filter output based on conditions provided' },
    { name: 'format', type: 'string', default: 'table', usage: 'Format the output. Values: [table | json]' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display project names' },
  ],
  run: async (inv, cli) => {
    const fl = inv.flags;
    // Checked before asking the daemon, as docker compose does.
    filterStacks([], fl.list('filter'));
    const containers = await cli.client().json<ContainerSummary[]>('GET', '/containers/json', {
      query: { all: fl.bool('all') || undefined, filters: filtersParam([`label=${LABEL.project}`, `label=${LABEL.configHash}`]) },
    });
    const stacks = filterStacks(
      containersToStacks(containers ?? [], (m) => cli.err.write(`WARN[0000] ${m}\n`)),
      fl.list('filter'),
    );
    cli.out.write(formatStacks(stacks, fl.string('format'), fl.bool('quiet')));
  },
};
