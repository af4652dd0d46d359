/**
 * Runs the daemon's external programs (runc, ip, iptables, mount, ...) from a small child process
 * (spawner-helper.ts) instead of from the daemon itself. fork() copies the spawning process's page
 * tables and blocks its event loop meanwhile: 5-7 ms per program from a ~100 MB daemon, ~1 ms from
 * the helper, which also does it off the daemon's main thread. Measured: 10 containers started by
 * `compose up -d` spent ~1 s of the daemon's main thread in spawn.
 *
 * Only the daemon turns it on (enableSpawner); everything else runs programs in its own process.
 * conmon (answers on a sync pipe) and the DNS namespace helper (sends sockets over IPC) come here too,
 * through their own request kinds: run from the daemon they cost ~7 and ~12 ms of its main thread each.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SocketMessage, SocketsRequest, SpawnRequest, SpawnResult, SyncPipeRequest } from './spawner-helper.js';

export type { SpawnResult } from './spawner-helper.js';

const HELPER = fileURLToPath(new URL('./spawner-helper.js', import.meta.url));

let enabled = false;
let child: ChildProcess | undefined;
let nextId = 1;
const pending = new Map<number, (r: Omit<SpawnResult, 'id'>) => void>();
/** Sockets passed on for a `sockets` request, by request id, until its result comes. */
const passedSockets = new Map<number, Map<string, unknown>>();

export function enableSpawner(on = true): void {
  enabled = on;
  if (!on) stopSpawner();
}

export function spawnerEnabled(): boolean {
  return enabled;
}

function helper(): ChildProcess {
  if (child && child.connected) return child;
  const c = fork(HELPER, [], {
    execArgv: ['--max-semi-space-size=1', '--max-old-space-size=64'],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  c.on('message', (msg: SpawnResult | SocketMessage, handle: unknown) => {
    if ('socket' in msg) {
      const got = passedSockets.get(msg.id) ?? new Map<string, unknown>();
      got.set(msg.socket, handle);
      passedSockets.set(msg.id, got);
      return;
    }
    const done = pending.get(msg.id);
    pending.delete(msg.id);
    if (pending.size === 0) c.channel?.unref();
    done?.(msg);
  });
  // The helper died (killed, crashed): what it was running is reported as failed; the next call starts a new one.
  c.on('exit', (code, signal) => {
    if (child === c) child = undefined;
    const why = `the spawner process ended (${signal ?? `exit ${code}`})`;
    for (const [id, done] of pending) {
      pending.delete(id);
      done({ stdout: '', stderr: '', error: { message: why, code: 'ESPAWNER' } });
    }
  });
  c.on('error', () => {
    /* reported through 'exit' */
  });
  // Neither the process nor its idle channel keeps the daemon alive; a pending request does.
  c.unref();
  c.channel?.unref();
  child = c;
  return c;
}

export function spawnerRun(req: Omit<SpawnRequest, 'id'> | Omit<SyncPipeRequest, 'id'>): Promise<Omit<SpawnResult, 'id'>> {
  return send(req);
}

/**
 * Runs `helper args...`, which sends sockets over Node's IPC channel (the DNS namespace helper), and
 * gives them back by the message each came with; an error result when it failed or timed out.
 */
export async function spawnerSockets(req: Omit<SocketsRequest, 'id' | 'kind'>): Promise<{ result: Omit<SpawnResult, 'id'>; sockets: Map<string, unknown> }> {
  let id = 0;
  const result = await send({ ...req, kind: 'sockets' }, (n) => (id = n));
  const sockets = passedSockets.get(id) ?? new Map<string, unknown>();
  passedSockets.delete(id);
  return { result, sockets };
}

function send(req: Omit<SpawnRequest, 'id'> | Omit<SyncPipeRequest, 'id'> | Omit<SocketsRequest, 'id'>, onId?: (id: number) => void): Promise<Omit<SpawnResult, 'id'>> {
  return new Promise((resolve) => {
    const id = nextId++;
    onId?.(id);
    pending.set(id, resolve);
    const c = helper();
    c.channel?.ref();
    // The program sees the daemon's environment as of now, as execFile would give it.
    const ok = c.send({ ...req, id, env: ('env' in req ? req.env : undefined) ?? process.env }, (err) => {
      if (!err) return;
      pending.delete(id);
      if (pending.size === 0) c.channel?.unref();
      resolve({ stdout: '', stderr: '', error: { message: `spawner: ${err.message}`, code: 'ESPAWNER' } });
    });
    void ok;
  });
}

export function stopSpawner(): void {
  child?.kill('SIGTERM');
  child = undefined;
}
