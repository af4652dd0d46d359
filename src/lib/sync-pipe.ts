/**
 * Runs a program that answers on a "sync pipe" (fd 3) and may live on after it (conmon daemonizes):
 * the answer is the first line written there, or, without one, how the program ended and what it
 * printed. Used by the spawner's process (spawner-helper.ts) and, with the spawner off, in-process.
 */
import { spawn } from 'node:child_process';
import type { SpawnResult, SyncPipeRequest } from './spawner-helper.js';

export function runSyncPipe(req: Omit<SyncPipeRequest, 'id' | 'kind'>): Promise<Omit<SpawnResult, 'id'>> {
  return new Promise((resolve) => {
    const child = spawn(req.program, req.args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: req.env, cwd: req.cwd, detached: req.detached });
    let output = '';
    let syncBuf = '';
    let settled = false;
    let exitCode: number | null | undefined;
    const finish = (r: Partial<SpawnResult>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Let go of every pipe: a daemonized program may keep its end of the sync pipe for long.
      for (const s of [child.stdout, child.stderr, child.stdio[3]]) (s as { destroy?: () => void } | null)?.destroy?.();
      child.unref();
      resolve({ stdout: output, stderr: '', ...(exitCode !== undefined ? { exitCode } : {}), ...r });
    };
    const timer = setTimeout(() => finish({ timedOut: true }), req.timeoutMs);
    child.stdout!.on('data', (b: Buffer) => (output += b.toString('utf8')));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString('utf8')));
    const sync = child.stdio[3] as NodeJS.ReadableStream;
    sync.on('data', (b: Buffer) => {
      syncBuf += b.toString('utf8');
      const nl = syncBuf.indexOf('\n');
      if (nl >= 0) finish({ syncLine: syncBuf.slice(0, nl) });
    });
    sync.on('error', () => undefined);
    // 'close' comes once the program has exited and every pipe is closed.
    child.on('close', (code) => {
      exitCode = code;
      finish({});
    });
    child.on('exit', (code) => {
      exitCode = code;
    });
    child.on('error', (err: NodeJS.ErrnoException) => finish({ error: { message: err.message, code: err.code } }));
  });
}
