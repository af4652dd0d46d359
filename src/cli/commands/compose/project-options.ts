/**
 * The flags every `compose` subcommand accepts (docker compose's persistent flags) and the
 * project they load. CONTRACT (issue 14): `composeFlags`, `loadComposeProject` and
 * `composeContext` are what every compose command uses.
 */
import type { FlagDef, Invocation } from '../../args.js';
import type { Cli } from '../../streams.js';
import { loadProject, type ComposeProject, type LoadOptions } from '../../../compose/index.js';
import type { ComposeContext } from '../../../compose/engine/types.js';
import { createProgress } from '../../../compose/engine/progress.js';
import { parseNormalizedNamed } from '../../reference.js';
import { registryAuthHeader } from '../registry-auth.js';

export const composeFlags: FlagDef[] = [
  { name: 'file', short: 'f', type: 'list', valueName: 'stringArray', usage: 'Compose configuration files' },
  { name: 'project-name', short: 'p', type: 'string', usage: 'Project name' },
  { name: 'project-directory', type: 'string', usage: 'Specify an alternate working directory\n(default: the path of the, first specified, Compose file)' },
  { name: 'env-file', type: 'list', valueName: 'stringArray', usage: 'Specify an alternate environment file' },
  { name: 'profile', type: 'list', valueName: 'stringArray', usage: 'Specify a profile to enable' },
  { name: 'ansi', type: 'string', default: 'auto', usage: 'Control when to print ANSI control characters ("never"|"always"|"auto")' },
  { name: 'progress', type: 'string', usage: 'Set type of progress output (auto, tty, plain, json, quiet)' },
  { name: 'parallel', type: 'int', default: -1, usage: 'Control max parallelism, -1 for unlimited' },
  { name: 'dry-run', type: 'bool', usage: 'Execute command in dry run mode' },
  { name: 'compatibility', type: 'bool', usage: 'Run compose in backward compatibility mode' },
  { name: 'all-resources', type: 'bool', usage: 'Include all resources, even those not used by services' },
];

/** Loads the project the flags name; `services` are the service names given on the command line. */
export function loadComposeProject(inv: Invocation, cli: Cli, services: string[] = [], extra: Partial<LoadOptions> = {}): ComposeProject {
  const f = inv.flags;
  return loadProject({
    workingDir: process.cwd(),
    files: f.list('file').length ? f.list('file') : undefined,
    projectName: f.string('project-name') || undefined,
    projectDirectory: f.string('project-directory') || undefined,
    envFiles: f.list('env-file').length ? f.list('env-file') : undefined,
    profiles: f.list('profile'),
    services,
    env: cli.env,
    warn: (m) => cli.err.write(`WARN[0000] ${m}\n`),
    ...extra,
  });
}

/**
 * The project the command is about, as docker compose's projectOrName finds it: `-p` alone
 * names it without reading any file (commands that act on containers work anywhere); otherwise
 * the files are loaded, and when that fails COMPOSE_PROJECT_NAME still names the project.
 */
export function projectOrName(inv: Invocation, cli: Cli, services: string[] = []): { project?: ComposeProject; name: string } {
  const f = inv.flags;
  const name = f.string('project-name');
  if (name && f.list('file').length === 0) return { name: name.toLowerCase() };
  try {
    const project = loadComposeProject(inv, cli, services);
    return { project, name: project.name };
  } catch (err) {
    const fromEnv = cli.env.COMPOSE_PROJECT_NAME;
    if (fromEnv) return { name: fromEnv };
    throw err;
  }
}

/** Only the project's name (docker compose's toProjectName): `-p`, COMPOSE_PROJECT_NAME, else the files'. */
export function toProjectName(inv: Invocation, cli: Cli): string {
  const name = inv.flags.string('project-name');
  if (name) return name.toLowerCase();
  if (cli.env.COMPOSE_PROJECT_NAME) return cli.env.COMPOSE_PROJECT_NAME;
  return loadComposeProject(inv, cli).name;
}

/** The --ansi mode after COMPOSE_ANSI (when --ansi was not given) and NO_COLOR, as docker compose resolves it. */
export function ansiMode(inv: Invocation, cli: Cli): string {
  let mode = inv.flags.string('ansi') || 'auto';
  if (!inv.flags.changed('ansi') && cli.env.COMPOSE_ANSI) mode = cli.env.COMPOSE_ANSI;
  if (cli.env.NO_COLOR) mode = 'never';
  return mode;
}

export function composeContext(inv: Invocation, cli: Cli): ComposeContext {
  const f = inv.flags;
  const progress = createProgress(f.string('progress'), cli.err, { ansi: f.string('ansi'), env: cli.env });
  const parallel = f.int('parallel') > 0 ? f.int('parallel') : Number(cli.env.COMPOSE_PARALLEL_LIMIT) || undefined;
  return {
    client: cli.client(),
    progress,
    warn: (m) => cli.err.write(`WARN[0000] ${m}\n`),
    parallel,
    // The CLI's registry credentials for every pull and push the command makes (anonymous when none).
    registryAuth: async (image: string) => {
      try {
        return await registryAuthHeader(cli, parseNormalizedNamed(image));
      } catch {
        return 'e30=';
      }
    },
  };
}

/** Runs `fn`; the progress display is closed however it ends. */
export async function withProgress<T>(ctx: ComposeContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    ctx.progress.close();
  }
}
