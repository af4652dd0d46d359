/**
 * The embedded DNS server that containers on user-defined networks reach at 127.0.0.11.
 *
 * How the address exists inside each container: when a container joins its first user-defined network,
 * the daemon runs a helper in the container's network namespace (native/netns-dns-bind, or else
 * dns-helper.js through the `ip` adapter); the helper binds 127.0.0.11:53 (UDP and TCP) there and hands the two sockets back over Node's IPC
 * channel, then exits. The daemon serves them from its own event loop, so it always knows which
 * container asks (by the socket the query came on) and answers only with names of the networks that
 * container is on. Names it does not know are forwarded, from the host's namespace, to the container's
 * --dns servers or else the host's resolvers (/etc/resolv.conf).
 *
 * Lifecycle: one DnsServer per daemon. `open` after the sandbox exists, `close` before it is deleted
 * (a socket keeps its namespace alive); `closeAll` at shutdown.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { spawn, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as dnsPacket from 'dns-packet';
import { NETNS_DIR, spawnInNetns } from './ip.js';
import { formatIPv6 } from './ipv6.js';
import { log } from '../lib/log.js';
import { spawnerEnabled, spawnerSockets } from '../lib/spawner.js';

const TTL = 600;
const FORWARD_TIMEOUT_MS = 2_000;
const HELPER = fileURLToPath(new URL('./dns-helper.js', import.meta.url));
/**
 * The same helper in C (native/netns-dns-bind.c, built by `make build`): it enters the namespace itself
 * and starts in about a millisecond, where Node's start costs ~50 ms of CPU per container. The Node
 * helper stays as the fallback where no C compiler was at hand.
 */
export const NATIVE_HELPER = fileURLToPath(new URL('../../native/netns-dns-bind', import.meta.url));
const nativeHelper = existsSync(NATIVE_HELPER);

/** What the server asks the network service for each query. */
export interface DnsSource {
  /**
   * IPv4 addresses of a name on the networks the container is on; undefined if the name is not one of
   * theirs (then the query is forwarded).
   */
  lookup(containerId: string, name: string): string[] | undefined;
  /** The name for an address of one of the container's networks ("web.mynet"), if any. */
  reverse(containerId: string, ip: string): string | undefined;
  /** Where to forward other names; an empty list answers SERVFAIL (internal networks only). */
  upstreams(containerId: string): string[];
}

interface Binding {
  udp: dgram.Socket;
  tcp: net.Server;
  conns: Set<net.Socket>;
}

/** Starts the helper in the namespace and waits for its sockets. */
export async function bindInNetns(netns: string, timeoutMs = 10_000): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  if (!nativeHelper || !spawnerEnabled()) return bindHere(netns, timeoutMs);
  // From the spawner: a spawn from the daemon itself stalls its event loop ~12 ms (lib/spawner.ts).
  const { result, sockets } = await spawnerSockets({ helper: NATIVE_HELPER, args: [netnsFile(netns)], timeoutMs });
  const udp = sockets.get('udp') as dgram.Socket | undefined;
  const tcp = sockets.get('tcp') as net.Server | undefined;
  if (result.error || !udp || !tcp) {
    udp?.close();
    tcp?.close();
    throw new Error(`embedded DNS: ${result.error?.message ?? 'the helper sent no sockets'}`);
  }
  return { udp, tcp };
}

const netnsFile = (netns: string): string => (netns.includes('/') ? netns : path.join(NETNS_DIR, netns));

/** The helper run from the daemon's own process. */
function bindHere(netns: string, timeoutMs: number): Promise<{ udp: dgram.Socket; tcp: net.Server }> {
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = ['ignore', 'ignore', 'pipe', 'ipc'];
    const child = nativeHelper
      ? spawn(NATIVE_HELPER, [netnsFile(netns)], { stdio })
      : spawnInNetns(netns, [process.execPath, HELPER], stdio);
    let stderr = '';
    let udp: dgram.Socket | undefined;
    let tcp: net.Server | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        udp?.close();
        tcp?.close();
        child.kill('SIGKILL');
        reject(err);
      } else resolve({ udp: udp!, tcp: tcp! });
    };
    const timer = setTimeout(() => finish(new Error(`embedded DNS: no sockets from the helper within ${timeoutMs} ms`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('message', (msg: unknown, handle: unknown) => {
      if (msg === 'udp') udp = handle as dgram.Socket;
      else if (msg === 'tcp') tcp = handle as net.Server;
      else if (msg && typeof msg === 'object' && 'error' in msg) finish(new Error(`embedded DNS: ${String((msg as { error: unknown }).error)}`));
      if (udp && tcp) finish();
    });
    child.on('error', (err) => finish(err));
    // 'close', not 'exit': the helper exits as soon as its sends are written, and 'exit' can come
    // before the parent has read those messages; 'close' comes after the IPC channel is drained.
    child.on('close', (code) => {
      if (!(udp && tcp)) finish(new Error(`embedded DNS: helper exited with ${code}: ${stderr.trim()}`));
    });
  });
}

export class DnsServer {
  private readonly bindings = new Map<string, Binding>();
  private hostServers: { at: number; mtimeMs: number; servers: string[] } | undefined;

  constructor(
    private readonly source: DnsSource,
    private readonly hostResolvConf = '/etc/resolv.conf',
  ) {}

  has(containerId: string): boolean {
    return this.bindings.has(containerId);
  }

  /** Serves the container from sockets bound in its namespace. */
  serve(containerId: string, sockets: { udp: dgram.Socket; tcp: net.Server }): void {
    this.close(containerId);
    const b: Binding = { ...sockets, conns: new Set() };
    b.udp.on('message', (msg, rinfo) => {
      this.answer(containerId, msg, 'udp').then(
        (reply) => {
          if (reply && this.bindings.get(containerId) === b) b.udp.send(reply, rinfo.port, rinfo.address, () => {});
        },
        (err: Error) => log.debug('embedded DNS: query failed', { id: containerId, error: err.message }),
      );
    });
    b.udp.on('error', (err) => log.debug('dns udp socket error', { id: containerId, error: err.message }));
    b.tcp.on('connection', (s) => this.onTcp(containerId, b, s));
    b.tcp.on('error', (err) => log.debug('dns tcp socket error', { id: containerId, error: err.message }));
    this.bindings.set(containerId, b);
  }

  close(containerId: string): void {
    const b = this.bindings.get(containerId);
    if (!b) return;
    this.bindings.delete(containerId);
    for (const c of b.conns) c.destroy();
    b.udp.close();
    b.tcp.close();
  }

  closeAll(): void {
    for (const id of [...this.bindings.keys()]) this.close(id);
  }

  private onTcp(containerId: string, b: Binding, s: net.Socket): void {
    b.conns.add(s);
    let buf = Buffer.alloc(0);
    s.setTimeout(10_000, () => s.destroy());
    s.on('close', () => b.conns.delete(s));
    s.on('error', () => s.destroy());
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.answer(containerId, msg, 'tcp').then(
          (reply) => {
            if (!reply || s.destroyed) return;
            const head = Buffer.alloc(2);
            head.writeUInt16BE(reply.length);
            s.write(Buffer.concat([head, reply]));
          },
          (err: Error) => log.debug('embedded DNS: query failed', { id: containerId, error: err.message }),
        );
      }
    });
  }

  /** The reply to one query (raw bytes), or undefined to stay silent (undecodable input). */
  async answer(containerId: string, msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined; // malformed packet: dropped
    }
    if (q.type !== 'query' || !q.questions?.length) return undefined;
    const question = q.questions[0]!;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const reply = (answers: dnsPacket.Answer[], rcode = 0) =>
      dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: (q.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE | rcode,
        questions: q.questions,
        answers,
      });

    if (question.class === 'IN' || question.class === undefined) {
      if (question.type === 'PTR' && name.endsWith('.in-addr.arpa')) {
        const ip = name.slice(0, -'.in-addr.arpa'.length).split('.').reverse().join('.');
        const target = this.source.reverse(containerId, ip);
        if (target) return reply([{ type: 'PTR', name: question.name, ttl: TTL, data: target }]);
      } else if (question.type === 'PTR' && name.endsWith('.ip6.arpa')) {
        const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.').reverse();
        const addr = nibbles.length === 32 && nibbles.every((n) => /^[0-9a-f]$/.test(n)) ? formatIPv6(BigInt(`0x${nibbles.join('')}`)) : undefined;
        const target = addr ? this.source.reverse(containerId, addr) : undefined;
        if (target) return reply([{ type: 'PTR', name: question.name, ttl: TTL, data: target }]);
      } else {
        const addrs = this.source.lookup(containerId, name);
        if (addrs) {
          // A known name: its IPv4 (A) or IPv6 (AAAA) addresses, and an empty answer for any other type (MX, ...).
          if (question.type === 'A') return reply(addrs.filter((a) => !a.includes(':')).map((a) => ({ type: 'A' as const, name: question.name, ttl: TTL, data: a })));
          if (question.type === 'AAAA') return reply(addrs.filter((a) => a.includes(':')).map((a) => ({ type: 'AAAA' as const, name: question.name, ttl: TTL, data: a })));
          return reply([]);
        }
      }
    }
    const upstreams = this.source.upstreams(containerId);
    const servers = upstreams.length ? upstreams : [];
    if (!servers.length) return reply([], 2 /* SERVFAIL */);
    for (const server of servers) {
      try {
        return transport === 'udp' ? await forwardUdp(msg, server) : await forwardTcp(msg, server);
      } catch (err) {
        log.debug('dns forward failed', { server, error: (err as Error).message });
      }
    }
    return reply([], 2);
  }

  /** Name servers of the host's resolv.conf (re-read when it changes). */
  hostUpstreams(): string[] {
    const now = Date.now();
    let mtimeMs = 0;
    try {
      mtimeMs = statSync(this.hostResolvConf).mtimeMs;
    } catch {
      // no resolv.conf: no upstreams
    }
    if (this.hostServers && this.hostServers.mtimeMs === mtimeMs && now - this.hostServers.at < 60_000) return this.hostServers.servers;
    let servers: string[] = [];
    try {
      servers = readFileSync(this.hostResolvConf, 'utf8')
        .split('\n')
        .filter((l) => /^\s*nameserver\s/.test(l))
        .map((l) => l.trim().split(/\s+/)[1]!)
        .filter((s) => /^\d+\.\d+\.\d+\.\d+$/.test(s));
    } catch {
      servers = [];
    }
    this.hostServers = { at: now, mtimeMs, servers };
    return servers;
  }
}

/** "1.2.3.4" or "1.2.3.4:5353" -> host and port. */
function hostPort(server: string): { host: string; port: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(server);
  return m ? { host: m[1]!, port: m[2] ? Number(m[2]) : 53 } : { host: server, port: 53 };
}

export function forwardUdp(msg: Buffer, server: string, timeoutMs = FORWARD_TIMEOUT_MS): Promise<Buffer> {
  const { host, port } = hostPort(server);
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('timeout'));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (reply) => {
      if (reply.length < 2 || reply.readUInt16BE(0) !== msg.readUInt16BE(0)) return;
      clearTimeout(timer);
      sock.close();
      resolve(reply);
    });
    // Connected, so that a server that is not there fails at once (ECONNREFUSED) rather than by timeout.
    sock.connect(port, host, () => sock.send(msg));
  });
}

export function forwardTcp(msg: Buffer, server: string, timeoutMs = FORWARD_TIMEOUT_MS): Promise<Buffer> {
  const { host, port } = hostPort(server);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(new Error('timeout'));
    });
    s.on('error', reject);
    s.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      s.write(Buffer.concat([head, msg]));
    });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        s.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
  });
}
