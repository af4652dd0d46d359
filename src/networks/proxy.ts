/**
 * The userland proxy: what docker-proxy does, in the daemon's process. For each published port it
 * holds the host socket (which is also what reserves the port) and forwards TCP connections and UDP
 * datagrams to the container's address. It is what makes ports published on 127.0.0.1 answer from the
 * host (loopback traffic does not pass the NAT rules), and what carries traffic from a container to a
 * port published by a container on the same bridge.
 *
 * With the proxy disabled (--userland-proxy=false) the socket is still bound, to reserve the port, but
 * nothing is forwarded: the DNAT rules do all the work.
 *
 * IPv6 host addresses are bound IPv6-only (so "::" and "0.0.0.0" are two bindings of one port, as
 * docker-proxy makes them); the target is the container's IPv6 address when it has one on the network,
 * else its IPv4 address: the proxy is what carries IPv6 clients to an IPv4-only container.
 *
 * Lifecycle: `PortProxy.open` binds (or fails with the bind error); `close` releases the port and ends
 * the connections it carries. Proxies die with the daemon; a restarted daemon opens them again.
 */
import net from 'node:net';
import dgram from 'node:dgram';

const UDP_IDLE_MS = 90_000;
const UDP_MAX_FLOWS = 1024;

export class BindError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'BindError';
  }
}

/** Go's syscall error strings, which Docker's messages carry. */
function errnoText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'address already in use';
    case 'EACCES':
      return 'permission denied';
    case 'EADDRNOTAVAIL':
      return 'cannot assign requested address';
    default:
      return err.message;
  }
}

export class PortProxy {
  private target: { ip: string; port: number };
  private readonly conns = new Set<net.Socket>();
  private readonly flows = new Map<string, { sock: dgram.Socket; timer: NodeJS.Timeout }>();

  private constructor(
    readonly proto: 'tcp' | 'udp',
    readonly hostIp: string,
    readonly hostPort: number,
    target: { ip: string; port: number },
    private readonly server: net.Server | dgram.Socket,
    private readonly forward: boolean,
  ) {
    this.target = target;
  }

  /** Binds hostIp:hostPort (0 = a port the kernel picks from ip_local_port_range). */
  static async open(opts: { proto: 'tcp' | 'udp'; hostIp: string; hostPort: number; target: { ip: string; port: number }; forward: boolean }): Promise<PortProxy> {
    const host = opts.hostIp || '0.0.0.0';
    if (opts.proto === 'tcp') {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => reject(new BindError(errnoText(err), err.code ?? '')));
        server.listen({ host, port: opts.hostPort, exclusive: true, backlog: 511, ipv6Only: net.isIPv6(host) }, () => resolve());
      });
      const port = (server.address() as net.AddressInfo).port;
      const proxy = new PortProxy('tcp', host, port, opts.target, server, opts.forward);
      server.on('connection', (s) => proxy.onConnection(s));
      server.on('error', () => {});
      return proxy;
    }
    const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false, ipv6Only: net.isIPv6(host) });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', (err: NodeJS.ErrnoException) => reject(new BindError(errnoText(err), err.code ?? '')));
      sock.bind({ address: host, port: opts.hostPort, exclusive: true }, () => resolve());
    });
    const port = sock.address().port;
    const proxy = new PortProxy('udp', host, port, opts.target, sock, opts.forward);
    sock.on('message', (msg, rinfo) => proxy.onDatagram(msg, rinfo));
    sock.on('error', () => {});
    return proxy;
  }

  setTarget(target: { ip: string; port: number }): void {
    this.target = target;
  }

  private onConnection(client: net.Socket): void {
    if (!this.forward) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: this.target.ip, port: this.target.port, allowHalfOpen: true });
    this.conns.add(client);
    this.conns.add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      this.conns.delete(client);
      this.conns.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!this.forward) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      if (this.flows.size >= UDP_MAX_FLOWS) return;
      const sock = dgram.createSocket(net.isIPv6(this.target.ip) ? 'udp6' : 'udp4');
      const server = this.server as dgram.Socket;
      sock.on('message', (reply) => {
        server.send(reply, rinfo.port, rinfo.address);
        this.touch(key);
      });
      sock.on('error', () => this.dropFlow(key));
      sock.connect(this.target.port, this.target.ip);
      flow = { sock, timer: setTimeout(() => this.dropFlow(key), UDP_IDLE_MS).unref() };
      this.flows.set(key, flow);
      const f = flow;
      sock.once('connect', () => f.sock.send(msg));
      return;
    }
    this.touch(key);
    try {
      flow.sock.send(msg);
    } catch {
      // not connected yet: the first datagram is still on its way; drop this one as UDP may
    }
  }

  private touch(key: string): void {
    const flow = this.flows.get(key);
    if (!flow) return;
    clearTimeout(flow.timer);
    flow.timer = setTimeout(() => this.dropFlow(key), UDP_IDLE_MS).unref();
  }

  private dropFlow(key: string): void {
    const flow = this.flows.get(key);
    if (!flow) return;
    clearTimeout(flow.timer);
    flow.sock.close();
    this.flows.delete(key);
  }

  async close(): Promise<void> {
    for (const key of [...this.flows.keys()]) this.dropFlow(key);
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    if (this.proto === 'tcp') await new Promise<void>((r) => (this.server as net.Server).close(() => r()));
    else await new Promise<void>((r) => (this.server as dgram.Socket).close(() => r()));
  }
}
