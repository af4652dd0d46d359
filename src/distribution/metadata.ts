/**
 * What Berth remembers about images and registries (dockerd's distribution metadata): the manifest an
 * image was pulled or pushed as (so a push sends the same bytes and so the same digest), and which
 * compressed blob each layer was seen as, in which repository (so a push can skip or mount it).
 */
import type { Db } from '../store/db.js';

export interface ManifestRecord {
  imageId: string;
  /** host/path of the repository: '127.0.0.1:5000/busybox'. */
  repo: string;
  digest: string;
  mediaType: string;
  /** Config and layer blob digests the manifest names (all in the content store). */
  blobs: string[];
}

export interface BlobSource {
  diffId: string;
  digest: string;
  mediaType: string;
  size: number;
  /** Registry domain ('' for a blob Berth compressed itself and has pushed nowhere yet). */
  registry: string;
  repo: string;
}

export class DistributionMetadata {
  constructor(private readonly db: Db) {}

  recordManifest(r: ManifestRecord): void {
    this.db
      .prepare(
        `INSERT INTO image_manifests (image_id, repo, digest, media_type, blobs, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(image_id, repo) DO UPDATE SET digest = excluded.digest, media_type = excluded.media_type, blobs = excluded.blobs, created_at = excluded.created_at`,
      )
      .run(r.imageId, r.repo, r.digest, r.mediaType, JSON.stringify(r.blobs), Date.now());
  }

  /** The manifests an image is known by, newest first. */
  manifestsOf(imageId: string): ManifestRecord[] {
    const rows = this.db.prepare('SELECT * FROM image_manifests WHERE image_id = ? ORDER BY created_at DESC').all(imageId) as Array<{
      image_id: string;
      repo: string;
      digest: string;
      media_type: string;
      blobs: string;
    }>;
    return rows.map((r) => ({ imageId: r.image_id, repo: r.repo, digest: r.digest, mediaType: r.media_type, blobs: JSON.parse(r.blobs) as string[] }));
  }

  recordBlob(s: BlobSource): void {
    this.db
      .prepare('INSERT OR IGNORE INTO blob_sources (diff_id, digest, media_type, size, registry, repo) VALUES (?, ?, ?, ?, ?, ?)')
      .run(s.diffId, s.digest, s.mediaType, s.size, s.registry, s.repo);
  }

  blobsFor(diffId: string): BlobSource[] {
    const rows = this.db.prepare('SELECT * FROM blob_sources WHERE diff_id = ?').all(diffId) as Array<{
      diff_id: string;
      digest: string;
      media_type: string;
      size: number;
      registry: string;
      repo: string;
    }>;
    return rows.map((r) => ({ diffId: r.diff_id, digest: r.digest, mediaType: r.media_type, size: r.size, registry: r.registry, repo: r.repo }));
  }
}
