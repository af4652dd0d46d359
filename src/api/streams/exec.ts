import type { RequestContext } from '../http.js';
import type { ExecRun, ExecService, ExecStartBody } from '../../containers/exec.js';
import type { LogStream } from '../../containers/logs.js';
import { messageOf } from '../../lib/errors.js';
import { detachKeysOf } from '../../containers/detach-keys.js';
import { MULTIPLEXED, RAW } from './framing.js';
import { DeferredSink, HijackedSession } from './session.js';

/**
 * POST /exec/{id}/start without Detach: runs the exec session (exec.ts) with its I/O on the hijacked
 * connection. The stream ends once the exit code is recorded, so that exec inspect right after has it.
 * Errors from starting the process are written into the stream, as dockerd does.
 */
export async function execStartStream(ctx: RequestContext, execs: Pick<ExecService, 'startable' | 'start'>, id: string, body: ExecStartBody): Promise<void> {
  const ex = execs.startable(id);
  const tty = ex.config.Tty;
  // dockerd frames the stream by the start request's Tty, not the exec's: docker-py starts a TTY exec
  // without it and expects multiplexed frames.
  const rawOutput = Boolean(body.Tty);
  const socket = ctx.hijack(rawOutput ? RAW : MULTIPLEXED);
  // Input may come before the process runs: it waits in the sink until then.
  const stdin = ex.config.AttachStdin ? new DeferredSink() : undefined;
  const session = new HijackedSession(socket, {
    tty,
    raw: rawOutput,
    stdout: ex.config.AttachStdout,
    stderr: ex.config.AttachStderr,
    stdin,
    // Docker's exec closes the process's stdin at the end of the input, without a tty.
    closeStdinOnEof: !tty,
    detachKeys: stdin && tty ? detachKeysOf(ex.config.DetachKeys, 'escape') : Buffer.alloc(0),
  });
  let run: ExecRun;
  try {
    run = await execs.start(id, { attach: true, consoleSize: body.ConsoleSize ?? undefined });
  } catch (err) {
    session.sendText(`${messageOf(err)}\r\n`);
    session.finish();
    return;
  }
  const sock = run.socket!;
  stdin?.connect({ write: (b) => sock.write(b), onDrain: (cb) => sock.once('drain', cb), closeStdin: () => sock.closeStdin() });
  sock.on('data', (stream: LogStream, chunk: Buffer) => session.send(stream, chunk));
  // The session ends once the exit is recorded, or recording it failed.
  const finish = () => void run.done.then(() => session.finish(), () => session.finish());
  sock.on('end', finish);
  if (sock.isEnded) finish();
  await session.done;
}
