/**
 * `docker-compose` as a docker CLI plugin: the docker CLI finds it in a cli-plugins directory, asks it
 * `docker-cli-plugin-metadata`, then runs it with its own arguments (`docker -H x compose up` gives
 * `-H x compose up`). The `compose` tree is Berth's, run as `berth compose` runs it; only the program
 * name (`docker`), the global flags (docker's, with --context) and the daemon's address (docker's
 * rules, docker-context.ts) differ. Run by itself (no DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND), it is
 * a standalone `docker-compose`, as docker compose's binary is.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { COMPOSE_VERSION } from '../compose/engine/labels.js';

/** cli-plugins/metadata: the docker CLI lists the plugin with these, and refuses it without them. */
export const PLUGIN_METADATA = {
  SchemaVersion: '0.1.0',
  Vendor: 'Berth',
  Version: `v${COMPOSE_VERSION}`,
  ShortDescription: 'Docker Compose',
};

/** Set by the docker CLI when it runs a plugin (metadata.ReexecEnvvar). */
const REEXEC_ENV = 'DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND';
/** An abstract unix socket the docker CLI closes to ask the plugin to stop (cli-plugins/socket). */
const SOCKET_ENV = 'DOCKER_CLI_PLUGIN_SOCKET';

/**
 * When the docker CLI is interrupted and its output is not a terminal, it closes the plugin socket
 * instead of the kernel signalling us: take that as the SIGINT it stands for. The socket is abstract
 * ("@docker_cli_<id>"); Node 20 pads abstract names to the full address length, so its connect is
 * refused by the CLI's exact-length name. Then the listening socket is watched in /proc/net/unix: it
 * goes away when the CLI closes it.
 */
function stopWhenTheCliAsks(address: string | undefined): void {
  if (!address) return;
  const interrupt = () => process.kill(process.pid, 'SIGINT');
  const socket = net.connect(address.startsWith('@') ? '\0' + address.slice(1) : address);
  socket.on('end', interrupt);
  socket.on('error', () => {
    if (address.startsWith('@')) watchListener(address, interrupt);
  });
  socket.resume();
  socket.unref();
}

const WATCH_INTERVAL_MS = 500;

function watchListener(address: string, gone: () => void): void {
  const listed = () => {
    try {
      return readFileSync('/proc/net/unix', 'latin1').includes(` ${address}\n`);
    } catch {
      return undefined; // no /proc: nothing to watch
    }
  };
  if (!listed()) return; // never there (or no /proc): nothing that could go away
  const timer = setInterval(() => {
    if (listed() === false) {
      clearInterval(timer);
      gone();
    }
  }, WATCH_INTERVAL_MS);
  timer.unref();
}

const argv = process.argv.slice(2);
if (argv[0] === 'docker-cli-plugin-metadata') {
  // Answered before loading the command tree: the docker CLI asks this on every `docker --help`.
  process.stdout.write(JSON.stringify(PLUGIN_METADATA, null, 2) + '\n');
} else {
  const [{ runProgram }, { setProgramName }, { GLOBAL_FLAGS }, { composeCommand }, { dockerEndpoint }] = await Promise.all([
    import('./run.js'),
    import('./args.js'),
    import('./commands/index.js'),
    import('./commands/compose/index.js'),
    import('./docker-context.js'),
  ]);
  setProgramName('docker');
  const viaDocker = process.env[REEXEC_ENV] !== undefined;
  if (viaDocker) stopWhenTheCliAsks(process.env[SOCKET_ENV]);
  const root = {
    name: 'docker',
    short: 'docker-compose is a Docker CLI plugin',
    flags: [
      ...GLOBAL_FLAGS.filter((f) => f.name !== 'version'),
      { name: 'context', short: 'c', type: 'string' as const, usage: 'Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and default context set with "docker context use")' },
    ],
    subcommands: [composeCommand],
  };
  process.exitCode = await runProgram({ root, endpoint: dockerEndpoint, daemonName: 'Docker' }, viaDocker ? argv : ['compose', ...argv]);
}
