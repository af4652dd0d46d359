/**
 * From a service in the model to the Engine API requests that make its resources: the container
 * create body (POST /containers/create), the configuration hash that decides recreation, the
 * names docker compose gives, and the refusal of keys Berth does not support.
 *
 * CONTRACT (issue 14): the signatures below are what the engine and the CLI code against.
 * The translation follows docker compose v2's getCreateConfigs (pkg/compose/create.go); the parts live
 * in mounts.ts (volumes, secrets, configs), networking.ts (network mode, endpoints, aliases),
 * host-config.ts (resources, restart, healthcheck, ports, ...), config-hash.ts and supported.ts.
 */
import type { ComposeProject, ServiceConfig } from '../types.js';
import { ComposeError } from '../errors.js';
import { COMPOSE_VERSION, LABEL } from './labels.js';
import { resourceConfigHash, serviceConfigHash } from './config-hash.js';
import { hostConfig, containerHealthcheck, exposedPorts, portBindings, restartPolicy, commandEnv, stopTimeout } from './host-config.js';
import { serviceMounts, type InjectedFile } from './mounts.js';
import { serviceNetworking } from './networking.js';
import { parsePortShort } from '../ports.js';
import { toKeyValueMap } from '../canonical.js';

export { serviceConfigHash, hashedConfig } from './config-hash.js';
export { assertSupported, UNSUPPORTED_KEYS } from './supported.js';
export type { InjectedFile } from './mounts.js';
/** Secrets and configs without a file, written into a created container (docker compose's injectSecrets). */
export { injectedFilesArchive, injectFiles } from './inject-files.js';

export interface ContainerRequestOptions {
  /** Replica number, from 1. */
  number: number;
  /** `compose run`: a one-off container (its own name, oneoff label, no ports unless asked). */
  oneoff?: boolean;
  /** The container name to use (see containerName; `run` names its own). */
  name: string;
  /** The image's ID or digest as resolved before creating (for the image label). */
  imageDigest?: string;
  /** `compose run` overrides. */
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  /** `run --service-ports`: publish the service's ports (a one-off publishes none otherwise). */
  servicePorts?: boolean;
  /** `run` extras: tty/stdin when attached. */
  tty?: boolean;
  openStdin?: boolean;
  /** `run -i` attached: AttachStdin and StdinOnce as docker compose sets them. */
  attachStdin?: boolean;
  /** `run -u`, `run -w`. */
  user?: string;
  workingDir?: string;
  /** `run --rm`: HostConfig.AutoRemove. */
  autoRemove?: boolean;
  /** `run -p`: ports to publish (short syntax) instead of the service's. */
  publish?: string[];
  /** `run --use-aliases`: a one-off gets the service's aliases too (service containers always do). */
  useAliases?: boolean;
  /** `run -l`: labels added to the container's. */
  labels?: Record<string, string>;
  /** `run`: the com.docker.compose.slug label. */
  slug?: string;
}

export interface ContainerCreate {
  /** ?name= for POST /containers/create */
  name: string;
  /** The JSON body: Config fields, HostConfig, NetworkingConfig (the first network only; others are connected after). */
  body: Record<string, unknown>;
  /** Networks to connect after create, in priority order, with their endpoint settings (POST /networks/{id}/connect bodies). */
  extraNetworks: Array<{ network: string; endpoint: Record<string, unknown> }>;
  /** ?platform= for POST /containers/create (the service's platform or DOCKER_DEFAULT_PLATFORM). */
  platform?: string;
  /**
   * Secrets and configs from `environment:` or `content:`: the engine writes them into the container
   * after create and before start: `await injectFiles(ctx.client, id, req.files)`.
   */
  files: InjectedFile[];
}

/** `<project>-<service>-<n>` (docker compose v2's separator), or the service's container_name. */
export function containerName(project: ComposeProject, service: ServiceConfig, number: number): string {
  return service.container_name ?? `${project.name}-${service.name}-${number}`;
}

/** How many containers a service runs (scale, else deploy.replicas, else 1). */
export function serviceReplicas(service: ServiceConfig): number {
  return service.scale ?? service.deploy?.replicas ?? 1;
}

/** The labels every container of the project carries. */
export function containerLabels(project: ComposeProject, service: ServiceConfig, opts: ContainerRequestOptions): Record<string, string> {
  const labels: Record<string, string> = {
    // `labels: [flag]` has no value: an empty one, as docker compose sends it.
    ...Object.fromEntries(Object.entries(service.labels).map(([k, v]) => [k, v ?? ''])),
    ...opts.labels,
    [LABEL.project]: project.name,
    [LABEL.service]: service.name,
  };
  // One-off containers are not numbered (docker compose sets the number label only for replicas).
  if (!opts.oneoff) labels[LABEL.containerNumber] = String(opts.number);
  labels[LABEL.oneoff] = opts.oneoff ? 'True' : 'False';
  if (opts.slug) labels[LABEL.slug] = opts.slug;
  labels[LABEL.configHash] = serviceConfigHash(service);
  labels[LABEL.dependsOn] = Object.entries(service.depends_on)
    .map(([dep, d]) => `${dep}:${d.condition}:${Boolean(d.restart)}`)
    .join(',');
  if (opts.imageDigest) labels[LABEL.image] = opts.imageDigest;
  labels[LABEL.workingDir] = project.workingDir;
  labels[LABEL.configFiles] = project.composeFiles.join(',');
  labels[LABEL.version] = COMPOSE_VERSION;
  return labels;
}

/** docker compose's getLinks for the service's `links` and `external_links` (all replicas of each linked service). */
function serviceLinks(project: ComposeProject, service: ServiceConfig, number: number): string[] {
  const links: string[] = [];
  for (const raw of service.links ?? []) {
    const [linked, alias = linked] = raw.split(':');
    const target = project.services[linked];
    if (!target) continue;
    for (let i = 1; i <= serviceReplicas(target); i++) {
      const name = containerName(project, target, i);
      links.push(`${name}:${alias}`, `${name}:${linked}-${number}`, `${name}:${project.name}-${linked}-${number}`);
    }
  }
  for (const raw of service.external_links ?? []) {
    const [external, alias = external] = raw.split(':');
    links.push(`${external}:${alias}`);
  }
  return links;
}

/** The service as a one-off sees it: run overrides applied, as docker compose's applyRunOptions. */
function effectiveService(service: ServiceConfig, opts: ContainerRequestOptions): ServiceConfig {
  if (!opts.oneoff && !opts.command && !opts.entrypoint && !opts.environment && !opts.user && !opts.workingDir) return service;
  const s: ServiceConfig = { ...service, environment: { ...service.environment, ...opts.environment } };
  if (opts.command && opts.command.length > 0) s.command = opts.command;
  if (opts.entrypoint) {
    s.entrypoint = opts.entrypoint;
    if (!opts.command || opts.command.length === 0) s.command = [];
  }
  if (opts.user) s.user = opts.user;
  if (opts.workingDir) s.working_dir = opts.workingDir;
  if (opts.oneoff) {
    delete s.restart;
    if (s.deploy?.restart_policy) s.deploy = { ...s.deploy, restart_policy: undefined };
    if (opts.publish) s.ports = opts.publish.flatMap((p) => parsePortShort(p));
    else if (!opts.servicePorts) s.ports = [];
  }
  return s;
}

export function containerCreateRequest(project: ComposeProject, original: ServiceConfig, opts: ContainerRequestOptions): ContainerCreate {
  const service = effectiveService(original, opts);
  const image = service.image ?? (service.build ? `${project.name}-${service.name}` : undefined);
  if (!image) throw new ComposeError(`service ${service.name} has neither an image nor a build context specified: invalid compose project`);
  const firstContainer = (svc: ServiceConfig) => containerName(project, svc, 1);
  const networking = serviceNetworking(
    project,
    service,
    { containerName: opts.name, useAliases: !opts.oneoff || Boolean(opts.useAliases), links: serviceLinks(project, service, opts.number) },
    firstContainer,
  );
  const mounts = serviceMounts(project, service);
  const tty = opts.tty ?? service.tty ?? false;
  const openStdin = opts.openStdin ?? service.stdin_open ?? false;
  const body: Record<string, unknown> = {
    Hostname: service.hostname ?? '',
    Domainname: service.domainname ?? '',
    User: service.user ?? '',
    ExposedPorts: exposedPorts(service),
    Tty: tty,
    OpenStdin: openStdin,
    StdinOnce: Boolean(opts.attachStdin) && openStdin,
    AttachStdin: Boolean(opts.attachStdin),
    AttachStdout: true,
    AttachStderr: true,
    // null keeps the image's; [] (an explicit empty list) clears it, as the daemon merges them.
    Cmd: service.command ?? null,
    Image: image,
    WorkingDir: service.working_dir ?? '',
    Entrypoint: service.entrypoint ?? null,
    NetworkDisabled: service.network_mode === 'disabled',
    Labels: containerLabels(project, original, opts),
    StopSignal: service.stop_signal ?? '',
    Env: commandEnv(service.environment),
    StopTimeout: stopTimeout(service),
    HostConfig: {
      ...hostConfig(project, service, firstContainer),
      Binds: mounts.binds,
      Mounts: mounts.mounts,
      NetworkMode: networking.networkMode,
      PortBindings: portBindings(service.ports),
      RestartPolicy: restartPolicy(service),
      AutoRemove: Boolean(opts.autoRemove),
    },
  };
  const healthcheck = containerHealthcheck(service);
  if (healthcheck) body.Healthcheck = healthcheck;
  if (networking.networkingConfig) body.NetworkingConfig = networking.networkingConfig;
  const platform = service.platform ?? project.environment.DOCKER_DEFAULT_PLATFORM;
  return { name: opts.name, body, extraNetworks: networking.extraNetworks, ...(platform ? { platform } : {}), files: mounts.files };
}


/** Labels of a network or volume, from a list or a mapping. */
function labelMap(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(toKeyValueMap(value)).map(([k, v]) => [k, v ?? '']));
}

/** POST /networks/create body for the project's network `key` (docker compose's createNetwork). */
export function networkCreateRequest(project: ComposeProject, key: string): Record<string, unknown> {
  const net = project.networks[key]!;
  const ipam = net.ipam as { driver?: string; config?: Array<Record<string, unknown>>; options?: Record<string, string> } | undefined;
  const body: Record<string, unknown> = {
    Name: net.name,
    Driver: net.driver ?? 'bridge',
    Labels: {
      ...labelMap(net.labels),
      [LABEL.project]: project.name,
      [LABEL.network]: key,
      [LABEL.version]: COMPOSE_VERSION,
      [LABEL.configHash]: resourceConfigHash(net),
    },
  };
  if (net.driver_opts) body.Options = net.driver_opts;
  if (net.internal !== undefined) body.Internal = Boolean(net.internal);
  if (net.attachable !== undefined) body.Attachable = Boolean(net.attachable);
  if (net.enable_ipv6 !== undefined) body.EnableIPv6 = Boolean(net.enable_ipv6);
  if (net.enable_ipv4 !== undefined) body.EnableIPv4 = Boolean(net.enable_ipv4);
  if (ipam && (ipam.driver || ipam.config?.length || ipam.options)) {
    body.IPAM = {
      Driver: ipam.driver ?? '',
      Config: (ipam.config ?? []).map((pool) => {
        const c: Record<string, unknown> = {};
        if (pool.subnet) c.Subnet = pool.subnet;
        if (pool.ip_range) c.IPRange = pool.ip_range;
        if (pool.gateway) c.Gateway = pool.gateway;
        if (pool.aux_addresses) c.AuxiliaryAddresses = pool.aux_addresses;
        return c;
      }),
      Options: ipam.options ?? {},
    };
  }
  return body;
}

/** POST /volumes/create body for the project's volume `key`. */
export function volumeCreateRequest(project: ComposeProject, key: string): Record<string, unknown> {
  const vol = project.volumes[key]!;
  return {
    Name: vol.name,
    Driver: vol.driver ?? 'local',
    DriverOpts: (vol.driver_opts as Record<string, string> | undefined) ?? {},
    Labels: {
      ...labelMap(vol.labels),
      [LABEL.project]: project.name,
      [LABEL.volume]: key,
      [LABEL.version]: COMPOSE_VERSION,
      // A volume without a driver hashes as `local`, as docker compose's VolumeHash.
      [LABEL.configHash]: resourceConfigHash({ ...vol, driver: vol.driver ?? 'local' }),
    },
  };
}

