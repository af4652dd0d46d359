/**
 * The build cache: one SQLite row per step result, keyed by everything the step depended on (the parent
 * step's key or the base image id, the instruction as expanded, the build args it saw, the copied
 * content's checksum). A row holds the image config after the step and the top of its layer chain; the
 * layers are kept alive against garbage collection by `layerUses` (given to the image service), so the
 * intermediate images never appear in `docker images`. A row is written only after its layer exists,
 * so a crash mid-step leaves at most an unreferenced layer, which the next start collects.
 */
import type { Db } from '../store/db.js';
import type { Statement } from 'better-sqlite3';
import type { ImageUse } from '../images/model.js';
import type { BuildCacheRecord } from './types.js';
import { sha256Digest, sha256Hex } from '../lib/ids.js';
import { parseGoDurationMs, parseTimestampNs } from '../lib/timestamps.js';

export interface CacheEntry {
  key: string;
  parentKey: string | null;
  description: string;
  /** The image config JSON after the step, as the bytes whose sha256 is the step's image id. */
  config: string;
  topChainId: string | null;
  /** Bytes of the layer this step added (0 for config-only steps). */
  size: number;
}

interface Row {
  key: string;
  parent_key: string | null;
  description: string;
  config: string;
  top_chain_id: string | null;
  size: number;
  created_at: number;
  last_used_at: number | null;
  usage_count: number;
}

/** The cache key of a step: a digest over its parts, in order. */
export function cacheKey(parts: Array<string | null | undefined>): string {
  return sha256Digest(JSON.stringify(parts.map((p) => p ?? null)));
}

/** The image id of a step's config bytes. */
export function configId(config: string): string {
  return `sha256:${sha256Hex(config)}`;
}

export class BuildCache {
  // Prepared once: a cached step is a lookup and a mark, and preparing them each time cost more than running them.
  private readonly selectRow: Statement;
  private readonly deleteRow: Statement;
  private readonly markUsed: Statement;
  private readonly upsert: Statement;

  constructor(private readonly db: Db) {
    this.selectRow = db.prepare('SELECT * FROM build_cache WHERE key = ?');
    this.deleteRow = db.prepare('DELETE FROM build_cache WHERE key = ?');
    this.markUsed = db.prepare('UPDATE build_cache SET last_used_at = ?, usage_count = usage_count + 1 WHERE key = ?');
    this.upsert = db.prepare(
      `INSERT INTO build_cache (key, parent_key, description, config, top_chain_id, size, created_at, last_used_at, usage_count)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0)
       ON CONFLICT(key) DO UPDATE SET config = excluded.config, top_chain_id = excluded.top_chain_id, size = excluded.size`,
    );
  }

  /** A step's cached result, if its layers are all still there; marks it used. */
  lookup(key: string, layerExists: (chainId: string) => boolean): CacheEntry | undefined {
    const row = this.selectRow.get(key) as Row | undefined;
    if (!row) return undefined;
    if (row.top_chain_id && !layerExists(row.top_chain_id)) {
      this.deleteRow.run(key);
      return undefined;
    }
    this.markUsed.run(Date.now(), key);
    return fromRow(row);
  }

  store(e: CacheEntry): void {
    this.upsert.run(e.key, e.parentKey, e.description, e.config, e.topChainId, e.size, Date.now());
  }

  /** The layer chains rows point to, as image uses the image service's garbage collection respects. */
  layerUses(): ImageUse[] {
    const rows = this.db.prepare('SELECT DISTINCT top_chain_id FROM build_cache WHERE top_chain_id IS NOT NULL').all() as Array<{ top_chain_id: string }>;
    return rows.map((r) => ({ containerId: 'build-cache', imageId: '', topChainId: r.top_chain_id, running: false }));
  }

  records(): BuildCacheRecord[] {
    const rows = this.db.prepare('SELECT * FROM build_cache ORDER BY created_at').all() as Row[];
    return rows.map((r) => ({
      ID: r.key.slice(7, 32),
      Parents: r.parent_key && r.parent_key.startsWith('sha256:') && rows.some((o) => o.key === r.parent_key) ? [r.parent_key.slice(7, 32)] : null,
      Type: 'regular',
      Description: r.description,
      InUse: false,
      Shared: false,
      Size: r.size,
      CreatedAt: new Date(r.created_at).toISOString(),
      LastUsedAt: r.last_used_at ? new Date(r.last_used_at).toISOString() : null,
      UsageCount: r.usage_count,
    }));
  }

  /**
   * Removes rows as `docker builder prune` does: all of them with `all`, else those not used recently
   * enough (until=), keeping the newest rows within keepStorage bytes. Returns the removed ids and bytes.
   */
  prune(opts: { all: boolean; filters: Record<string, string[]>; keepStorage?: number }): { ids: string[]; size: number } {
    let rows = (this.db.prepare('SELECT * FROM build_cache').all() as Row[]).sort((a, b) => lastUse(b) - lastUse(a));
    const until = (opts.filters.until ?? []).map((v) => Date.now() - durationMs(v));
    if (until.length) rows = rows.filter((r) => until.some((u) => lastUse(r) < u));
    if (opts.keepStorage && opts.keepStorage > 0) {
      let kept = 0;
      rows = rows.filter((r) => {
        if (kept + r.size <= opts.keepStorage!) {
          kept += r.size;
          return false;
        }
        return true;
      });
    }
    const del = this.db.prepare('DELETE FROM build_cache WHERE key = ?');
    this.db.transaction(() => rows.forEach((r) => del.run(r.key)))();
    return { ids: rows.map((r) => r.key.slice(7, 32)), size: rows.reduce((s, r) => s + r.size, 0) };
  }
}

function lastUse(r: Row): number {
  return r.last_used_at ?? r.created_at;
}

/** `until=` as Docker takes it for the build cache: a Go duration (`24h`, `10m`) or a timestamp. */
function durationMs(v: string): number {
  return parseGoDurationMs(v) ?? Date.now() - parseTimestampNs(v) / 1e6;
}

function fromRow(r: Row): CacheEntry {
  return { key: r.key, parentKey: r.parent_key, description: r.description, config: r.config, topChainId: r.top_chain_id, size: r.size };
}
