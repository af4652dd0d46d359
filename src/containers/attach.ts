/**
 * Live I/O of running containers: one connection to conmon's attach socket per container (a "hub"),
 * shared by every client attached to it (attach, `docker run` without -d, `docker start -a`).
 *
 * Lifecycle: a hub is opened when the first client needs it — for a container already running, at
 * once; for one that is not, just before its process starts (ContainerRunner.start's beforeStart), so
 * that no output is lost and stdin sent early is delivered. It then stays open until the container
 * exits (conmon closes it), whoever comes and goes: conmon closes the container's stdin when a
 * connection closes (unless --leave-stdin-open), so the daemon decides that itself (closeStdin, for
 * StdinOnce containers without a tty, as Docker does) instead of letting a client's departure decide.
 * Output is read all the time (conmon blocks on a connection nobody reads) and given to the clients
 * attached at that moment; nothing is kept for later ones: the log file is for that (api/streams/attach.ts).
 *
 * One loss is made good from the log: conmon closes a connection that still holds stdin it has not
 * read (a container that exits while its input flows: `yes | docker run -i busybox head -2`), so the
 * kernel fails our next read with ECONNRESET before the output conmon sent last; node-unix-socket
 * then gives the socket up (libuv stops polling at POLLERR) and that output never reaches us. conmon
 * wrote it to the log first, so a hub opened before the process started hands its clients what the
 * log holds beyond what came through the socket.
 */
import type { Container } from './model.js';
import type { ContainerRunner } from './runner.js';
import { AttachSocket, resizeTerminal, type OutputStream } from '../runtime/attach-socket.js';
import { attachSocketPath } from '../runtime/conmon.js';
import { readLogs, type LogStream } from './logs.js';
import { conflict, messageOf } from '../lib/errors.js';
import { log } from '../lib/log.js';

/** What an attached client is told. */
export interface AttachClient {
  output(stream: OutputStream, chunk: Buffer): void;
  /** The container's output has ended (it exited, or its conmon went away). Called once. */
  end(): void;
}

class Hub {
  readonly clients = new Set<Attachment>();
  /** Output bytes that came through the socket, per stream. */
  readonly received: Record<LogStream, number> = { stdout: 0, stderr: 0 };
  constructor(
    readonly socket: AttachSocket,
    /** For a hub opened before the process started: when (ns since the epoch); its output is in the log from then on. */
    readonly openedBeforeStartAt?: bigint,
  ) {}
}

/** One client's hold on a container's I/O; detach() lets go (the container runs on). */
export class Attachment {
  private hub?: Hub;
  private queued: Buffer[] = [];
  private closeQueued = false;
  private gone = false;

  constructor(
    private readonly io: ContainerIO,
    readonly containerId: string,
    readonly client: AttachClient,
  ) {}

  /**
   * Sends bytes to the container's stdin (queued until the hub is connected). Returns false when the
   * caller should wait for onDrain before writing more.
   */
  write(data: Buffer): boolean {
    if (this.gone) return true;
    if (this.hub) return this.hub.socket.write(data);
    this.queued.push(data);
    return true;
  }

  onDrain(cb: () => void): void {
    if (this.hub && !this.hub.socket.isEnded) this.hub.socket.once('drain', cb);
    else setImmediate(cb);
  }

  /** Closes the container's stdin (conmon sees our half-close). */
  closeStdin(): void {
    if (this.hub) this.hub.socket.closeStdin();
    else this.closeQueued = true;
  }

  detach(): void {
    if (this.gone) return;
    this.gone = true;
    this.queued = [];
    this.hub?.clients.delete(this);
    this.io.forgetWaiting(this);
  }

  get detached(): boolean {
    return this.gone;
  }

  /** @internal the hub is up: deliver what was queued. */
  joined(hub: Hub): void {
    if (this.gone) return;
    this.hub = hub;
    hub.clients.add(this);
    for (const b of this.queued) hub.socket.write(b);
    this.queued = [];
    if (this.closeQueued) hub.socket.closeStdin();
  }

  /** @internal */
  ended(): void {
    if (this.gone) return;
    this.gone = true;
    this.hub?.clients.delete(this);
    this.client.end();
  }
}

export class ContainerIO {
  private readonly hubs = new Map<string, Hub>();
  private readonly connecting = new Map<string, Promise<Hub | undefined>>();
  /** Clients attached to containers that are not running: they join at the next start. */
  private readonly waiting = new Map<string, Set<Attachment>>();

  constructor(private readonly runner: ContainerRunner) {}

  /**
   * Attaches a client to c's I/O: now if it runs, else from its next start on. The client is told
   * about output until the container exits or it detaches.
   */
  attach(c: Container, client: AttachClient): Attachment {
    const a = new Attachment(this, c.id, client);
    if (c.state.Running) {
      this.hub(c.id).then(
        (hub) => (hub ? a.joined(hub) : a.ended()),
        (err: unknown) => {
          log.warn('attach: connecting to the container failed', { id: c.id, error: messageOf(err) });
          a.ended();
        },
      );
    } else {
      const set = this.waiting.get(c.id) ?? new Set<Attachment>();
      set.add(a);
      this.waiting.set(c.id, set);
    }
    return a;
  }

  /** Called between conmon's start and the process's: connects waiting clients. Never throws. */
  async beforeStart(c: Container): Promise<void> {
    const stale = this.hubs.get(c.id);
    if (stale) {
      this.hubs.delete(c.id);
      stale.socket.close();
    }
    const waiting = this.waiting.get(c.id);
    if (!waiting?.size) return;
    this.waiting.delete(c.id);
    const hub = await this.hub(c.id, true);
    for (const a of waiting) {
      if (hub) a.joined(hub);
      else a.ended();
    }
  }

  /** @internal */
  forgetWaiting(a: Attachment): void {
    const set = this.waiting.get(a.containerId);
    if (!set) return;
    set.delete(a);
    if (!set.size) this.waiting.delete(a.containerId);
  }

  /** Ends the clients waiting for a container that goes away (removed). */
  removed(id: string): void {
    const set = this.waiting.get(id);
    this.waiting.delete(id);
    for (const a of set ?? []) a.ended();
    const hub = this.hubs.get(id);
    if (hub) {
      this.hubs.delete(id);
      hub.socket.close();
    }
  }

  /**
   * Resizes a running container's terminal (POST /containers/{id}/resize). A container without a
   * tty has nothing to resize: accepted and ignored (conmon would not read the request).
   */
  async resize(c: Container, height: number, width: number): Promise<void> {
    if (!c.state.Running) throw conflict(`container ${c.id} is not running`);
    if (!c.config.Tty) return;
    try {
      await resizeTerminal(this.runner.paths(c.id).bundle, height, width);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO' || code === 'ENOENT') throw conflict(`container ${c.id} is not running`);
      throw err;
    }
  }

  private hub(id: string, beforeStart = false): Promise<Hub | undefined> {
    const existing = this.hubs.get(id);
    if (existing && !existing.socket.isEnded) return Promise.resolve(existing);
    const pending = this.connecting.get(id);
    if (pending) return pending;
    const openedAt = beforeStart ? BigInt(Date.now()) * 1_000_000n : undefined;
    const p = AttachSocket.connect(attachSocketPath(this.runner.socketDir, id))
      .then(
        (socket) => {
          const hub = new Hub(socket, openedAt);
          this.hubs.set(id, hub);
          socket.on('data', (stream: OutputStream, chunk: Buffer) => {
            hub.received[stream] += chunk.length;
            for (const a of hub.clients) a.client.output(stream, chunk);
          });
          socket.on('end', () => {
            log.debug('attach socket closed', { id, error: socket.lastError?.message ?? '' });
            if (this.hubs.get(id) === hub) this.hubs.delete(id);
            void this.recoverFromLog(id, hub).finally(() => {
              for (const a of [...hub.clients]) a.ended();
            });
          });
          return hub;
        },
        (err: unknown) => {
          log.debug('attach socket connect failed', { id, error: messageOf(err) });
          return undefined;
        },
      )
      .finally(() => this.connecting.delete(id));
    this.connecting.set(id, p);
    return p;
  }

  /** After a hub's connection failed: gives its clients the output the log has beyond what they got. */
  private async recoverFromLog(id: string, hub: Hub): Promise<void> {
    if (!hub.socket.lastError || hub.openedBeforeStartAt === undefined || !hub.clients.size) return;
    const skip = { ...hub.received };
    try {
      for await (const m of readLogs(this.runner.paths(id).log, {
        stdout: true,
        stderr: true,
        since: hub.openedBeforeStartAt,
        tail: 'all',
        timestamps: false,
        follow: false,
        isRunning: () => false,
        signal: new AbortController().signal,
      })) {
        const already = Math.min(skip[m.stream], m.line.length);
        skip[m.stream] -= already;
        if (already === m.line.length) continue;
        const rest = m.line.subarray(already);
        for (const a of hub.clients) a.client.output(m.stream, rest);
      }
    } catch (err) {
      log.debug('attach output from the log failed', { id, error: messageOf(err) });
    }
  }
}
