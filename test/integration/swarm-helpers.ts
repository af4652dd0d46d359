// What the swarm tests share: the docker CLI against a node, polling until a condition holds, a plain
// HTTP GET, and free ports for a node's control plane and etcd.
import http from 'node:http';
import net from 'node:net';
import { DOCKER, run } from './harness.js';
import { sleep } from '../../src/lib/sleep.js';

/** `docker ARGS` against a node's socket; throws with the node's name and docker's stderr on failure. */
export async function dk(node: { name: string; socket: string }, args: string[], input?: string): Promise<string> {
  const r = await run(DOCKER, args, { DOCKER_HOST: `unix://${node.socket}` }, input);
  if (r.code !== 0) throw new Error(`${node.name}: docker ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** `docker ARGS` for its exit code and output, for commands expected to fail. */
export async function dkCode(node: { socket: string }, args: string[]): Promise<{ code: number; out: string }> {
  const r = await run(DOCKER, args, { DOCKER_HOST: `unix://${node.socket}` });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** Calls f until it gives something other than undefined/false (errors count as not yet); the last error is in the timeout's message. */
export async function eventually<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 30_000, pollMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out: ${what} (not within ${timeoutMs} ms)${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(pollMs);
  }
}

/** eventually() with the limit first, polling faster. */
export const until = <T>(what: string, ms: number, f: () => Promise<T | undefined | false>): Promise<T> => eventually(what, f, ms, 100);

export function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', timeout: 3_000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A control port whose etcd ports (+2, +3) are free too. */
export async function controlPort(host: string): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await bindable(host, p)) && (await bindable(host, p + 2)) && (await bindable(host, p + 3))) return p;
  }
}

/** httpd answering with the task container's hostname: enough to tell backends apart. */
export const WEB = ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www'];
