/**
 * Berth's own registry server as the conformance test, the skopeo test and the benchmark start it:
 * `berth registry serve --addr 127.0.0.1:0 --root DIR`, ready when it prints `listening on URL`.
 * Not part of the suite (which is a client of any registry); only the runners use it.
 * BERTH_CLI names another berth CLI to use (default: this checkout's bin/berth).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/conformance/distribution/ → the checkout's root.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const BERTH_CLI = process.env.BERTH_CLI ?? path.join(ROOT, 'bin', 'berth');

/** Whether this build has `berth registry serve` (it answers --help with status 0). */
export function hasBerthRegistry(): boolean {
  const r = spawnSync(BERTH_CLI, ['registry', 'serve', '--help'], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

export interface BerthRegistry {
  url: string;
  host: string;
  root: string;
  stop(): Promise<void>;
  logs(): string;
}

export async function startBerthRegistry(extraArgs: string[] = []): Promise<BerthRegistry> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-'));
  let out = '';
  const proc: ChildProcess = spawn(BERTH_CLI, ['registry', 'serve', '--addr', '127.0.0.1:0', '--root', root, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(root, { recursive: true, force: true });
  };
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`berth registry serve printed no "listening on" line within 20s: ${out}`)), 20_000);
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (https?:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`berth registry serve exited ${code}: ${out}`));
      });
    });
    return { url, host: new URL(url).host, root, stop, logs: () => out };
  } catch (e) {
    await stop();
    throw e;
  }
}
