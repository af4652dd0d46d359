/**
 * Adapter for conmon's I/O channels: the attach socket and the control FIFO.
 *
 * The attach socket (socketDir/<uuid>/attach, see conmon.ts) is a SOCK_SEQPACKET unix socket; Node's
 * net module cannot open those, so the native node-unix-socket package does. What conmon 2.1.6 does
 * with a connection (measured, and as its conn_sock.c reads):
 *  - every message it sends is one read of the container's output, with one byte in front naming the
 *    stream: 2 = stdout, 3 = stderr. With a terminal (-t) everything is stdout. Messages go to every
 *    connected client, and only while one is connected: output before the connect is not replayed.
 *  - a message we send goes to the container's stdin (conmon -i). conmon reads at most 32 KiB per
 *    message and a longer one would be cut, so writes are split into 8 KiB messages.
 *  - when our side shuts down its write half (or closes), conmon stops reading from us and, unless it
 *    was started with --leave-stdin-open, closes the container's stdin: a `cat` then sees EOF. The
 *    output still flows to us after a half-close.
 *  - when the container exits, conmon drains the output, closes every client (we see 'end'), and only
 *    then writes its exit file.
 * conmon writes to a client with blocking writes, so a client that stops reading stalls the container's
 * output (and its log). AttachSocket therefore always reads.
 *
 * The control FIFO <bundle>/ctl takes lines "<type> <height> <width>\n"; type 1 resizes the terminal
 * (conmon passes the size to the pty with TIOCSWINSZ; sizes above 1000 are refused by conmon). conmon
 * only reads resizes once it holds a terminal, so resize is only for containers (and exec sessions)
 * that have one.
 */
import { EventEmitter } from 'node:events';
import fs, { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import { SeqpacketSocket } from 'node-unix-socket';

export type OutputStream = 'stdout' | 'stderr';

/** sizeof(sockaddr_un.sun_path): a socket path must be shorter (with its NUL). */
const UNIX_PATH_MAX = 108;
/** The largest message written to conmon at once (conmon reads 32 KiB per message). */
const MAX_MESSAGE = 8192;
/** Bytes queued towards conmon beyond which write() asks the caller to wait for 'drain'. */
const HIGH_WATER = 256 * 1024;

/**
 * One connection to a conmon attach socket.
 * Events: 'data' (stream, chunk) for each output message; 'end' once, when conmon closed the
 * connection (the process exited or conmon went away) or close() was called; 'drain' when queued
 * stdin has been handed to the kernel after write() returned false.
 */
export class AttachSocket extends EventEmitter {
  private ended = false;
  private stdinClosed = false;
  private pending = 0;

  private constructor(private readonly sock: SeqpacketSocket) {
    super();
    sock.on('data', (buf: Buffer) => {
      if (buf.length < 1) return;
      const tag = buf[0];
      // 2 is stdout and 3 stderr; anything else is not output (conmon sends nothing else today).
      if (tag !== 2 && tag !== 3) return;
      this.emit('data', tag === 3 ? 'stderr' : 'stdout', buf.subarray(1));
    });
    sock.on('end', () => this.finish());
    sock.on('close', () => this.finish());
    sock.on('error', (err: Error) => {
      this.lastError = err;
      this.finish();
    });
  }

  /** The socket error that ended the connection, if one did. */
  lastError?: Error;

  /**
   * Connects to the socket at socketPath; rejects when nobody listens there. A path too long for a
   * unix socket address (108 bytes: long --exec-root) is reached through /proc/self/fd/<fd of its
   * directory>, the way conmon binds it.
   */
  static connect(socketPath: string, timeoutMs = 5_000): Promise<AttachSocket> {
    let dirFd: number | undefined;
    let address = socketPath;
    if (Buffer.byteLength(socketPath) >= UNIX_PATH_MAX) {
      try {
        dirFd = fs.openSync(path.dirname(socketPath), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      } catch (err) {
        return Promise.reject(err);
      }
      address = `/proc/self/fd/${dirFd}/${path.basename(socketPath)}`;
    }
    const closeDir = () => {
      if (dirFd !== undefined) fs.closeSync(dirFd);
      dirFd = undefined;
    };
    return AttachSocket.connectTo(address, socketPath, timeoutMs).finally(closeDir);
  }

  private static connectTo(address: string, socketPath: string, timeoutMs: number): Promise<AttachSocket> {
    return new Promise((resolve, reject) => {
      const sock = new SeqpacketSocket();
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        sock.destroy();
        reject(new Error(`attach socket ${socketPath}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (err: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      sock.once('error', fail);
      try {
        sock.connect(address, () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          sock.removeListener('error', fail);
          resolve(new AttachSocket(sock));
        });
      } catch (err) {
        fail(err);
      }
    });
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Sends bytes to the container's stdin. Returns false when much is still queued: wait for 'drain'
   * before writing more. Bytes written after closeStdin or the end are dropped.
   */
  write(data: Buffer): boolean {
    if (this.ended || this.stdinClosed || data.length === 0) return true;
    for (let off = 0; off < data.length; off += MAX_MESSAGE) {
      const part = data.subarray(off, Math.min(off + MAX_MESSAGE, data.length));
      this.pending += part.length;
      try {
        this.sock.write(part, 0, part.length, () => {
          this.pending -= part.length;
          if (this.pending <= 0) this.emit('drain');
        });
      } catch {
        this.finish();
        return true;
      }
    }
    return this.pending < HIGH_WATER;
  }

  /**
   * Ends our write half: conmon closes the container's stdin (unless it runs with --leave-stdin-open)
   * and goes on sending output.
   */
  closeStdin(): void {
    if (this.ended || this.stdinClosed) return;
    this.stdinClosed = true;
    try {
      this.sock.end();
    } catch {
      /* already gone */
    }
  }

  close(): void {
    try {
      this.sock.destroy();
    } catch {
      /* already gone */
    }
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.sock.destroy();
    } catch {
      /* already gone */
    }
    this.emit('end');
  }
}

/** conmon's limit for a terminal size. */
const MAX_TERMINAL_SIZE = 1000;

/**
 * Asks conmon to resize the terminal of the process it watches, through the `ctl` FIFO in dir (the
 * bundle conmon was given). Sizes are clamped to what conmon accepts. Throws when conmon is gone
 * (nobody reads the FIFO: ENXIO) or the FIFO is missing (ENOENT).
 */
export async function resizeTerminal(dir: string, height: number, width: number): Promise<void> {
  const h = Math.max(0, Math.min(MAX_TERMINAL_SIZE, Math.trunc(height)));
  const w = Math.max(0, Math.min(MAX_TERMINAL_SIZE, Math.trunc(width)));
  // Non-blocking: opening a FIFO that nobody reads fails (ENXIO) instead of waiting forever.
  const fh = await fsp.open(path.join(dir, 'ctl'), fsc.O_WRONLY | fsc.O_NONBLOCK);
  try {
    await fh.write(`1 ${h} ${w}\n`);
  } finally {
    await fh.close();
  }
}
