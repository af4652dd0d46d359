import { promises as fs, existsSync } from 'node:fs';
import { diskUsage } from '../lib/disk-usage.js';
import path from 'node:path';
import type { Db } from '../store/db.js';
import type { EventBus } from '../events/bus.js';
import { VolumeStore, ANONYMOUS_LABEL, isAnonymous, type VolumeRecord } from './store.js';
import { LocalDriver } from './local.js';
import { RemoteVolumeDrivers, LIST_TIMEOUT_MS, type RemoteVolumeDriver, type VolumeScope } from './remote.js';
import type { PluginRegistry } from '../plugins/contracts.js';
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
  Scope: VolumeScope;
  /** What a volume plugin reports about the volume (inspect of plugin volumes only). */
  Status?: Record<string, unknown>;
  UsageData?: { Size: number; RefCount: number };
}

/** Who uses volumes, read from the container records each time, so it holds from the moment the database is open. */
export interface VolumeUsers {
  containersUsing(name: string): string[];
}

const LIST_FILTERS = ['dangling', 'name', 'driver', 'label'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

/**
 * Named and anonymous volumes: records (store.ts), the local driver's directories and mounts
 * (local.ts), volume plugins' volumes (remote.ts: `-d <plugin>`), references and events. A volume is
 * in use while a container record names it (stopped containers too) or while a container being
 * created holds a reference.
 * Lifecycle: created by the daemon; `init` reconciles directories with rows before anything else runs;
 * the containers service rebuilds mount counts with `restoreMounts`.
 */
export class VolumeService {
  readonly store: VolumeStore;
  readonly driver: LocalDriver;
  private readonly pending = new Map<string, Map<string, number>>();
  private readonly locks = new KeyedMutex();
  private pruning = false;
  /** Drivers of volume plugins, found through the plugin registry. */
  private readonly remotes: RemoteVolumeDrivers;
  /** Scope each plugin reported (Capabilities), by driver name. */
  private readonly scopes = new Map<string, VolumeScope>();
  /** Last mountpoint a plugin reported for each of its volumes. */
  private readonly remotePaths = new Map<string, string>();
  /** Mount ids of plugin volumes in use: volume -> user (container id, '' for the daemon) -> ids. */
  private readonly remoteMounts = new Map<string, Map<string, string[]>>();

  constructor(
    db: Db,
    private readonly events: EventBus,
    dataRoot: string,
    /** The containers whose records name a volume (containers/store.ts: persistedVolumeUsers). */
    private readonly containerUsers: VolumeUsers,
    /** Owner of volume data (the remapped root under --userns-remap); host root otherwise. */
    owner?: { uid: number; gid: number },
    /** Where volume plugins (`-d <plugin>`) are found; without it only the local driver exists. */
    plugins?: PluginRegistry,
  ) {
    this.store = new VolumeStore(db);
    this.driver = new LocalDriver(dataRoot, owner);
    this.remotes = new RemoteVolumeDrivers(plugins);
  }

  private static isLocal(v: { driver: string }): boolean {
    return v.driver === DEFAULT_DRIVER;
  }

  /** The plugin serving a non-local volume's driver. */
  private async remoteFor(v: VolumeRecord): Promise<RemoteVolumeDriver> {
    return this.remotes.get(v.driver);
  }

  /** The host path a container's mount point shows before its start (a plugin's: the last one it reported). */
  sourceOf(v: VolumeRecord): string {
    return VolumeService.isLocal(v) ? this.driver.dataPath(v.name) : (this.remotePaths.get(v.name) ?? '');
  }

  /** Directories without a row (a crash during create or remove) go; rows without a directory get one. */
  async init(): Promise<void> {
    await this.driver.init();
    for (const name of await this.driver.listDirs()) {
      const v = this.store.get(name);
      if (v && VolumeService.isLocal(v)) continue;
      await this.driver.remove(name).catch((err) => log.warn('removing a leftover volume directory failed', { volume: name, error: messageOf(err) }));
    }
    for (const v of this.store.all()) {
      if (!VolumeService.isLocal(v)) continue;
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
      Mountpoint: this.sourceOf(v),
      Name: v.name,
      Options: v.options,
      Scope: this.scopes.get(v.driver) ?? 'local',
      ...(usage ? { UsageData: usage } : {}),
    };
  }

  /**
   * `volume inspect`: a plugin's volume shows the Mountpoint and Status its plugin reports (Get); an
   * error of the plugin is the error of the inspect, as in dockerd.
   */
  async inspect(name: string): Promise<VolumeView> {
    const v = this.store.get(name) ?? (await this.findInPlugins(name));
    if (VolumeService.isLocal(v)) return this.view(v);
    try {
      const remote = await this.remoteFor(v);
      const got = await remote.get(name);
      this.scopes.set(v.driver, await remote.capabilities());
      if (got.Mountpoint) this.remotePaths.set(name, got.Mountpoint);
      return { ...this.view(v), ...(got.Status ? { Status: got.Status } : {}) };
    } catch (err) {
      throw withPrefix(`get ${name}`, err);
    }
  }

  /**
   * A volume Berth has no record of that a plugin knows (made outside this daemon, as `volume ls`
   * shows them): the first plugin whose Get answers it, each given LIST_TIMEOUT_MS.
   */
  private async findInPlugins(name: string): Promise<VolumeRecord> {
    const drivers = (await withDeadline(this.remotes.all(), LIST_TIMEOUT_MS).catch(() => undefined)) ?? [];
    for (const d of drivers) {
      const got = await withDeadline(d.get(name, LIST_TIMEOUT_MS), LIST_TIMEOUT_MS).catch(() => undefined);
      if (got) return { name, driver: d.name, createdAt: got.CreatedAt ?? '', labels: null, options: null };
    }
    throw notFound(`get ${name}: no such volume`);
  }

  /**
   * `volume ls`: the recorded volumes, plus those the volume plugins list that Berth has no record of.
   * The plugins get LIST_TIMEOUT_MS in all: one that does not answer in time is left out.
   */
  async list(filtersRaw?: string): Promise<{ Volumes: VolumeView[]; Warnings: string[] | null }> {
    const f = Filters.parse(filtersRaw, LIST_FILTERS);
    const dangling = boolFilter(f, 'dangling');
    const warnings: string[] = [];
    const extra = await this.pluginVolumes(warnings);
    const vols = [...this.store.all(), ...extra]
      .filter((v) => {
        if (dangling !== undefined && (this.users(v.name).length === 0) !== dangling) return false;
        if (f.has('name') && !f.get('name').some((n) => n === v.name || regexMatch(n, v.name))) return false;
        if (f.has('driver') && !f.get('driver').includes(v.driver)) return false;
        if (!f.matchLabels(v.labels)) return false;
        return true;
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { Volumes: vols.map((v) => this.view(v)), Warnings: warnings.length ? warnings : null };
  }

  /** Volumes the plugins list without a record here (made outside this daemon), as records for the listing. */
  private async pluginVolumes(warnings: string[]): Promise<VolumeRecord[]> {
    const deadline = Date.now() + LIST_TIMEOUT_MS;
    const left = () => Math.max(50, deadline - Date.now());
    const drivers = await withDeadline(this.remotes.all(), left()).catch((err: unknown) => {
      warnings.push(`listing volume plugins: ${messageOf(err)}`);
      return [] as RemoteVolumeDriver[];
    });
    if (!drivers) {
      warnings.push('listing volume plugins: timed out');
      return [];
    }
    const lists = await Promise.all(
      drivers.map(async (d) => {
        try {
          const vols = await withDeadline(d.list(left()), left());
          if (!vols) throw new Error('timed out');
          const scope = await withDeadline(d.capabilities(left()), left());
          if (scope) this.scopes.set(d.name, scope);
          return { driver: d.name, vols };
        } catch (err) {
          const msg = `${d.name}: ${messageOf(err)}`;
          log.warn('a volume plugin did not list its volumes; they are left out', { driver: d.name, error: messageOf(err) });
          warnings.push(msg);
          return { driver: d.name, vols: [] };
        }
      }),
    );
    const out: VolumeRecord[] = [];
    const seen = new Set<string>();
    for (const { driver, vols } of lists) {
      for (const rv of vols) {
        const known = this.store.get(rv.Name);
        if (known) {
          if (known.driver === driver && rv.Mountpoint) this.remotePaths.set(rv.Name, rv.Mountpoint);
          continue;
        }
        if (seen.has(rv.Name)) continue;
        seen.add(rv.Name);
        if (rv.Mountpoint) this.remotePaths.set(rv.Name, rv.Mountpoint);
        out.push({ name: rv.Name, driver, createdAt: rv.CreatedAt ?? '', labels: null, options: null });
      }
    }
    return out;
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
    const named = Boolean(name);
    if (!name) {
      name = newId();
      labels = { ...(labels ?? {}), [ANONYMOUS_LABEL]: '' };
    }
    try {
      return await this.locks.run(name, async () => {
        const remote = driver === DEFAULT_DRIVER ? undefined : await this.remotes.get(driver);
        const existing = this.store.get(name);
        if (existing) {
          if (req.driver && existing.driver !== driver) throw conflict(`driver '${existing.driver}' already has volume '${name}': volume name must be unique`);
          this.hold(name, req.ref);
          return { volume: existing, created: false };
        }
        // No driver given: a plugin that already has a volume of that name serves it (dockerd's lookup).
        const adopted = !req.driver && named ? await this.findInPlugins(name).catch(() => undefined) : undefined;
        if (adopted) {
          const volume: VolumeRecord = { ...adopted, createdAt: adopted.createdAt || rfc3339Seconds(new Date()), labels, options: req.driverOpts ?? null };
          this.store.insert(volume);
          this.hold(name, req.ref);
          this.emit(volume, 'create');
          // not ours to remove when the container being created fails: the data was there before
          return { volume, created: false };
        }
        const options = req.driverOpts ?? null;
        if (!remote) {
          this.driver.validateName(name);
          this.driver.validateOptions(options);
          await this.driver.create(name);
        } else {
          await remote.create(name, options);
          this.scopes.set(driver, await remote.capabilities());
        }
        const volume: VolumeRecord = { name, driver, createdAt: rfc3339Seconds(new Date()), labels, options };
        try {
          this.store.insert(volume);
        } catch (err) {
          if (remote) await remote.remove(name).catch(debugIgnored('removing a half-created plugin volume failed'));
          else await this.driver.remove(name).catch(debugIgnored('removing a half-created volume failed'));
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
      if (!VolumeService.isLocal(v)) {
        try {
          await (await this.remoteFor(v)).remove(name);
        } catch (err) {
          // `rm -f` forgets a volume its plugin cannot remove (gone, broken), as dockerd's purge does.
          if (!opts.force) throw withPrefix(`remove ${name}`, err);
          log.warn('the volume plugin could not remove a volume; forgetting it', { volume: name, driver: v.driver, error: messageOf(err) });
        }
        this.store.delete(name);
        this.remotePaths.delete(name);
        this.remoteMounts.delete(name);
        this.emit(v, 'destroy');
        return;
      }
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
        const size = !VolumeService.isLocal(v) || (v.options && this.driver.needsMount(v.options)) ? 0 : await this.size(v.name);
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

  /**
   * One use of the volume's data (a container start, a copy-up). Returns its host path. `mountId`
   * names the use for a volume plugin (a fresh one when not given); the caller may keep it to give the
   * use back after a daemon restart (`adoptMount`).
   */
  async mount(name: string, event?: Record<string, string>, mountId?: string): Promise<string> {
    return this.locks.run(name, async () => {
      const v = this.get(name);
      const p = VolumeService.isLocal(v) ? await this.driver.mount(name, v.options) : await this.mountRemote(v, event?.container ?? '', mountId ?? newId());
      if (event) this.emit(v, 'mount', event);
      return p;
    });
  }

  async unmount(name: string, event?: Record<string, string>): Promise<void> {
    await this.locks.run(name, async () => {
      const v = this.store.get(name);
      if (!v) return;
      if (VolumeService.isLocal(v)) await this.driver.unmount(name, v.options);
      else await this.unmountRemote(v, event?.container ?? '');
      if (event) this.emit(v, 'unmount', event);
    });
  }

  /** A plugin volume's Mount, with a fresh id for this use (a container start), kept for its Unmount. */
  private async mountRemote(v: VolumeRecord, user: string, id: string): Promise<string> {
    const remote = await this.remoteFor(v);
    let p: string;
    try {
      p = await remote.mount(v.name, id);
    } catch (err) {
      // dockerd's wording; the volume's path is the last one its plugin reported
      const kind = err instanceof BerthError ? err.kind : 'Internal';
      throw new BerthError(kind, `error while mounting volume '${this.remotePaths.get(v.name) ?? ''}': ${messageOf(err)}`, { cause: err });
    }
    const users = this.remoteMounts.get(v.name) ?? new Map<string, string[]>();
    users.set(user, [...(users.get(user) ?? []), id]);
    this.remoteMounts.set(v.name, users);
    this.remotePaths.set(v.name, p);
    return p;
  }

  /**
   * After a daemon restart: a running container (`user`) still holds the plugin volume's mount `id`,
   * so that its exit unmounts it with that id.
   */
  adoptMount(name: string, user: string, id: string): void {
    const v = this.store.get(name);
    if (!v || VolumeService.isLocal(v)) return;
    const users = this.remoteMounts.get(name) ?? new Map<string, string[]>();
    const ids = users.get(user) ?? [];
    if (!ids.includes(id)) ids.push(id);
    users.set(user, ids);
    this.remoteMounts.set(name, users);
  }

  /** The id of the plugin mount `user` holds last (none for local volumes). */
  mountIdOf(name: string, user: string): string | undefined {
    return this.remoteMounts.get(name)?.get(user)?.at(-1);
  }

  private async unmountRemote(v: VolumeRecord, user: string): Promise<void> {
    const users = this.remoteMounts.get(v.name);
    const ids = users?.get(user);
    const id = ids?.pop();
    if (!id) {
      log.debug('no mount of a plugin volume to give back', { volume: v.name, user });
      return;
    }
    if (!ids!.length) users!.delete(user);
    if (!users!.size) this.remoteMounts.delete(v.name);
    await (await this.remoteFor(v)).unmount(v.name, id);
  }

  /** After a restart: the uses running containers hold (volume name -> count). */
  async restoreMounts(counts: Map<string, number>): Promise<void> {
    await this.driver.restore(counts, this.store.all().filter((v) => VolumeService.isLocal(v)));
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
      .filter((v) => VolumeService.isLocal(v) && (!v.options || Object.keys(v.options).length === 0))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const v of vols) out.push(this.view(v, { Size: await this.size(v.name), RefCount: this.users(v.name).length }));
    return out;
  }

  private emit(v: VolumeRecord, action: string, extra: Record<string, string> = {}): void {
    this.events.publish('volume', action, v.name, { driver: v.driver, ...extra });
  }
}

// ---- helpers ------------------------------------------------------------------------------------

/** The promise's value, or undefined once `ms` passed (the promise keeps running; its outcome is ignored). */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  p.catch(() => undefined); // a late rejection is nobody's to handle
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

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

