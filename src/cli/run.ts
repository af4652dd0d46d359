/**
 * Runs a command line against a command tree: resolves it, prints help or errors, makes the Cli
 * (streams and a lazily dialled daemon client) and turns failures into docker's messages and exit
 * statuses. `berth` (main.ts) and the docker CLI plugin (compose-plugin.ts) both run through here;
 * they differ in their tree and in how the global flags choose the daemon.
 */
import { commandPath, resolve, type CommandDef, type FlagValues, type Resolution } from './args.js';
import { ApiClient, type Endpoint } from './client.js';
import type { ClientTls } from './tls.js';
import { CliError } from './errors.js';
import { renderHelp } from './help.js';
import type { Cli } from './streams.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'];

export interface Program {
  root: CommandDef;
  /** The daemon the global flags and the environment name; called on the first request only. */
  endpoint(globals: FlagValues, env: NodeJS.ProcessEnv): { endpoint: Endpoint; tls?: ClientTls };
  /** What connection errors call the daemon (the client's default: "Berth"). */
  daemonName?: string;
  /** What the root's --version prints, when the root has that flag. */
  versionLine?: () => string;
}

/** Width docker wraps help to: the terminal's, or 80. */
function helpWidth(): number {
  return process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 80;
}

function makeCli(program: Program, globals: FlagValues): { cli: Cli; close: () => void } {
  let client: ApiClient | undefined;
  const cli: Cli = {
    out: process.stdout,
    err: process.stderr,
    in: process.stdin,
    rawOut: process.stdout,
    debug: globals.bool('debug'),
    env: process.env,
    configDir: globals.string('config') || undefined,
    now: () => Date.now(),
    signals: process,
    client: () => {
      if (!client) {
        const { endpoint, tls } = program.endpoint(globals, process.env);
        client = new ApiClient(endpoint, { apiVersion: process.env.DOCKER_API_VERSION, tls, daemonName: program.daemonName });
      }
      return client;
    },
  };
  return { cli, close: () => client?.close() };
}

async function execute(program: Program, res: Resolution): Promise<number> {
  if (res.kind === 'error') {
    process.stderr.write(res.message + '\n');
    return res.exitCode;
  }
  const globals = res.globals;
  const level = globals.string('log-level');
  if (!LOG_LEVELS.includes(level)) {
    process.stderr.write(`Unable to parse logging level: ${level}\n`);
    return 1;
  }
  if (res.kind === 'help') {
    if (res.path.length === 0 && program.versionLine && globals.bool('version')) {
      process.stdout.write(program.versionLine());
      return 0;
    }
    if (res.shortHelp) process.stdout.write('Flag shorthand -h has been deprecated, use --help\n');
    (res.implicit ? process.stderr : process.stdout).write(renderHelp(program.root, res.path, helpWidth()));
    return 0;
  }

  const { cli, close } = makeCli(program, globals);
  try {
    const code = await res.command.run!({ args: res.args, flags: res.flags, path: commandPath(res.path) }, cli);
    return code ?? 0;
  } catch (err) {
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(err.message + '\n');
      return err.exitCode;
    }
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    close();
  }
}

/** Runs argv (without the program name) and resolves to the exit status. */
export async function runProgram(program: Program, argv: string[]): Promise<number> {
  // A closed pipe (`berth events | head`) is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  return execute(program, resolve(program.root, argv));
}
