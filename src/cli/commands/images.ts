/**
 * `image ls` (and `images`), `image tag`, `image rm`, `image prune`: GET /images/json,
 * POST /images/{name}/tag, DELETE /images/{name}, POST /images/prune.
 */
import type { CommandDef, Invocation } from '../args.js';
import { pathName } from '../client.js';
import { CliError, DaemonError } from '../errors.js';
import { formatGoString, unixLocal } from '../gotime.js';
import { InvalidReferenceError, familiarName, fullName, parseAnyReference, parseNormalizedNamed } from '../reference.js';
import type { Cli } from '../streams.js';
import { truncateId } from '../text.js';
import { humanSize, humanSizeWithPrecision, timeAgo } from '../units.js';
import { confirm, filterFlag, filtersParam, formatFlag, isDefaultTable, platformParam, renderRows } from './common.js';

/** ImageSummary as GET /images/json returns it (the fields the CLI reads). */
export interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size: number;
  SharedSize?: number;
  Labels?: Record<string, string> | null;
  Containers?: number;
}

/** One line of `image ls`: docker's imageContext fields, keys in JSON (sorted) order. */
export interface ImageRow {
  Containers: string;
  CreatedAt: string;
  CreatedSince: string;
  Digest: string;
  ID: string;
  Repository: string;
  SharedSize: string;
  Size: string;
  Tag: string;
  UniqueSize: string;
  VirtualSize: string;
}

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

const DEFAULT_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const DEFAULT_FORMAT_DIGESTS =
  'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

/** docker's NewImageFormat: the template for the given --format, -q and --digests. */
export function imageListFormat(format: string, quiet: boolean, digests: boolean): string {
  if (isDefaultTable(format)) {
    if (quiet) return '{{.ID}}';
    return digests ? DEFAULT_FORMAT_DIGESTS : DEFAULT_FORMAT;
  }
  if (format.startsWith('table') && digests && !format.includes('{{.Digest}}')) return `${format}\t{{.Digest}}`;
  return format;
}

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** Groups references by familiar repository name, keeping first-seen order. */
function byRepo(refs: string[], part: 'tag' | 'digest'): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of refs) {
    let repo: string;
    let value: string | undefined;
    try {
      const ref = parseNormalizedNamed(s);
      repo = familiarName(ref);
      value = ref[part];
    } catch {
      continue; // docker skips references it cannot parse
    }
    if (value === undefined) continue;
    if (!out.has(repo)) out.set(repo, []);
    out.get(repo)!.push(value);
  }
  return out;
}

function row(img: ImageSummary, repo: string, tag: string, digest: string, trunc: boolean, now: number): ImageRow {
  const containers = img.Containers ?? -1;
  const shared = img.SharedSize ?? -1;
  return {
    Containers: containers === -1 ? 'N/A' : String(containers),
    CreatedAt: formatGoString(unixLocal(img.Created)),
    CreatedSince: timeAgo(img.Created * 1000, now),
    Digest: digest,
    ID: trunc ? truncateId(img.Id) : img.Id,
    Repository: repo,
    SharedSize: shared === -1 ? 'N/A' : humanSize(shared),
    Size: humanSizeWithPrecision(img.Size, 3),
    Tag: tag,
    UniqueSize: img.Size === -1 || shared === -1 ? 'N/A' : humanSize(img.Size - shared),
    VirtualSize: humanSize(img.Size),
  };
}

/**
 * The rows `image ls` shows: one per repository:tag (times digest when digests are shown),
 * plus a "<none>" tag row for repositories known only by digest. Dangling images are one
 * "<none> <none>" row.
 */
export function imageRows(images: ImageSummary[], opts: { trunc: boolean; digests: boolean; showDigestRows?: boolean; now: number }): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of images) {
    if (isDangling(img)) {
      rows.push(row(img, '<none>', '<none>', '<none>', opts.trunc, opts.now));
      continue;
    }
    const tags = byRepo(img.RepoTags ?? [], 'tag');
    const digests = byRepo(img.RepoDigests ?? [], 'digest');
    for (const [repo, repoTags] of tags) {
      const repoDigests = opts.digests ? (digests.get(repo) ?? []) : [];
      digests.delete(repo);
      for (const tag of repoTags) {
        if (repoDigests.length === 0) rows.push(row(img, repo, tag, '<none>', opts.trunc, opts.now));
        for (const d of repoDigests) rows.push(row(img, repo, tag, d, opts.trunc, opts.now));
      }
    }
    for (const [repo, repoDigests] of digests) {
      if (opts.showDigestRows) for (const d of repoDigests) rows.push(row(img, repo, '<none>', d, opts.trunc, opts.now));
      else rows.push(row(img, repo, '<none>', '', opts.trunc, opts.now));
    }
  }
  return rows;
}

export interface ImageListOptions {
  format: string;
  quiet: boolean;
  digests: boolean;
  noTrunc: boolean;
  now: number;
}

/** The whole `image ls` output for an API answer. */
export function formatImageList(images: ImageSummary[], opts: ImageListOptions): string {
  const format = imageListFormat(opts.format, opts.quiet, opts.digests);
  // A template that mentions .Digest gets real digests even without --digests (as docker).
  const needDigest = opts.digests || format.includes('{{.Digest}}');
  const rows = imageRows(images, { trunc: !opts.noTrunc, digests: needDigest, showDigestRows: opts.digests, now: opts.now });
  return renderRows(format, rows, IMAGE_HEADERS);
}

async function runList(inv: Invocation, cli: Cli): Promise<void> {
  const f = inv.flags;
  const extra: Array<[string, string]> = inv.args[0] ? [['reference', inv.args[0]]] : [];
  const images = await cli.client().json<ImageSummary[]>('GET', '/images/json', {
    query: { all: f.bool('all') || undefined, filters: filtersParam(f.list('filter'), extra) },
  });
  cli.out.write(
    formatImageList(images ?? [], {
      format: f.string('format'),
      quiet: f.bool('quiet'),
      digests: f.bool('digests'),
      noTrunc: f.bool('no-trunc'),
      now: cli.now(),
    }),
  );
}

/** `images`, `image ls` and `image list` are one command under several names. */
export function listCommand(name: string, aliases?: string[]): CommandDef {
  return {
    name,
    ...(aliases && { aliases }),
    usage: '[OPTIONS] [REPOSITORY[:TAG]]',
    short: 'List images',
    aliasPaths: ['image ls', 'image list', 'images'],
    args: { max: 1 },
    flags: [
      { name: 'all', short: 'a', type: 'bool', usage: 'Show all images (default hides intermediate images)' },
      { name: 'digests', type: 'bool', usage: 'Show digests' },
      filterFlag(),
      formatFlag(),
      { name: 'no-trunc', type: 'bool', usage: "Don't truncate output" },
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Only show image IDs' },
    ],
    run: runList,
  };
}

// ---- tag --------------------------------------------------------------------------------

/**
 * The query of POST /images/{source}/tag, as docker's client builds it: the target is
 * normalized to its full name ("docker.io/library/busybox") with "latest" as default tag.
 */
export function tagParams(source: string, target: string): { repo: string; tag: string } {
  const wrap = (ref: string, err: unknown) =>
    new CliError(`Error parsing reference: ${JSON.stringify(ref)} is not a valid repository/tag: ${(err as Error).message}`);
  try {
    parseAnyReference(source);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw wrap(source, err);
    throw err;
  }
  let ref;
  try {
    ref = parseNormalizedNamed(target);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw wrap(target, err);
    throw err;
  }
  if (ref.digest !== undefined) throw new CliError('refusing to create a tag with a digest reference');
  return { repo: fullName(ref), tag: ref.tag ?? 'latest' };
}

export function tagCommand(name: string): CommandDef {
  return {
    name,
    usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
    short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
    aliasPaths: ['image tag', 'tag'],
    args: { min: 2, max: 2 },
    run: async (inv, cli) => {
      const [source, target] = inv.args as [string, string];
      const query = tagParams(source, target);
      const res = await cli.client().request('POST', `/images/${pathName(source)}/tag`, { query });
      res.resume();
    },
  };
}

// ---- rm ---------------------------------------------------------------------------------

export interface DeleteItem {
  Untagged?: string;
  Deleted?: string;
}

/** "Untagged: ..." / "Deleted: ..." lines of `image rm`. */
export function formatRemoved(items: DeleteItem[]): string {
  let out = '';
  for (const item of items) {
    if (item.Untagged) out += `Untagged: ${item.Untagged}\n`;
    if (item.Deleted) out += `Deleted: ${item.Deleted}\n`;
  }
  return out;
}

export function rmCommand(name: string, aliases?: string[]): CommandDef {
  return {
    name,
    ...(aliases && { aliases }),
    usage: '[OPTIONS] IMAGE [IMAGE...]',
    short: 'Remove one or more images',
    aliasPaths: ['image rm', 'image remove', 'rmi'],
    args: { min: 1 },
    flags: [
      { name: 'force', short: 'f', type: 'bool', usage: 'Force removal of the image' },
      { name: 'no-prune', type: 'bool', usage: 'Do not delete untagged parents' },
      {
        name: 'platform',
        type: 'strings',
        usage: 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")',
      },
    ],
    run: async (inv, cli) => {
      const platforms = inv.flags.list('platform').map((p) => platformParam(p)!).filter(Boolean);
      const query = {
        force: inv.flags.bool('force') || undefined,
        noprune: inv.flags.bool('no-prune') || undefined,
        platforms: platforms.length ? platforms : undefined,
      };
      // Like docker: carry on with the other names, report every failure at the end.
      const errors: string[] = [];
      for (const image of inv.args) {
        try {
          const items = await cli.client().json<DeleteItem[]>('DELETE', `/images/${pathName(image)}`, { query });
          cli.out.write(formatRemoved(items ?? []));
        } catch (err) {
          if (!(err instanceof DaemonError)) throw err;
          errors.push(err.message);
        }
      }
      if (errors.length) throw new CliError(errors.join('\n'));
    },
  };
}

// ---- prune ------------------------------------------------------------------------------

export interface PruneReport {
  ImagesDeleted?: DeleteItem[] | null;
  SpaceReclaimed?: number;
}

/** What `image prune` prints for the daemon's report. */
export function formatPruneReport(report: PruneReport): string {
  let out = '';
  const deleted = report.ImagesDeleted ?? [];
  if (deleted.length > 0) {
    out += 'Deleted Images:\n';
    for (const item of deleted) {
      if (item.Untagged) out += `untagged: ${item.Untagged}\n`;
      if (item.Deleted) out += `deleted: ${item.Deleted}\n`;
    }
    out += '\n';
  }
  return `${out}Total reclaimed space: ${humanSize(report.SpaceReclaimed ?? 0)}\n`;
}

const DANGLING_WARNING = 'WARNING! This will remove all dangling images.';
const ALL_WARNING = 'WARNING! This will remove all images without at least one container associated to them.';

export const pruneCommand: CommandDef = {
  name: 'prune',
  usage: '[OPTIONS]',
  short: 'Remove unused images',
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused images, not just dangling ones' },
    filterFlag('Provide filter values (e.g. "until=<timestamp>")', null),
    { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
  ],
  run: async (inv, cli) => {
    const all = inv.flags.bool('all');
    if (!inv.flags.bool('force') && !(await confirm(cli, all ? ALL_WARNING : DANGLING_WARNING))) return;
    const filters = filtersParam(inv.flags.list('filter'), [['dangling', String(!all)]]);
    const report = await cli.client().json<PruneReport>('POST', '/images/prune', { query: { filters } });
    cli.out.write(formatPruneReport(report ?? {}));
  },
};
