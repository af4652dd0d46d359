import type { Db } from '../store/db.js';
import type { ContentStore } from '../content/store.js';
import type { LayerStore } from '../layers/store.js';
import type { Image, ImageConfigJson } from './model.js';
import { invalidArgument } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { rfc3339Nano } from '../lib/timestamps.js';

/**
 * Image records: the config blob in the content store (its digest is the image id), a row in `images`,
 * and the references in `image_refs`. Configs are parsed once and kept in memory. An image row is
 * written only after its config blob and all its layers exist, so a visible image is always whole.
 */
export class ImageStore {
  private readonly cache = new Map<string, Image>();

  constructor(
    private readonly db: Db,
    private readonly content: ContentStore,
    private readonly layers: LayerStore,
  ) {}

  async init(): Promise<void> {
    const rows = this.db.prepare('SELECT id, last_tag_time, parent FROM images').all() as Array<{ id: string; last_tag_time: string | null; parent: string | null }>;
    for (const row of rows) {
      try {
        const config = JSON.parse((await this.content.get(row.id)).toString('utf8')) as ImageConfigJson;
        const image = this.build(row.id, config, row.last_tag_time);
        image.parent = row.parent;
        this.cache.set(row.id, image);
      } catch (err) {
        log.warn('image is incomplete on disk, forgetting it', { id: row.id, error: String(err) });
        this.forget(row.id);
      }
    }
  }

  all(): Image[] {
    return [...this.cache.values()];
  }

  get(id: string): Image | undefined {
    return this.cache.get(id);
  }

  byRef(ref: string): Image | undefined {
    const row = this.db.prepare('SELECT image_id FROM image_refs WHERE ref = ?').get(ref) as { image_id: string } | undefined;
    return row ? this.cache.get(row.image_id) : undefined;
  }

  /** Images whose id (without sha256:) starts with `prefix`. */
  byIdPrefix(prefix: string): Image[] {
    const hex = prefix.replace(/^sha256:/, '');
    return this.all().filter((img) => img.id.slice(7).startsWith(hex));
  }

  /** Records an image whose config blob and layers are already stored. Returns true if it is new. */
  add(id: string, config: ImageConfigJson, parent?: string): boolean {
    const known = this.cache.get(id);
    if (known) {
      if (parent) this.setParent(known, parent);
      return false;
    }
    const image = this.build(id, config, null);
    this.db.prepare('INSERT OR IGNORE INTO images (id, created_at) VALUES (?, ?)').run(id, Date.now());
    this.cache.set(id, image);
    if (parent) this.setParent(image, parent);
    return true;
  }

  private setParent(image: Image, parent: string): void {
    this.db.prepare('UPDATE images SET parent = ? WHERE id = ?').run(parent, image.id);
    image.parent = parent;
  }

  /** Points a reference at an image; returns the image it pointed at before, if another. */
  setRef(ref: string, kind: 'tag' | 'digest', imageId: string): string | undefined {
    const before = this.db.prepare('SELECT image_id FROM image_refs WHERE ref = ?').get(ref) as { image_id: string } | undefined;
    const now = rfc3339Nano(Date.now());
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO image_refs (ref, image_id, kind, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id, kind = excluded.kind')
        .run(ref, imageId, kind, Date.now());
      if (kind === 'tag') this.db.prepare('UPDATE images SET last_tag_time = ? WHERE id = ?').run(now, imageId);
    })();
    this.refreshRefs(imageId);
    if (before && before.image_id !== imageId) {
      this.refreshRefs(before.image_id);
      return before.image_id;
    }
    return undefined;
  }

  removeRef(ref: string): void {
    const row = this.db.prepare('SELECT image_id FROM image_refs WHERE ref = ?').get(ref) as { image_id: string } | undefined;
    this.db.prepare('DELETE FROM image_refs WHERE ref = ?').run(ref);
    if (row) this.refreshRefs(row.image_id);
  }

  /** Blobs kept for images' registry manifests (distribution/metadata.ts): manifests and compressed layers. */
  manifestBlobs(): string[] {
    const rows = this.db.prepare('SELECT digest, blobs FROM image_manifests').all() as Array<{ digest: string; blobs: string }>;
    return rows.flatMap((r) => [r.digest, ...(JSON.parse(r.blobs) as string[])]);
  }

  /** Removes the image record and its references; the caller collects blobs and layers afterwards. */
  forget(id: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM image_refs WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM image_manifests WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
    })();
    this.cache.delete(id);
  }

  private refreshRefs(id: string): void {
    const image = this.cache.get(id);
    if (!image) return;
    const rows = this.db.prepare('SELECT ref, kind FROM image_refs WHERE image_id = ? ORDER BY created_at, ref').all(id) as Array<{ ref: string; kind: string }>;
    image.tags = rows.filter((r) => r.kind === 'tag').map((r) => r.ref);
    image.digests = rows.filter((r) => r.kind === 'digest').map((r) => r.ref);
    const t = this.db.prepare('SELECT last_tag_time FROM images WHERE id = ?').get(id) as { last_tag_time: string | null } | undefined;
    image.lastTagTime = t?.last_tag_time ?? null;
  }

  private build(id: string, config: ImageConfigJson, lastTagTime: string | null): Image {
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds)) throw invalidArgument('image config has no rootfs.diff_ids');
    const chainIds = this.layers.chainIds(diffIds);
    let size = 0;
    for (const chainId of chainIds) {
      const layer = this.layers.get(chainId);
      if (!layer) throw new Error(`layer ${chainId} is missing`);
      size += layer.size;
    }
    const image: Image = {
      id,
      config,
      topChainId: chainIds.at(-1) ?? null,
      tags: [],
      digests: [],
      size,
      lastTagTime,
    };
    this.cache.set(id, image);
    this.refreshRefs(id);
    return image;
  }
}
