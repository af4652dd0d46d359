import type { Db } from '../store/db.js';
import type { Container } from './model.js';
import type { ImageUse, ImageUsers } from '../images/model.js';
import type { VolumeUsers } from '../volumes/service.js';

/**
 * Container records in SQLite, with an in-memory map as the working copy. Every change goes through
 * `save`, so the database always holds the latest state a crash could come back to.
 */
export class ContainerStore {
  private readonly byId = new Map<string, Container>();

  constructor(private readonly db: Db) {
    for (const row of db.prepare('SELECT data FROM containers').all() as Array<{ data: string }>) {
      const c = JSON.parse(row.data) as Container;
      this.byId.set(c.id, c);
    }
  }

  all(): Container[] {
    return [...this.byId.values()];
  }

  get(id: string): Container | undefined {
    return this.byId.get(id);
  }

  byName(name: string): Container | undefined {
    const n = name.replace(/^\//, '');
    return this.all().find((c) => c.name === n);
  }

  /** Inserts or updates; the unique name column makes a concurrent duplicate name fail here. */
  save(c: Container): void {
    this.db
      .prepare('INSERT INTO containers (id, name, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, data = excluded.data')
      .run(c.id, c.name, JSON.stringify(c));
    this.byId.set(c.id, c);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    this.byId.delete(id);
  }
}

/**
 * The images and layers containers use, read from the records in the database each time (not from a
 * ContainerStore's working copy), so it holds from the moment the database is open: the image service
 * collects garbage before the container service exists.
 */
export function persistedImageUsers(db: Db): ImageUsers {
  const query = db.prepare(
    "SELECT id, json_extract(data, '$.imageId') AS imageId, json_extract(data, '$.topChainId') AS topChainId, json_extract(data, '$.state.Running') AS running FROM containers",
  );
  return {
    imageUses: (): ImageUse[] =>
      (query.all() as Array<{ id: string; imageId: string; topChainId: string | null; running: number | null }>).map((row) => ({
        containerId: row.id,
        imageId: row.imageId,
        topChainId: row.topChainId,
        running: row.running === 1,
      })),
  };
}

/**
 * The containers whose records name a volume, read from the database each time (as persistedImageUsers),
 * so the volume service knows them without a callback wired after construction.
 */
export function persistedVolumeUsers(db: Db): VolumeUsers {
  const query = db.prepare(
    "SELECT DISTINCT c.id AS id FROM containers c, json_each(c.data, '$.mountPoints') m WHERE json_extract(m.value, '$.Type') = 'volume' AND json_extract(m.value, '$.Name') = ?",
  );
  return { containersUsing: (name) => (query.all(name) as Array<{ id: string }>).map((row) => row.id) };
}
