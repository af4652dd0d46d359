/**
 * An in-memory copy of the collections the node views are made of, kept current by the store's watch, so
 * recomputing views costs no store reads. The watch starts before the first list; events that raced the
 * list are applied only when newer than what the list returned. A watch can still miss a change (one
 * that opens late, a gap while it resumes), so the mirror lists everything again now and then and takes
 * what it missed.
 */
import type { Collection, StoreEvent, SwarmStore } from '../contracts.js';
import type { StoredObject } from '../types.js';
import type { ClusterSnapshot } from './view.js';

type Kind = keyof ClusterSnapshot;
const KINDS: readonly Kind[] = ['nodes', 'services', 'tasks', 'networks', 'secrets', 'configs'];

export class StoreMirror {
  private readonly maps: Record<Kind, Map<string, StoredObject>> = { nodes: new Map(), services: new Map(), tasks: new Map(), networks: new Map(), secrets: new Map(), configs: new Map() };
  private readonly stops: Array<() => void> = [];
  private ready = false;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SwarmStore,
    private readonly onChange: () => void,
    /** Full re-reads: the first this long after start, then every `resyncMs` (0: never). */
    private readonly resync = { firstMs: 1000, everyMs: 15_000 },
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  async start(): Promise<void> {
    const pending: Array<[Kind, StoreEvent<StoredObject>]> = [];
    for (const kind of KINDS) {
      const collection = this.store[kind] as unknown as Collection<StoredObject>;
      this.stops.push(
        collection.watch((e) => {
          if (!this.ready) return void pending.push([kind, e]);
          this.apply(kind, e);
          this.onChange();
        }),
      );
    }
    const lists = await Promise.all(KINDS.map((k) => (this.store[k] as unknown as Collection<StoredObject>).list()));
    KINDS.forEach((k, i) => {
      for (const o of lists[i]!) this.maps[k].set(o.ID, o);
    });
    for (const [kind, e] of pending) this.apply(kind, e);
    this.ready = true;
    this.onChange();
    if (this.resync.everyMs > 0) this.scheduleResync(this.resync.firstMs);
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.ready = false;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
  }

  private scheduleResync(ms: number): void {
    this.resyncTimer = setTimeout(() => {
      this.reread()
        .catch(() => undefined) // the store is away: the next round tries again
        .finally(() => {
          if (this.ready) this.scheduleResync(this.resync.everyMs);
        });
    }, ms);
    this.resyncTimer.unref();
  }

  /**
   * Lists every collection and takes what the watch missed: objects newer than the mirror's, and the
   * absence of objects no newer than the newest listed one (the list was read after they were gone;
   * a newer absent object may have been created since, and its event is on its way).
   */
  async reread(): Promise<void> {
    const lists = await Promise.all(KINDS.map((k) => (this.store[k] as unknown as Collection<StoredObject>).list()));
    if (!this.ready) return;
    let changed = false;
    KINDS.forEach((k, i) => {
      const map = this.maps[k];
      const listed = new Map(lists[i]!.map((o) => [o.ID, o]));
      // Per kind: each list is read at its own revision, at least its newest object's.
      const newest = Math.max(0, ...lists[i]!.map((o) => o.Version.Index));
      for (const o of listed.values()) {
        const mine = map.get(o.ID);
        if (!mine || mine.Version.Index < o.Version.Index) {
          map.set(o.ID, o);
          changed = true;
        }
      }
      for (const [id, mine] of map) {
        if (!listed.has(id) && mine.Version.Index <= newest) {
          map.delete(id);
          changed = true;
        }
      }
    });
    if (changed) this.onChange();
  }

  snapshot(): ClusterSnapshot {
    const values = <T>(k: Kind) => [...this.maps[k].values()] as T[];
    return { nodes: values('nodes'), services: values('services'), tasks: values('tasks'), networks: values('networks'), secrets: values('secrets'), configs: values('configs') };
  }

  get<K extends Kind>(kind: K, id: string): NonNullable<ClusterSnapshot[K]>[number] | undefined {
    return this.maps[kind].get(id) as NonNullable<ClusterSnapshot[K]>[number] | undefined;
  }

  private apply(kind: Kind, e: StoreEvent<StoredObject>): void {
    const map = this.maps[kind];
    const current = map.get(e.object.ID);
    if (e.type === 'put') {
      if (!current || current.Version.Index < e.object.Version.Index) map.set(e.object.ID, e.object);
    } else if (!current || current.Version.Index <= e.object.Version.Index) {
      map.delete(e.object.ID);
    }
  }
}
