import type { EventEmitter } from 'node:events';
import type { LogStream } from '../../containers/logs.js';
import { frameMultiplexed } from './framing.js';

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
export class DeferredSink implements StdinSink {
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
