/**
 * The flags every `compose` subcommand accepts (docker compose's persistent flags) and the
 * project they load. CONTRACT (issue 14): `composeFlags`, `loadComposeProject` and
 * `composeContext` are what every compose command uses.
 */
import type { FlagDef, Invocation } from '../../args.js';
import type { Cli } from '../../streams.js';
import { loadProject, type ComposeProject } from '../../../compose/index.js';
import type { ComposeContext } from '../../../compose/engine/types.js';
import { createProgress } from '../../../compose/engine/progress.js';

export const composeFlags: FlagDef[] = [
  { name: 'file', short: 'f', type: 'list', usage: 'Compose configuration files' },
  { name: 'project-name', short: 'p', type: 'string', usage: 'Project name' },
  { name: 'project-directory', type: 'string', usage: 'Specify an alternate working directory\n(default: the path of the, first specified, Compose file)' },
  { name: 'env-file', type: 'list', usage: 'Specify an alternate environment file' },
  { name: 'profile', type: 'list', usage: 'Specify a profile to enable' },
  { name: 'ansi', type: 'string', default: 'auto', usage: 'Control when to print ANSI control characters ("never"|"always"|"auto")' },
  { name: 'progress', type: 'string', usage: 'Set type of progress output (auto, tty, plain, json, quiet)' },
  { name: 'parallel', type: 'int', default: -1, usage: 'Control max parallelism, -1 for unlimited' },
  { name: 'dry-run', type: 'bool', usage: 'Execute command in dry run mode' },
  { name: 'compatibility', type: 'bool', usage: 'Run compose in backward compatibility mode' },
  { name: 'all-resources', type: 'bool', usage: 'Include all resources, even those not used by services' },
];

/** Loads the project the flags name; `services` are the service names given on the command line. */
export function loadComposeProject(inv: Invocation, cli: Cli, services: string[] = []): ComposeProject {
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
  });
}

export function composeContext(inv: Invocation, cli: Cli): ComposeContext {
  const f = inv.flags;
  const progress = createProgress(f.string('progress'), cli.err, { ansi: f.string('ansi'), env: cli.env });
  const parallel = f.int('parallel') > 0 ? f.int('parallel') : Number(cli.env.COMPOSE_PARALLEL_LIMIT) || undefined;
  return { client: cli.client(), progress, warn: (m) => cli.err.write(`WARN[0000] ${m}\n`), parallel };
}
