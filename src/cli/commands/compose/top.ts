/** `compose top`: the processes of the project's running containers in one table, as docker compose shows them. */
import type { CommandDef } from '../../args.js';
import { pathName } from '../../client.js';
import { tabwrite } from '../../tabwriter.js';
import { LABEL } from '../../../compose/engine/labels.js';
import { composeContext, toProjectName } from './project-options.js';
import { canonicalName, projectContainers, serviceOf } from './project-containers.js';

export interface ContainerProcesses {
  name: string;
  service: string;
  replica: string;
  titles: string[];
  processes: string[][];
}

/**
 * One table for all containers: SERVICE and # first, then every title in the order first
 * seen, CMD moved last; a title a container lacks shows "-".
 */
export function formatComposeTop(containers: ContainerProcesses[]): string {
  const sorted = [...containers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: string[] = ['SERVICE', '#'];
  const rows: Array<Record<string, string>> = [];
  for (const c of sorted) {
    for (const p of c.processes) {
      const row: Record<string, string> = { SERVICE: c.service, '#': c.replica };
      c.titles.forEach((t, i) => {
        if (!header.includes(t)) header.push(t);
        row[t] = p[i] ?? '';
      });
      rows.push(row);
    }
  }
  if (rows.length === 0) return '';
  const cmd = header.indexOf('CMD');
  if (cmd !== -1) header.push(...header.splice(cmd, 1));
  const lines = [header.join('\t'), ...rows.map((r) => header.map((t) => r[t] ?? '-').join('\t'))];
  return tabwrite(lines.join('\n') + '\n', { minWidth: 4, tabWidth: 1, padding: 2, padChar: ' ' });
}

export const topCommand: CommandDef = {
  name: 'top',
  usage: '[SERVICES...]',
  short: 'Display the running processes',
  run: async (inv, cli) => {
    const services = inv.args;
    const name = toProjectName(inv, cli);
    const ctx = composeContext(inv, cli);
    let containers = await projectContainers(ctx, name, {});
    if (services.length) containers = containers.filter((c) => services.includes(serviceOf(c)));
    const tops = await Promise.all(
      containers.map(async (c) => {
        const top = await ctx.client.json<{ Titles?: string[] | null; Processes?: string[][] | null }>('GET', `/containers/${pathName(c.Id)}/top`);
        const name = canonicalName(c);
        return {
          name,
          service: c.Labels?.[LABEL.service] ?? name,
          replica: c.Labels?.[LABEL.containerNumber] ?? '',
          titles: top?.Titles ?? [],
          processes: top?.Processes ?? [],
        };
      }),
    );
    cli.out.write(formatComposeTop(tops));
  },
};
