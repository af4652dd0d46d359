/** The dispatcher's control-plane routes: the view session, status reports and heartbeats of agents. */
import type { NodeDescription, TaskStatus } from '../types.js';
import { TASK_STATE_ORDER } from '../types.js';
import { forbidden, invalidArgument, unavailable } from '../../lib/errors.js';
import type { Dispatcher, TaskUpdate } from './dispatcher.js';
import { HEARTBEAT_PATH, SESSION_PATH, STATUS_PATH, type ControlRequest, type DispatcherServer } from './transport.js';

/** The node calling: from its certificate, never from what it says. */
function callerOf(req: ControlRequest): string {
  if (!req.peer?.nodeId) throw forbidden('a node certificate is required');
  return req.peer.nodeId;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export function parseTaskUpdates(body: unknown): TaskUpdate[] {
  const updates = isObject(body) ? body.updates : undefined;
  if (!Array.isArray(updates)) throw invalidArgument('updates must be a list');
  return updates.map((u, i) => {
    const status = isObject(u) ? u.status : undefined;
    if (!isObject(u) || typeof u.taskId !== 'string' || !isObject(status)) throw invalidArgument(`updates[${i}]: taskId and status are required`);
    if (typeof status.State !== 'string' || !TASK_STATE_ORDER.includes(status.State as TaskStatus['State'])) throw invalidArgument(`updates[${i}]: invalid task state ${JSON.stringify(status.State)}`);
    if (typeof status.Timestamp !== 'string' || typeof (status.Message ?? '') !== 'string') throw invalidArgument(`updates[${i}]: Timestamp and Message must be strings`);
    return { taskId: u.taskId, status: { ...status, Message: status.Message ?? '' } as TaskStatus };
  });
}

type DispatcherLike = Pick<Dispatcher, 'subscribe' | 'report' | 'heartbeat'>;

const REGISTERED = new WeakMap<DispatcherServer, { target: DispatcherLike | (() => DispatcherLike | undefined) }>();

/**
 * The routes on the node's ControlServer. `dispatcher` may be a getter, for a node whose manager role
 * comes and goes (promote/demote) while its ControlServer stays: without a dispatcher the routes answer
 * 503 and the agent's channel moves on to another manager.
 */
export function registerDispatcherRoutes(server: DispatcherServer, dispatcher: DispatcherLike | (() => DispatcherLike | undefined)): void {
  // A node promoted again registers again on the same server: the routes stay, the dispatcher changes
  // (routes added twice would leave the first, stopped, dispatcher answering).
  const registered = REGISTERED.get(server);
  if (registered) {
    registered.target = dispatcher;
    return;
  }
  const slot = { target: dispatcher };
  REGISTERED.set(server, slot);
  const current = (): DispatcherLike => {
    const d = typeof slot.target === 'function' ? slot.target() : slot.target;
    if (!d) throw unavailable('This node is not a swarm manager.');
    return d;
  };

  server.stream(SESSION_PATH, async (req, send, signal) => {
    const nodeId = callerOf(req);
    if (signal.aborted) return;
    let unsubscribe = () => {};
    try {
      // Until the peer goes, or this dispatcher stops (the agent then finds another manager).
      await new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => resolve(), { once: true });
        unsubscribe = current().subscribe(nodeId, send, resolve);
      });
    } finally {
      unsubscribe();
    }
  });

  server.handle('POST', STATUS_PATH, async (req) => {
    await current().report(callerOf(req), parseTaskUpdates(req.body));
    return {};
  });

  server.handle('POST', HEARTBEAT_PATH, async (req) => {
    const description = isObject(req.body) && isObject(req.body.description) ? (req.body.description as unknown as NodeDescription) : undefined;
    await current().heartbeat(callerOf(req), description);
    return {};
  });
}
