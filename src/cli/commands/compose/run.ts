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
import { LABEL } from '../../../compose/engine/labels.js';
import { containerCreateRequest } from '../../../compose/engine/create-request.js';
import { ensureImages } from '../../../compose/engine/images.js';
import { parsePortShort } from '../../../compose/ports.js';
import { parseVolumeShort, resolveMountPaths } from '../../../compose/volumes.js';
import { shellSplit } from '../../../compose/shell-split.js';
import { composeContext, loadComposeProject } from './project-options.js';
import { ensureProjectResources, startDependencies } from './engine-bridge.js';
import { resolveEnv } from './exec.js';

export interface RunOverrides {
  command: string[];
  entrypoint?: string[];
  environment: string[];
  labels: Record<string, string>;
  user: string;
  workdir: string;
  volumes: string[];
  publish: string[];
  servicePorts: boolean;
  tty: boolean;
  interactive: boolean;
}

/** The service as the one-off container runs it: docker compose's runOptions.apply + applyRunOptions. */
export function oneOffService(project: ComposeProject, service: ServiceConfig, o: RunOverrides, lookup: (k: string) => string | undefined): ServiceConfig {
  const svc: ServiceConfig = structuredClone(service);
  svc.tty = o.tty;
  svc.stdin_open = o.interactive;
  if (!o.servicePorts) svc.ports = o.publish.flatMap((p) => parsePortShort(p));
  for (const v of o.volumes) svc.volumes = [...svc.volumes, resolveMountPaths(parseVolumeShort(v), project.workingDir)];
  if (o.command.length) svc.command = o.command;
  if (o.user) svc.user = o.user;
  if (o.workdir) svc.working_dir = o.workdir;
  if (o.entrypoint) {
    svc.entrypoint = o.entrypoint;
    if (!o.command.length) svc.command = [];
  }
  for (const e of resolveEnv(o.environment, lookup)) {
    const eq = e.indexOf('=');
    svc.environment = { ...svc.environment, [e.slice(0, eq)]: e.slice(eq + 1) };
  }
  svc.labels = { ...svc.labels, ...o.labels };
  // A one-off container is never restarted.
  delete svc.restart;
  if (svc.deploy && 'restart_policy' in svc.deploy) {
    svc.deploy = { ...svc.deploy };
    delete svc.deploy.restart_policy;
  }
  return svc;
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

/** Drops the service-name aliases docker compose gives only to service containers. */
function withoutAliases(body: Record<string, unknown>): void {
  const endpoints = (body.NetworkingConfig as { EndpointsConfig?: Record<string, { Aliases?: unknown }> } | undefined)?.EndpointsConfig;
  for (const ep of Object.values(endpoints ?? {})) delete ep.Aliases;
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
    if (fl.bool('no-deps')) await ensureProjectResources(ctx, project);
    else await startDependencies(ctx, project, serviceName);
    ctx.progress.close();

    const lookup = (k: string) => cli.env[k] ?? project.environment[k];
    const svc = oneOffService(project, service, {
      command,
      entrypoint,
      environment: fl.list('env'),
      labels,
      user: fl.string('user'),
      workdir: fl.string('workdir'),
      volumes: fl.list('volume'),
      publish: fl.list('publish'),
      servicePorts: fl.bool('service-ports'),
      tty,
      interactive,
    }, lookup);
    if (tty && interactive && !detach && !cli.in.isTTY) throw new CliError('the input device is not a TTY');
    await ensureImages(ctx, project, [serviceName], { build: fl.bool('build'), quietPull: fl.bool('quiet-pull') });

    const slug = randomBytes(32).toString('hex');
    const name = fl.string('name') || oneOffName(project.name, serviceName, slug);
    const req = containerCreateRequest(project, svc, {
      number: 1,
      oneoff: true,
      name,
      servicePorts: true,
      tty,
      openStdin: interactive && !detach,
    });
    const body = req.body as Record<string, unknown> & { Labels?: Record<string, string>; HostConfig?: Record<string, unknown> };
    body.Labels = { ...body.Labels, [LABEL.slug]: slug, [LABEL.oneoff]: 'True' };
    delete body.Labels[LABEL.containerNumber];
    body.Tty = tty;
    body.OpenStdin = interactive && !detach;
    body.AttachStdin = interactive && !detach;
    body.StdinOnce = interactive && !detach;
    body.AttachStdout = !detach;
    body.AttachStderr = !detach;
    body.HostConfig = { ...body.HostConfig, AutoRemove: fl.bool('rm') };
    if (!fl.bool('use-aliases')) withoutAliases(body);

    const client = ctx.client;
    const created = await client.json<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', { query: { name }, json: body });
    const id = created.Id;
    for (const w of created.Warnings ?? []) cli.err.write(`WARNING: ${w}\n`);
    for (const n of req.extraNetworks) {
      const endpoint = { ...n.endpoint };
      if (!fl.bool('use-aliases')) delete endpoint.Aliases;
      (await client.request('POST', `/networks/${pathName(n.network)}/connect`, { json: { Container: id, EndpointConfig: endpoint } })).resume();
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
