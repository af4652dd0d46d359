import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DOCKER, run } from './harness.js';

/**
 * A real Docker Engine beside Berth, for tests that compare the two: REF_DOCKER_HOST when it names one,
 * else a dockerd of the test's own (Debian's docker.io) on its own socket, data root, exec root and
 * containerd namespace, with no bridge and no iptables rules, so it touches nothing of the host's.
 * Undefined when neither is there (the comparing tests then skip).
 */
export interface ReferenceEngine {
  host: string;
  stop(): Promise<void>;
}

export const DOCKERD = '/usr/sbin/dockerd';
export const referenceAvailable = Boolean(process.env.REF_DOCKER_HOST) || (existsSync(DOCKERD) && existsSync(DOCKER));

export async function startReferenceEngine(): Promise<ReferenceEngine> {
  const given = process.env.REF_DOCKER_HOST;
  if (given) return { host: given, stop: async () => {} };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-ref-'));
  const host = `unix://${path.join(dir, 'docker.sock')}`;
  const tag = path.basename(dir).replace(/[^a-zA-Z0-9]/g, '');
  const proc: ChildProcess = spawn(DOCKERD, [
    '--iptables=false', '--ip6tables=false', '--bridge=none',
    '--data-root', path.join(dir, 'root'), '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'dockerd.pid'),
    '-H', host, '--containerd-namespace', tag, '--containerd-plugins-namespace', `${tag}p`,
  ], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) break;
    if ((await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], { DOCKER_HOST: host })).code === 0) return { host, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error('the reference dockerd did not start');
}
