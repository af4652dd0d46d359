/**
 * `compose up`, `down`, `create`, `start`, `stop`, `restart`: the commands that converge a
 * project's containers. Flags, help texts and errors as docker compose v2's.
 */
import type { CommandDef, FlagDef, Invocation } from '../../args.js';
import type { Cli } from '../../streams.js';
import { CliError } from '../../errors.js';
import { composeContext, loadComposeProject, withProgress } from './project-options.js';
import { converge, startServices, type ConvergeOptions } from '../../../compose/engine/converge.js';
import { graphServices } from '../../../compose/engine/graph.js';
import { downByName, downProject, restartProject, startProject, stopProject } from '../../../compose/engine/lifecycle.js';
import { attachProject, killProject, waitForProject } from '../../../compose/engine/up.js';
import type { RecreateStrategy } from '../../../compose/engine/plan.js';
import type { ComposeContext } from '../../../compose/engine/types.js';
import { upLogConsumer } from './log-printer.js';
import { watchProject } from '../../../compose/engine/watch.js';

const timeoutFlag = (usage: string): FlagDef => ({ name: 'timeout', short: 't', type: 'int', usage });

const createFlags: FlagDef[] = [
  { name: 'build', type: 'bool', usage: 'Build images before starting containers' },
  { name: 'no-build', type: 'bool', usage: "Don't build an image, even if it's policy" },
  { name: 'pull', type: 'string', default: 'policy', usage: 'Pull image before running ("always"|"missing"|"never")' },
  { name: 'quiet-pull', type: 'bool', usage: 'Pull without printing progress information' },
  { name: 'force-recreate', type: 'bool', usage: "Recreate containers even if their configuration and image haven't changed" },
  { name: 'no-recreate', type: 'bool', usage: "If containers already exist, don't recreate them. Incompatible with --force-recreate." },
  { name: 'remove-orphans', type: 'bool', usage: 'Remove containers for services not defined in the Compose file' },
  { name: 'scale', type: 'list', usage: 'Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.' },
  { name: 'yes', short: 'y', type: 'bool', usage: 'Assume "yes" as answer to all prompts and run non-interactively' },
];

function parseScale(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const m = /^([^=]+)=(\d+)$/.exec(v);
    if (!m) throw new CliError(`invalid --scale option "${v}". Should be SERVICE=NUM`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** The timeout flag's value when given (docker compose passes none otherwise: the container's own). */
function timeoutOf(inv: Invocation): number | undefined {
  return inv.flags.changed('timeout') ? inv.flags.int('timeout') : undefined;
}

function convergeOptions(inv: Invocation, cli: Cli): ConvergeOptions {
  const f = inv.flags;
  if (f.bool('build') && f.bool('no-build')) throw new CliError('--build and --no-build are incompatible');
  if (f.bool('force-recreate') && f.bool('no-recreate')) throw new CliError('--force-recreate and --no-recreate are incompatible');
  const pull = f.string('pull');
  if (!['policy', 'always', 'missing', 'never', 'build', ''].includes(pull)) throw new CliError(`invalid --pull option "${pull}"`);
  if (flagIf(inv, 'renew-anon-volumes') && f.bool('no-recreate')) throw new CliError('--no-recreate and --renew-anon-volumes are incompatible');
  if (flagIf(inv, 'always-recreate-deps') && f.bool('no-recreate')) throw new CliError('--always-recreate-deps and --no-recreate are incompatible');
  const recreate: RecreateStrategy = f.bool('force-recreate') ? 'force' : f.bool('no-recreate') ? 'never' : 'diverged';
  const scale = parseScale(f.list('scale'));
  return {
    services: inv.args,
    noDeps: flagIf(inv, 'no-deps'),
    recreate,
    recreateDependencies: flagIf(inv, 'always-recreate-deps') ? 'force' : f.bool('no-recreate') ? 'never' : 'diverged',
    scale,
    removeOrphans: f.bool('remove-orphans') || /^(1|true)$/i.test(cli.env.COMPOSE_REMOVE_ORPHANS ?? ''),
    ignoreOrphans: /^(1|true)$/i.test(cli.env.COMPOSE_IGNORE_ORPHANS ?? ''),
    timeout: timeoutOf(inv),
    renewAnonVolumes: flagIf(inv, 'renew-anon-volumes'),
    images: { build: f.bool('build'), noBuild: f.bool('no-build'), pull: pull === 'policy' ? undefined : pull, quietPull: f.bool('quiet-pull') },
  };
}

function flagIf(inv: Invocation, name: string): boolean {
  return inv.flags.defs.some((d) => d.name === name) && inv.flags.bool(name);
}

/** --dry-run must not change anything; Berth cannot simulate yet, so it refuses rather than act. */
function refuseDryRun(inv: Invocation): void {
  if (inv.flags.defs.some((d) => d.name === 'dry-run') && inv.flags.bool('dry-run')) throw new CliError('--dry-run is not supported by Berth yet: nothing was done');
}

/** Runs `fn` with a context; the progress display is closed however it ends. */
async function withContext<T>(inv: Invocation, cli: Cli, fn: (ctx: ComposeContext) => Promise<T>): Promise<T> {
  refuseDryRun(inv);
  const ctx = composeContext(inv, cli);
  return withProgress(ctx, () => fn(ctx));
}

const upCommand: CommandDef = {
  name: 'up',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Create and start containers',
  flags: [
    { name: 'detach', short: 'd', type: 'bool', usage: 'Detached mode: Run containers in the background' },
    ...createFlags.filter((f) => f.name !== 'yes'),
    { name: 'no-color', type: 'bool', usage: 'Produce monochrome output' },
    { name: 'no-log-prefix', type: 'bool', usage: "Don't print prefix in logs" },
    { name: 'no-start', type: 'bool', usage: "Don't start the services after creating them" },
    { name: 'abort-on-container-exit', type: 'bool', usage: 'Stops all containers if any container was stopped. Incompatible with -d' },
    { name: 'abort-on-container-failure', type: 'bool', usage: 'Stops all containers if any container exited with failure. Incompatible with -d' },
    { name: 'exit-code-from', type: 'string', usage: 'Return the exit code of the selected service container. Implies --abort-on-container-exit' },
    timeoutFlag('Use this timeout in seconds for container shutdown when attached or when containers are already running'),
    { name: 'timestamps', type: 'bool', usage: 'Show timestamps' },
    { name: 'no-deps', type: 'bool', usage: "Don't start linked services" },
    { name: 'always-recreate-deps', type: 'bool', usage: 'Recreate dependent containers. Incompatible with --no-recreate.' },
    { name: 'renew-anon-volumes', short: 'V', type: 'bool', usage: 'Recreate anonymous volumes instead of retrieving data from the previous containers' },
    { name: 'wait', type: 'bool', usage: 'Wait for services to be running|healthy. Implies detached mode.' },
    { name: 'wait-timeout', type: 'int', usage: 'Maximum duration in seconds to wait for the project to be running|healthy' },
    { name: 'attach', type: 'list', usage: 'Restrict attaching to the specified services. Incompatible with --attach-dependencies.' },
    { name: 'no-attach', type: 'list', usage: 'Do not attach (stream logs) to the specified services' },
    { name: 'attach-dependencies', type: 'bool', usage: 'Automatically attach to log output of dependent services' },
    { name: 'watch', short: 'w', type: 'bool', usage: 'Watch source code and rebuild/refresh containers when files are updated.' },
    { name: 'yes', short: 'y', type: 'bool', usage: 'Assume "yes" as answer to all prompts and run non-interactively' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    if (f.int('wait-timeout') < 0) throw new CliError('--wait-timeout must be a non-negative integer');
    const exitCodeFrom = f.string('exit-code-from');
    let abortOnExit = f.bool('abort-on-container-exit');
    const abortOnFailure = f.bool('abort-on-container-failure');
    if (exitCodeFrom && !abortOnFailure) abortOnExit = true;
    if (abortOnExit && abortOnFailure) throw new CliError('--abort-on-container-failure cannot be combined with --abort-on-container-exit');
    let detach = f.bool('detach');
    const attachList = f.list('attach');
    if (attachList.length && f.bool('attach-dependencies')) throw new CliError('cannot combine --attach and --attach-dependencies');
    if (f.bool('wait')) {
      if (abortOnExit || attachList.length || f.bool('attach-dependencies')) throw new CliError('--wait cannot be combined with --abort-on-container-exit, --attach or --attach-dependencies');
      detach = true;
    }
    if (detach && (abortOnExit || abortOnFailure || f.bool('watch') || attachList.length || f.bool('attach-dependencies'))) {
      throw new CliError(
        f.bool('wait')
          ? '--wait cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach, --attach-dependencies or --watch'
          : '--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach, --attach-dependencies or --watch',
      );
    }
    if (f.bool('watch') && f.bool('no-build')) throw new CliError('--no-build and --watch are incompatible');
    refuseDryRun(inv);
    const opts = convergeOptions(inv, cli);
    const project = loadComposeProject(inv, cli, inv.args);
    if (exitCodeFrom && !project.services[exitCodeFrom]) throw new CliError(`exit-code-from: no such service: ${exitCodeFrom}`);
    const controller = new AbortController();
    const ctx = composeContext(inv, cli);
    ctx.signal = controller.signal;
    let interrupts = 0;
    let attached = false;
    const onSignal = () => {
      interrupts++;
      if (interrupts === 1) {
        controller.abort();
        // Before attaching, a second Ctrl-C ends the process the default way (nothing to stop yet).
        if (!attached) removeHandlers();
      } else if (attached) void killProject(ctx, project.name); // kills what the graceful stop still waits for
    };
    const removeHandlers = () => {
      cli.signals?.off('SIGINT', onSignal);
      cli.signals?.off('SIGTERM', onSignal);
    };
    cli.signals?.on('SIGINT', onSignal);
    cli.signals?.on('SIGTERM', onSignal);
    try {
      const { graph, created } = await converge(ctx, project, opts);
      if (f.bool('no-start')) return;
      await startServices(ctx, project, graph, { created });
      const services = graphServices(graph);
      if (f.bool('wait')) await waitForProject(ctx, project, services, f.int('wait-timeout'));
      ctx.progress.close();
      if (detach) return;
      const color = !f.bool('no-color') && f.string('ansi') !== 'never' && (f.string('ansi') === 'always' || !!cli.out.isTTY);
      const printer = upLogConsumer(cli.out, cli.err, { color, prefix: !f.bool('no-log-prefix'), timestamps: f.bool('timestamps') });
      const noAttach = new Set(f.list('no-attach'));
      const attachTo = (attachList.length ? attachList : inv.args.length && !f.bool('attach-dependencies') ? inv.args : services).filter((s) => !noAttach.has(s));
      const unknown = attachTo.filter((s) => !services.includes(s));
      if (unknown.length) throw new CliError(`cannot attach to services not included in up: ${unknown.join(', ')}`);
      attached = true;
      // up --watch: develop.watch runs beside the attached output until Ctrl-C (watch.ts).
      const watching = f.bool('watch') ? watchProject(ctx, project, inv.args, controller.signal, { log: (line) => cli.out.write(line + '\n') }) : undefined;
      watching?.catch(() => controller.abort());
      const code = await attachProject(ctx, project, printer, { services: attachTo, abortOnExit, abortOnFailure, exitCodeFrom: exitCodeFrom || undefined, timeout: timeoutOf(inv) });
      if (watching) await watching;
      return code;
    } finally {
      ctx.progress.close();
      removeHandlers();
    }
  },
};

const createCommand: CommandDef = {
  name: 'create',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Creates containers for a service',
  flags: createFlags,
  run: async (inv, cli) => {
    const opts = convergeOptions(inv, cli);
    const project = loadComposeProject(inv, cli, inv.args);
    await withContext(inv, cli, (ctx) => converge(ctx, project, opts));
  },
};

const downCommand: CommandDef = {
  name: 'down',
  usage: '[OPTIONS] [SERVICES]',
  short: 'Stop and remove containers, networks',
  flags: [
    { name: 'remove-orphans', type: 'bool', usage: 'Remove containers for services not defined in the Compose file' },
    timeoutFlag('Specify a shutdown timeout in seconds'),
    { name: 'volumes', short: 'v', type: 'bool', usage: 'Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers' },
    { name: 'rmi', type: 'string', usage: 'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")' },
  ],
  run: async (inv, cli) => {
    const rmi = inv.flags.string('rmi');
    if (rmi && rmi !== 'local' && rmi !== 'all') throw new CliError(`invalid value for --rmi: "${rmi}"`);
    const name = inv.flags.string('project-name') || cli.env.COMPOSE_PROJECT_NAME;
    let project;
    try {
      project = loadComposeProject(inv, cli, inv.args);
    } catch (err) {
      // docker compose -p NAME down works without the file, from the labels alone.
      if (!name || !/no configuration file provided/.test((err as Error).message)) throw err;
      await withContext(inv, cli, (ctx) => downByName(ctx, name, { volumes: inv.flags.bool('volumes'), timeout: timeoutOf(inv) }));
      return;
    }
    await withContext(inv, cli, (ctx) =>
      downProject(ctx, project, {
        removeOrphans: inv.flags.bool('remove-orphans') || /^(1|true)$/i.test(cli.env.COMPOSE_REMOVE_ORPHANS ?? ''),
        volumes: inv.flags.bool('volumes'),
        images: (rmi || undefined) as 'local' | 'all' | undefined,
        timeout: timeoutOf(inv),
        services: inv.args,
      }),
    );
  },
};

const startCommand: CommandDef = {
  name: 'start',
  usage: '[SERVICE...]',
  short: 'Start services',
  flags: [
    { name: 'wait', type: 'bool', usage: 'Wait for services to be running|healthy. Implies detached mode.' },
    { name: 'wait-timeout', type: 'int', usage: 'Maximum duration in seconds to wait for the project to be running|healthy' },
  ],
  run: async (inv, cli) => {
    const project = loadComposeProject(inv, cli, inv.args);
    await withContext(inv, cli, async (ctx) => {
      await startProject(ctx, project, inv.args);
      if (inv.flags.bool('wait')) await waitForProject(ctx, project, inv.args.length ? inv.args : Object.keys(project.services), inv.flags.int('wait-timeout'));
    });
  },
};

const stopCommand: CommandDef = {
  name: 'stop',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Stop services',
  flags: [timeoutFlag('Specify a shutdown timeout in seconds')],
  run: async (inv, cli) => {
    const project = loadComposeProject(inv, cli, inv.args);
    await withContext(inv, cli, (ctx) => stopProject(ctx, project, inv.args, timeoutOf(inv)));
  },
};

const restartCommand: CommandDef = {
  name: 'restart',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Restart service containers',
  flags: [timeoutFlag('Specify a shutdown timeout in seconds'), { name: 'no-deps', type: 'bool', usage: "Don't restart dependent services" }],
  run: async (inv, cli) => {
    const project = loadComposeProject(inv, cli, inv.args);
    await withContext(inv, cli, (ctx) => restartProject(ctx, project, inv.args, timeoutOf(inv), inv.flags.bool('no-deps')));
  },
};

export function lifecycleCommands(): CommandDef[] {
  return [upCommand, createCommand, downCommand, startCommand, stopCommand, restartCommand];
}
