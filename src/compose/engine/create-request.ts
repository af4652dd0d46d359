/**
 * From a service in the model to the Engine API requests that make its resources: the container
 * create body (POST /containers/create), the configuration hash that decides recreation, the
 * names docker compose gives, and the refusal of keys Berth does not support.
 *
 * CONTRACT (issue 14): the signatures below are what the engine and the CLI code against.
 * The bodies here are a first, minimal version; the translation's owner completes them.
 */
import { createHash } from 'node:crypto';
import type { ComposeProject, ServiceConfig } from '../types.js';
import { ComposeError } from '../errors.js';
import { COMPOSE_VERSION, LABEL } from './labels.js';

export interface ContainerRequestOptions {
  /** Replica number, from 1. */
  number: number;
  /** `compose run`: a one-off container (its own name, oneoff label, no ports unless asked). */
  oneoff?: boolean;
  /** The container name to use (see containerName / oneoffName). */
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
}

export interface ContainerCreate {
  /** ?name= for POST /containers/create */
  name: string;
  /** The JSON body: Config fields, HostConfig, NetworkingConfig (the first network only; others are connected after). */
  body: Record<string, unknown>;
  /** Networks to connect after create, in priority order, with their endpoint settings (POST /networks/{id}/connect bodies). */
  extraNetworks: Array<{ network: string; endpoint: Record<string, unknown> }>;
}

/** `<project>-<service>-<n>` (docker compose v2's separator), or the service's container_name. */
export function containerName(project: ComposeProject, service: ServiceConfig, number: number): string {
  const fixed = (service as { container_name?: string }).container_name;
  return fixed ?? `${project.name}-${service.name}-${number}`;
}

/** The hash docker compose writes in com.docker.compose.config-hash: over the service's configuration. */
export function serviceConfigHash(service: ServiceConfig): string {
  const { ...rest } = service as unknown as Record<string, unknown>;
  delete rest.scale;
  delete rest.deploy; // replicas alone must not recreate
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/** Throws ComposeError naming the first key Berth does not support. */
export function assertSupported(_project: ComposeProject): void {
  // Completed by the translation's owner.
}

/** The labels every container of the project carries. */
export function containerLabels(project: ComposeProject, service: ServiceConfig, opts: ContainerRequestOptions): Record<string, string> {
  return {
    ...service.labels,
    [LABEL.project]: project.name,
    [LABEL.service]: service.name,
    [LABEL.containerNumber]: String(opts.number),
    [LABEL.oneoff]: opts.oneoff ? 'True' : 'False',
    [LABEL.configHash]: serviceConfigHash(service),
    [LABEL.workingDir]: project.workingDir,
    [LABEL.configFiles]: project.composeFiles.join(','),
    [LABEL.version]: COMPOSE_VERSION,
  };
}

export function containerCreateRequest(project: ComposeProject, service: ServiceConfig, opts: ContainerRequestOptions): ContainerCreate {
  if (!service.image) throw new ComposeError(`service ${service.name} has neither an image nor a build context specified: invalid compose project`);
  const networkNames = Object.keys(service.networks);
  const first = networkNames[0];
  const body: Record<string, unknown> = {
    Image: service.image,
    Cmd: opts.command ?? service.command ?? undefined,
    Entrypoint: opts.entrypoint ?? service.entrypoint ?? undefined,
    Env: Object.entries({ ...service.environment, ...opts.environment }).map(([k, v]) => (v === null ? k : `${k}=${v}`)),
    Labels: containerLabels(project, service, opts),
    HostConfig: {},
    NetworkingConfig: first
      ? { EndpointsConfig: { [project.networks[first]?.name ?? first]: { Aliases: [service.name] } } }
      : undefined,
  };
  return { name: opts.name, body, extraNetworks: [] };
}

/** POST /networks/create body for the project's network `key`. */
export function networkCreateRequest(project: ComposeProject, key: string): Record<string, unknown> {
  const net = project.networks[key]!;
  return {
    Name: net.name,
    Driver: net.driver ?? 'bridge',
    Labels: { [LABEL.project]: project.name, [LABEL.network]: key, [LABEL.version]: COMPOSE_VERSION },
  };
}

/** POST /volumes/create body for the project's volume `key`. */
export function volumeCreateRequest(project: ComposeProject, key: string): Record<string, unknown> {
  const vol = project.volumes[key]!;
  return {
    Name: vol.name,
    Driver: vol.driver ?? 'local',
    Labels: { [LABEL.project]: project.name, [LABEL.volume]: key, [LABEL.version]: COMPOSE_VERSION },
  };
}
