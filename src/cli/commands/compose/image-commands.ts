/**
 * `compose build`, `pull`, `push`, `watch`. CONTRACT (issue 14): index.ts takes `imageCommands()`.
 * Flags, help texts and output as docker compose v2's; the work is the engine's (images.ts, watch.ts).
 */
import type { CommandDef, Invocation } from '../../args.js';
import type { Cli } from '../../streams.js';
import type { ComposeContext } from '../../../compose/engine/types.js';
import { CliError } from '../../errors.js';
import { buildProject, pullProject, pushProject } from '../../../compose/engine/images.js';
import { watchProject } from '../../../compose/engine/watch.js';
import { converge, startServices } from '../../../compose/engine/index.js';
import type { ComposeProject } from '../../../compose/index.js';
import { composeContext, loadComposeProject, withProgress } from './project-options.js';
import { buildArgsParam } from '../build.js';

/** The named services and, transitively, what they depend on (none named: all of them). */
export function withDependencies(project: ComposeProject, names: string[]): string[] {
  if (names.length === 0) return [];
  const all = new Set<string>();
  const add = (name: string) => {
    if (all.has(name)) return;
    all.add(name);
    for (const dep of Object.keys(project.services[name]?.depends_on ?? {})) if (project.services[dep]) add(dep);
  };
  names.forEach(add);
  return [...all];
}

/** `--build-arg KEY=VALUE`, `--build-arg KEY` (from the environment, else the project's). */
function cliBuildArgs(inv: Invocation, cli: Cli): Record<string, string | null> {
  return buildArgsParam(inv.flags.list('build-arg'), cli.env);
}

const buildCommand: CommandDef = {
  name: 'build',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Build or rebuild services',
  flags: [
    { name: 'build-arg', type: 'list', usage: 'Set build-time variables for services' },
    { name: 'builder', type: 'string', usage: 'Set builder to use' },
    { name: 'check', type: 'bool', usage: 'Check build configuration' },
    { name: 'memory', short: 'm', type: 'string', valueName: 'bytes', usage: 'Set memory limit for the build container. Not supported by BuildKit.' },
    { name: 'no-cache', type: 'bool', usage: 'Do not use cache when building the image' },
    { name: 'print', type: 'bool', usage: 'Print equivalent bake file' },
    { name: 'pull', type: 'bool', usage: 'Always attempt to pull a newer version of the image' },
    { name: 'push', type: 'bool', usage: 'Push service images' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the build output' },
    { name: 'ssh', type: 'string', usage: "Set SSH authentications used when building service images. (use 'default' for using your default SSH Agent)" },
    { name: 'with-dependencies', type: 'bool', usage: 'Also build dependencies (transitively)' },
    { name: 'compress', type: 'bool', default: true, hidden: true, usage: 'Compress the build context using gzip. DEPRECATED' },
    { name: 'force-rm', type: 'bool', default: true, hidden: true, usage: 'Always remove intermediate containers. DEPRECATED' },
    { name: 'no-rm', type: 'bool', hidden: true, usage: 'Do not remove intermediate containers after a successful build. DEPRECATED' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    for (const unsupported of ['ssh', 'builder', 'print', 'check']) {
      if (f.changed(unsupported)) throw new CliError(`--${unsupported} is not supported by berth's builder`);
    }
    const project = loadComposeProject(inv, cli, inv.args);
    const quiet = f.bool('quiet');
    const base = composeContext(inv, cli);
    // -q: docker compose's quiet display, nothing on either stream but errors.
    const ctx: ComposeContext = quiet ? { ...base, progress: { event: () => undefined, log: () => undefined, close: () => base.progress.close() } } : base;
    const services = f.bool('with-dependencies') ? withDependencies(project, inv.args) : inv.args;
    await withProgress(ctx, async () => {
      await buildProject(ctx, project, services, {
        noCache: f.bool('no-cache'),
        pull: f.bool('pull'),
        buildArgs: cliBuildArgs(inv, cli),
        quiet,
        // As docker compose's classic builder: the build output on stdout.
        log: (line) => cli.out.write(line + '\n'),
      });
      if (f.bool('push')) await pushProject(ctx, project, services, { quiet });
    });
  },
};

const pullCommand: CommandDef = {
  name: 'pull',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Pull service images',
  flags: [
    { name: 'ignore-buildable', type: 'bool', usage: 'Ignore images that can be built' },
    { name: 'ignore-pull-failures', type: 'bool', usage: 'Pull what it can and ignores images with pull failures' },
    { name: 'include-deps', type: 'bool', usage: 'Also pull services declared as dependencies' },
    { name: 'policy', type: 'string', usage: 'Apply pull policy ("missing"|"always")' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Pull without printing progress information' },
    { name: 'no-parallel', type: 'bool', default: true, hidden: true, usage: 'DEPRECATED disable parallel pulling' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    if (f.changed('no-parallel')) cli.err.write("option '--no-parallel' is DEPRECATED and will be ignored.\n");
    const project = loadComposeProject(inv, cli, inv.args);
    const ctx = composeContext(inv, cli);
    const services = f.bool('include-deps') ? withDependencies(project, inv.args) : inv.args;
    await withProgress(ctx, () =>
      pullProject(ctx, project, services, {
        quiet: f.bool('quiet'),
        ignoreFailures: f.bool('ignore-pull-failures'),
        ignoreBuildable: f.bool('ignore-buildable'),
        policy: f.string('policy') || undefined,
      }),
    );
  },
};

const pushCommand: CommandDef = {
  name: 'push',
  usage: '[OPTIONS] [SERVICE...]',
  short: 'Push service images',
  flags: [
    { name: 'ignore-push-failures', type: 'bool', usage: 'Push what it can and ignores images with push failures' },
    { name: 'include-deps', type: 'bool', usage: 'Also push images of services declared as dependencies' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Push without printing progress information' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const project = loadComposeProject(inv, cli, inv.args);
    const ctx = composeContext(inv, cli);
    const services = f.bool('include-deps') ? withDependencies(project, inv.args) : inv.args;
    await withProgress(ctx, () =>
      pushProject(ctx, project, services, { quiet: f.bool('quiet'), ignoreFailures: f.bool('ignore-push-failures') }),
    );
  },
};

/** An AbortSignal that fires on SIGINT/SIGTERM (when the CLI forwards signals) or `ctx.signal`. */
function interruptSignal(cli: Cli, ctx: ComposeContext): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  cli.signals?.on('SIGINT', stop);
  cli.signals?.on('SIGTERM', stop);
  ctx.signal?.addEventListener('abort', stop, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      cli.signals?.off('SIGINT', stop);
      cli.signals?.off('SIGTERM', stop);
    },
  };
}

const watchCommand: CommandDef = {
  name: 'watch',
  usage: '[SERVICE...]',
  short: 'Watch build context for service and rebuild/refresh containers when files are updated',
  flags: [
    { name: 'no-up', type: 'bool', usage: 'Do not build & start services before watching' },
    { name: 'prune', type: 'bool', default: true, usage: 'Prune dangling images on rebuild' },
    { name: 'quiet', type: 'bool', usage: 'hide build output' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const project = loadComposeProject(inv, cli, inv.args);
    const ctx = composeContext(inv, cli);
    const { signal, dispose } = interruptSignal(cli, ctx);
    const watchLog = (line: string) => cli.out.write(` ⦿ ${line}\n`);
    try {
      if (!f.bool('no-up')) await upBeforeWatch(ctx, project, inv.args, f.bool('quiet'));
      await watchProject(ctx, project, inv.args, signal, {
        log: watchLog,
        build: { quiet: f.bool('quiet') },
        prune: f.bool('prune'),
      });
    } finally {
      dispose();
      ctx.progress.close();
    }
  },
};

/**
 * `watch` without --no-up starts the project first, as docker compose: `up` of the selected services
 * with pull_policy `build` for the watched services that build, containers that diverged recreated,
 * dependencies left as they are.
 */
async function upBeforeWatch(ctx: ComposeContext, project: ComposeProject, services: string[], quiet: boolean): Promise<void> {
  const watched: ComposeProject = {
    ...project,
    services: Object.fromEntries(
      Object.entries(project.services).map(([name, svc]) => [name, svc.build && (svc.develop || svc['x-develop']) ? { ...svc, pull_policy: 'build' } : svc]),
    ),
  };
  const { graph, created } = await converge(ctx, watched, {
    services,
    recreate: 'diverged',
    recreateDependencies: 'never',
    images: { quietPull: quiet, buildOptions: { quiet } },
  });
  await startServices(ctx, watched, graph, { created });
}

export function imageCommands(): CommandDef[] {
  return [buildCommand, pullCommand, pushCommand, watchCommand];
}
