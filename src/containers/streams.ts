import type { RequestContext } from '../api/http.js';
import type { Container } from './model.js';
import type { ContainerService } from './service.js';
import { readLogs, frameMultiplexed } from './logs.js';
import { boolParam } from '../api/http.js';
import { invalidArgument } from '../lib/errors.js';
import { parseTimestampNs } from '../lib/timestamps.js';

/** Docker's content types for raw (TTY) and multiplexed (stdout/stderr framed) streams. */
const RAW = 'application/vnd.docker.raw-stream';
const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';

/** GET /containers/{id}/logs: conmon's log file, framed per stream unless the container has a TTY. */
export async function streamLogs(ctx: RequestContext, svc: ContainerService, c: Container): Promise<void> {
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
  const abort = new AbortController();
  req.socket.once('close', () => abort.abort());
  res.writeHead(200, { 'Content-Type': tty ? RAW : MULTIPLEXED });
  res.flushHeaders();
  for await (const rec of readLogs(svc.runner.paths(c.id).log, {
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
    // readLogs has already put the timestamp in front of the line when asked to.
    if (!res.write(tty ? rec.line : frameMultiplexed(rec.stream, rec.line))) await new Promise((r) => res.once('drain', r));
  }
  res.end();
}

/**
 * POST /containers/{id}/attach for output: the container's stdout and stderr from the moment of
 * attaching until its next exit, read from conmon's log. Stdin attach comes with interactive I/O.
 */
export async function attachOutput(ctx: RequestContext, svc: ContainerService, c: Container): Promise<void> {
  const { query } = ctx;
  const stdout = boolParam(query, 'stdout');
  const stderr = boolParam(query, 'stderr');
  const logs = boolParam(query, 'logs');
  const stream = boolParam(query, 'stream');
  const tty = Boolean(c.config.Tty);
  const since = logs ? undefined : Date.now() * 1e6;
  let exited = !stream;
  const done = stream ? svc.wait(c.id, 'next-exit').then(() => void (exited = true)) : Promise.resolve();
  const socket = ctx.hijack(tty ? RAW : MULTIPLEXED);
  svc.emit(c, 'attach');
  const abort = new AbortController();
  socket.once('close', () => abort.abort());
  socket.on('error', () => abort.abort());
  socket.resume(); // stdin is not attached yet: discard anything the client sends
  if (stdout || stderr) {
    for await (const rec of readLogs(svc.runner.paths(c.id).log, {
      stdout,
      stderr,
      since,
      tail: 'all',
      timestamps: false,
      follow: stream,
      isRunning: () => !exited,
      signal: abort.signal,
    })) {
      if (socket.destroyed) break;
      socket.write(tty ? rec.line : frameMultiplexed(rec.stream, rec.line));
    }
  }
  await done;
  socket.end();
}
