/**
 * Adapter for conmon's exec mode: one more process in a running container, watched by a conmon of its
 * own (`conmon --exec`), the way Podman runs `podman exec`. That conmon runs
 * `runc --root <root> exec --pid-file <dir>/pid --process <spec> --detach [--tty --console-socket ..] <cid>`,
 * holds the process's stdio (a pty with -t, conmon taking the console from runc itself) and waits for it.
 *
 * The conversation with conmon (2.1.6, --api-version 1; measured here, and as its conmon.c reads):
 *  - fd 3 (_OCI_SYNCPIPE): JSON lines `{"data": N}` or `{"data": N, "message": "..."}`. First the
 *    process's host pid; once it has exited, its exit code (128 + signal for a signal). When runc exec
 *    fails, a single line with N <= 0 and runc's stderr as the message, and conmon exits.
 *  - with --exec-attach, fd 4 (_OCI_ATTACHPIPE) and fd 5 (_OCI_STARTPIPE): conmon first blocks reading
 *    the start pipe (before it daemonizes), then creates the attach socket socketDir/<uuid>/attach and
 *    writes `{"data": 0}` on the attach pipe, then waits for a second write on the start pipe before it
 *    runs runc. We connect to the socket in between, so no output is lost.
 *  - the attach socket works as for containers (attach-socket.ts). Without --leave-stdin-open, our
 *    half-close closes the process's stdin.
 *  - the exec dir (conmon's -b) gets the `ctl`/`winsz` FIFOs, used to resize the exec's terminal.
 * conmon daemonizes: the process we spawn exits at once and its child keeps the pipes. The exit code
 * reaches us only through the sync pipe (no --exit-dir: conmon would name the file after the container),
 * so a daemon restart loses it; the process itself runs on.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { AttachSocket } from './attach-socket.js';
import { ConmonError } from './conmon.js';
import { parseRuncStderr } from './runc.js';

export interface ConmonExecOptions {
  /** The container to exec into (runc's id). */
  containerId: string;
  /** Names the attach socket directory socketDir/<uuid>; unique per exec session. */
  uuid: string;
  /** The exec session's own directory: conmon's bundle (FIFOs, attach socket), pid files. */
  dir: string;
  /** The OCI process spec (JSON) to run. */
  processSpecPath: string;
  /** Path of the runc executable, and its --root. */
  runtime: string;
  runtimeRoot: string;
  socketDir: string;
  stdin: boolean;
  terminal: boolean;
  /** Attach before the process starts (the caller reads the socket); false for a detached exec. */
  attach: boolean;
  /** The conmon executable (default 'conmon'). */
  conmon?: string;
  /** Give up when conmon has not answered in this long (default 60 s). */
  timeoutMs?: number;
}

export interface ConmonExec {
  /** Host pid of the process. */
  pid: number;
  /** Connected attach socket (when attach was asked for). */
  socket?: AttachSocket;
  /** Resolves with the exit code once the process has exited (-1 when conmon went away without one). */
  exited: Promise<number>;
}

export function conmonExecArgs(opts: ConmonExecOptions): string[] {
  const args = [
    '--api-version', '1',
    '-c', opts.containerId,
    '-u', opts.uuid,
    '-n', opts.containerId,
    '-r', opts.runtime,
    '--runtime-arg', '--root',
    '--runtime-arg', opts.runtimeRoot,
    '-b', opts.dir,
    '-p', path.join(opts.dir, 'pid'),
    '-P', path.join(opts.dir, 'conmon.pid'),
    '-l', 'none',
    '--socket-dir-path', opts.socketDir,
    '--exec',
    '--exec-process-spec', opts.processSpecPath,
  ];
  if (opts.attach) args.push('--exec-attach');
  if (opts.stdin) args.push('-i');
  if (opts.terminal) args.push('-t', '--leave-stdin-open');
  return args;
}

/** Reads newline-terminated lines from a stream, one at a time. */
class LineReader {
  private buf = '';
  private lines: string[] = [];
  private waiting?: (line: string | undefined) => void;
  private ended = false;

  constructor(stream: Readable) {
    stream.on('data', (b: Buffer) => {
      this.buf += b.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.flush();
    });
    const end = () => {
      this.ended = true;
      this.flush();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private flush(): void {
    if (!this.waiting) return;
    if (this.lines.length) {
      const w = this.waiting;
      this.waiting = undefined;
      w(this.lines.shift());
    } else if (this.ended) {
      const w = this.waiting;
      this.waiting = undefined;
      w(undefined);
    }
  }

  /** The next line; undefined once the stream has ended. */
  next(timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no answer from conmon in ${timeoutMs} ms`));
      }, timeoutMs) : undefined;
      this.waiting = (line) => {
        if (timer) clearTimeout(timer);
        resolve(line);
      };
      this.flush();
    });
  }
}

function parseSync(line: string): { data: number; message?: string } {
  try {
    const j = JSON.parse(line) as { data?: unknown; message?: unknown };
    return { data: typeof j.data === 'number' ? j.data : -1, message: typeof j.message === 'string' ? j.message : undefined };
  } catch {
    return { data: -1, message: `unreadable answer from conmon: ${line}` }; // malformed answer: reported as a failure
  }
}

function cleanStderr(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim().replace(/^\[conmon:\w\]:\s*/, ''))
    .filter((l) => l && !/oom_score_adj/.test(l))
    .join('\n');
}

/**
 * Starts a process in a running container under a conmon of its own. Resolves once the process runs
 * (with its pid, the attach socket when asked for, and a promise of its exit code); rejects with
 * ConmonError whose detail is runc's own message (e.g. `exec failed: unable to start container process:
 * exec: "nope": executable file not found in $PATH`).
 */
export async function startConmonExec(opts: ConmonExecOptions): Promise<ConmonExec> {
  const binary = opts.conmon ?? 'conmon';
  const timeoutMs = opts.timeoutMs ?? 60_000;
  await fsp.mkdir(opts.socketDir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, _OCI_SYNCPIPE: '3' };
  delete env._OCI_ATTACHPIPE;
  delete env._OCI_STARTPIPE;
  if (opts.attach) {
    env._OCI_ATTACHPIPE = '4';
    env._OCI_STARTPIPE = '5';
  }
  const child = spawn(binary, conmonExecArgs(opts), {
    stdio: opts.attach ? ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', 'pipe'],
    env,
    cwd: opts.dir,
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString('utf8')));
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  const sync = new LineReader(child.stdio[3] as Readable);
  const stdio = child.stdio as unknown as Array<Readable | Writable | null | undefined>;
  const startPipe = opts.attach ? (stdio[5] as Writable) : undefined;
  startPipe?.on('error', () => undefined);
  const release = () => {
    for (const s of stdio) (s as { destroy?: () => void } | null | undefined)?.destroy?.();
    child.unref();
  };
  const fail = (detail: string): never => {
    release();
    throw new ConmonError(`conmon exec ${opts.containerId}: ${detail}`, detail);
  };
  const early = () => {
    if (spawnError) {
      const e = spawnError as NodeJS.ErrnoException;
      return e.code === 'ENOENT' ? `${binary}: executable file not found` : e.message;
    }
    return cleanStderr(output) || 'conmon exited without reporting';
  };

  let socket: AttachSocket | undefined;
  try {
    if (opts.attach) {
      startPipe!.write('0'); // conmon's first read: go ahead and daemonize
      const attachLine = await new LineReader(child.stdio[4] as Readable).next(timeoutMs);
      if (attachLine === undefined) fail(early());
      socket = await AttachSocket.connect(path.join(opts.socketDir, opts.uuid, 'attach'));
      startPipe!.write('1'); // second read (in conmon's child): run runc exec now
    }
    const first = await sync.next(timeoutMs);
    if (first === undefined) fail(early());
    const started = parseSync(first!);
    if (started.data <= 0) {
      const text = (started.message ? parseRuncStderr(started.message) : '') || cleanStderr(output) || 'exec failed';
      fail(text);
    }
    const exited = (async () => {
      try {
        const line = await sync.next(0);
        return line === undefined ? -1 : parseSync(line).data;
      } finally {
        release();
      }
    })();
    return { pid: started.data, socket, exited };
  } catch (err) {
    socket?.close();
    release();
    if (err instanceof ConmonError) throw err;
    throw new ConmonError(`conmon exec ${opts.containerId}: ${(err as Error).message}`, (err as Error).message);
  }
}
