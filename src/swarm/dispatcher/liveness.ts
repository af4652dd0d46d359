/**
 * Which nodes are alive: each heartbeat keeps `HEARTBEAT_PREFIX + nodeId` alive for a lease's time
 * (3 s, three heartbeat periods); a node whose key lapses is down. The etcd implementation lets every
 * manager take heartbeats while only the leader's node watcher acts on them; the in-memory one is for
 * unit tests and single-process use.
 */
import { HEARTBEAT_PREFIX } from '../contracts.js';
import type { EtcdClient, Watch } from '../etcd/client.js';
import { log, debugIgnored } from '../../lib/log.js';
import { messageOf } from '../../lib/errors.js';

/** Berth's heartbeat lease (CONTRACTS.md: agents beat every 1 s, a node is down after 3 s). */
export const HEARTBEAT_TTL_SECONDS = 3;

export interface LivenessWatch {
  /** The nodes alive when the watch started. */
  alive: Set<string>;
  stop(): void;
}

export interface Liveness {
  /** Keeps the node alive for another lease period. */
  beat(nodeId: string): Promise<void>;
  /** The live set now, then every change (a key appearing or lapsing) until stop(). */
  watch(onChange: (nodeId: string, alive: boolean) => void): Promise<LivenessWatch>;
  /** Drops a removed node's liveness at once. */
  forget(nodeId: string): Promise<void>;
  /** Stops renewing anything (leases lapse on their own). */
  close(): void;
}

// ---------------------------------------------------------------- in memory

export function memoryLiveness(o: { ttlMs?: number } = {}): Liveness {
  const ttlMs = o.ttlMs ?? HEARTBEAT_TTL_SECONDS * 1000;
  const timers = new Map<string, NodeJS.Timeout>();
  const watchers = new Set<(nodeId: string, alive: boolean) => void>();
  const emit = (nodeId: string, alive: boolean) => {
    for (const w of [...watchers]) queueMicrotask(() => w(nodeId, alive));
  };
  const lapse = (nodeId: string) => {
    if (!timers.delete(nodeId)) return;
    emit(nodeId, false);
  };
  return {
    async beat(nodeId) {
      const wasAlive = timers.has(nodeId);
      clearTimeout(timers.get(nodeId));
      const timer = setTimeout(() => lapse(nodeId), ttlMs);
      timer.unref();
      timers.set(nodeId, timer);
      if (!wasAlive) emit(nodeId, true);
    },
    async watch(onChange) {
      watchers.add(onChange);
      return { alive: new Set(timers.keys()), stop: () => void watchers.delete(onChange) };
    },
    async forget(nodeId) {
      clearTimeout(timers.get(nodeId));
      lapse(nodeId);
    },
    close() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      watchers.clear();
    },
  };
}

// ---------------------------------------------------------------- etcd

type LivenessEtcd = Pick<EtcdClient, 'leaseGrant' | 'leaseKeepAlive' | 'leaseRevoke' | 'put' | 'delete' | 'range' | 'watch'>;

/** Heartbeat keys in etcd, each bound to its own lease granted by the manager that took the beat. */
export function etcdLiveness(client: LivenessEtcd, o: { ttlSeconds?: number; rewatchDelayMs?: number } = {}): Liveness {
  const ttl = o.ttlSeconds ?? HEARTBEAT_TTL_SECONDS;
  const rewatchDelay = o.rewatchDelayMs ?? 500;
  /** Per node: the lease this manager holds for it, and the beat in progress (beats of a node run one at a time). */
  const leases = new Map<string, string>();
  const queues = new Map<string, Promise<void>>();
  const stops = new Set<() => void>();
  let closed = false;

  const renew = async (nodeId: string): Promise<void> => {
    const lease = leases.get(nodeId);
    if (lease) {
      const left = await client.leaseKeepAlive(lease).catch(() => 0);
      if (left > 0) return;
      leases.delete(nodeId);
    }
    // No lease yet, or it lapsed (the key went with it): a new lease and the key again.
    const granted = await client.leaseGrant(ttl);
    await client.put(HEARTBEAT_PREFIX + nodeId, nodeId, { lease: granted.id });
    leases.set(nodeId, granted.id);
  };

  return {
    beat(nodeId) {
      if (closed) return Promise.resolve();
      const next = (queues.get(nodeId) ?? Promise.resolve()).then(() => renew(nodeId));
      const settled = next.catch(() => undefined);
      queues.set(nodeId, settled);
      void settled.then(() => {
        if (queues.get(nodeId) === settled) queues.delete(nodeId);
      });
      return next;
    },

    async watch(onChange) {
      const known = new Set<string>();
      let watch: Watch | undefined;
      let stopped = false;
      let retry: NodeJS.Timeout | undefined;
      const nodeOf = (key: string) => key.slice(HEARTBEAT_PREFIX.length);

      /** Reads the live set, reports what changed since the last read, and watches from there. */
      const sync = async (first: boolean): Promise<void> => {
        const r = await client.range(HEARTBEAT_PREFIX, { prefix: true, keysOnly: true });
        const now = new Set(r.kvs.map((kv) => nodeOf(kv.key)));
        if (!first) {
          for (const id of known) if (!now.has(id)) onChange(id, false);
          for (const id of now) if (!known.has(id)) onChange(id, true);
        }
        known.clear();
        for (const id of now) known.add(id);
        if (stopped) return;
        watch = client.watch(
          HEARTBEAT_PREFIX,
          { prefix: true, startRevision: String(BigInt(r.revision) + 1n) },
          (events) => {
            for (const e of events) {
              const id = nodeOf(e.kv.key);
              const alive = e.type === 'PUT';
              if (alive === known.has(id)) continue;
              if (alive) known.add(id);
              else known.delete(id);
              onChange(id, alive);
            }
          },
          (err) => {
            if (stopped) return;
            log.debug('heartbeat watch ended; reading the live set again', { error: messageOf(err) });
            scheduleResync();
          },
        );
      };
      const scheduleResync = () => {
        retry = setTimeout(() => {
          if (!stopped) sync(false).catch((err) => {
            log.debug('heartbeat resync failed', { error: messageOf(err) });
            scheduleResync();
          });
        }, rewatchDelay);
        retry.unref();
      };

      await sync(true);
      const stop = () => {
        stopped = true;
        clearTimeout(retry);
        watch?.close();
        stops.delete(stop);
      };
      stops.add(stop);
      return { alive: new Set(known), stop };
    },

    async forget(nodeId) {
      const lease = leases.get(nodeId);
      leases.delete(nodeId);
      if (lease) await client.leaseRevoke(lease).catch(debugIgnored('heartbeat lease revoke failed'));
      await client.delete(HEARTBEAT_PREFIX + nodeId);
    },

    close() {
      closed = true;
      for (const stop of [...stops]) stop();
      leases.clear();
    },
  };
}
