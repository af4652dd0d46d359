import type { RequestContext } from '../http.js';
import type { Container } from '../../containers/model.js';
import type { ContainerService } from '../../containers/service.js';
import { readLogs, type LogStream } from '../../containers/logs.js';
import { boolParam } from '../http.js';
import { conflict } from '../../lib/errors.js';
import { detachKeysOf } from '../../containers/detach-keys.js';
import { sleep } from '../../lib/sleep.js';
import { MULTIPLEXED, RAW } from './framing.js';
import { HijackedSession, type ClientConnection } from './session.js';

/**
 * POST /containers/{id}/attach: the container's live I/O through conmon's attach socket (attach.ts),
 * after the log so far when logs=1. A container that is not running is attached from its next start
 * (docker run and start -a attach first). Input reaches the container only if it was created with
 * OpenStdin; with a tty, the detach keys (default ctrl-p ctrl-q) end the session and leave the
 * container running.
 * Without a tty, when the container is StdinOnce, the end of the client's input closes the
 * container's stdin (`echo hi | docker run -i busybox cat`); otherwise it ends the session.
 */
export async function attachContainer(
  ctx: RequestContext,
  svc: Pick<ContainerService, 'emit' | 'io' | 'wait' | 'store' | 'logs'>,
  c: Container,
  /** Opens the client's connection instead of the hijack: the WebSocket attach (raw output). */
  open?: () => ClientConnection,
): Promise<void> {
  const { query } = ctx;
  const ref = ctx.params.id ?? c.name;
  if (c.state.Paused) throw conflict(`container ${ref} is paused, unpause the container before attach`);
  if (c.state.Restarting) throw conflict(`container ${ref} is restarting, wait until the container is running`);
  const detachKeys = detachKeysOf(query.get('detachKeys'));
  const stdout = boolParam(query, 'stdout');
  const stderr = boolParam(query, 'stderr');
  const logs = boolParam(query, 'logs');
  const stream = boolParam(query, 'stream');
  const useStdin = boolParam(query, 'stdin') && Boolean(c.config.OpenStdin);
  const tty = Boolean(c.config.Tty);

  const socket = open ? open() : ctx.hijack(tty ? RAW : MULTIPLEXED);
  svc.emit(c, 'attach');
  // Live output that arrives while the log is replayed waits here.
  let held: Array<[LogStream, Buffer]> | undefined = logs ? [] : undefined;
  let session: HijackedSession | undefined;
  let outputOver = false;
  const outputEnded = async () => {
    // conmon closes the connection just before it records the exit: wait for that record, so that
    // a client that asks for the exit code next gets it.
    if (svc.store.get(c.id)?.state.Running) await Promise.race([svc.wait(c.id, 'next-exit').catch(() => undefined), sleep(5_000, { unref: true })]); // container gone: nothing to wait for
    outputOver = true;
    if (!held) session?.finish();
  };
  const attachment = stream
    ? svc.io.attach(c, {
        output: (s, chunk) => (held ? held.push([s, chunk]) : session?.send(s, chunk)),
        end: () => void outputEnded(),
      })
    : undefined;
  session = new HijackedSession(socket, {
    tty,
    raw: tty || Boolean(open),
    stdout,
    stderr,
    stdin: useStdin ? attachment : undefined,
    closeStdinOnEof: Boolean(c.config.StdinOnce) && !tty,
    detachKeys: useStdin && tty ? detachKeys : Buffer.alloc(0),
  });
  // The none driver keeps nothing to replay; attach itself still works.
  const logSource = logs && (stdout || stderr) ? (() => { try { return svc.logs.source(c); } catch { return undefined; } })() : undefined;
  if (logSource) {
    await svc.logs.catchUp(c.id);
    const abort = new AbortController();
    void session.done.then(() => abort.abort());
    for await (const rec of readLogs(logSource, {
      stdout,
      stderr,
      tail: 'all',
      timestamps: false,
      follow: false,
      isRunning: () => false,
      signal: abort.signal,
    })) {
      session.send(rec.stream, rec.line);
    }
  }
  const backlog = held ?? [];
  held = undefined;
  for (const [s, chunk] of backlog) session.send(s, chunk);
  if (!stream || outputOver) session.finish();
  const how = await session.done;
  attachment?.detach();
  if (how === 'detached') svc.emit(c, 'detach');
}
