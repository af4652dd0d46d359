/**
 * Leadership among managers through etcd (CONTRACTS.md): a lease (TTL 2 s, kept alive every 500 ms)
 * and a create-if-absent transaction on LEADER_KEY whose value is the leader's node ID. The winner runs
 * the LeaderDuties until it stops or its lease cannot be renewed in time; the others retry each tick,
 * so when a leader dies its key vanishes with its lease and the next tick elects another.
 */
import { LEADER_KEY, type LeaderContext, type LeaderDuties } from '../contracts.js';
import type { EtcdClient } from '../etcd/client.js';
import { log } from '../../lib/log.js';

export interface LeadershipOptions {
  client: EtcdClient;
  nodeId: string;
  duties: LeaderDuties;
  context: () => LeaderContext;
  /** Called after gaining (true) or losing (false) leadership. */
  onChange?: (leader: boolean) => void;
  ttlSeconds?: number;
  tickMs?: number;
  /**
   * Whether the node holding leadership still answers (its control server). A holder that does not
   * answer twice in a row has its lease revoked, so a killed leader is replaced after the etcd
   * election rather than after its lease's TTL, which etcd extends on a change of etcd leader.
   */
  holderAlive?: (nodeId: string) => Promise<boolean>;
}

export class Leadership {
  private lease: string | undefined;
  private lastRenewed = 0;
  private leading = false;
  private running: { stop(): Promise<void> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private tickDone: Promise<void> = Promise.resolve();
  private holderMisses = 0;

  constructor(private readonly o: LeadershipOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Gives up leadership (duties stopped, lease revoked so another manager takes over at once). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.tickDone;
    await this.lose();
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await this.o.client.leaseRevoke(lease).catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tickDone = this.tick().finally(() => this.schedule(this.o.tickMs ?? 500));
    }, ms);
  }

  private async tick(): Promise<void> {
    const ttl = this.o.ttlSeconds ?? 2;
    try {
      if (!this.lease) {
        this.lease = (await this.o.client.leaseGrant(ttl)).id;
        this.lastRenewed = Date.now();
      } else if ((await this.o.client.leaseKeepAlive(this.lease)) <= 0) {
        this.lease = undefined; // expired: leadership went with it
        await this.lose();
        return;
      } else {
        this.lastRenewed = Date.now();
      }
      if (this.leading || this.stopped) return;
      const key = LEADER_KEY;
      const r = await this.o.client.txn([{ key, target: 'CREATE', result: 'EQUAL', number: 0 }], [{ put: { key, value: this.o.nodeId, lease: this.lease } }], [{ range: { key } }]);
      if (r.succeeded) return await this.gain();
      const failure = r.responses[0];
      const holder = failure && 'range' in failure ? failure.range.kvs[0] : undefined;
      if (!holder || holder.value === this.o.nodeId || !this.o.holderAlive) return;
      if (await this.o.holderAlive(holder.value)) {
        this.holderMisses = 0;
        return;
      }
      if (++this.holderMisses < 2 || !holder.lease) return;
      this.holderMisses = 0;
      log.warn('swarm: the leader does not answer; revoking its lease', { leader: holder.value });
      await this.o.client.leaseRevoke(holder.lease).catch(() => undefined);
    } catch (err) {
      // etcd unreachable: a leader that could not renew within its TTL must assume it lost the lease.
      if (this.leading && Date.now() - this.lastRenewed > ttl * 1000 - 250) {
        log.warn('swarm leadership lost: lease not renewed', { error: (err as Error).message });
        this.lease = undefined;
        await this.lose();
      }
    }
  }

  private async gain(): Promise<void> {
    if (this.stopped) return;
    this.leading = true;
    log.info('swarm: this node is the leader', { nodeId: this.o.nodeId });
    try {
      this.running = await this.o.duties.start(this.o.context());
    } catch (err) {
      log.warn('swarm: leader duties failed to start', { error: (err as Error).message });
    }
    this.o.onChange?.(true);
  }

  private async lose(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    const running = this.running;
    this.running = undefined;
    await running?.stop().catch((err: Error) => log.warn('swarm: leader duties failed to stop', { error: err.message }));
    this.o.onChange?.(false);
  }
}
