import { promises as fs, existsSync } from 'node:fs';
import { diskUsage } from '../lib/disk-usage.js';
import path from 'node:path';
import type { Db } from '../store/db.js';
import type { EventBus } from '../events/bus.js';
import { VolumeStore, ANONYMOUS_LABEL, isAnonymous, type VolumeRecord } from './store.js';
import { LocalDriver } from './local.js';
import { Filters } from '../lib/filters.js';
import { BerthError, conflict, invalidArgument, messageOf, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { KeyedMutex } from '../lib/mutex.js';
import { log, debugIgnored } from '../lib/log.js';

export const DEFAULT_DRIVER = 'local';

export interface CreateVolumeRequest {
  /** Empty: a generated 64-hex name and the anonymous label. */
  name?: string;
  driver?: string;
  driverOpts?: Record<string, string> | null;
  labels?: Record<string, string> | null;
  /**
   * Who is about to use the volume (a container being created): the volume cannot be removed until
   * `release(name, ref)`, by which time the container's record names it.
   */
  ref?: string;
}

/** The Engine API's Volume object. */
export interface VolumeView {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
  UsageData?: { Size: number; RefCount: number };
}

/** Who uses volumes, read from the container records each time, so it holds from the moment the database is open. */
export interface VolumeUsers {
  containersUsing(name: string): string[];
}

const LIST_FILTERS = ['dangling', 'name', 'driver', 'label'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

/**
 * Named and anonymous volumes of the local driver: records (store.ts), directories and mounts
 * (local.ts), references and events. A volume is in use while a container record names it (stopped
 * containers too) or while a container being created holds a reference.
 * Lifecycle: created by the daemon; `init` reconciles directories with rows before anything else runs;
 * the containers service rebuilds mount counts with `restoreMounts`.
 */
export class VolumeService {
  readonly store: VolumeStore;
  readonly driver: LocalDriver;
  private readonly pending = new Map<string, Map<string, number>>();
  private readonly locks = new KeyedMutex();
  private pruning = false;

  constructor(
    db: Db,
    private readonly events: EventBus,
    dataRoot: string,
    /** The containers whose records name a volume (containers/store.ts: persistedVolumeUsers). */
    private readonly containerUsers: VolumeUsers,
    /** Owner of volume data (the remapped root under --userns-remap); host root otherwise. */
    owner?: { uid: number; gid: number },
  ) {
    this.store = new VolumeStore(db);
    this.driver = new LocalDriver(dataRoot, owner);
  }

  /** Directories without a row (a crash during create or remove) go; rows without a directory get one. */
  async init(): Promise<void> {
    await this.driver.init();
    for (const name of await this.driver.listDirs()) {
      if (this.store.get(name)) continue;
      await this.driver.remove(name).catch((err) => log.warn('removing a leftover volume directory failed', { volume: name, error: messageOf(err) }));
    }
    for (const v of this.store.all()) {
      if (!existsSync(this.driver.dataPath(v.name))) await this.driver.create(v.name);
    }
  }

  // ---- lookup ---------------------------------------------------------------------------------

  get(name: string): VolumeRecord {
    const v = this.store.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  /** Containers (and containers being created) that use the volume. */
  users(name: string): string[] {
    const ids = new Set(this.containerUsers.containersUsing(name));
    for (const ref of this.pending.get(name)?.keys() ?? []) ids.add(ref);
    return [...ids];
  }

  view(v: VolumeRecord, usage?: { Size: number; RefCount: number }): VolumeView {
    return {
      CreatedAt: v.createdAt,
      Driver: v.driver,
      Labels: v.labels,
      Mountpoint: this.driver.dataPath(v.name),
      Name: v.name,
      Options: v.options,
      Scope: 'local',
      ...(usage ? { UsageData: usage } : {}),
    };
  }

  list(filtersRaw?: string): { Volumes: VolumeView[]; Warnings: string[] | null } {
    const f = Filters.parse(filtersRaw, LIST_FILTERS);
    const dangling = boolFilter(f, 'dangling');
    const vols = this.store
      .all()
      .filter((v) => {
        if (dangling !== undefined && (this.users(v.name).length === 0) !== dangling) return false;
        if (f.has('name') && !f.get('name').some((n) => n === v.name || regexMatch(n, v.name))) return false;
        if (f.has('driver') && !f.get('driver').includes(v.driver)) return false;
        if (!f.matchLabels(v.labels)) return false;
        return true;
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { Volumes: vols.map((v) => this.view(v)), Warnings: null };
  }

  // ---- create / remove ------------------------------------------------------------------------

  /**
   * Creates a volume, or returns the existing one of that name as Docker does. Errors carry Docker's
   * "create <name>: " prefix. Directory first, row second: a crash in between leaves only a directory,
   * which the next start removes.
   */
  async create(req: CreateVolumeRequest): Promise<{ volume: VolumeRecord; created: boolean }> {
    let name = req.name ?? '';
    let labels = req.labels ?? null;
    const driver = req.driver || DEFAULT_DRIVER;
    if (!name) {
      name = newId();
      labels = { ...(labels ?? {}), [ANONYMOUS_LABEL]: '' };
    }
    try {
      return await this.locks.run(name, async () => {
        if (driver !== DEFAULT_DRIVER) throw notFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
        const existing = this.store.get(name);
        if (existing) {
          this.hold(name, req.ref);
          return { volume: existing, created: false };
        }
        this.driver.validateName(name);
        const options = req.driverOpts ?? null;
        this.driver.validateOptions(options);
        await this.driver.create(name);
        const volume: VolumeRecord = { name, driver, createdAt: rfc3339Seconds(new Date()), labels, options };
        try {
          this.store.insert(volume);
        } catch (err) {
          await this.driver.remove(name).catch(debugIgnored('removing a half-created volume failed'));
          throw err;
        }
        this.hold(name, req.ref);
        this.emit(volume, 'create');
        return { volume, created: true };
      });
    } catch (err) {
      throw withPrefix(`create ${name}`, err);
    }
  }

  private hold(name: string, ref: string | undefined): void {
    if (!ref) return;
    const refs = this.pending.get(name) ?? new Map<string, number>();
    refs.set(ref, (refs.get(ref) ?? 0) + 1);
    this.pending.set(name, refs);
  }

  /** Drops a reference taken by `create` (once the container's record names the volume, or it failed). */
  release(name: string, ref: string): void {
    const refs = this.pending.get(name);
    if (!refs) return;
    const n = (refs.get(ref) ?? 0) - 1;
    if (n > 0) refs.set(ref, n);
    else refs.delete(ref);
    if (refs.size === 0) this.pending.delete(name);
  }

  /** Removes a volume no container uses. `force`: a missing volume is not an error. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    if (!this.store.get(name)) {
      if (opts.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    await this.locks.run(name, async () => {
      const v = this.store.get(name);
      if (!v) {
        if (opts.force) return;
        throw notFound(`get ${name}: no such volume`);
      }
      const users = this.users(name);
      if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      if (this.driver.isMounted(name)) {
        try {
          await this.driver.unmount(name, v.options);
        } catch (err) {
          throw withPrefix(`remove ${name}`, err);
        }
      }
      this.store.delete(name);
      await this.driver.remove(name).catch((err) => log.warn('removing a volume directory failed', { volume: name, error: messageOf(err) }));
      this.emit(v, 'destroy');
    });
  }

  /**
   * Removes unused volumes: anonymous ones only unless the `all` filter is true (API >= 1.42; older
   * clients get every unused volume, as Docker does).
   */
  async prune(filtersRaw: string | undefined, apiVersion: string): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }> {
    const f = Filters.parse(filtersRaw, PRUNE_FILTERS);
    const allValues = f.get('all');
    if (allValues.length > 1) throw invalidArgument(`invalid filter 'all=[${allValues.join(' ')}]'`);
    let all = false;
    if (allValues.length === 1) {
      const b = parseGoBool(allValues[0]!);
      if (b === undefined) throw invalidArgument(`invalid filter 'all=${allValues[0]}'`);
      all = b;
    }
    if (versionLess(apiVersion, '1.42')) all = true;
    if (this.pruning) throw conflict('a prune operation is already running');
    this.pruning = true;
    try {
      const deleted: string[] = [];
      let reclaimed = 0;
      for (const v of this.store.all()) {
        if (this.users(v.name).length) continue;
        if (!all && !isAnonymous(v)) continue;
        if (!f.matchLabels(v.labels)) continue;
        if (f.get('label!').some((cond) => matchesLabel(cond, v.labels))) continue;
        const size = v.options && this.driver.needsMount(v.options) ? 0 : await this.size(v.name);
        try {
          await this.remove(v.name);
        } catch (err) {
          log.warn('prune could not remove a volume', { volume: v.name, error: messageOf(err) });
          continue;
        }
        reclaimed += size;
        deleted.push(v.name);
      }
      this.events.publish('volume', 'prune', '', { reclaimed: String(reclaimed) });
      return { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
    } finally {
      this.pruning = false;
    }
  }

  // ---- mounts ---------------------------------------------------------------------------------

  /** One use of the volume's data (a container start, a copy-up). Returns its host path. */
  async mount(name: string, event?: Record<string, string>): Promise<string> {
    return this.locks.run(name, async () => {
      const v = this.get(name);
      const p = await this.driver.mount(name, v.options);
      if (event) this.emit(v, 'mount', event);
      return p;
    });
  }

  async unmount(name: string, event?: Record<string, string>): Promise<void> {
    await this.locks.run(name, async () => {
      const v = this.store.get(name);
      if (!v) return;
      await this.driver.unmount(name, v.options);
      if (event) this.emit(v, 'unmount', event);
    });
  }

  /** After a restart: the uses running containers hold (volume name -> count). */
  async restoreMounts(counts: Map<string, number>): Promise<void> {
    await this.driver.restore(counts, this.store.all());
  }

  // ---- usage ----------------------------------------------------------------------------------

  /** Bytes under the volume's data directory (hard links once). */
  async size(name: string): Promise<number> {
    return diskUsage(this.driver.dataPath(name));
  }

  /** /system/df: local volumes without driver options, with size and reference count (as Docker). */
  async diskUsage(): Promise<VolumeView[]> {
    const out: VolumeView[] = [];
    const vols = this.store
      .all()
      .filter((v) => !v.options || Object.keys(v.options).length === 0)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const v of vols) out.push(this.view(v, { Size: await this.size(v.name), RefCount: this.users(v.name).length }));
    return out;
  }

  private emit(v: VolumeRecord, action: string, extra: Record<string, string> = {}): void {
    this.events.publish('volume', action, v.name, { driver: v.driver, ...extra });
  }
}

// ---- helpers ------------------------------------------------------------------------------------

function withPrefix(prefix: string, err: unknown): BerthError {
  if (err instanceof BerthError) return new BerthError(err.kind, `${prefix}: ${err.message}`, { cause: err });
  return new BerthError('Internal', `${prefix}: ${messageOf(err)}`, { cause: err });
}

/** Go's time.RFC3339 in UTC: 2006-01-02T15:04:05Z. */
function rfc3339Seconds(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

function boolFilter(f: Filters, key: string): boolean | undefined {
  const values = f.get(key);
  if (values.length === 0) return undefined;
  if (values.includes('true') || values.includes('1')) return true;
  if (values.includes('false') || values.includes('0')) return false;
  throw invalidArgument(`invalid filter '${key}=[${values.join(' ')}]'`);
}

/** Go's strconv.ParseBool. */
function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** Docker's filters.Args.Match: a value is also an (unanchored) regular expression; bad ones match nothing. */
function regexMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false; // not a valid regexp: no match
  }
}

function matchesLabel(cond: string, labels: Record<string, string> | null): boolean {
  if (!labels) return false;
  const i = cond.indexOf('=');
  if (i < 0) return cond in labels;
  return labels[cond.slice(0, i)] === cond.slice(i + 1);
}

function versionLess(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

