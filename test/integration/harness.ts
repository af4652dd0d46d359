import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { makeBusyboxImage } from '../../src/tools/make-busybox-image.js';
import { makeRegistryImage } from '../../src/tools/make-registry-image.js';
import { removeNetworkLeftovers } from '../../src/networks/cleanup.js';
import { randomBytes } from 'node:crypto';

/**
 * A random 172.18-31.x.0/24 that overlaps no route on this host, for a test daemon's bridge or a test
 * network (random, so that test files running at once do not pick the same one).
 */
export function freeSubnet24(): string {
  const out = spawnSync('ip', ['-j', '-4', 'route', 'show'], { encoding: 'utf8' }).stdout || '[]';
  const routes = (JSON.parse(out) as Array<{ dst: string }>).map((r) => r.dst).filter((d) => d !== 'default');
  const toNum = (a: string) => a.split('.').reduce((n, b) => n * 256 + Number(b), 0);
  const overlaps = (a: string, b: string) => {
    const [an, ap = '32'] = a.split('/');
    const [bn, bp = '32'] = b.split('/');
    const p = Math.min(Number(ap), Number(bp));
    const shift = 2 ** (32 - p);
    return Math.floor(toNum(an!) / shift) === Math.floor(toNum(bn!) / shift);
  };
  for (let i = 0; i < 1000; i++) {
    const candidate = `172.${18 + Math.floor(Math.random() * 14)}.${Math.floor(Math.random() * 256)}.0/24`;
    if (!routes.some((r) => overlaps(r, candidate))) return candidate;
  }
  throw new Error('no free /24 in 172.18.0.0-172.31.255.255');
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BERTHD = path.join(repoRoot, 'bin/berthd');
export const BERTH = path.join(repoRoot, 'bin/berth');
export const DOCKER = '/usr/local/bin/docker';
export const hasDocker = existsSync(DOCKER);

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json: <T = any>() => T;
}

/**
 * A berthd of a test's own: its own data root, exec root and socket under a fresh temp dir, never the
 * defaults. `stop` ends it and removes everything it made, and is safe to call twice.
 */
export class TestDaemon {
  readonly root: string;
  readonly socket: string;
  readonly host: string;
  private proc?: ChildProcess;
  private stderr = '';

  /** The daemon's default bridge: its own name (and so its own iptables chains) unless extraArgs give one. */
  readonly bridge: string;
  private readonly netArgs: string[] = [];

  constructor(readonly extraArgs: string[] = []) {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
    this.socket = path.join(this.root, 'berth.sock');
    this.host = `unix://${this.socket}`;
    writeFileSync(path.join(this.root, 'daemon.json'), '{}\n');
    const given = extraArgs.indexOf('--bridge');
    this.bridge = given >= 0 ? extraArgs[given + 1]! : `bt${randomBytes(3).toString('hex')}`;
    if (given < 0) this.netArgs.push('--bridge', this.bridge);
    // A bridge the test made beforehand gives the daemon its subnet itself (dockerd's -b).
    const preExisting = given >= 0 && existsSync(`/sys/class/net/${this.bridge}`);
    if (!extraArgs.includes('--bip') && !preExisting) this.netArgs.push('--bip', `${freeSubnet24().replace(/\.0\/24$/, '.1')}/24`);
  }

  get dataRoot() {
    return path.join(this.root, 'data');
  }
  get execRoot() {
    return path.join(this.root, 'exec');
  }
  get logs() {
    return this.stderr;
  }

  args(): string[] {
    return ['--data-root', this.dataRoot, '--exec-root', this.execRoot, '-H', this.host, '--config-file', path.join(this.root, 'daemon.json'), ...this.netArgs, ...this.extraArgs];
  }

  async start(): Promise<this> {
    this.proc = spawn(BERTHD, this.args(), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) {
        // Read all of what it said before reporting it.
        if (!this.proc.stderr!.closed) await new Promise((r) => this.proc!.stderr!.once('close', r));
        throw new Error(`berthd exited ${this.proc.exitCode}: ${this.stderr}`);
      }
      try {
        if ((await this.request('GET', '/_ping')).status === 200) return this;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`berthd did not answer within 15s: ${this.stderr}`);
  }

  /** Stops the daemon with SIGTERM and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /**
   * Ends the daemon (which stops its containers) and then removes, whatever state a failed test left:
   * containers runc still runs under this root, their conmons, and mounts below the root.
   */
  async stop(): Promise<void> {
    await this.kill();
    const runcRoot = path.join(this.execRoot, 'runc');
    if (existsSync(runcRoot)) {
      for (const id of readdirSync(runcRoot)) spawnSync('runc', ['--root', runcRoot, 'delete', '-f', id], { stdio: 'ignore' });
    }
    spawnSync('pkill', ['-9', '-f', `conmon .*${this.root}`], { stdio: 'ignore' });
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(this.root + '/'))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    // Its namespaces, bridges, veths and iptables chains, should a crash have left any.
    await removeNetworkLeftovers(this.bridge);
    rmSync(this.root, { recursive: true, force: true });
  }

  request(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socket, method, path: urlPath, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          const text = buf.toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, body: buf, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body === undefined) req.end();
      else if (typeof (body as Readable).pipe === 'function') (body as Readable).pipe(req);
      else if (Buffer.isBuffer(body) || typeof body === 'string') req.end(body);
      else {
        req.setHeader('Content-Type', 'application/json');
        req.end(JSON.stringify(body));
      }
    });
  }

  async seedBusybox(ref = 'busybox:latest'): Promise<string> {
    return makeBusyboxImage(this.host, '/bin/busybox', ref);
  }

  /** registry:2 made from Debian's docker-registry (src/tools/make-registry-image.ts). */
  async seedRegistryImage(ref = 'registry:2'): Promise<string> {
    return makeRegistryImage(this.host, undefined, ref);
  }

  /** Runs the berth CLI against this daemon. */
  berth(args: string[], input?: Buffer | string): Promise<RunResult> {
    return run(BERTH, args, { BERTH_HOST: this.host }, input);
  }

  /** Runs the official docker CLI against this daemon. */
  docker(args: string[], input?: Buffer | string): Promise<RunResult> {
    return run(DOCKER, args, { DOCKER_HOST: this.host, DOCKER_CONFIG: path.join(this.root, 'docker-config') }, input);
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export function run(cmd: string, args: string[], env: Record<string, string>, input?: Buffer | string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { env: { ...process.env, BERTH_HOST: '', DOCKER_HOST: '', ...env }, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
        resolve({ code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), stdoutBytes: stdout });
      },
    );
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/** Splits Docker's multiplexed stream into stdout and stderr text. */
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  for (let i = 0; i + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(i + 4);
    const chunk = buf.subarray(i + 8, i + 8 + len).toString();
    if (buf[i] === 1) stdout += chunk;
    else if (buf[i] === 2) stderr += chunk;
    i += 8 + len;
  }
  return { stdout, stderr };
}
