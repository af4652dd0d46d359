/**
 * AgentChannel implementations: over the control plane to whichever manager answers (workers, and
 * managers' agents could use it too), or in-process to the manager's own dispatcher. Both heartbeat
 * every second while someone watches the view, so a node is alive exactly while its agent listens.
 */
import type { AgentChannel, NodeView } from '../contracts.js';
import type { NodeDescription } from '../types.js';
import { messageOf } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import { sleep } from '../../lib/sleep.js';
import type { Dispatcher, TaskUpdate } from './dispatcher.js';
import { HEARTBEAT_PATH, SESSION_PATH, STATUS_PATH, type DispatcherClient } from './transport.js';

/** Berth's agents beat every second (CONTRACTS.md); the lease is three of these. */
export const HEARTBEAT_PERIOD_MS = 1000;

export interface ChannelOptions {
  heartbeatMs?: number;
  /** The node's description, sent with its heartbeats (the dispatcher stores it when it changed). */
  describe?: () => NodeDescription | undefined;
}

export interface RemoteChannelOptions extends ChannelOptions {
  /** Reconnect delays: from minBackoffMs, doubling, up to maxBackoffMs (defaults 250 ms and 5 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Attempts for one report before it fails (default 4). */
  reportAttempts?: number;
  /**
   * The managers' control addresses now. With it, a session refused by a manager (503: demoted, leaving)
   * or heartbeats failing in a row move the client's first choice to the next manager.
   */
  managers?: () => string[];
}

/** Heartbeats failing in a row before the session is opened again (on another manager when possible). */
const FAILED_BEATS_BEFORE_RECONNECT = 3;

/** Heartbeats while at least one watch is open. */
function heartbeater(beat: () => Promise<void>, periodMs: number): { acquire(): () => void } {
  let watchers = 0;
  let timer: NodeJS.Timeout | undefined;
  const once = () => void beat().catch((err) => log.debug('heartbeat failed', { error: messageOf(err) }));
  return {
    acquire() {
      if (watchers++ === 0) {
        once();
        timer = setInterval(once, periodMs);
        timer.unref();
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (--watchers === 0) clearInterval(timer);
      };
    },
  };
}

function isNodeView(v: unknown, nodeId: string): v is NodeView {
  const view = v as Partial<NodeView> | null;
  return !!view && typeof view === 'object' && view.nodeId === nodeId && Array.isArray(view.tasks) && Array.isArray(view.nodes);
}

/**
 * The agent's line to the managers over the control plane. The client moves to the next manager when one
 * cannot be reached; a session that ends is opened again after a growing delay (reset by every view).
 */
export function remoteAgentChannel(client: DispatcherClient, nodeId: string, o: RemoteChannelOptions = {}): AgentChannel {
  const minBackoff = o.minBackoffMs ?? 250;
  const maxBackoff = o.maxBackoffMs ?? 5000;
  let rotation = 0;
  /** Puts the next manager first, for the next connection. */
  const nextManager = () => {
    const addrs = o.managers?.() ?? [];
    if (addrs.length < 2 || !client.setAddrs) return;
    rotation = (rotation + 1) % addrs.length;
    client.setAddrs([...addrs.slice(rotation), ...addrs.slice(0, rotation)]);
  };
  /** Sessions open now: a run of failed heartbeats restarts them (a manager gone without a word). */
  const sessions = new Set<{ restart(): void }>();
  let failedBeats = 0;
  const beats = heartbeater(async () => {
    const description = o.describe?.();
    try {
      await client.call('POST', HEARTBEAT_PATH, description ? { description } : {});
      failedBeats = 0;
    } catch (err) {
      if (++failedBeats >= FAILED_BEATS_BEFORE_RECONNECT) {
        failedBeats = 0;
        nextManager();
        for (const s of [...sessions]) s.restart();
      }
      throw err;
    }
  }, o.heartbeatMs ?? HEARTBEAT_PERIOD_MS);

  return {
    watch(onView) {
      let stopped = false;
      let failures = 0;
      /** The session open now (a wrapper, so that the end of an older one is told apart). */
      let session: { stream?: { close(): void } } | undefined;
      let retry: NodeJS.Timeout | undefined;
      const open = () => {
        if (stopped) return;
        const current: { stream?: { close(): void } } = {};
        session = current;
        current.stream = client.stream(
          SESSION_PATH,
          (msg) => {
            if (stopped || session !== current || !isNodeView(msg, nodeId)) return;
            failures = 0;
            try {
              onView(msg);
            } catch (err) {
              log.warn('the agent failed on a node view', { error: messageOf(err) });
            }
          },
          (err) => {
            if (stopped || session !== current) return;
            session = undefined;
            if ((err as { kind?: string } | undefined)?.kind === 'Unavailable' || failures > 0) nextManager();
            const delay = Math.min(maxBackoff, minBackoff * 2 ** failures++);
            log.debug('dispatcher session ended; reconnecting', { error: err ? messageOf(err) : 'closed', delayMs: delay });
            retry = setTimeout(open, delay);
            retry.unref();
          },
        );
      };
      const handle = {
        restart() {
          if (stopped) return;
          clearTimeout(retry);
          const old = session;
          session = undefined;
          old?.stream?.close();
          open();
        },
      };
      sessions.add(handle);
      const release = beats.acquire();
      open();
      return () => {
        stopped = true;
        sessions.delete(handle);
        clearTimeout(retry);
        session?.stream?.close();
        release();
      };
    },

    async report(updates) {
      if (!updates.length) return;
      const attempts = o.reportAttempts ?? 4;
      for (let i = 1; ; i++) {
        try {
          await client.call('POST', STATUS_PATH, { updates });
          return;
        } catch (err) {
          // An answer that refuses the report is final; a manager that cannot be reached, or is no longer one, is not.
          const kind = (err as { kind?: string }).kind;
          if (i >= attempts || (kind !== undefined && kind !== 'Unavailable')) throw err;
          if (kind === 'Unavailable') nextManager();
          await sleep(Math.min(maxBackoff, minBackoff * 2 ** (i - 1)));
        }
      }
    },
  };
}

/** The manager's own agent, talking to the dispatcher in the same process. */
export function localAgentChannel(dispatcher: Pick<Dispatcher, 'subscribe' | 'report' | 'heartbeat'>, nodeId: string, o: ChannelOptions = {}): AgentChannel {
  const beats = heartbeater(() => dispatcher.heartbeat(nodeId, o.describe?.()), o.heartbeatMs ?? HEARTBEAT_PERIOD_MS);
  return {
    watch(onView) {
      const release = beats.acquire();
      const unsubscribe = dispatcher.subscribe(nodeId, onView);
      return () => {
        unsubscribe();
        release();
      };
    },
    report: (updates: TaskUpdate[]) => dispatcher.report(nodeId, updates),
  };
}
