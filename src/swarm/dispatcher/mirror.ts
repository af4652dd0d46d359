/**
 * An in-memory copy of the collections the node views are made of, kept current by the store's watch, so
 * recomputing views costs no store reads. The watch starts before the first list; events that raced the
 * list are applied only when newer than what the list returned.
 */
import type { Collection, StoreEvent, SwarmStore } from '../contracts.js';
import type { StoredObject } from '../types.js';
import type { ClusterSnapshot } from './view.js';

type Kind = keyof ClusterSnapshot;
const KINDS: readonly Kind[] = ['nodes', 'services', 'tasks', 'networks'];

export class StoreMirror {
  private readonly maps: Record<Kind, Map<string, StoredObject>> = { nodes: new Map(), services: new Map(), tasks: new Map(), networks: new Map() };
  private readonly stops: Array<() => void> = [];
  private ready = false;

  constructor(
    private readonly store: SwarmStore,
    private readonly onChange: () => void,
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
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.ready = false;
  }

  snapshot(): ClusterSnapshot {
    const values = <T>(k: Kind) => [...this.maps[k].values()] as T[];
    return { nodes: values('nodes'), services: values('services'), tasks: values('tasks'), networks: values('networks') };
  }

  get<K extends Kind>(kind: K, id: string): ClusterSnapshot[K][number] | undefined {
    return this.maps[kind].get(id) as ClusterSnapshot[K][number] | undefined;
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
