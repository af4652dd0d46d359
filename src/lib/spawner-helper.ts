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
import type dgram from 'node:dgram';
import type net from 'node:net';

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

function runSockets(req: SocketsRequest): void {
  const child = spawn(req.helper, req.args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  let settled = false;
  const held: Array<dgram.Socket | net.Server> = [];
  const finish = (error?: string) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (error) child.kill('SIGKILL');
    for (const h of held) h.close();
    reply({ id: req.id, stdout: '', stderr, ...(error ? { error: { message: error } } : {}) });
  };
  const timer = setTimeout(() => finish(`no sockets from the helper within ${req.timeoutMs} ms`), req.timeoutMs);
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let passed = 0;
  child.on('message', (msg: unknown, handle: unknown) => {
    if (typeof msg === 'string' && handle) {
      const h = handle as dgram.Socket | net.Server;
      held.push(h);
      // Messages keep their order on the channel, so the result comes after both sockets.
      process.send?.({ id: req.id, socket: msg } satisfies SocketMessage, h, {}, () => {
        if (++passed === 2) finish();
      });
    } else if (msg && typeof msg === 'object' && 'error' in msg) finish(String((msg as { error: unknown }).error));
  });
  child.on('error', (err) => finish(err.message));
  child.on('close', (code) => {
    if (passed < 2 && held.length < 2) finish(`helper exited with ${code}: ${stderr.trim()}`);
  });
}

process.on('message', (msg) => {
  const req = msg as SpawnerRequest;
  if (req.kind === 'sync-pipe') void runSyncPipe(req).then((r) => reply({ ...r, id: req.id }));
  else if (req.kind === 'sockets') runSockets(req);
  else run(req);
});
// The daemon went away: nothing more will be asked.
process.on('disconnect', () => process.exit(0));
