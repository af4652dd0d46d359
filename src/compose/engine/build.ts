/**
 * Building a service's image as docker compose's classic builder does: the context directory as a tar
 * (with its .dockerignore, a Dockerfile from outside the context or `dockerfile_inline` added under a
 * random name) sent to POST /build with the build section as query parameters, the image tagged
 * `<project>-<service>` (or `image:`) plus `tags:`, and labelled with the project and service.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ComposeProject, ServiceConfig, BuildConfig } from '../types.js';
import type { ComposeContext } from './types.js';
import { pathName, type QueryValue } from '../../cli/client.js';
import { ComposeError } from '../errors.js';
import { CliError } from '../../cli/errors.js';
import { COMPOSE_VERSION, LABEL } from './labels.js';
import { contextFromDirectory, locateDockerfile, type PreparedContext } from '../../cli/build-context.js';
import { loadIgnoreRules } from '../../cli/build-ignore.js';
import { jsonValues } from '../../cli/jsonstream.js';
import { ramInBytes } from '../../cli/units.js';
import { isRemoteContext } from '../canonical.js';

/** The label docker compose puts on images it builds, naming the builder. */
export const IMAGE_BUILDER_LABEL = 'com.docker.compose.image.builder';

export interface BuildOptions {
  /** `--no-cache`: on top of the section's no_cache. */
  noCache?: boolean;
  /** `--pull`: on top of the section's pull. */
  pull?: boolean;
  /** `--build-arg`s: override the section's args; a null value comes from the environment. */
  buildArgs?: Record<string, string | null>;
  /** No build output. */
  quiet?: boolean;
  /** Where build output lines go (default: ctx.progress.log). */
  log?: (line: string) => void;
}

/** Build keys the classic builder cannot honour, with why; refused rather than silently ignored. */
const UNSUPPORTED: Record<string, string> = {
  ssh: "doesn't support SSH keys",
  secrets: "doesn't support secrets",
  additional_contexts: "doesn't support additional contexts",
  privileged: "doesn't support privileged mode",
  entitlements: "doesn't support entitlements",
  cache_to: "doesn't support cache export (cache_to)",
  ulimits: "doesn't support build ulimits",
  provenance: "doesn't support provenance attestations",
  sbom: "doesn't support SBOM attestations",
};

const KNOWN = new Set([
  'context',
  'dockerfile',
  'dockerfile_inline',
  'args',
  'labels',
  'cache_from',
  'no_cache',
  'network',
  'pull',
  'target',
  'shm_size',
  'extra_hosts',
  'isolation',
  'tags',
  'platforms',
  ...Object.keys(UNSUPPORTED),
]);

/** Refuses a build section Berth's builder cannot do as written. */
export function assertBuildSupported(service: ServiceConfig): void {
  const build = service.build;
  if (!build) return;
  const where = `service "${service.name}"`;
  for (const [key, value] of Object.entries(build)) {
    if (key.startsWith('x-')) continue;
    if (!KNOWN.has(key)) throw new ComposeError(`${where}: build.${key} is not supported by berth`);
    const empty = value === undefined || value === null || value === false || (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
    if (UNSUPPORTED[key] && !empty) throw new ComposeError(`${where}: berth's builder ${UNSUPPORTED[key]} (build.${key})`);
  }
  if (Array.isArray(build.platforms) && build.platforms.length > 1) {
    throw new ComposeError(`${where}: berth's builder doesn't support multi-arch build (build.platforms has ${build.platforms.length} entries)`);
  }
  if (build.isolation !== undefined && build.isolation !== '' && build.isolation !== 'default') {
    throw new ComposeError(`${where}: build.isolation ${JSON.stringify(build.isolation)} is not supported by berth`);
  }
  if (isRemoteContext(build.context)) throw new ComposeError(`${where}: remote build contexts are not supported by berth: ${build.context}`);
}

/**
 * The build args sent: the section's args, overridden by `--build-arg`s, and those without a value
 * taken from the project's environment (docker compose's resolveAndMergeBuildArgs; left null when unset).
 */
export function resolveBuildArgs(project: ComposeProject, build: BuildConfig, cliArgs: Record<string, string | null> = {}): Record<string, string | null> {
  const merged: Record<string, string | null> = { ...(build.args ?? {}), ...cliArgs };
  for (const [key, value] of Object.entries(merged)) {
    if (value === null && project.environment[key] !== undefined) merged[key] = project.environment[key]!;
  }
  return merged;
}

/** build.extra_hosts as the /build query wants them ("host:ip"), from a list or a mapping. */
function extraHosts(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((h) => String(h).replace(/^([^=:]+)=/, '$1:'));
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([host, ip]) => (Array.isArray(ip) ? ip : [ip]).map((one) => `${host}:${String(one)}`));
  }
  return [];
}

/** The image labels: the section's, plus what docker compose adds (project, service, version, builder). */
export function buildLabels(project: ComposeProject, service: ServiceConfig): Record<string, string> {
  return {
    ...(service.build?.labels ?? {}),
    [IMAGE_BUILDER_LABEL]: 'classic',
    [LABEL.version]: COMPOSE_VERSION,
    [LABEL.project]: project.name,
    [LABEL.service]: service.name,
  };
}

/** The name the built image is tagged with (docker compose's GetImageNameOrDefault). */
export function builtImageName(project: ComposeProject, service: ServiceConfig): string {
  return service.image ?? `${project.name}-${service.name}`;
}

/** POST /build's query for a service's build section; `dockerfile` is the name inside the context tar. */
export function buildQuery(project: ComposeProject, service: ServiceConfig, dockerfile: string, opts: BuildOptions = {}): Record<string, QueryValue> {
  const build = service.build!;
  let shmSize: number | undefined;
  if (build.shm_size !== undefined && build.shm_size !== null && build.shm_size !== '') {
    try {
      shmSize = typeof build.shm_size === 'number' ? build.shm_size : ramInBytes(String(build.shm_size));
    } catch (err) {
      throw new ComposeError(`service "${service.name}": build.shm_size: ${(err as Error).message}`);
    }
  }
  const platforms = Array.isArray(build.platforms) ? (build.platforms as string[]) : [];
  const platform = (service.platform as string | undefined) || platforms[0];
  const network = typeof build.network === 'string' && build.network !== '' && build.network !== 'default' ? build.network : undefined;
  return {
    t: [builtImageName(project, service), ...(Array.isArray(build.tags) ? (build.tags as string[]) : [])],
    dockerfile,
    buildargs: JSON.stringify(resolveBuildArgs(project, build, opts.buildArgs)),
    labels: JSON.stringify(buildLabels(project, service)),
    cachefrom: build.cache_from?.length ? JSON.stringify(build.cache_from) : undefined,
    target: build.target || undefined,
    nocache: build.no_cache === true || opts.noCache || undefined,
    pull: build.pull === true || opts.pull || undefined,
    rm: '1',
    // A failed build leaves no intermediate container behind.
    forcerm: '1',
    networkmode: network,
    extrahosts: extraHosts(build.extra_hosts),
    shmsize: shmSize,
    platform: platform || undefined,
    version: '1',
  };
}

/** The context tar for a service: its directory, Dockerfile and .dockerignore, or the inline Dockerfile. */
export async function serviceBuildContext(service: ServiceConfig): Promise<PreparedContext> {
  const build = service.build!;
  const contextDir = build.context;
  const st = await fs.stat(contextDir).catch(() => undefined);
  if (!st) throw new CliError(`unable to prepare context: path ${JSON.stringify(contextDir)} not found`);
  if (!st.isDirectory()) throw new CliError(`unable to prepare context: context must be a directory: ${contextDir}`);
  if (typeof build.dockerfile_inline === 'string') {
    const ignore = await loadIgnoreRules(contextDir, null);
    return contextFromDirectory(contextDir, { dockerfileRel: '', dockerfileText: Buffer.from(build.dockerfile_inline), ignore });
  }
  const df = await locateDockerfile(contextDir, path.resolve(contextDir, build.dockerfile ?? 'Dockerfile'));
  const ignore = await loadIgnoreRules(contextDir, df.outside ? null : df.rel);
  if (df.outside) return contextFromDirectory(contextDir, { dockerfileRel: df.rel, dockerfileText: await fs.readFile(df.abs), ignore });
  return contextFromDirectory(contextDir, { dockerfileRel: df.rel, ignore });
}

/**
 * Builds one service's image; resolves with its ID. Progress: `Image <name> Building` / `Built`; the
 * daemon's classic output lines go to `opts.log` prefixed `[service] `. A failure names the service and
 * carries the failing step's exit code.
 */
export async function buildServiceImage(ctx: ComposeContext, project: ComposeProject, serviceName: string, opts: BuildOptions = {}): Promise<string> {
  const service = project.services[serviceName]!;
  const image = builtImageName(project, service);
  const eventId = `Image ${image}`;
  const log = opts.log ?? ((line: string) => ctx.progress.log(line));
  ctx.progress.event({ id: eventId, status: 'Building' });
  try {
    assertBuildSupported(service);
    const context = await serviceBuildContext(service);
    const res = await ctx.client.request('POST', '/build', {
      query: buildQuery(project, service, context.dockerfile, opts),
      body: context.body,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    let imageId: string | undefined;
    let failure: { message: string; code?: number } | undefined;
    let partial = '';
    for await (const raw of jsonValues(res, { messagesOnly: true })) {
      const m = JSON.parse(raw) as { stream?: string; aux?: { ID?: string }; error?: string; errorDetail?: { message?: string; code?: number } };
      if (m.aux && typeof m.aux.ID === 'string') imageId = m.aux.ID;
      else if (m.error !== undefined || m.errorDetail) failure = { message: m.errorDetail?.message ?? m.error ?? 'build failed', code: m.errorDetail?.code };
      else if (typeof m.stream === 'string' && !opts.quiet) {
        const lines = (partial + m.stream).split('\n');
        partial = lines.pop()!;
        for (const line of lines) log(`[${serviceName}] ${line.replace(/\r$/, '')}`);
      }
    }
    if (partial && !opts.quiet) log(`[${serviceName}] ${partial}`);
    if (failure) throw new CliError(`service "${serviceName}" failed to build: ${failure.message}`, failure.code && failure.code > 0 ? failure.code : 1);
    if (!imageId) {
      const info = await ctx.client.json<{ Id: string }>('GET', `/images/${pathName(image)}/json`);
      imageId = info.Id;
    }
    ctx.progress.event({ id: eventId, status: 'Built', done: true });
    return imageId;
  } catch (err) {
    const message = (err as Error).message;
    ctx.progress.event({ id: eventId, status: 'Error', text: message, error: true });
    if (err instanceof CliError && message.startsWith(`service "${serviceName}"`)) throw err;
    if (err instanceof ComposeError) throw err;
    throw new CliError(`service "${serviceName}" failed to build: ${message}`, err instanceof CliError ? err.exitCode : 1);
  }
}
