import type { Router } from '../router.js';
import type { RequestContext } from '../http.js';
import type { ServiceLogs } from '../../swarm/agent/logs.js';
import { detailsPrefix, parseLogQuery } from '../../swarm/agent/logs.js';
import { unavailable } from '../../lib/errors.js';
import { versionAtLeast } from '../version.js';
import { MULTIPLEXED, RAW, frameMultiplexed } from '../streams/framing.js';
import { NOT_A_MANAGER_INACTIVE as NOT_A_MANAGER } from '../../swarm/manager/errors.js';


export interface SwarmLogsBackend {
  /** Absent until the daemon is in a swarm: the routes then answer as a node outside one (503). */
  serviceLogs?: () => ServiceLogs | undefined;
}

/** GET /services/{id}/logs and GET /tasks/{id}/logs: every task's log from every node, as dockerd's swarmLogs writes them. */
export function swarmLogRoutes(router: Router, s: SwarmLogsBackend): void {
  router.get('/services/{id}/logs', (ctx) => streamSwarmLogs(ctx, s, { service: ctx.params.id! }));
  router.get('/tasks/{id}/logs', (ctx) => streamSwarmLogs(ctx, s, { task: ctx.params.id! }));
}

async function streamSwarmLogs(ctx: RequestContext, s: SwarmLogsBackend, selector: { service?: string; task?: string }): Promise<void> {
  const { req, res, query } = ctx;
  const logs = s.serviceLogs?.();
  if (!logs) throw unavailable(NOT_A_MANAGER);
  // Everything that can fail with a status is checked before the 200 goes out.
  const q = parseLogQuery(query);
  const { tasks, tty } = await logs.select(selector);
  const mux = !tty && versionAtLeast(ctx.version, '1.42');
  const abort = new AbortController();
  const gone = () => abort.abort();
  req.socket.once('close', gone);
  res.once('close', gone);
  res.writeHead(200, { 'Content-Type': mux ? MULTIPLEXED : RAW });
  res.flushHeaders();
  const drained = () =>
    new Promise<void>((resolve) => {
      if (abort.signal.aborted) return resolve();
      res.once('drain', resolve);
      abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  try {
    for await (const m of logs.gather(tasks, q, abort.signal)) {
      if (abort.signal.aborted) break;
      let out: Buffer;
      if ('error' in m) {
        const text = Buffer.from(`Error grabbing logs: ${m.error}\n`);
        out = mux ? systemFrame(text) : text;
      } else {
        let line = m.line;
        if (q.details) line = Buffer.concat([Buffer.from(detailsPrefix(m.context) + ' '), line]);
        if (q.timestamps) line = Buffer.concat([Buffer.from(m.time + ' '), line]);
        out = mux ? frameMultiplexed(m.stream, line) : line;
      }
      if (!res.write(out)) await drained();
    }
  } finally {
    req.socket.off('close', gone);
  }
  if (!abort.signal.aborted) res.end();
}

/** A frame on stream 3 (systemerr), where dockerd writes a source's failure. */
function systemFrame(payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 3;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}
