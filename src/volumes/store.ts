import type { Db } from '../store/db.js';

/** What Berth records about a volume; its data lives in the driver's directory (see local.ts). */
export interface VolumeRecord {
  name: string;
  driver: string;
  /** RFC 3339, seconds precision, as Docker shows it. */
  createdAt: string;
  /** As given at create (null when none were given), plus the anonymous label for generated names. */
  labels: Record<string, string> | null;
  /** The driver options given at create (null when none were given). */
  options: Record<string, string> | null;
}

/** Docker's label for volumes created without a name; `volume prune` removes only these by default. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export function isAnonymous(v: VolumeRecord): boolean {
  return v.labels !== null && ANONYMOUS_LABEL in v.labels;
}

/**
 * Volume rows in SQLite, with an in-memory map as the working copy. A row is written only once its
 * directory exists, and deleted before its directory is, so after a crash a directory may lack a row
 * (start-up removes it) but a row never lacks a directory.
 */
export class VolumeStore {
  private readonly byName = new Map<string, VolumeRecord>();

  constructor(private readonly db: Db) {
    const rows = db.prepare('SELECT name, driver, created_at, labels, options FROM volumes').all() as Array<{
      name: string;
      driver: string;
      created_at: string;
      labels: string | null;
      options: string | null;
    }>;
    for (const r of rows) {
      this.byName.set(r.name, {
        name: r.name,
        driver: r.driver,
        createdAt: r.created_at,
        labels: r.labels === null ? null : (JSON.parse(r.labels) as Record<string, string>),
        options: r.options === null ? null : (JSON.parse(r.options) as Record<string, string>),
      });
    }
  }

  all(): VolumeRecord[] {
    return [...this.byName.values()];
  }

  get(name: string): VolumeRecord | undefined {
    return this.byName.get(name);
  }

  insert(v: VolumeRecord): void {
    this.db
      .prepare('INSERT INTO volumes (name, driver, created_at, labels, options) VALUES (?, ?, ?, ?, ?)')
      .run(v.name, v.driver, v.createdAt, v.labels === null ? null : JSON.stringify(v.labels), v.options === null ? null : JSON.stringify(v.options));
    this.byName.set(v.name, v);
  }

  delete(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
    this.byName.delete(name);
  }
}
