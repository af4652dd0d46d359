/**
 * `berth`: parses the command line, runs the command against the daemon's HTTP API, and
 * turns failures into docker's messages and exit statuses.
 */
import { commandPath, resolve, type FlagValues, type Resolution } from './args.js';
import { ApiClient, parseHost, resolveHost } from './client.js';
import { clientTls } from './tls.js';
import { rootCommand } from './commands/index.js';
import { versionLine } from './commands/version.js';
import { CliError } from './errors.js';
import { renderHelp } from './help.js';
import type { Cli } from './streams.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'];

/** Width docker wraps help to: the terminal's, or 80. */
function helpWidth(): number {
  return process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 80;
}

function makeCli(globals: FlagValues): { cli: Cli; close: () => void } {
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
        const tls = clientTls(globals);
        const host = parseHost(resolveHost(globals.list('host'), process.env, tls !== undefined), tls !== undefined);
        client = new ApiClient(host, { apiVersion: process.env.DOCKER_API_VERSION, tls });
      }
      return client;
    },
  };
  return { cli, close: () => client?.close() };
}

async function execute(res: Resolution): Promise<number> {
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
    if (res.path.length === 0 && globals.bool('version')) {
      process.stdout.write(versionLine());
      return 0;
    }
    if (res.shortHelp) process.stdout.write('Flag shorthand -h has been deprecated, use --help\n');
    (res.implicit ? process.stderr : process.stdout).write(renderHelp(rootCommand, res.path, helpWidth()));
    return 0;
  }

  const { cli, close } = makeCli(globals);
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

// A closed pipe (`berth events | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await execute(resolve(rootCommand, process.argv.slice(2)));
