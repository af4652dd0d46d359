/**
 * The SwarmStore on etcd (contracts.ts): each object is JSON under `etcdKey(kind, ID)`, its
 * Version.Index is the key's mod_revision (so every write is a transaction comparing it), and
 * watches follow the kind's prefix, resuming from the last revision seen + 1 when the stream drops
 * (a member went away: the client opens the watch on another endpoint).
 */
import { conflict, notFound, unavailable } from '../../lib/errors.js';
import { rfc3339Nano } from '../../lib/timestamps.js';
import type { Collection, StoreEvent, SwarmStore } from '../contracts.js';
import { etcdKey } from '../contracts.js';
import type { StoredObject } from '../types.js';
import { EtcdError, type EtcdClient, type KeyValue, type Watch } from '../etcd/client.js';

/** How long a dropped watch waits before opening again. */
const REWATCH_DELAY_MS = 200;

const now = (): string => rfc3339Nano(Date.now());

/** etcd's "no endpoint answered" becomes the store's Unavailable; etcd's own answers stay errors. */
async function etcdCall<T>(what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof EtcdError && err.code === 14) throw unavailable(`the swarm store is unavailable: ${err.message}`);
    throw err;
  }
}

function decode<T extends StoredObject>(kv: KeyValue): T {
  const obj = JSON.parse(kv.value) as T;
  obj.Version = { Index: Number(kv.modRevision) };
  return obj;
}

/** The stored JSON leaves Version out: it is the key's revision, known only after the write. */
function encode<T extends StoredObject>(obj: T): string {
  const { Version: _version, ...rest } = obj;
  return JSON.stringify(rest);
}

class EtcdCollection<T extends StoredObject> implements Collection<T> {
  private readonly prefix: string;

  constructor(
    private readonly client: EtcdClient,
    private readonly kind: keyof SwarmStore,
    private readonly noun: string,
  ) {
    this.prefix = etcdKey(kind);
  }

  private key(id: string): string {
    return etcdKey(this.kind, id);
  }

  async get(id: string): Promise<T | undefined> {
    if (!id) return undefined;
    const kv = await etcdCall(() => this.client.get(this.key(id)));
    return kv ? decode<T>(kv) : undefined;
  }

  async list(): Promise<T[]> {
    const r = await etcdCall(() => this.client.range(this.prefix, { prefix: true }));
    return r.kvs.map((kv) => decode<T>(kv));
  }

  async create(obj: T): Promise<T> {
    const t = now();
    const stored = { ...obj, CreatedAt: obj.CreatedAt || t, UpdatedAt: t } as T;
    const key = this.key(obj.ID);
    const r = await etcdCall(() => this.client.txn([{ key, target: 'VERSION', result: 'EQUAL', number: 0 }], [{ put: { key, value: encode(stored) } }]));
    if (!r.succeeded) throw conflict(`${this.noun} ${obj.ID} already exists`);
    return { ...structuredClone(stored), Version: { Index: Number(r.revision) } };
  }

  async update(obj: T): Promise<T> {
    const key = this.key(obj.ID);
    const stored = { ...obj, UpdatedAt: now() } as T;
    const r = await etcdCall(() =>
      this.client.txn(
        [{ key, target: 'MOD', result: 'EQUAL', number: obj.Version?.Index ?? 0 }],
        [{ put: { key, value: encode(stored) } }],
        [{ range: { key, countOnly: true } }],
      ),
    );
    if (!r.succeeded) {
      const failure = r.responses[0];
      const exists = failure && 'range' in failure && failure.range.count > 0;
      // A missing key compares as mod revision 0: an update of version 0 of an absent object is NotFound too.
      throw exists ? conflict('update out of sequence') : notFound(`${this.noun} ${obj.ID} not found`);
    }
    return { ...structuredClone(stored), Version: { Index: Number(r.revision) } };
  }

  async modify(id: string, change: (current: T) => T | undefined): Promise<T | undefined> {
    for (;;) {
      const current = await this.get(id);
      if (!current) throw notFound(`${this.noun} ${id} not found`);
      const next = change(structuredClone(current));
      if (!next) return current;
      try {
        return await this.update({ ...next, Version: current.Version });
      } catch (err) {
        if ((err as { kind?: string }).kind !== 'Conflict') throw err;
      }
    }
  }

  async delete(id: string): Promise<void> {
    const r = await etcdCall(() => this.client.delete(this.key(id)));
    if (r.deleted === 0) throw notFound(`${this.noun} ${id} not found`);
  }

  watch(onEvent: (e: StoreEvent<T>) => void): () => void {
    let stopped = false;
    let current: Watch | undefined;
    let timer: NodeJS.Timeout | undefined;
    /** The last revision whose events were delivered (or that the watch is known to start after). */
    let seen = 0;
    const open = (): void => {
      if (stopped) return;
      current = this.client.watch(
        this.prefix,
        { prefix: true, prevKv: true, ...(seen ? { startRevision: String(seen + 1) } : {}) },
        (events) => {
          for (const e of events) {
            const rev = Number(e.kv.modRevision);
            if (rev <= seen) continue; // already delivered before a re-watch
            seen = rev;
            try {
              if (e.type === 'PUT') onEvent({ type: 'put', object: decode<T>(e.kv) });
              else if (e.prevKv) onEvent({ type: 'delete', object: decode<T>(e.prevKv) });
            } catch {
              // A value that is not an object of ours (written by hand) is skipped.
            }
          }
        },
        () => {
          if (stopped) return;
          timer = setTimeout(open, REWATCH_DELAY_MS);
        },
      );
    };
    // Start at the revision of now + 1 (read first), so that a re-watch before any event has a
    // revision to resume from rather than replaying history or skipping a gap.
    void this.client.range(this.prefix, { prefix: true, countOnly: true }).then(
      (r) => {
        seen = Number(r.revision);
        open();
      },
      () => open(),
    );
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      current?.close();
    };
  }
}

export function etcdSwarmStore(client: EtcdClient): SwarmStore {
  const c = <T extends StoredObject>(kind: keyof SwarmStore, noun: string) => new EtcdCollection<T>(client, kind, noun);
  return {
    cluster: c('cluster', 'cluster'),
    nodes: c('nodes', 'node'),
    services: c('services', 'service'),
    tasks: c('tasks', 'task'),
    networks: c('networks', 'network'),
    secrets: c('secrets', 'secret'),
    configs: c('configs', 'config'),
  };
}
