import Database from 'better-sqlite3';

/**
 * The daemon's metadata database (berth.db under the data root). Opened once at start by the daemon
 * and shared by every service; each service owns its own tables, created by the migrations below.
 * Writes that must survive a crash together go through `transaction`.
 */
export type Db = Database.Database;

const MIGRATIONS: string[] = [
  `CREATE TABLE layers (
     chain_id TEXT PRIMARY KEY,
     diff_id TEXT NOT NULL,
     parent TEXT,
     size INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE images (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     last_tag_time TEXT
   );
   CREATE TABLE image_refs (
     ref TEXT PRIMARY KEY,
     image_id TEXT NOT NULL REFERENCES images(id),
     kind TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
     created_at INTEGER NOT NULL
   );
   CREATE INDEX image_refs_by_image ON image_refs(image_id);`,
  `CREATE TABLE containers (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     data TEXT NOT NULL
   );`,
  `CREATE TABLE volumes (
     name TEXT PRIMARY KEY,
     driver TEXT NOT NULL,
     created_at TEXT NOT NULL,
     labels TEXT,
     options TEXT
   );`,
  `CREATE TABLE networks (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     data TEXT NOT NULL
   );
   CREATE TABLE network_endpoints (
     container_id TEXT NOT NULL,
     network_id TEXT NOT NULL,
     data TEXT NOT NULL,
     PRIMARY KEY (container_id, network_id)
   );
   CREATE TABLE network_sandboxes (
     container_id TEXT PRIMARY KEY,
     data TEXT NOT NULL
   );`,
  // An image's parent (commit records the container's image), as dockerd's image store metadata.
  `ALTER TABLE images ADD COLUMN parent TEXT;`,
  // Registries (distribution/): the manifest an image came in or went out as, so a push sends the same
  // bytes; and which compressed blob a layer was pulled or pushed as, and where, for skip and mount.
  `CREATE TABLE image_manifests (
     image_id TEXT NOT NULL,
     repo TEXT NOT NULL,
     digest TEXT NOT NULL,
     media_type TEXT NOT NULL,
     blobs TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (image_id, repo)
   );
   CREATE TABLE blob_sources (
     diff_id TEXT NOT NULL,
     digest TEXT NOT NULL,
     media_type TEXT NOT NULL,
     size INTEGER NOT NULL,
     registry TEXT NOT NULL,
     repo TEXT NOT NULL,
     PRIMARY KEY (diff_id, digest, registry, repo)
   );`,
  // The build cache (build/cache.ts): one row per step result, keyed by what the step depended on.
  `CREATE TABLE build_cache (
     key TEXT PRIMARY KEY,
     parent_key TEXT,
     description TEXT NOT NULL,
     config TEXT NOT NULL,
     top_chain_id TEXT,
     size INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     usage_count INTEGER NOT NULL DEFAULT 0
   );`,
];

export function openDb(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
