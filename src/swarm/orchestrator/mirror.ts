/**
 * The leader's copy of the store: listed once, then kept current by the store's watches and by the
 * orchestrator's own writes (so one pass sees what it just did). Watch events arrive in revision order;
 * an event older than what is held is ignored, and a deleted ID never comes back (IDs are not reused).
 */
import type { Collection, StoreEvent, SwarmStore } from '../contracts.js';
import type { Cluster, Service, StoredObject, SwarmNode, Task } from '../types.js';

const TOMBSTONE_MS = 5 * 60_000;

export class MirrorTable<T extends StoredObject> {
  readonly items = new Map<string, T>();
  private readonly deleted = new Map<string, number>();

  apply(e: StoreEvent<T>): void {
    const id = e.object.ID;
    if (e.type === 'delete') {
      this.items.delete(id);
      this.deleted.set(id, Date.now());
      return;
    }
    if (this.deleted.has(id)) return;
    const held = this.items.get(id);
    if (held && held.Version.Index >= e.object.Version.Index) return;
    this.items.set(id, e.object);
  }

  put(obj: T): void {
    this.apply({ type: 'put', object: obj });
  }

  remove(obj: T): void {
    this.apply({ type: 'delete', object: obj });
  }

  /**
   * Brings the table in line with a full listing (a safety net under the watch). Held objects newer than
   * everything listed may have been written after the listing: they stay.
   */
  resync(listed: T[]): boolean {
    let changed = false;
    const seen = new Set<string>();
    let newest = 0;
    for (const obj of listed) {
      seen.add(obj.ID);
      newest = Math.max(newest, obj.Version.Index);
      const held = this.items.get(obj.ID);
      if (!held || held.Version.Index < obj.Version.Index) changed = true;
      this.put(obj);
    }
    for (const held of [...this.items.values()]) {
      if (!seen.has(held.ID) && held.Version.Index <= newest) {
        this.remove(held);
        changed = true;
      }
    }
    return changed;
  }

  values(): T[] {
    return [...this.items.values()];
  }

  get(id: string): T | undefined {
    return this.items.get(id);
  }

  pruneTombstones(now = Date.now()): void {
    for (const [id, at] of this.deleted) if (now - at > TOMBSTONE_MS) this.deleted.delete(id);
  }
}

export class StoreMirror {
  readonly services = new MirrorTable<Service>();
  readonly tasks = new MirrorTable<Task>();
  readonly nodes = new MirrorTable<SwarmNode>();
  readonly cluster = new MirrorTable<Cluster>();
  private readonly stops: Array<() => void> = [];

  constructor(private readonly store: SwarmStore, private readonly onChange: () => void) {}

  /** Watches first, then lists, so nothing written in between is missed. */
  async load(): Promise<void> {
    const follow = <T extends StoredObject>(c: Collection<T>, table: MirrorTable<T>) => {
      this.stops.push(
        c.watch((e) => {
          table.apply(e);
          this.onChange();
        }),
      );
    };
    follow(this.store.services, this.services);
    follow(this.store.tasks, this.tasks);
    follow(this.store.nodes, this.nodes);
    follow(this.store.cluster, this.cluster);
    const [services, tasks, nodes, clusters] = await Promise.all([
      this.store.services.list(),
      this.store.tasks.list(),
      this.store.nodes.list(),
      this.store.cluster.list(),
    ]);
    for (const s of services) this.services.put(s);
    for (const t of tasks) this.tasks.put(t);
    for (const n of nodes) this.nodes.put(n);
    for (const c of clusters) this.cluster.put(c);
  }

  /** A full listing of every kind; true when it found something the watches had not delivered. */
  async resync(): Promise<boolean> {
    const [services, tasks, nodes, clusters] = await Promise.all([
      this.store.services.list(),
      this.store.tasks.list(),
      this.store.nodes.list(),
      this.store.cluster.list(),
    ]);
    const changed = [this.services.resync(services), this.tasks.resync(tasks), this.nodes.resync(nodes), this.cluster.resync(clusters)];
    return changed.some(Boolean);
  }

  clusterObject(): Cluster | undefined {
    return this.cluster.values()[0];
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }
}
