/**
 * Receives the sockets a helper process sends over Node's IPC channel (`process.send(name, handle)`,
 * or the same framing from native/netns-dns-bind.c), each under its name; a helper reports a failure as
 * the message {"error": "..."}. Used in the daemon's process and in the spawner's (lib/spawner.ts).
 */
import type { ChildProcess } from 'node:child_process';

/** Closable handles passed over IPC (dgram.Socket, net.Server). */
export interface PassedSocket {
  close(): unknown;
}

/** Resolves once every name has come; rejects (closing what came, killing the helper) on its error, exit or the deadline. */
export function receiveSockets(child: ChildProcess, names: string[], timeoutMs: number): Promise<Map<string, PassedSocket>> {
  return new Promise((resolve, reject) => {
    const got = new Map<string, PassedSocket>();
    let stderr = '';
    let settled = false;
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!error) return resolve(got);
      for (const s of got.values()) s.close();
      child.kill('SIGKILL');
      reject(new Error(error));
    };
    const timer = setTimeout(() => finish(`no sockets from the helper within ${timeoutMs} ms`), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('message', (msg: unknown, handle: unknown) => {
      if (typeof msg === 'string' && names.includes(msg) && handle) got.set(msg, handle as PassedSocket);
      else if (msg && typeof msg === 'object' && 'error' in msg) finish(String((msg as { error: unknown }).error));
      if (names.every((n) => got.has(n))) finish();
    });
    child.on('error', (err) => finish(err.message));
    // 'close', not 'exit': the helper exits as soon as its sends are written, and 'exit' can come
    // before the parent has read those messages; 'close' comes after the IPC channel is drained.
    child.on('close', (code) => finish(`helper exited with ${code}: ${stderr.trim()}`));
  });
}
