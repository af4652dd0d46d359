/**
 * Row builders for containers, volumes and build cache records, with docker's formatter field
 * names so `--format` templates written for docker work. `system df -v` uses them now; the
 * container and volume list commands will share them.
 */
import { formatGoString, parseRFC3339, unixLocal } from '../gotime.js';
import { familiarName, parseNormalizedNamed } from '../reference.js';
import { ellipsis, goQuote, truncateId } from '../text.js';
import { humanDuration, humanSize, humanSizeWithPrecision, timeAgo } from '../units.js';

export interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created?: number;
  Ports?: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  State?: string;
  Status?: string;
  Mounts?: Array<{ Type?: string; Name?: string; Source?: string; Driver?: string }> | null;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
  ImageManifestDescriptor?: { platform?: unknown } | null;
}

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
};

function labelsText(labels: Record<string, string> | null | undefined): string {
  return Object.keys(labels ?? {})
    .sort()
    .map((k) => `${k}=${labels![k]}`)
    .join(',');
}

/** The IMAGE column: short ids and familiar names when truncating, as docker shows them. */
function containerImage(c: ContainerSummary, trunc: boolean): string {
  const image = c.Image ?? '';
  if (image === '') return '<no image>';
  if (!trunc) return image;
  if (c.ImageID && truncateId(c.ImageID) === truncateId(image)) return truncateId(image);
  try {
    const ref = parseNormalizedNamed(image);
    const name = familiarName(ref);
    return ref.tag !== undefined ? `${name}:${ref.tag}` : name;
  } catch {
    return image; // not a reference: shown as given
  }
}

function containerNames(c: ContainerSummary, trunc: boolean): string {
  let names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
  if (trunc) {
    // Legacy link names contain a further "/": show the container's own name only.
    const own = names.find((n) => !n.includes('/'));
    if (own !== undefined) names = [own];
  }
  return names.join(',');
}

/** Ports as "0.0.0.0:8080->80/tcp, 443/tcp" (docker also folds ranges; not needed yet). */
function portsText(ports: ContainerSummary['Ports']): string {
  return (ports ?? [])
    .map((p) => (p.PublicPort ? `${p.IP ? (p.IP.includes(':') ? `[${p.IP}]` : p.IP) + ':' : ''}${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`))
    .join(', ');
}

export function containerRow(c: ContainerSummary, opts: { trunc: boolean; now: number }): Record<string, unknown> {
  const created = c.Created ?? 0;
  const sizeRw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
  const mounts = (c.Mounts ?? []).map((m) => {
    const name = m.Name ? m.Name : (m.Source ?? '');
    return opts.trunc ? ellipsis(name, 15) : name;
  });
  const command = c.Command ?? '';
  return {
    Command: goQuote(opts.trunc ? ellipsis(command, 20) : command),
    CreatedAt: formatGoString(unixLocal(created)),
    ID: opts.trunc ? truncateId(c.Id) : c.Id,
    Image: containerImage(c, opts.trunc),
    Labels: labelsText(c.Labels),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: mounts.join(','),
    Names: containerNames(c, opts.trunc),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(','),
    Platform: c.ImageManifestDescriptor?.platform ?? null,
    Ports: portsText(c.Ports),
    RunningFor: timeAgo(created * 1000, opts.now),
    Size: (c.SizeRootFs ?? 0) > 0 ? `${sizeRw} (virtual ${humanSizeWithPrecision(c.SizeRootFs!, 3)})` : sizeRw,
    State: c.State ?? '',
    Status: c.Status ?? '',
  };
}

export interface VolumeSummary {
  Name: string;
  Driver?: string;
  Mountpoint?: string;
  Labels?: Record<string, string> | null;
  Scope?: string;
  UsageData?: { Size: number; RefCount: number } | null;
  ClusterVolume?: unknown;
}

export const VOLUME_HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};

export function volumeRow(v: VolumeSummary): Record<string, string> {
  return {
    Availability: 'N/A',
    Driver: v.Driver ?? '',
    Group: 'N/A',
    Labels: labelsText(v.Labels),
    Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
    Mountpoint: v.Mountpoint ?? '',
    Name: v.Name,
    Scope: v.Scope ?? '',
    Size: v.UsageData ? humanSize(v.UsageData.Size) : 'N/A',
    Status: 'N/A',
  };
}

export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[] | null;
  Type?: string;
  Description?: string;
  InUse?: boolean;
  Shared?: boolean;
  Size?: number;
  CreatedAt?: string;
  LastUsedAt?: string | null;
  UsageCount?: number;
}

export const BUILD_CACHE_HEADERS: Record<string, string> = {
  ID: 'CACHE ID',
  Parent: 'PARENT',
  CacheType: 'CACHE TYPE',
  Description: 'DESCRIPTION',
  Size: 'SIZE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  LastUsedSince: 'LAST USED',
  LastUsedAt: 'LAST USED AT',
  UsageCount: 'USAGE',
  InUse: 'IN USE',
  Shared: 'SHARED',
};

/** Records never used come first, then the least recently used (docker's order). */
export function sortBuildCache(records: BuildCacheRecord[]): BuildCacheRecord[] {
  const when = (r: BuildCacheRecord) => (r.LastUsedAt ? Date.parse(r.LastUsedAt) : undefined);
  return records
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const ta = when(a.r);
      const tb = when(b.r);
      if (ta === undefined && tb === undefined) return a.i - b.i;
      if (ta === undefined) return -1;
      if (tb === undefined) return 1;
      return ta - tb || a.i - b.i;
    })
    .map(({ r }) => r);
}

function goTimeText(s: string | null | undefined): string {
  if (!s) return '';
  const t = parseRFC3339(s);
  return t ? formatGoString(t) : s;
}

export function buildCacheRow(r: BuildCacheRecord, opts: { trunc: boolean; now: number }): Record<string, string> {
  const id = (opts.trunc ? r.ID.slice(0, 12) : r.ID) + (r.InUse ? '*' : '');
  const parent = r.Parents?.[0] ?? r.Parent ?? '';
  const since = (s: string | null | undefined) => (s ? `${humanDuration(opts.now - Date.parse(s))} ago` : '');
  const description = r.Description ?? '';
  return {
    CacheType: r.Type ?? '',
    CreatedAt: goTimeText(r.CreatedAt),
    CreatedSince: since(r.CreatedAt),
    Description: opts.trunc ? ellipsis(description, 45) : description,
    ID: id,
    InUse: String(!!r.InUse),
    LastUsedAt: goTimeText(r.LastUsedAt),
    LastUsedSince: since(r.LastUsedAt),
    Parent: opts.trunc ? parent.slice(0, 12) : parent,
    Shared: String(!!r.Shared),
    Size: humanSizeWithPrecision(r.Size ?? 0, 3),
    UsageCount: String(r.UsageCount ?? 0),
  };
}

