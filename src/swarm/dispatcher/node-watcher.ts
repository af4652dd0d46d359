/**
 * Run by the leader: turns heartbeats into node states. A node whose liveness key appears is ready; one
 * whose key lapses is down ("heartbeat failure"), and its manager status unreachable. A node not seen
 * since this watcher started (a new leader, a node just joined) gets one lease period of grace before it
 * is declared down, so a change of leader does not fail every node at once.
 */
import type { SwarmStore } from '../contracts.js';
import type { NodeState, SwarmNode } from '../types.js';
import { isKind, messageOf } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import { HEARTBEAT_TTL_SECONDS, type Liveness, type LivenessWatch } from './liveness.js';

export const HEARTBEAT_FAILURE = 'heartbeat failure';

export interface NodeWatcherOptions {
  store: SwarmStore;
  liveness: Liveness;
  /** How long a node not yet heard from stays `unknown` before it is down (default: the lease, 3 s). */
  graceMs?: number;
  /** How often the nodes are read again, for what the watch missed (default 5 s). */
  rereadMs?: number;
  /** How long a node written otherwise by someone else is left before this watcher corrects it (default 1 s). */
  settleMs?: number;
}

export class NodeWatcher {
  private readonly states = new Map<string, NodeState>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  private readonly checkTimers = new Map<string, NodeJS.Timeout>();
  private livenessWatch?: LivenessWatch;
  private stopNodes?: () => void;
  private alive = new Set<string>();
  private running = false;
  private rereadTimer: NodeJS.Timeout | undefined;
  /** Writes to one node's status happen one at a time, in the order of the changes. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(private readonly o: NodeWatcherOptions) {}

  /** The nodes' states as the leader sees them (LeaderContext.nodeStates). */
  nodeStates(): Map<string, NodeState> {
    return new Map(this.states);
  }

  async start(): Promise<void> {
    this.running = true;
    const pendingNodeEvents: Array<{ type: 'put' | 'delete'; node: SwarmNode }> = [];
    let listed = false;
    this.stopNodes = this.o.store.nodes.watch((e) => {
      if (!listed) return void pendingNodeEvents.push({ type: e.type, node: e.object });
      this.onNodeEvent(e.type, e.object);
    });
    this.livenessWatch = await this.o.liveness.watch((nodeId, alive) => this.onLiveness(nodeId, alive));
    this.alive = new Set(this.livenessWatch.alive);
    const nodes = await this.o.store.nodes.list();
    listed = true;
    for (const n of nodes) this.track(n);
    for (const e of pendingNodeEvents) this.onNodeEvent(e.type, e.node);
    this.rereadTimer = setInterval(() => void this.reread(), this.o.rereadMs ?? 5000);
    this.rereadTimer.unref();
  }

  /** Nodes the watch did not tell about (a gap while it resumed): tracked, corrected or forgotten. */
  private async reread(): Promise<void> {
    const nodes = await this.o.store.nodes.list().catch(() => undefined);
    if (!nodes || !this.running) return;
    const ids = new Set(nodes.map((n) => n.ID));
    for (const n of nodes) this.onNodeEvent('put', n);
    for (const id of [...this.states.keys()]) {
      if (!ids.has(id) && !this.writes.has(id)) this.onNodeEvent('delete', { ID: id } as SwarmNode);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.rereadTimer);
    this.livenessWatch?.stop();
    this.stopNodes?.();
    for (const t of [...this.graceTimers.values(), ...this.checkTimers.values()]) clearTimeout(t);
    this.graceTimers.clear();
    this.checkTimers.clear();
    await Promise.all([...this.writes.values()]);
  }

  private onNodeEvent(type: 'put' | 'delete', node: SwarmNode): void {
    if (type === 'delete') {
      this.states.delete(node.ID);
      clearTimeout(this.graceTimers.get(node.ID));
      this.graceTimers.delete(node.ID);
      return;
    }
    const state = this.states.get(node.ID);
    if (state === undefined) return this.track(node);
    // Someone else wrote the node (a promotion, a rejoin, another manager's watcher a moment ahead of
    // this one): if it still disagrees a little later, put the liveness back.
    if (state !== 'unknown' && !this.agrees(node, state)) this.checkLater(node.ID);
  }

  private checkLater(nodeId: string): void {
    if (this.checkTimers.has(nodeId)) return;
    const timer = setTimeout(() => {
      this.checkTimers.delete(nodeId);
      const state = this.states.get(nodeId);
      if (!this.running || state === undefined || state === 'unknown') return;
      void this.o.store.nodes.get(nodeId).then(
        (n) => {
          if (n && this.running && this.states.get(nodeId) === state && !this.agrees(n, state)) this.set(nodeId, state);
        },
        () => undefined,
      );
    }, this.o.settleMs ?? 1000);
    timer.unref();
    this.checkTimers.set(nodeId, timer);
  }

  private agrees(n: SwarmNode, state: NodeState): boolean {
    const message = state === 'down' ? HEARTBEAT_FAILURE : '';
    const reachability = state === 'ready' ? 'reachable' : 'unreachable';
    return n.Status.State === state && (n.Status.Message ?? '') === message && (!n.ManagerStatus || n.ManagerStatus.Reachability === reachability);
  }

  /** A node seen for the first time: ready if it beats, else down after the grace period. */
  private track(node: SwarmNode): void {
    if (this.states.has(node.ID)) return;
    if (this.alive.has(node.ID)) return this.set(node.ID, 'ready');
    // Known down already (before a change of leader): no grace to give.
    if (node.Status.State === 'down') return void this.states.set(node.ID, 'down');
    this.states.set(node.ID, 'unknown');
    const timer = setTimeout(() => {
      this.graceTimers.delete(node.ID);
      if (this.states.get(node.ID) === 'unknown') this.set(node.ID, 'down');
    }, this.o.graceMs ?? HEARTBEAT_TTL_SECONDS * 1000);
    timer.unref();
    this.graceTimers.set(node.ID, timer);
  }

  private onLiveness(nodeId: string, alive: boolean): void {
    if (alive) this.alive.add(nodeId);
    else this.alive.delete(nodeId);
    if (!this.running || !this.states.has(nodeId)) return;
    clearTimeout(this.graceTimers.get(nodeId));
    this.graceTimers.delete(nodeId);
    this.set(nodeId, alive ? 'ready' : 'down');
  }

  private set(nodeId: string, state: NodeState): void {
    this.states.set(nodeId, state);
    const previous = this.writes.get(nodeId) ?? Promise.resolve();
    const write = previous.then(() => this.write(nodeId, state));
    this.writes.set(nodeId, write);
    void write.then(() => {
      if (this.writes.get(nodeId) === write) this.writes.delete(nodeId);
    });
  }

  /** Node Status (and a manager's reachability) as the state says, unless it says so already. */
  private async write(nodeId: string, state: NodeState): Promise<void> {
    if (!this.running || this.states.get(nodeId) !== state) return; // a later change superseded it
    const message = state === 'down' ? HEARTBEAT_FAILURE : '';
    try {
      await this.o.store.nodes.modify(nodeId, (n) => {
        if (this.agrees(n, state)) return undefined;
        const reachability = state === 'ready' ? 'reachable' : 'unreachable';
        const { Message: _old, ...status } = n.Status;
        return {
          ...n,
          Status: { ...status, State: state, ...(message ? { Message: message } : {}) },
          ...(n.ManagerStatus ? { ManagerStatus: { ...n.ManagerStatus, Reachability: reachability } } : {}),
        };
      });
    } catch (err) {
      if (!isKind(err, 'NotFound')) log.warn('writing a node state failed', { node: nodeId, state, error: messageOf(err) });
    }
  }
}
