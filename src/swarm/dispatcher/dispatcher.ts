/**
 * The manager side of the agents' line (every manager runs one): each subscribed node gets its NodeView
 * now and again whenever it changes, task statuses reported by agents are written forward-only, and
 * heartbeats keep the node's liveness key alive (the leader's NodeWatcher turns that into node states).
 */
import type { NodeView, SecretSealer, SwarmStore } from '../contracts.js';
import type { NodeDescription, Secret, Task, TaskStatus } from '../types.js';
import { TASK_STATE_ORDER } from '../types.js';
import { isKind, messageOf, notFound, unavailable } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import type { Liveness } from './liveness.js';
import { StoreMirror } from './mirror.js';
import { buildNodeView, sharedSignature, sharedView, stateIndex, viewSignature } from './view.js';
import type { OpenSecret } from './payloads.js';

export interface DispatcherOptions {
  store: SwarmStore;
  liveness: Liveness;
  /** Store changes within this window make one recomputation (default 20 ms). */
  debounceMs?: number;
  /** Full re-reads of the store behind the watch: the first after firstMs, then every everyMs (defaults 1 s, 15 s). */
  resync?: { firstMs: number; everyMs: number };
  /**
   * Opens the sealed secrets the nodes' tasks reference (issue 16). Without it no secret reaches a
   * node and tasks that need one fail there.
   */
  sealer?: SecretSealer;
}

export type TaskUpdate = { taskId: string; status: TaskStatus };

interface Subscriber {
  nodeId: string;
  onView: (view: NodeView) => void;
  /** Called when the dispatcher stops (this manager is demoted or leaves): the session must end. */
  onClose?: () => void;
  /** The signature of the last view this subscriber got, so only changes are pushed. */
  last?: string;
}

export class Dispatcher {
  private readonly mirror: StoreMirror;
  private readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  /** Once stopped (demoted, leaving), it serves no one: agents go to another manager. */
  private stopped = false;

  /** Opened secrets by `ID@revision`, so views are not decrypted again on every push; only those still referenced are kept. */
  private opened = new Map<string, string>();
  private warnedNoSealer = false;

  constructor(private readonly o: DispatcherOptions) {
    this.mirror = new StoreMirror(o.store, () => this.schedule(), o.resync);
  }

  /** The clear data (base64) of a stored secret; undefined (and a warning without the data) when it cannot be opened. */
  private readonly open: OpenSecret = (secret: Secret) => {
    const key = `${secret.ID}@${secret.Version.Index}`;
    const cached = this.opened.get(key);
    if (cached !== undefined) return cached;
    if (!this.o.sealer) {
      if (!this.warnedNoSealer) log.warn('dispatcher: a task references a secret but this manager has no secrets key', { secret: secret.ID });
      this.warnedNoSealer = true;
      return undefined;
    }
    if (!secret.BerthSealed) return undefined;
    try {
      const data = this.o.sealer.open(secret.BerthSealed).toString('base64');
      this.opened.set(key, data);
      return data;
    } catch (err) {
      log.warn('dispatcher: a secret could not be opened', { secret: secret.ID, error: messageOf(err) });
      return undefined;
    }
  };

  /** Forgets opened secrets no view of this round used (removed, or no longer referenced). */
  private forgetUnused(views: Iterable<NodeView>): void {
    if (!this.opened.size) return;
    const used = new Set<string>();
    for (const v of views) for (const s of v.payloads?.secrets ?? []) used.add(s.ID);
    for (const key of this.opened.keys()) if (!used.has(key.slice(0, key.lastIndexOf('@')))) this.opened.delete(key);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.mirror.start();
  }

  stop(): void {
    this.started = false;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.mirror.stop();
    this.opened.clear();
    const subs = [...this.subscribers];
    this.subscribers.clear();
    for (const sub of subs) sub.onClose?.();
  }

  /**
   * Calls onView with the node's view now (once the dispatcher has read the store) and on every change;
   * onClose when the dispatcher stops. Returns the unsubscribe function.
   */
  subscribe(nodeId: string, onView: (view: NodeView) => void, onClose?: () => void): () => void {
    this.assertServing();
    const sub: Subscriber = { nodeId, onView, ...(onClose ? { onClose } : {}) };
    this.subscribers.add(sub);
    if (this.mirror.isReady) {
      const snapshot = this.mirror.snapshot();
      const shared = sharedView(snapshot);
      const view = buildNodeView(nodeId, snapshot, shared, this.open);
      this.deliver(sub, view, viewSignature(view, sharedSignature(shared)));
    }
    return () => void this.subscribers.delete(sub);
  }

  /** The node's view as the dispatcher sees the store now. */
  view(nodeId: string): NodeView {
    const snapshot = this.mirror.snapshot();
    return buildNodeView(nodeId, snapshot, sharedView(snapshot), this.open);
  }

  /**
   * Writes what a node saw happen to its tasks. States only move forward (an older report arriving late
   * changes nothing); a task not assigned to that node, or gone, is left alone.
   */
  async report(nodeId: string, updates: TaskUpdate[]): Promise<void> {
    this.assertServing();
    // The last word on each task: agents send a task's changes in order.
    const latest = new Map<string, TaskStatus>();
    for (const u of updates) latest.set(u.taskId, u.status);
    await Promise.all(
      [...latest].map(async ([taskId, status]) => {
        try {
          const change = (t: Task) => applyStatus(t, nodeId, status);
          // The mirror's copy is usually current: a write against it saves the store a read; a
          // conflict (the mirror lagged) falls back to reading the store.
          const held = this.mirror.isReady ? this.mirror.get('tasks', taskId) : undefined;
          const next = held && change(structuredClone(held));
          if (next) {
            try {
              await this.o.store.tasks.update(next);
              return;
            } catch (err) {
              if (!isKind(err, 'Conflict')) throw err;
            }
          }
          await this.o.store.tasks.modify(taskId, change);
        } catch (err) {
          if (isKind(err, 'NotFound')) return;
          log.warn('writing a task status failed', { task: taskId, node: nodeId, error: messageOf(err) });
          throw err;
        }
      }),
    );
  }

  /** The node is alive; its description (hostname, resources, engine) is refreshed when it sends one that changed. */
  async heartbeat(nodeId: string, description?: NodeDescription): Promise<void> {
    this.assertServing();
    let node = this.mirror.isReady ? this.mirror.get('nodes', nodeId) : undefined;
    if (this.mirror.isReady && !node) {
      // The mirror may lag a join by a moment: the store has the last word.
      node = await this.o.store.nodes.get(nodeId);
      if (!node) throw notFound(`node ${nodeId} not found`);
    }
    await this.o.liveness.beat(nodeId);
    if (description && node && JSON.stringify(node.Description) !== JSON.stringify(description)) {
      await this.o.store.nodes.modify(nodeId, (n) => (JSON.stringify(n.Description) === JSON.stringify(description) ? undefined : { ...n, Description: description }));
    }
  }

  private assertServing(): void {
    if (this.stopped) throw unavailable('This node is not a swarm manager.');
  }

  private schedule(): void {
    if (!this.started || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.push();
    }, this.o.debounceMs ?? 20);
  }

  private push(): void {
    if (!this.subscribers.size || !this.mirror.isReady) return;
    const snapshot = this.mirror.snapshot();
    const shared = sharedView(snapshot);
    const sharedSig = sharedSignature(shared);
    const views = new Map<string, { view: NodeView; signature: string }>();
    for (const sub of [...this.subscribers]) {
      let v = views.get(sub.nodeId);
      if (!v) {
        const view = buildNodeView(sub.nodeId, snapshot, shared, this.open);
        v = { view, signature: viewSignature(view, sharedSig) };
        views.set(sub.nodeId, v);
      }
      if (v.signature !== sub.last) this.deliver(sub, v.view, v.signature);
    }
    this.forgetUnused([...views.values()].map((v) => v.view));
  }

  private deliver(sub: Subscriber, view: NodeView, signature: string): void {
    sub.last = signature;
    try {
      sub.onView(view);
    } catch (err) {
      log.warn('a node view subscriber failed', { node: sub.nodeId, error: messageOf(err) });
    }
  }
}

/** The task with the node's status applied, or undefined when it must not change. */
export function applyStatus(t: Task, nodeId: string, status: TaskStatus): Task | undefined {
  if (t.NodeID !== nodeId) return undefined;
  if (!TASK_STATE_ORDER.includes(status.State)) return undefined;
  if (stateIndex(status.State) < stateIndex(t.Status.State)) return undefined;
  if (JSON.stringify(t.Status) === JSON.stringify(status)) return undefined;
  return { ...t, Status: status };
}
