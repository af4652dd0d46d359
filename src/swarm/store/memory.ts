/**
 * The store in memory, with the same semantics as the etcd one (store/etcd.ts): one revision counter
 * across every collection, Version.Index = the revision of the last write, compare-and-swap updates,
 * watchers called in revision order. For unit tests of the parts built on SwarmStore.
 */
import { conflict, notFound } from '../../lib/errors.js';
import type { Collection, StoreEvent, SwarmStore } from '../contracts.js';
import type { StoredObject } from '../types.js';

const clone = <T>(v: T): T => structuredClone(v);

class MemoryCollection<T extends StoredObject> implements Collection<T> {
  private readonly items = new Map<string, T>();
  private readonly watchers = new Set<(e: StoreEvent<T>) => void>();

  constructor(private readonly kind: string, private readonly nextRevision: () => number) {}

  async get(id: string): Promise<T | undefined> {
    const v = this.items.get(id);
    return v && clone(v);
  }

  async list(): Promise<T[]> {
    return [...this.items.values()].map(clone);
  }

  async create(obj: T): Promise<T> {
    if (this.items.has(obj.ID)) throw conflict(`${this.kind} ${obj.ID} already exists`);
    const now = new Date().toISOString();
    const stored = { ...clone(obj), Version: { Index: this.nextRevision() }, CreatedAt: obj.CreatedAt || now, UpdatedAt: now };
    this.items.set(obj.ID, stored);
    this.emit({ type: 'put', object: stored });
    return clone(stored);
  }

  async update(obj: T): Promise<T> {
    const current = this.items.get(obj.ID);
    if (!current) throw notFound(`${this.kind} ${obj.ID} not found`);
    if (current.Version.Index !== obj.Version.Index) throw conflict('update out of sequence');
    const stored = { ...clone(obj), Version: { Index: this.nextRevision() }, UpdatedAt: new Date().toISOString() };
    this.items.set(obj.ID, stored);
    this.emit({ type: 'put', object: stored });
    return clone(stored);
  }

  async modify(id: string, change: (current: T) => T | undefined): Promise<T | undefined> {
    for (;;) {
      const current = await this.get(id);
      if (!current) throw notFound(`${this.kind} ${id} not found`);
      const next = change(current);
      if (!next) return current;
      try {
        return await this.update(next);
      } catch (err) {
        if ((err as { kind?: string }).kind !== 'Conflict') throw err;
      }
    }
  }

  async delete(id: string): Promise<void> {
    const current = this.items.get(id);
    if (!current) throw notFound(`${this.kind} ${id} not found`);
    this.items.delete(id);
    this.nextRevision();
    this.emit({ type: 'delete', object: current });
  }

  watch(onEvent: (e: StoreEvent<T>) => void): () => void {
    this.watchers.add(onEvent);
    return () => this.watchers.delete(onEvent);
  }

  private emit(e: StoreEvent<T>): void {
    // Asynchronous like etcd's watch: a writer never runs watchers inside its own call.
    const event = clone(e);
    for (const w of [...this.watchers]) queueMicrotask(() => w(clone(event)));
  }
}

export function memorySwarmStore(): SwarmStore {
  let revision = 0;
  const next = () => ++revision;
  const c = <T extends StoredObject>(kind: string) => new MemoryCollection<T>(kind, next);
  return {
    cluster: c('cluster'),
    nodes: c('node'),
    services: c('service'),
    tasks: c('task'),
    networks: c('network'),
    secrets: c('secret'),
    configs: c('config'),
  };
}
