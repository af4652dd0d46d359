import type { Container } from './model.js';
import type { ContainerService } from './service.js';
import { hostPs } from '../runtime/ps.js';
import { conflict, invalidArgument } from '../lib/errors.js';

/**
 * `docker top`: run ps on the host with the user's options and keep the rows of the container's
 * processes, as dockerd does. The last column (the command) may hold spaces.
 */
export async function topProcesses(svc: ContainerService, c: Container, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
  if (!c.state.Running) throw conflict(`Container ${c.id} is not running`);
  if (c.state.Paused) throw conflict(`Container ${c.id} is paused, unpause the container before running top`);
  const pids = new Set<number>(await svc.runner.runc.ps(c.id));
  const output = await hostPs(psArgs.split(/\s+/).filter(Boolean));
  return parsePs(output, pids);
}

export function parsePs(output: string, pids: Set<number>): { Titles: string[]; Processes: string[][] } {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw invalidArgument('Couldn\'t find PID field in ps output');
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
    const pid = Number(row[pidIndex]);
    if (pids.has(pid)) processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}
