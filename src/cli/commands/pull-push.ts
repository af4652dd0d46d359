/**
 * Moving images through registries: `pull` (POST /images/create?fromImage=) and `push`
 * (POST /images/{name}/push), with the same query parameters, X-Registry-Auth header and
 * progress display as the docker CLI 28.
 */
import type { CommandDef } from '../args.js';
import { CliError } from '../errors.js';
import { displayJsonMessages } from '../jsonstream.js';
import { InvalidReferenceError, fullName, parseNormalizedNamed, type NamedRef } from '../reference.js';
import type { Cli, Output } from '../streams.js';
import { platformParam } from './common.js';
import { registryAuthHeader } from './registry-auth.js';

const DISCARD: Output = { write: () => true };

/** A reference as the CLI was given it, or docker's error for a malformed one. */
export function parseReference(s: string): NamedRef {
  try {
    return parseNormalizedNamed(s);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new CliError(err.message);
    throw err;
  }
}

/** reference.String(): "docker.io/library/busybox:latest", "host:5000/app@sha256:...". */
export function referenceString(ref: NamedRef): string {
  return fullName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

const nameOnly = (ref: NamedRef) => ref.tag === undefined && ref.digest === undefined;

/**
 * The query docker's ImagePull sends: the repository in fromImage, the tag or digest in tag
 * (the digest wins when both are given), nothing for --all-tags.
 */
export function pullQuery(ref: NamedRef, all: boolean, platform: string): Record<string, string | undefined> {
  return {
    fromImage: fullName(ref),
    tag: all ? undefined : (ref.digest ?? ref.tag),
    platform: platform.toLowerCase() || undefined, // as docker's ImagePull
  };
}

/**
 * Pulls `ref` and shows the progress on `out` (a terminal gets progress bars). Shared by
 * `pull` and by `run`/`create` when the image is missing.
 */
export async function pullImage(cli: Cli, ref: NamedRef, opts: { all?: boolean; platform?: string; out: Output }): Promise<void> {
  const res = await cli.client().request('POST', '/images/create', {
    query: pullQuery(ref, opts.all ?? false, opts.platform ?? ''),
    headers: { 'X-Registry-Auth': await registryAuthHeader(cli, ref) },
  });
  await displayJsonMessages(res, opts.out, { tty: opts.out !== DISCARD && !!opts.out.isTTY });
}

/** The reference a pull or push names: docker's default tag (said unless quiet), none with -a. */
function commandReference(cli: Cli, arg: string, all: boolean, quiet: boolean): NamedRef {
  const ref = parseReference(arg);
  if (all && !nameOnly(ref)) throw new CliError("tag can't be used with --all-tags/-a");
  if (all || !nameOnly(ref)) return ref;
  if (!quiet) cli.out.write('Using default tag: latest\n');
  return { ...ref, tag: 'latest' };
}

const allTagsFlag = (usage: string) => ({ name: 'all-tags', short: 'a', type: 'bool' as const, usage });
const trustFlag = { name: 'disable-content-trust', type: 'bool' as const, default: true, usage: 'Skip image verification' };

export function pullCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
    short: 'Download an image from a registry',
    aliasPaths: ['image pull', 'pull'],
    args: { min: 1, max: 1 },
    flags: [
      allTagsFlag('Download all tagged images in the repository'),
      trustFlag,
      { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress verbose output' },
    ],
    run: async (inv, cli) => {
      const all = inv.flags.bool('all-tags');
      const quiet = inv.flags.bool('quiet');
      const ref = commandReference(cli, inv.args[0]!, all, quiet);
      await pullImage(cli, ref, { all, platform: inv.flags.string('platform'), out: quiet ? DISCARD : cli.out });
      cli.out.write(`${referenceString(ref)}\n`);
    },
  };
}

/** --platform of push as docker 28 sends it: JSON, an explicit arm64 variant kept. */
function pushPlatform(spec: string): string | undefined {
  const json = platformParam(spec);
  if (json === undefined) return undefined;
  const p = JSON.parse(json) as { architecture: string; os: string; variant?: string };
  const variant = spec.split('/')[2];
  if (p.architecture === 'arm64' && !p.variant && variant) p.variant = /^\d/.test(variant) ? `v${variant}` : variant.toLowerCase();
  return JSON.stringify({ architecture: p.architecture, os: p.os, ...(p.variant && { variant: p.variant }) });
}

export function pushCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] NAME[:TAG]',
    short: 'Upload an image to a registry',
    aliasPaths: ['image push', 'push'],
    args: { min: 1, max: 1 },
    flags: [
      allTagsFlag('Push all tags of an image to the repository'),
      { ...trustFlag, usage: 'Skip image signing' },
      {
        name: 'platform',
        type: 'string',
        usage: 'Push a platform-specific manifest as a single-platform image to the registry.\nImage index won\'t be pushed, meaning that other manifests, including attestations won\'t be preserved.\n\'os[/arch[/variant]]\': Explicit platform (eg. linux/amd64)',
      },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress verbose output' },
    ],
    run: async (inv, cli) => {
      const all = inv.flags.bool('all-tags');
      const quiet = inv.flags.bool('quiet');
      const ref = commandReference(cli, inv.args[0]!, all, quiet);
      const res = await cli.client().request('POST', `/images/${fullName(ref)}/push`, {
        query: { tag: all ? undefined : ref.tag, platform: pushPlatform(inv.flags.string('platform')) },
        headers: { 'X-Registry-Auth': await registryAuthHeader(cli, ref) },
      });
      const out = quiet ? DISCARD : cli.out;
      await displayJsonMessages(res, out, { tty: !quiet && !!cli.out.isTTY });
      if (quiet) cli.out.write(`${referenceString(ref)}\n`);
    },
  };
}
