/**
 * `compose exec`: a command in a service's running container, through berth's own `exec`
 * (TTY, stdin, resize, exit status) once the container is found. A TTY by default when
 * stdout is a terminal, as docker compose decides.
 */
import { parseFlags, type CommandDef } from '../../args.js';
import { execCommand as containerExec } from '../interactive.js';
import { composeContext, toProjectName } from './project-options.js';
import { specifiedContainer } from './targets.js';
import type { Cli } from '../../streams.js';

/** Runs berth's own command `cmd` as if typed with `argv` (its flags then its arguments). */
export async function delegate(cmd: CommandDef, argv: string[], cli: Cli): Promise<number> {
  const parsed = parseFlags(cmd.flags ?? [], argv, !cmd.noInterspersed);
  return (await cmd.run!({ args: parsed.positionals, flags: parsed.flags, path: cmd.name }, cli)) ?? 0;
}

/**
 * `-e KEY` takes KEY's value from the environment, and leaves it out when unset, as docker
 * compose's MappingWithEquals.Resolve does.
 */
export function resolveEnv(entries: string[], lookup: (k: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.includes('=')) out.push(e);
    else {
      const v = lookup(e);
      if (v !== undefined) out.push(`${e}=${v}`);
    }
  }
  return out;
}

/** Whether a command gets a TTY: -T/--no-tty when given, else whether stdout is a terminal. */
export function wantsTty(inv: { flags: { changed(n: string): boolean; bool(n: string): boolean } }, cli: Cli): boolean {
  return inv.flags.changed('no-tty') ? !inv.flags.bool('no-tty') : !!cli.out.isTTY;
}

export const execCommand: CommandDef = {
  name: 'exec',
  usage: '[OPTIONS] SERVICE COMMAND [ARGS...]',
  short: 'Execute a command in a running container',
  args: { min: 2 },
  noInterspersed: true,
  flags: [
    { name: 'detach', short: 'd', type: 'bool', usage: 'Detached mode: Run command in the background' },
    { name: 'env', short: 'e', type: 'list', valueName: 'stringArray', usage: 'Set environment variables' },
    { name: 'index', type: 'int', usage: 'Index of the container if service has multiple replicas' },
    { name: 'interactive', short: 'i', type: 'bool', default: true, hidden: true, usage: 'Keep STDIN open even if not attached' },
    { name: 'no-tty', short: 'T', type: 'bool', usage: "Disable pseudo-TTY allocation. By default 'docker compose exec' allocates a TTY." },
    { name: 'privileged', type: 'bool', usage: 'Give extended privileges to the process' },
    { name: 'tty', short: 't', type: 'bool', default: true, hidden: true, usage: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', usage: 'Run the command as this user' },
    { name: 'workdir', short: 'w', type: 'string', usage: 'Path to workdir directory for this command' },
  ],
  run: async (inv, cli) => {
    const fl = inv.flags;
    const [service, ...command] = inv.args as [string, ...string[]];
    const name = toProjectName(inv, cli);
    const ctx = composeContext(inv, cli);
    const target = await specifiedContainer(ctx, name, service, { index: fl.int('index') || undefined });
    const argv: string[] = [];
    if (fl.bool('detach')) argv.push('--detach');
    if (fl.bool('interactive')) argv.push('--interactive');
    if (wantsTty(inv, cli)) argv.push('--tty');
    if (fl.bool('privileged')) argv.push('--privileged');
    if (fl.string('user')) argv.push('--user', fl.string('user'));
    if (fl.string('workdir')) argv.push('--workdir', fl.string('workdir'));
    for (const e of resolveEnv(fl.list('env'), (k) => cli.env[k])) argv.push('--env', e);
    argv.push(target.Id, ...command);
    // A failing command's status is compose exec's own, with nothing printed.
    return delegate(containerExec('exec'), argv, cli);
  },
};
