/**
 * `compose run`: a one-off container of a service, named `<project>-<service>-run-<12 hex>`
 * and labelled oneoff, after the services it depends on are started (c-engine's
 * startDependencies). Attached by default (exit status of the command), `-d` prints its ID.
 */
import { randomBytes } from 'node:crypto';
import type { CommandDef, Invocation } from '../../args.js';
import { pathName } from '../../client.js';
import { CliError, DaemonError } from '../../errors.js';
import type { Cli } from '../../streams.js';
import { attachAndStart, startErrorStatus } from '../run.js';
import type { ComposeProject, ServiceConfig } from '../../../compose/index.js';
import { assertSupported, containerCreateRequest, type ContainerRequestOptions } from '../../../compose/engine/create-request.js';
import { ensureImages } from '../../../compose/engine/images.js';
import { injectFiles } from '../../../compose/engine/inject-files.js';
import { parseVolumeShort, resolveMountPaths } from '../../../compose/volumes.js';
import { shellSplit } from '../../../compose/shell-split.js';
import { composeContext, loadComposeProject } from './project-options.js';
import { ensureProjectResources, startDependencies } from './engine-bridge.js';
import { resolveEnv } from './exec.js';

export interface RunOverrides {
  command: string[];
  entrypoint?: string[];
  /** `-e` entries: `K=V`, or `K` taken from the environment (left out when unset). */
  environment: string[];
  labels: Record<string, string>;
  user: string;
  workdir: string;
  volumes: string[];
  publish: string[];
  servicePorts: boolean;
  useAliases: boolean;
  autoRemove: boolean;
  tty: boolean;
  interactive: boolean;
  detach: boolean;
}

/**
 * The service with `-v` volumes added (the translation applies the other run overrides from
 * the request options), and the request options of the one-off container.
 */
export function oneOffRequest(
  project: ComposeProject,
  service: ServiceConfig,
  o: RunOverrides,
  ids: { name: string; slug: string; imageDigest?: string },
  lookup: (k: string) => string | undefined,
): { service: ServiceConfig; options: ContainerRequestOptions } {
  const svc: ServiceConfig = { ...service, volumes: [...service.volumes, ...o.volumes.map((v) => resolveMountPaths(parseVolumeShort(v), project.workingDir))] };
  const environment: Record<string, string> = {};
  for (const e of resolveEnv(o.environment, lookup)) {
    const eq = e.indexOf('=');
    environment[e.slice(0, eq)] = e.slice(eq + 1);
  }
  const attached = o.interactive && !o.detach;
  return {
    service: svc,
    options: {
      number: 1,
      oneoff: true,
      name: ids.name,
      slug: ids.slug,
      imageDigest: ids.imageDigest,
      ...(o.command.length && { command: o.command }),
      ...(o.entrypoint && { entrypoint: o.entrypoint }),
      ...(Object.keys(environment).length && { environment }),
      ...(o.user && { user: o.user }),
      ...(o.workdir && { workingDir: o.workdir }),
      ...(o.publish.length && { publish: o.publish }),
      servicePorts: o.servicePorts,
      useAliases: o.useAliases,
      autoRemove: o.autoRemove,
      labels: o.labels,
      tty: o.tty,
      openStdin: attached,
      attachStdin: attached,
    },
  };
}

/** `<project>-<service>-run-<first 12 of the slug>`. */
export function oneOffName(project: string, service: string, slug: string): string {
  return `${project}-${service}-run-${slug.slice(0, 12)}`;
}

function parseLabels(entries: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const l of entries) {
    const eq = l.indexOf('=');
    if (eq === -1) throw new CliError('label must be set as KEY=VALUE');
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return labels;
}

/** The TTY decision of docker compose's run: --tty/--no-tty, else none when stdin is not a terminal. */
function runTty(inv: Invocation, cli: Cli): boolean {
  const fl = inv.flags;
  if (fl.changed('tty')) {
    if (fl.changed('no-tty')) throw new CliError("--tty and --no-tty can't be used together");
    return fl.bool('tty');
  }
  if (!fl.changed('no-tty') && !fl.changed('interactive') && !cli.in.isTTY) return false;
  return fl.changed('no-tty') ? !fl.bool('no-tty') : !!cli.out.isTTY;
}

export const runCommand: CommandDef = {
  name: 'run',
  usage: '[OPTIONS] SERVICE [COMMAND] [ARGS...]',
  short: 'Run a one-off command on a service',
  args: { min: 1 },
  noInterspersed: true,
  flags: [
    { name: 'build', type: 'bool', usage: 'Build image before starting container' },
    { name: 'detach', short: 'd', type: 'bool', usage: 'Run container in background and print container ID' },
    { name: 'entrypoint', type: 'string', usage: 'Override the entrypoint of the image' },
    { name: 'env', short: 'e', type: 'list', valueName: 'stringArray', usage: 'Set environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', default: true, usage: 'Keep STDIN open even if not attached' },
    { name: 'label', short: 'l', type: 'list', valueName: 'stringArray', usage: 'Add or override a label' },
    { name: 'name', type: 'string', usage: 'Assign a name to the container' },
    { name: 'no-deps', type: 'bool', usage: "Don't start linked services" },
    { name: 'no-tty', short: 'T', type: 'bool', usage: 'Disable pseudo-TTY allocation (default: auto-detected)' },
    { name: 'publish', short: 'p', type: 'list', valueName: 'stringArray', usage: "Publish a container's port(s) to the host" },
    { name: 'quiet-pull', type: 'bool', usage: 'Pull without printing progress information' },
    { name: 'remove-orphans', type: 'bool', usage: 'Remove containers for services not defined in the Compose file' },
    { name: 'rm', type: 'bool', usage: 'Automatically remove the container when it exits' },
    { name: 'service-ports', short: 'P', type: 'bool', usage: "Run command with all service's ports enabled and mapped to the host" },
    { name: 'tty', short: 't', type: 'bool', default: true, hidden: true, usage: 'Allocate a pseudo-TTY' },
    { name: 'use-aliases', type: 'bool', usage: "Use the service's network useAliases in the network(s) the container connects to" },
    { name: 'user', short: 'u', type: 'string', usage: 'Run as specified username or uid' },
    { name: 'volume', short: 'v', type: 'list', valueName: 'stringArray', usage: 'Bind mount a volume' },
    { name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' },
  ],
  run: async (inv, cli) => {
    const fl = inv.flags;
    const [serviceName, ...command] = inv.args as [string, ...string[]];
    if (fl.list('publish').length && fl.bool('service-ports')) throw new CliError('--service-ports and --publish are incompatible');
    const entrypoint = fl.changed('entrypoint') ? shellSplit(fl.string('entrypoint')) : undefined;
    const tty = runTty(inv, cli);
    const interactive = fl.bool('interactive');
    const detach = fl.bool('detach');
    const labels = parseLabels(fl.list('label'));

    const project = loadComposeProject(inv, cli, [serviceName]);
    const service = project.services[serviceName];
    if (!service) throw new CliError(`no such service: ${serviceName}`);
    const ctx = composeContext(inv, cli);
    assertSupported(project, ctx.warn);
    if (tty && interactive && !detach && !cli.in.isTTY) throw new CliError('the input device is not a TTY');
    if (fl.bool('no-deps')) await ensureProjectResources(ctx, project, serviceName);
    else await startDependencies(ctx, project, serviceName);
    const images = await ensureImages(ctx, project, [serviceName], { build: fl.bool('build'), quietPull: fl.bool('quiet-pull') });
    ctx.progress.close();

    const slug = randomBytes(32).toString('hex');
    const name = fl.string('name') || oneOffName(project.name, serviceName, slug);
    const lookup = (k: string) => cli.env[k] ?? project.environment[k];
    const one = oneOffRequest(
      project,
      service,
      {
        command,
        entrypoint,
        environment: fl.list('env'),
        labels,
        user: fl.string('user'),
        workdir: fl.string('workdir'),
        volumes: fl.list('volume'),
        publish: fl.list('publish'),
        servicePorts: fl.bool('service-ports'),
        useAliases: fl.bool('use-aliases'),
        autoRemove: fl.bool('rm'),
        tty,
        interactive,
        detach,
      },
      { name, slug, imageDigest: images.get(serviceName) },
      lookup,
    );
    const req = containerCreateRequest(project, one.service, one.options);
    if (detach) Object.assign(req.body, { AttachStdout: false, AttachStderr: false });

    const client = ctx.client;
    const created = await client.json<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', {
      query: { name, platform: req.platform },
      json: req.body,
    });
    const id = created.Id;
    for (const w of created.Warnings ?? []) cli.err.write(`WARNING: ${w}\n`);
    try {
      for (const n of req.extraNetworks) {
        const body = 'EndpointConfig' in n.endpoint ? { ...n.endpoint, Container: id } : { Container: id, EndpointConfig: n.endpoint };
        (await client.request('POST', `/networks/${pathName(n.network)}/connect`, { json: body })).resume();
      }
      await injectFiles(client, id, req.files ?? []);
    } catch (err) {
      // Nothing half-made is left behind.
      (await client.request('DELETE', `/containers/${pathName(id)}`, { query: { force: true, v: true } }).catch(() => undefined))?.resume();
      throw err;
    }

    if (detach) {
      (await client.request('POST', `/containers/${pathName(id)}/start`)).resume();
      cli.out.write(`${id}\n`);
      return 0;
    }
    const condition = fl.bool('rm') ? 'removed' : 'next-exit';
    // A failing command's status is compose run's own, with nothing printed.
    return attachAndStart(cli, id, { stdin: interactive, stdout: true, stderr: true, tty, sigProxy: true }, condition, (err) => {
      throw err instanceof DaemonError ? new CliError(err.message, startErrorStatus(err.daemonMessage)) : err;
    });
  },
};
