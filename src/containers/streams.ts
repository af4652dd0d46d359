import type { EventEmitter } from 'node:events';
import type { RequestContext } from '../api/http.js';
import type { Container } from './model.js';
import type { ContainerService } from './service.js';
import type { ExecRun, ExecService, ExecStartBody } from './exec.js';
import { readLogs, frameMultiplexed, type LogStream } from './logs.js';
import { boolParam, parseBody, readJson } from '../api/http.js';
import { conflict, invalidArgument, messageOf } from '../lib/errors.js';
import { parseTimestampNs } from '../lib/timestamps.js';
import { detachKeysOf } from './detach-keys.js';
import { sleep } from '../lib/sleep.js';


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
  // Docker's 501 for the none driver, before anything is sent.
  const source = svc.logs.source(c);
  const abort = new AbortController();
  const gone = () => abort.abort();
  req.socket.once('close', gone);
  res.once('close', gone);
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

// ---- hijacked streams: attach and exec start ----------------------------------------------------

/** Where a hijacked client's input goes (a container's or an exec's stdin). */
export interface StdinSink {
  /** false: wait for onDrain before writing more. */
  write(data: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** The input has ended: close the process's stdin. */
  closeStdin(): void;
}

/**
 * The client's end of a session: a hijacked socket, or a WebSocket connection (api/websocket.ts).
 * Events: 'data' (input), 'end' (the input is over), 'close', 'error'.
 */
export interface ClientConnection extends EventEmitter {
  write(data: Buffer): boolean;
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  readonly destroyed: boolean;
  readonly writableLength: number;
  setNoDelay?(noDelay?: boolean): unknown;
}

export interface SessionOptions {
  /** A terminal: raw output, and the detach keys apply. */
  tty: boolean;
  /** Raw output even without a terminal (the WebSocket attach); default: as tty. */
  raw?: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Where the client's input goes; without it the input is read and dropped. */
  stdin?: StdinSink;
  /**
   * When the client's input ends (half-close, detach or disconnect): close the process's stdin and
   * go on sending output (Docker's CloseStdin without a tty). Otherwise the end of the input ends
   * the session and the process's stdin stays open.
   */
  closeStdinOnEof: boolean;
  /**
   * The detach sequence, scanned in the input; empty for none. Docker applies it only with a tty
   * (without one the input is copied as it is: binary data may hold any sequence).
   */
  detachKeys: Buffer;
}

/** How a session ended: the output ended, the client detached, or the client went away. */
export type SessionEnd = 'ended' | 'detached' | 'closed';

/** A client's stream may lag this far behind before the client is dropped. */
const MAX_CLIENT_BACKLOG = 64 * 1024 * 1024;

/**
 * One hijacked connection carrying a process's I/O: output framed per stream (or raw with a tty),
 * input through the detach-key filter to a StdinSink. `done` tells how it ended.
 */
export class HijackedSession {
  readonly done: Promise<SessionEnd>;
  private settle!: (how: SessionEnd) => void;
  private over = false;
  private stdinClosed = false;
  private matched = 0;

  constructor(
    private readonly socket: ClientConnection,
    private readonly opts: SessionOptions,
  ) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    socket.setNoDelay?.(true);
    socket.on('error', () => this.stop('closed'));
    socket.on('close', () => this.stop('closed'));
    socket.on('data', (b: Buffer) => this.input(b));
    socket.on('end', () => this.inputEnded());
    socket.resume();
  }

  /** Sends output of one stream to the client (dropped if that stream was not asked for). */
  send(stream: LogStream, chunk: Buffer): void {
    if (this.over || this.socket.destroyed || chunk.length === 0) return;
    if (stream === 'stdout' ? !this.opts.stdout : !this.opts.stderr) return;
    this.socket.write((this.opts.raw ?? this.opts.tty) ? chunk : frameMultiplexed(stream, chunk));
    if (this.socket.writableLength > MAX_CLIENT_BACKLOG) this.stop('closed');
  }

  /** Sends text to the client as Docker reports an error inside a started stream (on stdout). */
  sendText(text: string): void {
    this.send('stdout', Buffer.from(text));
  }

  /** The process's output is over: flush and close the connection. */
  finish(): void {
    this.stop('ended');
  }

  private input(b: Buffer): void {
    const sink = this.opts.stdin;
    if (this.over || !sink || this.stdinClosed) return;
    const keys = this.opts.detachKeys;
    let out = b;
    if (keys.length && (this.matched > 0 || b.includes(keys[0]!))) {
      const fwd: number[] = [];
      for (const byte of b) {
        if (byte === keys[this.matched]) {
          if (++this.matched === keys.length) {
            if (fwd.length) sink.write(Buffer.from(fwd));
            this.stop('detached');
            return;
          }
          continue;
        }
        if (this.matched > 0) {
          // Not the sequence after all: what was held back goes through.
          for (let i = 0; i < this.matched; i++) fwd.push(keys[i]!);
          this.matched = 0;
          if (byte === keys[0]) {
            this.matched = 1;
            continue;
          }
        }
        fwd.push(byte);
      }
      out = Buffer.from(fwd);
    }
    if (out.length && !sink.write(out)) {
      this.socket.pause();
      sink.onDrain(() => this.socket.resume());
    }
  }

  private inputEnded(): void {
    if (this.over || !this.opts.stdin) return;
    if (this.opts.closeStdinOnEof) this.closeStdin();
    else this.stop('closed');
  }

  private closeStdin(): void {
    if (this.stdinClosed || !this.opts.stdin) return;
    this.stdinClosed = true;
    this.opts.stdin.closeStdin();
  }

  private stop(how: SessionEnd): void {
    if (this.over) return;
    this.over = true;
    if (how !== 'ended' && this.opts.closeStdinOnEof) this.closeStdin();
    const socket = this.socket;
    if (!socket.destroyed) {
      socket.end();
      // The client normally closes once it has read the end; do not wait for it forever.
      const timer = setTimeout(() => socket.destroy(), 5_000);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
    this.settle(how);
  }
}

/** A StdinSink that queues input until the real one exists (an exec's stdin before it starts). */
class DeferredSink implements StdinSink {
  private target?: StdinSink;
  private queued: Buffer[] = [];
  private closeQueued = false;

  write(data: Buffer): boolean {
    if (this.target) return this.target.write(data);
    this.queued.push(data);
    return true;
  }

  onDrain(cb: () => void): void {
    if (this.target) this.target.onDrain(cb);
    else setImmediate(cb);
  }

  closeStdin(): void {
    if (this.target) this.target.closeStdin();
    else this.closeQueued = true;
  }

  connect(target: StdinSink): void {
    this.target = target;
    for (const b of this.queued) target.write(b);
    this.queued = [];
    if (this.closeQueued) target.closeStdin();
  }
}

/**
 * The JSON body of a request that is about to be hijacked. After an HTTP upgrade Node hands the
 * connection over unparsed, so the body (Content-Length bytes) is read from the socket itself and
 * whatever follows it is put back for the stream.
 */
export async function readHijackJson(ctx: RequestContext): Promise<unknown> {
  const { req } = ctx;
  const upgrading = Boolean(req.headers.upgrade) && /\bupgrade\b/i.test(String(req.headers.connection ?? ''));
  if (!upgrading) return readJson(req);
  const len = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(len) || len <= 0) return undefined;
  if (len > 1024 * 1024) throw invalidArgument('request body is too large');
  const socket = req.socket;
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const cleanup = () => {
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', onEnd);
    };
    const onData = (b: Buffer) => {
      chunks.push(b);
      got += b.length;
      if (got < len) return;
      cleanup();
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > len) socket.unshift(all.subarray(len));
      resolve(all.subarray(0, len));
    };
    const onEnd = () => {
      cleanup();
      reject(invalidArgument('unexpected end of request body'));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
    socket.resume();
  });
  return parseBody(body.toString('utf8'));
}

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
  svc: ContainerService,
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
    if (svc.store.get(c.id)?.state.Running) await Promise.race([svc.wait(c.id, 'next-exit').catch(() => undefined), sleep(5_000, { unref: true })]);
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

/**
 * POST /exec/{id}/start without Detach: runs the exec session (exec.ts) with its I/O on the hijacked
 * connection. The stream ends once the exit code is recorded, so that exec inspect right after has it.
 * Errors from starting the process are written into the stream, as dockerd does.
 */
export async function execStartStream(ctx: RequestContext, execs: ExecService, id: string, body: ExecStartBody): Promise<void> {
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
