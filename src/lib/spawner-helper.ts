/**
 * The spawner's child process (spawner.ts): runs programs for the daemon with execFile and sends
 * back what they printed and how they ended. It exists because fork() copies the page tables of the
 * process that spawns: ~1 ms from this small process, 5-7 ms from a daemon of 100 MB, during which
 * the daemon's event loop stands still (10 containers starting at once spawn ~100 programs).
 */
import { execFile } from 'node:child_process';

export interface SpawnRequest {
  id: number;
  program: string;
  args: string[];
  input?: string | Uint8Array;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  maxBuffer?: number;
}

export interface SpawnResult {
  id: number;
  stdout: string;
  stderr: string;
  /** Absent when the program exited 0. */
  error?: { message: string; code?: string | number; killed?: boolean; signal?: NodeJS.Signals | null };
}

function run(req: SpawnRequest): void {
  const child = execFile(
    req.program,
    req.args,
    { encoding: 'utf8', maxBuffer: req.maxBuffer ?? 64 * 1024 * 1024, timeout: req.timeoutMs ?? 0, killSignal: 'SIGKILL', env: req.env, cwd: req.cwd, windowsHide: true },
    (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: NodeJS.Signals | null }) | null;
      const result: SpawnResult = { id: req.id, stdout: stdout ?? '', stderr: stderr ?? '' };
      if (e) result.error = { message: e.message, code: e.code, killed: e.killed, signal: e.signal ?? null };
      process.send?.(result);
    },
  );
  child.stdin?.on('error', () => {
    /* the program may exit without reading its input (EPIPE): its exit status tells */
  });
  child.stdin?.end(req.input ?? undefined);
}

process.on('message', (msg) => run(msg as SpawnRequest));
// The daemon went away: nothing more will be asked.
process.on('disconnect', () => process.exit(0));
