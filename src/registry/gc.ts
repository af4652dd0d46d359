/**
 * Garbage collection of blobs no manifest refers to, safe while the registry serves pushes: mark from
 * every manifest of every repository, then sweep what is unmarked and older than the grace period.
 * A blob uploaded for a push whose manifest has not arrived yet is young, and every blob a push checks
 * (HEAD, mount, manifest PUT) is touched, so the sweep leaves both alone. The sweep runs under the
 * exclusive side of the lock that manifest PUTs hold shared.
 */
import { promises as fs } from 'node:fs';
import { parseManifest } from '../oci/manifest.js';
import { log } from '../lib/log.js';
import { RwLock } from './rwlock.js';
import type { RegistryStorage } from './storage.js';

export interface GcResult {
  marked: number;
  removed: string[];
  keptYoung: number;
  bytesFreed: number;
}

export interface GcOptions {
  /** Unreferenced blobs younger than this are kept. */
  graceMs: number;
  /** Runs before each mark: the pull-through cache forgets manifests nobody pulled for a while here. */
  beforeMark?: () => Promise<void>;
  /** Report what would go, delete nothing. */
  dryRun?: boolean;
}

export class GarbageCollector {
  private running: Promise<GcResult> | undefined;

  constructor(
    private readonly storage: RegistryStorage,
    private readonly lock: RwLock,
    private readonly options: GcOptions,
  ) {}

  /** Runs a collection; a call while one runs shares its result. */
  collect(): Promise<GcResult> {
    if (!this.running) {
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async mark(): Promise<Set<string>> {
    const marked = new Set<string>();
    for (const repo of await this.storage.repositories()) {
      for (const digest of await this.storage.revisions(repo)) {
        marked.add(digest);
        const stored = await this.storage.getManifest(repo, digest);
        if (!stored) continue;
        try {
          const p = parseManifest(stored.bytes, stored.mediaType);
          if (p.kind === 'manifest') {
            marked.add(p.manifest.config.digest);
            for (const l of p.manifest.layers) marked.add(l.digest);
          } else {
            for (const m of p.index.manifests) marked.add(m.digest);
          }
        } catch {
          // a manifest that no longer parses keeps only itself
        }
      }
    }
    return marked;
  }

  private async run(): Promise<GcResult> {
    const started = Date.now();
    const cutoff = started - this.options.graceMs;
    if (this.options.beforeMark && !this.options.dryRun) await this.options.beforeMark();
    const marked = await this.mark();
    const candidates: string[] = [];
    let keptYoung = 0;
    for await (const b of this.storage.allBlobs()) {
      if (marked.has(b.digest)) continue;
      if (b.mtimeMs >= cutoff) keptYoung++;
      else candidates.push(b.digest);
    }
    const removed: string[] = [];
    let bytesFreed = 0;
    if (candidates.length) {
      await this.lock.exclusive(async () => {
        // Manifests written since the mark: their blobs were touched by the PUT (so are young now), but
        // mark again to be sure nothing new refers to a candidate.
        const again = await this.mark();
        const gone = new Set<string>();
        for (const digest of candidates) {
          if (again.has(digest)) continue;
          const st = await fs.stat(this.storage.blobPath(digest)).catch(() => undefined);
          if (!st || st.mtimeMs >= cutoff) continue;
          if (this.options.dryRun || (await this.storage.removeBlob(digest))) {
            removed.push(digest);
            gone.add(digest);
            bytesFreed += st.size;
          }
        }
        if (gone.size && !this.options.dryRun) {
          for (const repo of await this.storage.repositories()) {
            for (const d of await this.storage.linkedBlobs(repo)) if (gone.has(d)) await this.storage.unlinkBlob(repo, d);
          }
        }
      });
    }
    log.info(this.options.dryRun ? 'registry garbage collection (dry run)' : 'registry garbage collection', { marked: marked.size, removed: removed.length, keptYoung, bytesFreed, ms: Date.now() - started });
    return { marked: marked.size, removed, keptYoung, bytesFreed };
  }
}
