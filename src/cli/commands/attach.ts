/**
 * Attaching to a container: POST /containers/{id}/attach upgraded to a raw connection, the
 * container's output copied to ours (demultiplexed unless it has a TTY), our stdin copied to
 * it when asked, and our signals forwarded to it with POST /containers/{id}/kill.
 */
import type { Duplex } from 'node:stream';
import type { Cli } from '../streams.js';
import { StdDemuxer, type Sink } from '../stdcopy.js';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** The container has a TTY: its output is raw bytes, all of it on stdout. */
  tty: boolean;
  detachKeys?: string;
  /** Forward the signals we receive to the container (docker's --sig-proxy). */
  sigProxy: boolean;
}

export interface Attached {
  /** Settles when the daemon has closed the output (the container's streams ended). */
  done: Promise<void>;
  /** Stops forwarding input and signals and drops the connection. */
  close(): void;
}

/** Signals docker's ForwardAllSignals passes on (the ones Node lets a process catch). */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function attachStreams(cli: Cli, id: string, opts: AttachOptions): Promise<Attached> {
  const client = cli.client();
  const hijacked = await client.hijack('POST', `/containers/${id}/attach`, {
    query: {
      stream: true,
      stdin: opts.stdin || undefined,
      stdout: opts.stdout || undefined,
      stderr: opts.stderr || undefined,
      detachKeys: opts.detachKeys || undefined,
    },
  });
  const stream = hijacked.stream;
  const toOut: Sink | undefined = opts.stdout || opts.tty ? (b) => cli.out.write(b) : undefined;
  const toErr: Sink | undefined = opts.stderr ? (b) => cli.err.write(b) : undefined;
  const demux = opts.tty ? undefined : new StdDemuxer(toOut, toErr);

  const cleanups: Array<() => void> = [];
  const done = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      try {
        if (demux) demux.push(chunk);
        else toOut?.(chunk);
      } catch (err) {
        reject(err);
        stream.destroy();
      }
    };
    if (hijacked.head.length) onData(hijacked.head);
    stream.on('data', onData);
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
    stream.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve() : reject(err)));
  });

  done.catch(() => undefined); // awaited by the caller; not an unhandled rejection meanwhile

  // Input: our stdin, or an immediate end of input as docker's CloseWrite does.
  if (hijacked.upgraded) {
    const conn = stream as Duplex;
    if (opts.stdin) {
      const input = cli.in as typeof cli.in & { setRawMode?: (raw: boolean) => void };
      if (opts.tty && input.isTTY && input.setRawMode) {
        input.setRawMode(true);
        cleanups.push(() => input.setRawMode!(false));
      }
      const onInput = (chunk: Buffer | string) => {
        if (!conn.destroyed) conn.write(chunk);
      };
      const onEnd = () => {
        if (!conn.destroyed) conn.end();
      };
      input.on('data', onInput);
      input.on('end', onEnd);
      input.resume();
      cleanups.push(() => {
        input.off('data', onInput);
        input.off('end', onEnd);
        input.pause();
      });
    } else {
      conn.end();
    }
  }

  if (opts.sigProxy && cli.signals) {
    const signals = cli.signals;
    const forward = (sig: NodeJS.Signals) => {
      client
        .request('POST', `/containers/${id}/kill`, { query: { signal: sig.replace(/^SIG/, '') } })
        .then((res) => res.resume())
        .catch(() => undefined); // signal proxying is best effort: the container may have exited
    };
    for (const sig of FORWARDED) signals.on(sig, forward);
    cleanups.push(() => {
      for (const sig of FORWARDED) signals.off(sig, forward);
    });
  }

  let closed = false;
  return {
    done,
    close: () => {
      if (closed) return;
      closed = true;
      for (const c of cleanups.reverse()) c();
      stream.destroy();
    },
  };
}
