/**
 * The spawner's child process (spawner.ts): runs programs for the daemon and sends back what they
 * printed and how they ended. It exists because fork() copies the page tables of the process that
 * spawns: ~1 ms from this small process, 5-7 ms from a daemon of 100 MB, during which the daemon's
 * event loop stands still (10 containers starting at once spawn ~100 programs).
 *
 * Three kinds of request: a program run to its end (execFile); a program that answers on a "sync
 * pipe" (fd 3) and may live on after (conmon: the answer is its first line there); and the embedded
 * DNS's namespace helper, whose two sockets come back over Node's IPC channel and are passed on to
 * the daemon as they are.
 */
import { execFile, spawn } from 'node:child_process';
import { runSyncPipe } from './sync-pipe.js';
import { receiveSockets, type PassedSocket } from './socket-helper.js';
import type dgram from 'node:dgram';

export interface SpawnRequest {
  id: number;
  kind?: 'run';
  program: string;
  args: string[];
  input?: string | Uint8Array;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  maxBuffer?: number;
}

/** Runs `program` with a pipe as fd 3 until it writes a line there or exits (conmon's sync pipe). */
export interface SyncPipeRequest {
  id: number;
  kind: 'sync-pipe';
  program: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Its own session (setsid), as conmon needs. */
  detached?: boolean;
  timeoutMs: number;
}

/** Runs the DNS namespace helper (`helper netnsPath`) and passes on the sockets it sends. */
export interface SocketsRequest {
  id: number;
  kind: 'sockets';
  helper: string;
  args: string[];
  timeoutMs: number;
}

export type SpawnerRequest = SpawnRequest | SyncPipeRequest | SocketsRequest;

export interface SpawnResult {
  id: number;
  stdout: string;
  stderr: string;
  /** Absent when the program exited 0. */
  error?: { message: string; code?: string | number; killed?: boolean; signal?: NodeJS.Signals | null };
  /** sync-pipe: the first line written on fd 3, if any. */
  syncLine?: string;
  /** sync-pipe: how the program ended, when it ended before a sync line. */
  exitCode?: number | null;
  timedOut?: boolean;
}

/** Sent before a `sockets` request's result: one socket (`handle`) passed on from the helper. */
export interface SocketMessage {
  id: number;
  socket: string;
}

const reply = (result: SpawnResult): void => void process.send?.(result);

function run(req: SpawnRequest): void {
  const child = execFile(
    req.program,
    req.args,
    { encoding: 'utf8', maxBuffer: req.maxBuffer ?? 64 * 1024 * 1024, timeout: req.timeoutMs ?? 0, killSignal: 'SIGKILL', env: req.env, cwd: req.cwd, windowsHide: true },
    (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: NodeJS.Signals | null }) | null;
      const result: SpawnResult = { id: req.id, stdout: stdout ?? '', stderr: stderr ?? '' };
      if (e) result.error = { message: e.message, code: e.code, killed: e.killed, signal: e.signal ?? null };
      reply(result);
    },
  );
  child.stdin?.on('error', () => {
    /* the program may exit without reading its input (EPIPE): its exit status tells */
  });
  child.stdin?.end(req.input ?? undefined);
}

/** Receives the helper's sockets and passes each on to the daemon; the result follows them on the channel. */
async function runSockets(req: SocketsRequest): Promise<void> {
  let sockets: Map<string, PassedSocket>;
  try {
    sockets = await receiveSockets(spawn(req.helper, req.args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }), ['udp', 'tcp'], req.timeoutMs);
  } catch (err) {
    return reply({ id: req.id, stdout: '', stderr: '', error: { message: (err as Error).message } });
  }
  await Promise.all(
    [...sockets].map(
      ([name, socket]) =>
        new Promise<void>((resolve) =>
          // Our copy is closed once sent: the daemon's is a descriptor of its own.
          process.send?.({ id: req.id, socket: name } satisfies SocketMessage, socket as dgram.Socket, {}, () => (socket.close(), resolve())),
        ),
    ),
  );
  reply({ id: req.id, stdout: '', stderr: '' });
}

process.on('message', (msg) => {
  const req = msg as SpawnerRequest;
  if (req.kind === 'sync-pipe') void runSyncPipe(req).then((r) => reply({ ...r, id: req.id }));
  else if (req.kind === 'sockets') void runSockets(req);
  else run(req);
});
// The daemon went away: nothing more will be asked.
process.on('disconnect', () => process.exit(0));
