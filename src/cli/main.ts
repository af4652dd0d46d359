/**
 * `berth`: parses the command line, runs the command against the daemon's HTTP API, and
 * turns failures into docker's messages and exit statuses (run.ts).
 */
import { parseHost, resolveHost } from './client.js';
import { clientTls } from './tls.js';
import { rootCommand } from './commands/index.js';
import { versionLine } from './commands/version.js';
import { runProgram } from './run.js';

process.exitCode = await runProgram(
  {
    root: rootCommand,
    // -H, then BERTH_HOST, then DOCKER_HOST, then Berth's default socket.
    endpoint: (globals, env) => {
      const tls = clientTls(globals);
      return { endpoint: parseHost(resolveHost(globals.list('host'), env, tls !== undefined), tls !== undefined), tls };
    },
    versionLine,
  },
  process.argv.slice(2),
);
