import type { Readable } from 'node:stream';
import type { ContentStore } from '../content/store.js';
import type { LayerStore } from '../layers/store.js';
import type { EventBus } from '../events/bus.js';
import type { Image, ImageConfigJson, ImageUser, ImageUsers } from './model.js';
import { ImageStore } from './store.js';
import { applyChanges } from './changes.js';
import {
  parseReference,
  parseDockerRef,
  familiarString,
  fullString,
  familiarName,
  repositoryName,
  validateTag,
  type ImageReference,
} from './reference.js';
import { conflict, invalidArgument, notFound } from '../lib/errors.js';
import { Filters } from '../lib/filters.js';
import { shortId } from '../lib/ids.js';
import { parseTimestampNs } from '../lib/timestamps.js';

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  Labels: Record<string, string>;
  Containers: number;
}

export type DeleteResponseItem = { Untagged: string } | { Deleted: string };

export interface ImportOptions {
  repo?: string;
  tag?: string;
  message?: string;
  changes?: string[];
  platform?: string;
}

const LIST_FILTERS = ['dangling', 'label', 'before', 'since', 'reference', 'until'] as const;
const PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

/** A Go container.Config with nothing set, as dockerd marshals it (no omitempty on these fields). */
const EMPTY_CONTAINER_CONFIG = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Image: '',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: null,
};

/**
 * Everything the API does with images: resolve names, list, inspect, tag, remove, prune, import. Archive
 * load/save live in archive-load.ts and archive-save.ts and build on `register` and `store`.
 * Lifecycle: created once by the daemon; `init` reconciles the store with disk before the API serves.
 */
export class ImageService {
  readonly store: ImageStore;

  constructor(
    readonly content: ContentStore,
    readonly layers: LayerStore,
    readonly events: EventBus,
    db: ConstructorParameters<typeof ImageStore>[0],
    /** The containers' records: images in use are protected, their layers never collected. */
    private readonly users: ImageUsers,
  ) {
    this.store = new ImageStore(db, content, layers);
  }

  /** The containers using an image. */
  imageUsers(imageId: string): ImageUser[] {
    return this.users
      .imageUses()
      .filter((u) => u.imageId === imageId)
      .map((u) => ({ containerId: u.containerId, running: u.running }));
  }

  /** Layer chains containers stack on (with their parents), whether or not an image still names them. */
  private containerLayers(): Set<string> {
    const chains = new Set<string>();
    for (const { topChainId } of this.users.imageUses()) {
      for (let chainId: string | null = topChainId; chainId && !chains.has(chainId); chainId = this.layers.get(chainId)?.parent ?? null) chains.add(chainId);
    }
    return chains;
  }

  async init(): Promise<void> {
    await this.layers.init();
    await this.store.init();
    await this.collectGarbage();
  }

  // ---- names --------------------------------------------------------------------------------

  /** Finds an image by reference, full id or id prefix, as dockerd's GetImage does. */
  resolve(name: string): Image {
    const image = this.tryResolve(name);
    if (!image) throw notFound(`No such image: ${displayName(name)}`);
    return image;
  }

  tryResolve(name: string): Image | undefined {
    if (/^sha256:[a-f0-9]{64}$/.test(name)) return this.store.get(name);
    if (/^[a-f0-9]{64}$/.test(name)) return this.store.get(`sha256:${name}`);
    let ref: ImageReference | undefined;
    try {
      ref = parseDockerRef(name);
    } catch {
      ref = undefined;
    }
    if (ref) {
      const byRef = this.store.byRef(fullString(ref));
      if (byRef) return byRef;
    }
    if (/^(sha256:)?[a-f0-9]{1,63}$/.test(name)) {
      const matches = this.store.byIdPrefix(name);
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalidArgument(`ambiguous image id prefix: ${name}`);
    }
    return undefined;
  }

  // ---- queries ------------------------------------------------------------------------------

  list(opts: { filters?: string; all?: boolean; digests?: boolean; sharedSize?: boolean } = {}): ImageSummary[] {
    const filters = Filters.parse(opts.filters, LIST_FILTERS);
    const dangling = filters.bool('dangling');
    const before = filters.get('before').map((n) => this.resolve(n));
    const since = filters.get('since').map((n) => this.resolve(n));
    const until = filters.get('until').map((v) => parseTimestampNs(v) / 1e6);
    const references = filters.get('reference');
    return this.store
      .all()
      .filter((img) => {
        const isDangling = img.tags.length === 0 && img.digests.length === 0;
        if (dangling !== undefined && dangling !== isDangling) return false;
        if (!filters.matchLabels(img.config.config?.Labels)) return false;
        const created = createdMs(img);
        if (before.some((b) => created >= createdMs(b))) return false;
        if (since.some((s) => created <= createdMs(s))) return false;
        if (until.some((u) => created > u)) return false;
        if (references.length && !references.some((pattern) => matchesReference(img, pattern))) return false;
        return true;
      })
      .sort((a, b) => createdMs(b) - createdMs(a))
      .map((img) => this.summary(img, references));
  }

  summary(img: Image, referencePatterns: string[] = []): ImageSummary {
    const users = this.imageUsers(img.id);
    const tags = img.tags
      .map((t) => ({ full: t, familiar: familiarString(parseReference(t)) }))
      .filter((t) => !referencePatterns.length || referencePatterns.some((p) => matchPattern(p, t.full)));
    return {
      Id: img.id,
      ParentId: this.parentOf(img) ?? '',
      RepoTags: tags.map((t) => t.familiar),
      RepoDigests: img.digests.map((d) => familiarString(parseReference(d))),
      Created: Math.floor(createdMs(img) / 1000),
      Size: img.size,
      SharedSize: -1,
      Labels: img.config.config?.Labels ?? {},
      Containers: users.length,
    };
  }

  inspect(name: string): Record<string, unknown> {
    const img = this.resolve(name);
    const c = img.config;
    const lowers = img.topChainId ? this.layers.lowerDirs(img.topChainId) : [];
    return {
      Id: img.id,
      RepoTags: img.tags.map((t) => familiarString(parseReference(t))),
      RepoDigests: img.digests.map((d) => familiarString(parseReference(d))),
      Parent: this.parentOf(img) ?? '',
      Comment: c.comment ?? lastHistoryComment(c),
      Created: c.created ?? '',
      DockerVersion: c.docker_version ?? '',
      Author: c.author ?? '',
      Config: c.config ?? {},
      Architecture: c.architecture ?? '',
      ...(c.variant ? { Variant: c.variant } : {}),
      Os: c.os ?? '',
      ...(c['os.version'] ? { OsVersion: c['os.version'] } : {}),
      Size: img.size,
      GraphDriver: {
        Data: lowers.length
          ? { MergedDir: '', UpperDir: lowers[0]!, WorkDir: '', ...(lowers.length > 1 ? { LowerDir: lowers.slice(1).join(':') } : {}) }
          : {},
        Name: 'overlay2',
      },
      RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
      Metadata: { LastTagTime: img.lastTagTime ?? '0001-01-01T00:00:00Z' },
    };
  }

  /**
   * The deprecated inspect fields dockerd still sends to clients of API < 1.45 (docker-compose 1.29 reads
   * ContainerConfig.Volumes): the container a legacy build committed the image from, and that
   * container's config; an image without them gets dockerd's empty config.
   */
  legacyInspectFields(name: string): { Container: string; ContainerConfig: unknown } {
    const c = this.resolve(name).config;
    return {
      Container: typeof c.container === 'string' ? c.container : '',
      ContainerConfig: c.container_config ?? EMPTY_CONTAINER_CONFIG,
    };
  }

  history(name: string): Array<Record<string, unknown>> {
    const img = this.resolve(name);
    const diffIds = img.config.rootfs.diff_ids;
    const chainIds = this.layers.chainIds(diffIds);
    const history: NonNullable<ImageConfigJson['history']> = img.config.history?.length
      ? img.config.history
      : diffIds.map(() => ({ created: img.config.created, created_by: '', comment: '' }));
    let layerIndex = 0;
    const entries = history.map((h) => {
      const size = h.empty_layer ? 0 : (this.layers.get(chainIds[layerIndex++] ?? '')?.size ?? 0);
      return {
        Id: '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: null as string[] | null,
        Size: size,
        Comment: h.comment ?? '',
      };
    });
    entries.reverse();
    // As dockerd: the top entries are named after the image, then its parent and so on up.
    let named: Image | undefined = img;
    for (const entry of entries) {
      if (!named) break;
      entry.Id = named.id;
      entry.Tags = named.tags.length ? named.tags.map((t) => familiarString(parseReference(t))) : null;
      const parent = this.parentOf(named);
      named = parent ? this.store.get(parent) : undefined;
    }
    if (entries[0] && !entries[0].Tags) entries[0].Tags = [];
    return entries;
  }

  /** The image's parent while it is still stored (commit records it). */
  private parentOf(img: Image): string | undefined {
    return img.parent && this.store.get(img.parent) ? img.parent : undefined;
  }

  // ---- changes ------------------------------------------------------------------------------

  tag(source: string, repo: string, tag?: string): void {
    const img = this.resolve(source);
    const target = parseTarget(repo, tag);
    this.setTag(target, img.id);
    this.events.publish('image', 'tag', img.id, { name: familiarString(target) });
  }

  /** Points `ref` (tag or digest) at an image, as tag/import/load do. Returns the id it moved from. */
  setTag(ref: ImageReference, imageId: string): string | undefined {
    return this.store.setRef(fullString(ref), ref.digest ? 'digest' : 'tag', imageId);
  }

  async remove(name: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<DeleteResponseItem[]> {
    const img = this.resolve(name);
    const records: DeleteResponseItem[] = [];
    const users = this.imageUsers(img.id);
    const running = users.find((u) => u.running);
    const stopped = users.find((u) => !u.running);
    const refs = [...img.tags, ...img.digests];
    const byId = isIdLike(name, img);

    if (!byId) {
      const parsed = parseDockerRef(name);
      const ref = fullString(parsed);
      // As dockerd: removing a repository's last tag also removes its digest references (pull/push
      // record them), so the image goes once no other repository names it.
      const repo = repositoryName(parsed);
      const otherTagInRepo = !parsed.digest && img.tags.some((t) => t !== ref && repositoryName(parseReference(t)) === repo);
      const digestsToo = parsed.digest || otherTagInRepo ? [] : img.digests.filter((dg) => repositoryName(parseReference(dg)) === repo);
      const lastRef = refs.length === 1 + digestsToo.length && refs.includes(ref);
      if (lastRef && users.length && !opts.force) {
        const user = running ?? stopped!;
        throw conflict(
          `conflict: unable to remove repository reference "${name}" (must force) - container ${shortId(user.containerId)} is using its referenced image ${shortId(img.id)}`,
        );
      }
      this.untag(img, ref, records);
      for (const dg of digestsToo) this.untag(img, dg, records);
      // Removing the last name deletes the image, unless a container still uses it.
      if (!lastRef || users.length) return records;
    } else {
      if (refs.length > 1 && !opts.force) {
        throw conflict(`conflict: unable to delete ${shortId(img.id)} (must be forced) - image is referenced in multiple repositories`);
      }
      if (running) {
        throw conflict(`conflict: unable to delete ${shortId(img.id)} (cannot be forced) - image is being used by running container ${shortId(running.containerId)}`);
      }
      if (stopped && !opts.force) {
        throw conflict(`conflict: unable to delete ${shortId(img.id)} (must be forced) - image is being used by stopped container ${shortId(stopped.containerId)}`);
      }
      for (const ref of refs) this.untag(img, ref, records);
    }
    await this.deleteImage(img, records);
    return records;
  }

  private untag(img: Image, ref: string, records: DeleteResponseItem[]): void {
    this.store.removeRef(ref);
    const familiar = familiarString(parseReference(ref));
    records.push({ Untagged: familiar });
    this.events.publish('image', 'untag', img.id, { name: familiar });
  }

  private async deleteImage(img: Image, records: DeleteResponseItem[]): Promise<number> {
    this.store.forget(img.id);
    records.push({ Deleted: img.id });
    this.events.publish('image', 'delete', img.id, { name: img.id });
    return this.collectGarbage();
  }

  /**
   * Runs an operation that writes blobs and layers before it records the image that uses them
   * (import, load). Garbage collection waits until no such operation is in flight, so it never removes
   * what one of them has written but not yet recorded.
   */
  async writing<T>(operation: () => Promise<T>): Promise<T> {
    this.writers++;
    try {
      return await operation();
    } finally {
      this.writers--;
      if (this.writers === 0 && this.collectionWanted) {
        this.collectionWanted = false;
        await this.collectGarbage();
      }
    }
  }

  private writers = 0;
  private collectionWanted = false;

  /** Deletes layers and blobs no image or container uses; returns the bytes freed. */
  async collectGarbage(): Promise<number> {
    if (this.writers > 0) {
      this.collectionWanted = true;
      return 0;
    }
    const usedChains = this.containerLayers();
    const usedBlobs = new Set<string>();
    for (const img of this.store.all()) {
      usedBlobs.add(img.id);
      for (const chainId of this.layers.chainIds(img.config.rootfs.diff_ids)) usedChains.add(chainId);
    }
    let freed = 0;
    // Remove from the top of each stack down, so parents outlive children.
    const unused = this.layers.all().filter((l) => !usedChains.has(l.chainId));
    const depth = (chainId: string | null): number => (chainId ? 1 + depth(this.layers.get(chainId)?.parent ?? null) : 0);
    unused.sort((a, b) => depth(b.chainId) - depth(a.chainId));
    for (const layer of unused) {
      freed += layer.size;
      await this.layers.remove(layer.chainId);
    }
    for (const layer of this.layers.all()) usedBlobs.add(layer.diffId);
    // A pulled layer's tar is made from the compressed blob it came as: kept while a layer has that tar.
    for (const digest of await this.content.pruneTarSources(usedBlobs)) usedBlobs.add(digest);
    // The manifests images were pulled or pushed as, and their compressed layers, so a push sends them again.
    for (const digest of this.store.manifestBlobs()) usedBlobs.add(digest);
    for (const digest of await this.content.list()) {
      if (!usedBlobs.has(digest)) await this.content.delete(digest);
    }
    return freed;
  }

  async prune(filtersRaw?: string): Promise<{ ImagesDeleted: DeleteResponseItem[] | null; SpaceReclaimed: number }> {
    const filters = Filters.parse(filtersRaw, PRUNE_FILTERS);
    const danglingOnly = filters.bool('dangling') ?? true;
    const until = filters.get('until').map((v) => parseTimestampNs(v) / 1e6);
    const records: DeleteResponseItem[] = [];
    let reclaimed = 0;
    for (const img of this.store.all()) {
      const isDangling = img.tags.length === 0 && img.digests.length === 0;
      if (danglingOnly && !isDangling) continue;
      if (this.imageUsers(img.id).length) continue;
      if (!filters.matchLabels(img.config.config?.Labels)) continue;
      if (filters.has('label!') && !filters.get('label!').every((cond) => !Filters.parse(JSON.stringify({ label: [cond] }), ['label']).matchLabels(img.config.config?.Labels))) continue;
      if (until.some((u) => createdMs(img) > u)) continue;
      for (const ref of [...img.tags, ...img.digests]) this.untag(img, ref, records);
      const sizeBefore = img.size;
      await this.deleteImage(img, records);
      reclaimed += sizeBefore;
    }
    if (records.length) this.events.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
    return { ImagesDeleted: records.length ? records : null, SpaceReclaimed: reclaimed };
  }

  /** `docker import`: one layer from a root filesystem tar, a config made from `changes`. */
  async importRootfs(tar: Readable, opts: ImportOptions): Promise<string> {
    return this.writing(() => this.importRootfsNow(tar, opts));
  }

  private async importRootfsNow(tar: Readable, opts: ImportOptions): Promise<string> {
    const target = opts.repo ? parseTarget(opts.repo, opts.tag) : undefined;
    const runConfig = applyChanges({}, opts.changes ?? []);
    const layer = await this.layers.register(tar, null);
    const now = new Date().toISOString();
    const [os, architecture] = platformOf(opts.platform);
    const config: ImageConfigJson = {
      architecture,
      ...(opts.message ? { comment: opts.message } : {}),
      config: runConfig,
      created: now,
      history: [{ created: now, comment: opts.message || 'Imported from -' }],
      os,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    };
    const id = await this.register(config);
    if (target) this.setTag(target, id);
    this.events.publish('image', 'import', id, target ? { name: familiarString(target) } : {});
    return id;
  }

  /** Stores a config whose layers are registered; returns the image id. */
  async register(config: ImageConfigJson | Buffer, opts: { parent?: string } = {}): Promise<string> {
    const bytes = Buffer.isBuffer(config) ? config : Buffer.from(JSON.stringify(config));
    const parsed = Buffer.isBuffer(config) ? (JSON.parse(bytes.toString('utf8')) as ImageConfigJson) : config;
    const { digest } = await this.content.put(bytes);
    this.store.add(digest, parsed, opts.parent);
    return digest;
  }

  /** Bytes used by image layers, for /system/df. */
  layersSize(): number {
    return this.layers.all().reduce((sum, l) => sum + l.size, 0);
  }
}

function createdMs(img: Image): number {
  const t = img.config.created ? Date.parse(img.config.created) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

function lastHistoryComment(c: ImageConfigJson): string {
  return c.history?.at(-1)?.comment ?? '';
}

function displayName(name: string): string {
  try {
    return familiarString(parseDockerRef(name));
  } catch {
    return name; // not a reference: shown as given
  }
}

/** True when the user named the image by its id (full or prefix) rather than by a reference. */
function isIdLike(name: string, img: Image): boolean {
  const hex = name.replace(/^sha256:/, '');
  if (!/^[a-f0-9]+$/.test(hex) || !img.id.slice(7).startsWith(hex)) return false;
  // A name that is also a tag of this image counts as a reference (`docker rmi abc` where abc:latest exists).
  return ![...img.tags].includes(`docker.io/library/${name}:latest`);
}

function parseTarget(repo: string, tag?: string): ImageReference {
  const ref = parseReference(repo);
  if (ref.digest) throw invalidArgument('refusing to create a tag with a digest reference');
  if (tag) {
    if (ref.tag) throw invalidArgument('refusing to create an ambiguous tag using digest reference');
    validateTag(tag);
    return { ...ref, tag };
  }
  return { ...ref, tag: ref.tag ?? 'latest' };
}

function platformOf(platform?: string): [string, string] {
  if (!platform) return ['linux', 'amd64'];
  const [os, arch] = platform.split('/');
  if (os !== 'linux') throw invalidArgument(`operating system is not supported: ${platform}`);
  return [os, arch || 'amd64'];
}

/** Docker's reference filter: a glob over the familiar name, with or without tag. */
function matchesReference(img: Image, pattern: string): boolean {
  return [...img.tags, ...img.digests].some((r) => matchPattern(pattern, r));
}

function matchPattern(pattern: string, fullRef: string): boolean {
  const ref = parseReference(fullRef);
  const name = familiarName(ref);
  const candidates = [name, repositoryName(ref)];
  const tagged = ref.tag ? candidates.map((c) => `${c}:${ref.tag}`) : [];
  const re = globToRegExp(pattern);
  // As reference.FamiliarMatch: the whole familiar reference, then the name alone (a registry's
  // host:port makes a ':' no sign of a tag).
  return [...tagged, ...candidates].some((c) => re.test(c));
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
