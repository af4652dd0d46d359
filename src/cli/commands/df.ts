/** `system df`: GET /system/df, summarized per object type or listed in full with -v. */
import type { CommandDef } from '../args.js';
import { goJson } from '../jsonfmt.js';
import { humanSize } from '../units.js';
import { compileFormat, executeFormat, formatFlag, isDefaultTable, renderRows, type TemplateErrors } from './common.js';

const VERBOSE_FORMAT_ERRORS: TemplateErrors = {
  parse: { prefix: 'template parsing error: ', exitCode: 1 },
  exec: { prefix: '', exitCode: 1 },
};
import { IMAGE_HEADERS, imageRows, type ImageSummary } from './images.js';
import {
  BUILD_CACHE_HEADERS,
  CONTAINER_HEADERS,
  VOLUME_HEADERS,
  buildCacheRow,
  containerRow,
  sortBuildCache,
  volumeRow,
  type BuildCacheRecord,
  type ContainerSummary,
  type VolumeSummary,
} from './object-rows.js';

export interface DiskUsage {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: VolumeSummary[] | null;
  BuildCache?: BuildCacheRecord[] | null;
}

/** One line of the summary; keys in JSON (sorted) order. */
export interface DiskUsageRow {
  Active: string;
  Reclaimable: string;
  Size: string;
  TotalCount: string;
  Type: string;
}

export const DF_HEADERS: Record<string, string> = {
  Type: 'TYPE',
  TotalCount: 'TOTAL',
  Active: 'ACTIVE',
  Size: 'SIZE',
  Reclaimable: 'RECLAIMABLE',
};

const DEFAULT_FORMAT = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';

/** "1.2MB (40%)": the percentage is an integer division, as docker computes it. */
function reclaimableText(reclaimable: number, total: number): string {
  if (total > 0) return `${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)`;
  return humanSize(reclaimable);
}

function summaryRow(type: string, total: number, active: number, size: number, reclaimable: string): DiskUsageRow {
  return { Active: String(active), Reclaimable: reclaimable, Size: humanSize(size), TotalCount: String(total), Type: type };
}

/** The four summary lines: images, containers, local volumes, build cache. */
export function diskUsageRows(du: DiskUsage): DiskUsageRow[] {
  const images = du.Images ?? [];
  const layers = du.LayersSize ?? 0;
  let imagesUsed = 0;
  for (const i of images) {
    // Space held by images that containers use cannot be reclaimed (unknown sizes are -1).
    if ((i.Containers ?? 0) !== 0 && i.Size !== -1 && (i.SharedSize ?? -1) !== -1) imagesUsed += i.Size - i.SharedSize!;
  }

  const containers = du.Containers ?? [];
  const isActive = (c: ContainerSummary) => /running|paused|restarting/.test(c.State ?? '');
  const containersSize = containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const containersFree = containers.filter((c) => !isActive(c)).reduce((n, c) => n + (c.SizeRw ?? 0), 0);

  const volumes = du.Volumes ?? [];
  const known = volumes.filter((v) => v.UsageData && v.UsageData.Size !== -1);
  const volumesSize = known.reduce((n, v) => n + v.UsageData!.Size, 0);
  const volumesFree = known.filter((v) => v.UsageData!.RefCount === 0).reduce((n, v) => n + v.UsageData!.Size, 0);

  const cache = du.BuildCache ?? [];
  const cacheSize = cache.filter((b) => !b.Shared).reduce((n, b) => n + (b.Size ?? 0), 0);
  const cacheFree = cache.filter((b) => !b.Shared && !b.InUse).reduce((n, b) => n + (b.Size ?? 0), 0);

  return [
    summaryRow('Images', images.length, images.filter((i) => (i.Containers ?? 0) > 0).length, layers, reclaimableText(layers - imagesUsed, layers)),
    summaryRow('Containers', containers.length, containers.filter(isActive).length, containersSize, reclaimableText(containersFree, containersSize)),
    summaryRow(
      'Local Volumes',
      volumes.length,
      volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length,
      volumesSize,
      reclaimableText(volumesFree, volumesSize),
    ),
    summaryRow('Build Cache', cache.length, cache.filter((b) => b.InUse).length, cacheSize, humanSize(cacheFree)),
  ];
}

/** The objects `-v` lists, as docker's verbose disk usage context holds them. */
export function verboseData(du: DiskUsage, opts: { trunc: boolean; now: number }) {
  return {
    // Only the first tag of each image is shown here.
    Images: (du.Images ?? []).flatMap((img) => {
      const first = { ...img, RepoTags: (img.RepoTags ?? []).slice(0, 1), RepoDigests: [] };
      return imageRows([first], { trunc: opts.trunc, digests: false, now: opts.now }).map((row) => ({ ...row, Digest: '' }));
    }),
    Containers: (du.Containers ?? []).map((c) => containerRow({ ...c, SizeRootFs: 0 }, opts)),
    Volumes: (du.Volumes ?? []).map(volumeRow),
    BuildCache: sortBuildCache(du.BuildCache ?? []).map((b) => buildCacheRow(b, opts)),
  };
}

const VERBOSE_FORMATS = {
  images: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
  containers: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
  volumes: 'table {{.Name}}\t{{.Links}}\t{{.Size}}',
  buildCache: 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}',
};

export function formatDiskUsage(du: DiskUsage, opts: { format: string; verbose: boolean; now: number }): string {
  if (!opts.verbose) return renderRows(isDefaultTable(opts.format) ? DEFAULT_FORMAT : opts.format, diskUsageRows(du), DF_HEADERS);
  const table = isDefaultTable(opts.format);
  const data = verboseData(du, { trunc: table, now: opts.now });
  if (!table) {
    // A custom template sees all four lists at once; docker adds no newline after it.
    if (opts.format === 'json') return goJson(data);
    const tmpl = compileFormat(opts.format.replace(/^table\s*/, ''), VERBOSE_FORMAT_ERRORS);
    return executeFormat(tmpl, data, VERBOSE_FORMAT_ERRORS);
  }
  const cacheTotal = (du.BuildCache ?? []).filter((b) => !b.Shared).reduce((n, b) => n + (b.Size ?? 0), 0);
  return (
    'Images space usage:\n\n' +
    renderRows(VERBOSE_FORMATS.images, data.Images, IMAGE_HEADERS) +
    '\nContainers space usage:\n\n' +
    renderRows(VERBOSE_FORMATS.containers, data.Containers, CONTAINER_HEADERS) +
    '\nLocal Volumes space usage:\n\n' +
    renderRows(VERBOSE_FORMATS.volumes, data.Volumes, VOLUME_HEADERS) +
    `\nBuild cache usage: ${humanSize(cacheTotal)}\n\n` +
    renderRows(VERBOSE_FORMATS.buildCache, data.BuildCache, BUILD_CACHE_HEADERS)
  );
}

export const dfCommand: CommandDef = {
  name: 'df',
  usage: '[OPTIONS]',
  short: 'Show berth disk usage',
  args: { max: 0 },
  flags: [formatFlag(), { name: 'verbose', short: 'v', type: 'bool', usage: 'Show detailed information on space usage' }],
  run: async (inv, cli) => {
    const du = await cli.client().json<DiskUsage>('GET', '/system/df');
    cli.out.write(formatDiskUsage(du ?? {}, { format: inv.flags.string('format'), verbose: inv.flags.bool('verbose'), now: cli.now() }));
  },
};
