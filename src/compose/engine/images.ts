/**
 * Makes sure every service has its image before containers are made: pull by pull_policy, build
 * services with `build:`, as `up`, `create`, `run` need; and the project-wide `build`, `pull` and
 * `push` of the commands of those names (docker compose v2's pkg/compose build.go, pull.go, push.go).
 *
 * CONTRACT (issue 14): ensureImages and serviceImageName keep their signatures; options are added.
 */
import type { ComposeProject, ServiceConfig } from '../types.js';
import type { ComposeContext } from './types.js';
import { pathName } from '../../cli/client.js';
import { CliError, DaemonError } from '../../cli/errors.js';
import { ComposeError } from '../errors.js';
import { assertBuildSupported, buildServiceImage, builtImageName, type BuildOptions } from './build.js';
import { pullServiceImage, pushServiceImage, runLimited } from './pull.js';
import { effectivePolicy, mustBuild, mustPull, shouldPullOnCommand, type LocalImage } from './pull-policy.js';

export interface EnsureImagesOptions {
  /** `up --build`: build services with a build section even when their image exists. */
  build?: boolean;
  /** `up --no-build`: never build; a missing image of a build-only service is an error. */
  noBuild?: boolean;
  /** `up --pull always|missing|never|build` overriding pull_policy ("policy" or unset: the file's). */
  pull?: string;
  quietPull?: boolean;
  /** Options for the builds (`--no-cache`, `--build-arg`, where the output goes, quiet). */
  buildOptions?: BuildOptions;
  /** `--parallel`: at most this many pulls/builds at once (-1: no limit). */
  parallel?: number;
}

/** The image name a service's containers use: `image:`, else `<project>-<service>` for a build. */
export function serviceImageName(project: ComposeProject, service: string): string {
  return builtImageName(project, project.services[service]!);
}

/** The local image `name`, or undefined when the daemon has none. */
export async function inspectLocalImage(ctx: ComposeContext, name: string): Promise<LocalImage | undefined> {
  try {
    const info = await ctx.client.json<{ Id: string; Created?: string; Metadata?: { LastTagTime?: string } }>('GET', `/images/${pathName(name)}/json`);
    const tagged = Date.parse(info.Metadata?.LastTagTime ?? '') || Date.parse(info.Created ?? '');
    return { id: info.Id, taggedAt: Number.isFinite(tagged) && tagged > 0 ? tagged : undefined };
  } catch (err) {
    if (err instanceof DaemonError && err.status === 404) return undefined;
    throw err;
  }
}

function serviceOf(project: ComposeProject, name: string): ServiceConfig {
  const svc = project.services[name];
  if (!svc) throw new ComposeError(`no such service: ${name}`);
  return svc;
}

/** Another service of the project builds `image` (docker compose's isServiceImageToBuild). */
function canBeBuilt(project: ComposeProject, service: ServiceConfig): boolean {
  if (service.build) return true;
  return Object.values(project.services).some((s) => s.build && s.image === service.image);
}

/** Throws the first failure of settled tasks (all of them, one per line, as Go's errors.Join). */
function throwFailures(results: PromiseSettledResult<void>[]): void {
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length === 0) return;
  if (failures.length === 1) throw failures[0]!.reason;
  const code = failures.map((f) => (f.reason instanceof CliError ? f.reason.exitCode : 1)).find((c) => c !== 1) ?? 1;
  throw new CliError(failures.map((f) => (f.reason as Error).message).join('\n'), code);
}

/**
 * Ensures images for `services` (names in the project). Resolves with each service's image ID
 * (sha256:...), which `up` writes in the image label and compares to decide recreation.
 * Pulls first (in parallel; a failure of a service that can be built is only a warning), then builds
 * what must be built (in parallel), as docker compose's ensureImagesExists.
 */
export async function ensureImages(ctx: ComposeContext, project: ComposeProject, services: string[], opts: EnsureImagesOptions = {}): Promise<Map<string, string>> {
  if (opts.build && opts.noBuild) throw new ComposeError('--build and --no-build are incompatible');
  const selected = services.map((n) => serviceOf(project, n));
  for (const svc of selected) {
    if (!svc.image && !svc.build) throw new ComposeError(`invalid service "${svc.name}". Must specify either image or build`);
    if (svc.build && !opts.noBuild) assertBuildSupported(svc);
  }
  const policies = new Map(selected.map((svc) => [svc.name, effectivePolicy(svc, { pull: opts.pull, build: opts.build })]));
  const names = [...new Set(selected.map((svc) => builtImageName(project, svc)))];
  const local = new Map<string, LocalImage | undefined>();
  await Promise.all(names.map(async (n) => local.set(n, await inspectLocalImage(ctx, n))));

  // Pulls, one per distinct image.
  const toPull = new Map<string, ServiceConfig>();
  for (const svc of selected) {
    if (mustPull(svc, policies.get(svc.name)!, local.get(svc.image!)) && !toPull.has(svc.image!)) toPull.set(svc.image!, svc);
  }
  const pulls = [...toPull.entries()];
  const pullResults = await runLimited(pulls, opts.parallel ?? ctx.parallel ?? -1, async ([image, svc]) => {
    const buildable = canBeBuilt(project, svc);
    try {
      await pullServiceImage(ctx, image, { quiet: opts.quietPull, buildable, platform: svc.platform as string | undefined });
    } catch (err) {
      if (!buildable || opts.noBuild) throw err;
      return;
    }
    local.set(image, await inspectLocalImage(ctx, image));
  });
  throwFailures(pullResults);

  // Builds, one per service that must build.
  const toBuild = selected.filter((svc) => mustBuild(svc, policies.get(svc.name)!, local.get(builtImageName(project, svc)) !== undefined, opts.noBuild));
  const buildResults = await runLimited(toBuild, opts.parallel ?? ctx.parallel ?? -1, async (svc) => {
    const id = await buildServiceImage(ctx, project, svc.name, opts.buildOptions);
    local.set(builtImageName(project, svc), { id, taggedAt: Date.now() });
  });
  throwFailures(buildResults);

  const ids = new Map<string, string>();
  for (const svc of selected) {
    const image = builtImageName(project, svc);
    const found = local.get(image);
    if (!found) {
      const policy = policies.get(svc.name)!;
      if (svc.build && opts.noBuild) throw new CliError(`image "${image}" of service "${svc.name}" is missing and --no-build prevents building it`);
      if (policy.kind === 'never') throw new CliError(`image "${image}" of service "${svc.name}" is missing and its pull policy is "never"`);
      throw new CliError(`Error response from daemon: No such image: ${image}`);
    }
    ids.set(svc.name, found.id);
  }
  return ids;
}

export interface ProjectBuildOptions extends BuildOptions {
  parallel?: number;
}

/**
 * `compose build [SERVICE...]`: builds every selected service with a build section, whether or not
 * its image exists. Resolves with image name -> ID; warns "No services to build" when none has one.
 */
export async function buildProject(ctx: ComposeContext, project: ComposeProject, services: string[], opts: ProjectBuildOptions = {}): Promise<Map<string, string>> {
  const names = services.length ? services : Object.keys(project.services);
  const toBuild = names.map((n) => serviceOf(project, n)).filter((svc) => svc.build);
  for (const svc of toBuild) assertBuildSupported(svc);
  const built = new Map<string, string>();
  if (toBuild.length === 0) {
    ctx.warn('No services to build');
    return built;
  }
  const results = await runLimited(toBuild, opts.parallel ?? ctx.parallel ?? -1, async (svc) => {
    built.set(builtImageName(project, svc), await buildServiceImage(ctx, project, svc.name, opts));
  });
  throwFailures(results);
  return built;
}

export interface ProjectPullOptions {
  quiet?: boolean;
  /** `--ignore-pull-failures`: report failures, exit 0. */
  ignoreFailures?: boolean;
  /** `--ignore-buildable`: skip images that can be built. */
  ignoreBuildable?: boolean;
  /** `--policy missing|always`: overrides pull_policy of services with an image. */
  policy?: string;
  parallel?: number;
}

/**
 * `compose pull [SERVICE...]`: refreshes the images of the selected services as docker compose's
 * pull: services without `image:` are skipped ("No image to be pulled"); failures of images that can
 * be built end with the advice to build them.
 */
export async function pullProject(ctx: ComposeContext, project: ComposeProject, services: string[], opts: ProjectPullOptions = {}): Promise<void> {
  if (opts.policy !== undefined && opts.policy !== '' && !['missing', 'always'].includes(opts.policy)) {
    throw new ComposeError(`invalid --policy option ${JSON.stringify(opts.policy)}: expected "missing" or "always"`);
  }
  const names = services.length ? services : Object.keys(project.services);
  const scheduled = new Map<string, ServiceConfig>();
  for (const name of names) {
    const svc = serviceOf(project, name);
    if (!svc.image) {
      ctx.progress.event({ id: name, status: 'Skipped', text: 'No image to be pulled', done: true });
      continue;
    }
    const policyValue = opts.policy || (svc.pull_policy as string | undefined);
    const local = policyValue ? await inspectLocalImage(ctx, svc.image) : undefined;
    const decision = shouldPullOnCommand(svc, policyValue, local);
    if (!decision.pull) {
      ctx.progress.event({ id: `Image ${svc.image}`, status: 'Skipped', text: decision.reason, done: true });
      continue;
    }
    if (svc.build && opts.ignoreBuildable) {
      ctx.progress.event({ id: `Image ${svc.image}`, status: 'Skipped', text: 'Image can be built', done: true });
      continue;
    }
    if (!scheduled.has(svc.image)) scheduled.set(svc.image, svc);
  }
  const mustBuildNames: string[] = [];
  const entries = [...scheduled.entries()];
  const results = await runLimited(entries, opts.parallel ?? ctx.parallel ?? -1, async ([image, svc]) => {
    try {
      await pullServiceImage(ctx, image, { quiet: opts.quiet, buildable: !!svc.build, platform: svc.platform as string | undefined });
    } catch (err) {
      if (svc.build) mustBuildNames.push(svc.name);
      throw err;
    }
  });
  if (mustBuildNames.length) {
    ctx.warn(`WARNING: Some service image(s) must be built from source by running:\n    docker compose build ${mustBuildNames.join(' ')}`);
  }
  if (!opts.ignoreFailures) throwFailures(results);
}

export interface ProjectPushOptions {
  quiet?: boolean;
  ignoreFailures?: boolean;
  parallel?: number;
}

/**
 * `compose push [SERVICE...]`: pushes `image:` and build.tags of services that build; the others are
 * skipped, as docker compose's push.
 */
export async function pushProject(ctx: ComposeContext, project: ComposeProject, services: string[], opts: ProjectPushOptions = {}): Promise<void> {
  const names = services.length ? services : Object.keys(project.services);
  const tags: string[] = [];
  for (const name of names) {
    const svc = serviceOf(project, name);
    if (!svc.build || !svc.image) {
      ctx.progress.event({ id: name, status: 'Skipped', done: true });
      continue;
    }
    for (const tag of [svc.image, ...(Array.isArray(svc.build.tags) ? (svc.build.tags as string[]) : [])]) if (!tags.includes(tag)) tags.push(tag);
  }
  const results = await runLimited(tags, opts.parallel ?? ctx.parallel ?? -1, (tag) => pushServiceImage(ctx, tag, { quiet: opts.quiet, ignoreFailure: opts.ignoreFailures }));
  if (!opts.ignoreFailures) throwFailures(results);
}
