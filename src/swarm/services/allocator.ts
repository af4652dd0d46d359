/**
 * Task addresses on cluster networks, for the leader's orchestrator (contracts.ts TaskAllocator).
 *
 * Every address in use is written in the store's objects (addresses.ts), so the allocator needs no state
 * of its own to be right; to stay fast with thousands of tasks it keeps an index of those addresses,
 * filled by one scan and kept current by watching tasks, services and nodes. Addresses it handed out
 * whose task is not stored yet are held as pending, so two tasks never get the same address in between.
 */
import { unavailable } from '../../lib/errors.js';
import { sleep } from '../../lib/sleep.js';
import type { SwarmStore, TaskAllocator } from '../contracts.js';
import type { ClusterNetwork, NetworkAttachment, Service, StoredObject, SwarmNode, Task } from '../types.js';
import { addressOf, addressesOfNode, addressesOfService, addressesOfTask, inPool, pickFree, poolOf, usedAddresses, withPrefix } from './addresses.js';
import { isIngress, needsIngress } from './networks.js';

type Addr = [networkId: string, ip: number];

/** The addresses each stored object holds, kept in step with the store. */
class AddressIndex {
  private readonly owners = new Map<string, { rev: number; addrs: Addr[]; gone: boolean }>();
  private readonly pending = new Map<string, Addr[]>();
  private readonly stops: Array<() => void> = [];
  /** The services and networks as last seen (a service's ports decide its tasks' ingress attachment). */
  readonly services = new Map<string, Service>();
  readonly networks = new Map<string, ClusterNetwork>();
  readonly ready: Promise<void>;

  constructor(store: SwarmStore) {
    const follow = <T extends StoredObject>(kind: string, list: () => Promise<T[]>, addrs: (o: T) => Addr[], watch: (cb: (e: { type: 'put' | 'delete'; object: T }) => void) => () => void, keep?: Map<string, T>) => {
      const seen = (o: T, gone: boolean) => {
        if (!this.apply(`${kind}:${o.ID}`, o.Version.Index, gone ? [] : addrs(o), gone) || !keep) return;
        if (gone) keep.delete(o.ID);
        else keep.set(o.ID, o);
      };
      this.stops.push(watch((e) => seen(e.object, e.type === 'delete')));
      return this.retry(list).then((all) => all.forEach((o) => seen(o, false)));
    };
    // Watches first, then the scan: nothing written in between is missed (older events are ignored by revision).
    this.ready = Promise.all([
      follow<Task>('task', () => store.tasks.list(), addressesOfTask, (cb) => store.tasks.watch(cb)),
      follow<Service>('service', () => store.services.list(), addressesOfService, (cb) => store.services.watch(cb), this.services),
      follow<SwarmNode>('node', () => store.nodes.list(), addressesOfNode, (cb) => store.nodes.watch(cb)),
      follow<ClusterNetwork>('network', () => store.networks.list(), () => [], (cb) => store.networks.watch(cb), this.networks),
    ]).then(() => undefined);
    this.ready.catch(() => undefined);
  }

  private closed = false;

  /** A store that cannot answer yet (etcd electing a leader) is asked again, until the index is closed. */
  private async retry<T>(read: () => Promise<T>): Promise<T> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        return await read();
      } catch (err) {
        if (this.closed) throw err;
        await sleep(delay);
      }
    }
  }

  /** Records what an object holds; false when the news is older than what is known. */
  private apply(key: string, rev: number, addrs: Addr[], gone: boolean): boolean {
    const known = this.owners.get(key);
    if (known && (known.rev > rev || (known.rev === rev && known.gone))) return false;
    this.owners.set(key, { rev, addrs, gone });
    const held = this.pending.get(key);
    if (held && (gone || held.every(([n, ip]) => addrs.some(([m, jp]) => m === n && jp === ip)))) this.pending.delete(key);
    return true;
  }

  used(networkId: string): Set<number> {
    const out = new Set<number>();
    for (const list of [...[...this.owners.values()].map((o) => o.addrs), ...this.pending.values()]) {
      for (const [n, ip] of list) if (n === networkId) out.add(ip);
    }
    return out;
  }

  hold(key: string, addrs: Addr[]): void {
    this.pending.set(key, addrs);
  }

  unhold(key: string): void {
    this.pending.delete(key);
  }

  release(key: string, rev: number): void {
    this.pending.delete(key);
    const known = this.owners.get(key);
    this.owners.set(key, { rev: Math.max(rev, known?.rev ?? 0), addrs: [], gone: true });
  }

  close(): void {
    this.closed = true;
    for (const stop of this.stops.splice(0)) stop();
  }
}

export interface ClusterAllocator extends TaskAllocator {
  /** Gives a node its address on the ingress network (SwarmNode.BerthIngress) if it has none; returns the node. */
  allocateNode(nodeId: string): Promise<SwarmNode | undefined>;
  /** allocateNode for every node (the leader taking over, or the ingress network just made). */
  allocateNodes(): Promise<void>;
  /** Stops following the store (the leader lost its leadership). */
  close(): void;
}

/** The network attachment a task shows: the cluster network as stored, and its address there. */
function attachment(n: ClusterNetwork, addr: string): NetworkAttachment {
  return { Network: n, Addresses: [addr] };
}

/** The open allocator of each store: allocateNodeIngress goes through it, so it sees addresses not stored yet. */
const openAllocators = new WeakMap<SwarmStore, ClusterAllocator>();

export function createTaskAllocator(store: SwarmStore): ClusterAllocator {
  const index = new AddressIndex(store);
  // One allocation at a time: each one reads the index and writes to it.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const pick = (n: ClusterNetwork): string => {
    const pool = poolOf(n);
    if (!pool) throw unavailable(`network ${n.Spec.Name} has no subnet`);
    const ip = pickFree(pool, index.used(n.ID));
    if (ip === undefined) throw unavailable(`could not allocate IP from IPAM: no available IPv4 addresses on network ${n.Spec.Name}`);
    return withPrefix(ip, pool);
  };

  const allocator: ClusterAllocator = {
    allocateTask: (task) =>
      serial(async () => {
        await index.ready;
        // The ports the task was made with (the orchestrator copies them), else its service's.
        const service = task.BerthService ? undefined : (index.services.get(task.ServiceID) ?? (await store.services.get(task.ServiceID)));
        // Networks from the index's copies; the store when one is newer than its watch.
        let networks = [...index.networks.values()];
        if ((task.Spec.Networks ?? []).some((a) => !networks.some((n) => n.ID === a.Target || n.Spec.Name === a.Target))) networks = await store.networks.list();
        const wanted: ClusterNetwork[] = [];
        const publishes = task.BerthService ? (task.BerthService.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress') : Boolean(service && needsIngress(service));
        const ingress = networks.find(isIngress);
        if (publishes && ingress) wanted.push(ingress);
        for (const a of task.Spec.Networks ?? []) {
          const n = networks.find((x) => x.ID === a.Target || x.Spec.Name === a.Target);
          if (n && !wanted.includes(n)) wanted.push(n);
        }
        const attachments: NetworkAttachment[] = [];
        const held: Addr[] = [];
        try {
          for (const n of wanted) {
            // Re-allocating a task keeps the address it has.
            const had = task.NetworksAttachments?.find((a) => a.Network.ID === n.ID)?.Addresses[0];
            const pool = poolOf(n);
            const addr = had && pool && addressOf(had) !== undefined && inPool(pool, addressOf(had)!) ? had : pick(n);
            held.push([n.ID, addressOf(addr)!]);
            index.hold(`task:${task.ID}`, [...held]);
            attachments.push(attachment(n, addr));
          }
        } catch (err) {
          index.unhold(`task:${task.ID}`);
          throw err;
        }
        const out: Task = { ...task };
        if (attachments.length) out.NetworksAttachments = attachments;
        else delete out.NetworksAttachments;
        return out;
      }),

    releaseTask: (task) =>
      serial(async () => {
        await index.ready;
        index.release(`task:${task.ID}`, task.Version?.Index ?? 0);
      }),

    allocateNode: (nodeId) =>
      serial(async () => {
        await index.ready;
        const ingress = (await store.networks.list()).find(isIngress);
        if (!ingress) return store.nodes.get(nodeId);
        return store.nodes.modify(nodeId, (node) => {
          const pool = poolOf(ingress);
          const had = node.BerthIngress?.NetworkID === ingress.ID ? addressOf(node.BerthIngress.Address) : undefined;
          if (had !== undefined && pool && inPool(pool, had)) return undefined;
          const addr = pick(ingress);
          index.hold(`node:${nodeId}`, [[ingress.ID, addressOf(addr)!]]);
          return { ...node, BerthIngress: { NetworkID: ingress.ID, Address: addr } };
        });
      }),

    async allocateNodes() {
      for (const n of await store.nodes.list()) await allocator.allocateNode(n.ID);
    },

    close: () => {
      index.close();
      if (openAllocators.get(store) === allocator) openAllocators.delete(store);
    },
  };
  // One allocator per store: a new leadership term's allocator replaces (and stops) the last one.
  openAllocators.get(store)?.close();
  openAllocators.set(store, allocator);
  return allocator;
}

/**
 * Gives a node its ingress address: through the store's open allocator when there is one (it sees task
 * addresses handed out but not stored yet), else with a scan of the store.
 */
export async function allocateNodeIngress(store: SwarmStore, nodeId: string): Promise<SwarmNode | undefined> {
  const open = openAllocators.get(store);
  if (open) return open.allocateNode(nodeId);
  const ingress = (await store.networks.list()).find(isIngress);
  const pool = ingress && poolOf(ingress);
  const node = await store.nodes.get(nodeId);
  if (!ingress || !pool || !node || node.BerthIngress?.NetworkID === ingress.ID) return node;
  const ip = pickFree(pool, (await usedAddresses(store)).get(ingress.ID) ?? new Set<number>());
  if (ip === undefined) throw unavailable(`could not allocate IP from IPAM: no available IPv4 addresses on network ${ingress.Spec.Name}`);
  return store.nodes.modify(nodeId, (n) => (n.BerthIngress?.NetworkID === ingress.ID ? undefined : { ...n, BerthIngress: { NetworkID: ingress.ID, Address: withPrefix(ip, pool) } }));
}
