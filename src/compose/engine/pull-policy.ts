/**
 * pull_policy as docker compose v2 reads it (compose-go's GetPullPolicy) and the decisions `up` and
 * `compose pull` make from it: pull or not, build or not. Pure functions, so the rules are tested apart
 * from the daemon.
 */
import { ComposeError } from '../errors.js';
import { parseDurationNs } from '../duration.js';
import type { ServiceConfig } from '../types.js';

export type PullPolicyKind = 'always' | 'never' | 'missing' | 'build' | 'refresh';

export interface PullPolicy {
  kind: PullPolicyKind;
  /** For `refresh` (daily, weekly, every_<duration>): how old the local tag may be, in ms. */
  intervalMs?: number;
}

/** The values `--pull` of up/create/run accepts (docker compose's validPullPolicies). */
export const UP_PULL_VALUES = ['always', 'never', 'build', 'missing', 'if_not_present'];

const DAY_MS = 24 * 3600 * 1000;

/** `every_12h`, `every_2d`, `every_1w`: compose-go accepts Go durations plus d and w. */
function everyInterval(spec: string, policy: string): number {
  const m = /^(\d+)([dw])$/.exec(spec);
  if (m) return Number(m[1]) * (m[2] === 'd' ? DAY_MS : 7 * DAY_MS);
  try {
    return parseDurationNs(spec, 'pull_policy') / 1e6;
  } catch {
    throw new ComposeError(`invalid pull_policy ${JSON.stringify(policy)}`);
  }
}

/** Parses a pull_policy value; unset means `missing`. */
export function parsePullPolicy(value: string | undefined): PullPolicy {
  switch (value ?? '') {
    case '':
    case 'missing':
    case 'if_not_present':
      return { kind: 'missing' };
    case 'always':
      return { kind: 'always' };
    case 'never':
      return { kind: 'never' };
    case 'build':
      return { kind: 'build' };
    case 'daily':
      return { kind: 'refresh', intervalMs: DAY_MS };
    case 'weekly':
      return { kind: 'refresh', intervalMs: 7 * DAY_MS };
  }
  if (value!.startsWith('every_')) return { kind: 'refresh', intervalMs: everyInterval(value!.slice('every_'.length), value!) };
  throw new ComposeError(`invalid pull_policy ${JSON.stringify(value)}`);
}

/** What is known of a service's image locally. */
export interface LocalImage {
  id: string;
  /** When the tag was last set (LastTagTime, else Created), ms since the epoch. */
  taggedAt?: number;
}

/** The policy a service runs with: `--pull` overrides pull_policy; `--build` makes buildable services `build`. */
export function effectivePolicy(service: ServiceConfig, opts: { pull?: string; build?: boolean }): PullPolicy {
  if (opts.pull !== undefined && opts.pull !== '' && opts.pull !== 'policy') {
    if (!UP_PULL_VALUES.includes(opts.pull)) throw new ComposeError(`invalid --pull option ${JSON.stringify(opts.pull)}`);
  }
  let value = opts.pull !== undefined && opts.pull !== '' && opts.pull !== 'policy' ? opts.pull : (service.pull_policy as string | undefined);
  if (opts.build && service.build) value = 'build';
  return parsePullPolicy(value);
}

/**
 * `up`: must the service's `image:` be pulled? (docker compose's mustPull) Services without `image:`
 * never pull; their image is built.
 */
export function mustPull(service: ServiceConfig, policy: PullPolicy, local: LocalImage | undefined, now = Date.now()): boolean {
  if (!service.image) return false;
  switch (policy.kind) {
    case 'always':
      return true;
    case 'never':
    case 'build':
      return false;
    case 'refresh':
      return !local || local.taggedAt === undefined || now > local.taggedAt + policy.intervalMs!;
    case 'missing':
      return !local;
  }
}

/**
 * `up`: must the service be built? Only services with `build:`; when the policy says `build`, or
 * the image is (still) missing after the pulls. `--no-build` never builds.
 */
export function mustBuild(service: ServiceConfig, policy: PullPolicy, presentAfterPull: boolean, noBuild = false): boolean {
  if (!service.build || noBuild) return false;
  return policy.kind === 'build' || !presentAfterPull;
}

/**
 * `compose pull`: refresh the service's image? (docker compose's shouldPullImage) Without an explicit
 * pull_policy, always; a refresh window counts as due; `missing` still refreshes a present `latest`.
 * The reason is what the Skipped event says.
 */
export function shouldPullOnCommand(service: ServiceConfig, policyValue: string | undefined, local: LocalImage | undefined): { pull: boolean; reason?: string } {
  if (!service.image) return { pull: false, reason: 'No image to be pulled' };
  if (policyValue === undefined || policyValue === '') return { pull: true };
  const policy = parsePullPolicy(policyValue);
  if (policy.kind === 'always' || policy.kind === 'refresh') return { pull: true };
  if (policy.kind === 'missing') {
    if (!local || isLatestTag(service.image)) return { pull: true };
    return { pull: false, reason: 'Image is already present locally' };
  }
  return { pull: false };
}

/** A reference naming the `latest` tag, explicitly or by default (no tag, no digest). */
export function isLatestTag(image: string): boolean {
  if (image.includes('@')) return false;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  return colon < 0 || image.slice(colon + 1) === 'latest';
}
