/**
 * Adapter for the `etcd` program (Debian package etcd-server, 3.4): the only module that runs it.
 *
 * An EtcdMember is one etcd process for one node. Lifecycle: constructed (nothing runs) -> start()
 * (spawns etcd, resolves once /health answers true, i.e. the member sees a leader) -> optionally
 * restarted by the supervisor when it dies on its own (`restart`) -> stop() (SIGTERM, then SIGKILL
 * after a grace period; resolves when the process is gone). A member that was never stopped is
 * SIGKILLed when this Node process exits, and a pid file lets the next start() kill one left behind
 * by a crashed parent. Data lives in `<root>/<name>`, etcd's log in `<root>/<name>.log`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync, promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { processAlive } from '../../lib/process.js';
import { sleep } from '../../lib/sleep.js';

const PROXY_VARIABLES = new Set(['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy']);

/**
 * berthd's environment without proxy settings: etcd (Go) sends its gateway's dial to its own client URL
 * and its peer traffic through HTTP(S)_PROXY unless the address is loopback, and a proxy set for berthd's
 * pulls would then take (or, unreachable, break) the member's own traffic.
 */
export function etcdEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !PROXY_VARIABLES.has(k.toLowerCase())));
}

export interface EtcdTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface EtcdPeer {
  name: string;
  /** e.g. https://10.0.0.2:2380 */
  peerUrl: string;
}

export interface EtcdMemberOptions {
  name: string;
  /** Directory holding this member's data dir, log and pid file. */
  root: string;
  /** Address the member listens on and advertises (peer and client). */
  address: string;
  peerPort: number;
  clientPort: number;
  /** Every member of the cluster as it will be once this one has joined, this one included. */
  initialCluster: EtcdPeer[];
  /** 'new' when bootstrapping; 'existing' when joining after a member add. */
  clusterState: 'new' | 'existing';
  clusterToken?: string;
  /** Certificates for both the peer and the client side (mutual TLS on both); plain HTTP without. */
  peerTls?: EtcdTlsFiles;
  clientTls?: EtcdTlsFiles;
  /** Restart the process when it dies without stop() (after a short, growing delay). Default false. */
  restart?: boolean;
  /** How long start() waits for health (default 30 s). */
  startTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL in stop() (default 5 s). */
  stopTimeoutMs?: number;
  heartbeatMs?: number;
  electionTimeoutMs?: number;
  binary?: string;
}

export class EtcdMemberError extends Error {
  override name = 'EtcdMemberError';
}

/** Members started by this process, killed if it exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export function urlFor(scheme: 'http' | 'https', address: string, port: number): string {
  return `${scheme}://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

export class EtcdMember extends EventEmitter {
  readonly name: string;
  readonly dataDir: string;
  readonly peerUrl: string;
  readonly clientUrl: string;
  private readonly logFile: string;
  private readonly pidFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stopping = false;
  private restarts = 0;
  /** Why the last spawn failed (e.g. etcd not installed), for start()'s message. */
  private spawnError: Error | undefined;

  constructor(private readonly opts: EtcdMemberOptions) {
    super();
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(opts.name)) throw new EtcdMemberError(`invalid etcd member name: ${JSON.stringify(opts.name)}`);
    this.name = opts.name;
    this.dataDir = path.join(opts.root, opts.name);
    this.logFile = path.join(opts.root, `${opts.name}.log`);
    this.pidFile = path.join(opts.root, `${opts.name}.pid`);
    this.peerUrl = urlFor(opts.peerTls ? 'https' : 'http', opts.address, opts.peerPort);
    this.clientUrl = urlFor(opts.clientTls ? 'https' : 'http', opts.address, opts.clientPort);
  }

  /** The running process's pid, if any. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** The etcd command line (without the binary). */
  args(): string[] {
    const o = this.opts;
    const a = [
      '--name', o.name,
      '--data-dir', this.dataDir,
      '--listen-peer-urls', this.peerUrl,
      '--initial-advertise-peer-urls', this.peerUrl,
      '--listen-client-urls', this.clientUrl,
      '--advertise-client-urls', this.clientUrl,
      '--initial-cluster', o.initialCluster.map((p) => `${p.name}=${p.peerUrl}`).join(','),
      '--initial-cluster-state', o.clusterState,
      '--initial-cluster-token', o.clusterToken ?? 'berth-swarm',
      '--heartbeat-interval', String(o.heartbeatMs ?? 100),
      '--election-timeout', String(o.electionTimeoutMs ?? 1000),
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ];
    if (o.clientTls) {
      a.push('--cert-file', o.clientTls.certFile, '--key-file', o.clientTls.keyFile, '--trusted-ca-file', o.clientTls.caFile, '--client-cert-auth');
    }
    if (o.peerTls) {
      a.push('--peer-cert-file', o.peerTls.certFile, '--peer-key-file', o.peerTls.keyFile, '--peer-trusted-ca-file', o.peerTls.caFile, '--peer-client-cert-auth');
    }
    return a;
  }

  /** Starts etcd and resolves when it is healthy; on failure nothing is left running. */
  async start(): Promise<void> {
    if (this.child && this.pid) throw new EtcdMemberError(`etcd member ${this.name} is already running`);
    this.stopping = false;
    await fs.mkdir(this.opts.root, { recursive: true });
    await fs.mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    await fs.chmod(this.dataDir, 0o700); // etcd refuses (3.4: warns and fixes) a looser data dir
    await this.killLeftover();
    this.spawnProcess();
    try {
      await this.waitHealthy(this.opts.startTimeoutMs ?? 30_000);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private spawnProcess(): void {
    installExitHook();
    this.spawnError = undefined;
    const log = openSync(this.logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(this.opts.binary ?? 'etcd', this.args(), { stdio: ['ignore', log, log], env: etcdEnvironment(process.env) });
    } finally {
      closeSync(log);
    }
    this.child = child;
    running.add(child);
    this.exited = new Promise((resolve) => {
      let ended = false;
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (ended) return;
        ended = true;
        running.delete(child);
        resolve();
        if (this.child !== child) return;
        void fs.rm(this.pidFile, { force: true });
        this.emit('exit', { code, signal });
        if (!this.stopping && this.opts.restart) void this.restartLater();
      };
      child.once('exit', done);
      child.once('error', (err) => {
        this.spawnError = err;
        // A spawn that failed (ENOENT) has no pid and never emits 'exit' (its exitCode is the errno).
        if (child.pid === undefined) done(null, null);
      });
    });
    if (child.pid) void fs.writeFile(this.pidFile, `${child.pid}\n`, { mode: 0o600 }).catch(() => undefined);
  }

  private async restartLater(): Promise<void> {
    const delay = Math.min(5_000, 250 * 2 ** Math.min(this.restarts++, 5));
    await sleep(delay);
    if (this.stopping || this.pid) return;
    this.spawnProcess();
    this.emit('restart', this.restarts);
  }

  /** Kills an etcd that a crashed parent left on this member's data dir (found by the pid file). */
  private async killLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number.parseInt(await fs.readFile(this.pidFile, 'utf8'), 10);
    } catch {
      return;
    }
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        // gone meanwhile
      }
      if (cmdline.includes('etcd') && cmdline.includes(this.dataDir)) {
        process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(50);
      }
    }
    await fs.rm(this.pidFile, { force: true });
  }

  /** Whether /health says true (the member is up and sees a leader). */
  async healthy(timeoutMs = 2_000): Promise<boolean> {
    const tls = this.opts.clientTls;
    const url = new URL('/health', this.clientUrl);
    return new Promise((resolve) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.get(
        url,
        {
          timeout: timeoutMs,
          ...(tls ? { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : {}),
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            try {
              resolve(res.statusCode === 200 && JSON.parse(body).health === 'true');
            } catch {
              resolve(false);
            }
          });
          res.on('error', () => resolve(false));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }

  /** Resolves when healthy; rejects (with the log's tail) when etcd exits or the time is up. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (!this.pid) {
        await this.exited; // its 'exit' or spawn 'error' has run: spawnError is known
        const why = this.spawnError ? `${this.opts.binary ?? 'etcd'}: ${this.spawnError.message} (install etcd-server)` : await this.logTail();
        throw new EtcdMemberError(`etcd member ${this.name} exited before becoming healthy: ${why}`);
      }
      if (await this.healthy(Math.min(2_000, Math.max(100, end - Date.now())))) return;
      if (Date.now() > end) throw new EtcdMemberError(`etcd member ${this.name} not healthy after ${timeoutMs} ms: ${await this.logTail()}`);
      await sleep(100);
    }
  }

  /** The last error-ish lines etcd wrote, for messages. */
  async logTail(lines = 3): Promise<string> {
    try {
      const text = await fs.readFile(this.logFile, 'utf8');
      const all = text.trim().split('\n');
      const bad = all.filter((l) => /"level":"(error|fatal|panic|warn)"/.test(l));
      return (bad.length ? bad : all).slice(-lines).map((l) => {
        try {
          const j = JSON.parse(l);
          return [j.msg, j.error].filter(Boolean).join(': ');
        } catch {
          return l;
        }
      }).join('; ');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || !this.exited) return;
    if (this.pid) {
      child.kill('SIGTERM');
      const grace = this.opts.stopTimeoutMs ?? 5_000;
      const timer = setTimeout(() => child.kill('SIGKILL'), grace);
      await this.exited;
      clearTimeout(timer);
    } else {
      await this.exited;
    }
    await fs.rm(this.pidFile, { force: true });
  }

  /** Stops the member and removes its data dir, log and pid file. */
  async destroy(): Promise<void> {
    await this.stop();
    await fs.rm(this.dataDir, { recursive: true, force: true });
    await fs.rm(this.logFile, { force: true });
  }
}
