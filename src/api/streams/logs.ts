import type { RequestContext } from '../http.js';
import type { Container } from '../../containers/model.js';
import type { ContainerService } from '../../containers/service.js';
import { readLogs } from '../../containers/logs.js';
import { boolParam } from '../http.js';
import { invalidArgument } from '../../lib/errors.js';
import { parseTimestampNs } from '../../lib/timestamps.js';
import { MULTIPLEXED, RAW, frameMultiplexed } from './framing.js';

/** GET /containers/{id}/logs: conmon's log file, framed per stream unless the container has a TTY. */
export async function streamLogs(ctx: RequestContext, svc: Pick<ContainerService, 'logs' | 'store'>, c: Container): Promise<void> {
  const { query, res, req } = ctx;
  const stdout = boolParam(query, 'stdout');
  const stderr = boolParam(query, 'stderr');
  if (!stdout && !stderr) throw invalidArgument('Bad parameters: you must choose at least one stream');
  const tailRaw = query.get('tail');
  const tail = !tailRaw || tailRaw === 'all' ? 'all' : Number(tailRaw);
  const since = query.get('since') && query.get('since') !== '0' ? parseTimestampNs(query.get('since')!) : undefined;
  const until = query.get('until') && query.get('until') !== '0' ? parseTimestampNs(query.get('until')!) : undefined;
  const timestamps = boolParam(query, 'timestamps');
  const follow = boolParam(query, 'follow');
  const tty = Boolean(c.config.Tty);
  // Docker's 501 for the none driver, before anything is sent.
  const source = svc.logs.source(c);
  const abort = new AbortController();
  const gone = () => abort.abort();
  req.socket.once('close', gone);
  res.once('close', gone);
  await svc.logs.catchUp(c.id);
  // The client may have left while the copy caught up: then its 'close' has already been.
  if (req.socket.destroyed) abort.abort();
  res.writeHead(200, { 'Content-Type': tty ? RAW : MULTIPLEXED });
  res.flushHeaders();
  // A client that stops reading and then leaves: the wait for 'drain' ends with the connection.
  const drained = () =>
    new Promise<void>((resolve) => {
      if (abort.signal.aborted) return resolve();
      const done = () => {
        res.off('drain', done);
        abort.signal.removeEventListener('abort', done);
        resolve();
      };
      res.once('drain', done);
      abort.signal.addEventListener('abort', done);
    });
  try {
    await writeLogs();
  } finally {
    // A kept-alive connection outlives this request: leave no listener on it.
    req.socket.off('close', gone);
  }
  if (!abort.signal.aborted) res.end();

  async function writeLogs(): Promise<void> {
    for await (const rec of readLogs(source, {
      stdout,
      stderr,
      since,
      until,
      // Docker treats a tail that is not a whole number as "all".
      tail: typeof tail === 'number' && Number.isInteger(tail) && tail >= 0 ? tail : 'all',
      timestamps,
      follow,
      isRunning: () => Boolean(svc.store.get(c.id)?.state.Running),
      signal: abort.signal,
    })) {
      if (abort.signal.aborted) return;
      // readLogs has already put the timestamp in front of the line when asked to.
      if (!res.write(tty ? rec.line : frameMultiplexed(rec.stream, rec.line))) await drained();
    }
  }
}
