/**
 * Adapter for iptables and ip6tables (with their -save and -restore; whichever backend `iptables` is on
 * this host): the only module that runs them. Every call waits for the xtables lock (-w); what the
 * program writes to stderr becomes the error.
 *
 * Lifecycle: stateless functions. The firewall module decides what the daemon's own chains hold and
 * rewrites them whole with `restore`; `ensureRule`/`deleteRule` manage the few jumps from the
 * built-in chains into them.
 */
import { execFileText, ExecFileError } from '../lib/exec-file.js';

export type Table = 'filter' | 'nat';

/** 4: iptables, 6: ip6tables (the same package and backend, nft or legacy, as iptables on this host). */
export type Family = 4 | 6;

function prog(family: Family, tool: '' | '-save' | '-restore'): string {
  return `${family === 6 ? 'ip6tables' : 'iptables'}${tool}`;
}

export class IptablesError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'IptablesError';
  }
}

/** Lines iptables prints that are not errors (e.g. the nft backend noticing legacy tables). */
function cleanStderr(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^# Warning: iptables-legacy tables present/.test(l))
    .join('; ');
}

async function run(program: string, args: string[], input?: string): Promise<string> {
  try {
    return await execFileText(program, args, { input, timeoutMs: 60_000 });
  } catch (err) {
    if (err instanceof ExecFileError) {
      throw new IptablesError(`${program} ${args.join(' ')}: ${cleanStderr(err.stderr) || err.detail}`, err.stderr, err.exitCode);
    }
    throw err;
  }
}

/**
 * Replaces the tables the text names, whole, in one transaction (iptables-restore without --noflush),
 * optionally inside another network namespace (`nsenter --net=<path>`): for namespaces whose tables
 * belong to the daemon alone, such as a container's (the swarm VIP rules).
 */
export async function replaceTables(text: string, opts: { netnsPath?: string; family?: Family } = {}): Promise<void> {
  const program = prog(opts.family ?? 4, '-restore');
  if (opts.netnsPath) await run('nsenter', [`--net=${opts.netnsPath}`, program, '-w'], text);
  else await run(program, ['-w'], text);
}

/** Applies an iptables-restore text without flushing tables; chains it declares are emptied first. */
export async function restore(text: string, family: Family = 4): Promise<void> {
  await run(prog(family, '-restore'), ['-w', '--noflush'], text);
}

export async function save(table: Table, family: Family = 4): Promise<string> {
  return run(prog(family, '-save'), ['-t', table]);
}

/** True if the rule is in the chain (iptables -C). */
export async function hasRule(table: Table, chain: string, rule: string[], family: Family = 4): Promise<boolean> {
  try {
    await run(prog(family, ''), ['-w', '-t', table, '-C', chain, ...rule]);
    return true;
  } catch (err) {
    if (err instanceof IptablesError && (err.exitCode === 1 || /does a matching rule exist|No chain\/target\/match/i.test(err.stderr))) return false;
    throw err;
  }
}

/** Adds the rule unless present: inserted first in the chain, or appended. */
export async function ensureRule(table: Table, chain: string, rule: string[], where: 'first' | 'last' = 'first', family: Family = 4): Promise<void> {
  if (await hasRule(table, chain, rule, family)) return;
  await run(prog(family, ''), ['-w', '-t', table, where === 'first' ? '-I' : '-A', chain, ...(where === 'first' ? ['1'] : []), ...rule]);
}

/** Deletes every copy of the rule; absent is fine. */
export async function deleteRule(table: Table, chain: string, rule: string[], family: Family = 4): Promise<void> {
  for (let i = 0; i < 16 && (await hasRule(table, chain, rule, family)); i++) {
    await run(prog(family, ''), ['-w', '-t', table, '-D', chain, ...rule]);
  }
}

/** Empties and deletes a chain; absent is fine. */
export async function removeChain(table: Table, chain: string, family: Family = 4): Promise<void> {
  try {
    await run(prog(family, ''), ['-w', '-t', table, '-F', chain]);
  } catch (err) {
    if (err instanceof IptablesError && /No chain|does not exist/i.test(err.stderr)) return;
    throw err;
  }
  await run(prog(family, ''), ['-w', '-t', table, '-X', chain]);
}

/**
 * Splits an iptables-save rule line ("-A FORWARD -i br0 -j X") into its words, honouring the double
 * quotes iptables-save puts around comments.
 */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}
