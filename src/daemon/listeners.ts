import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_HTTP_PORT, DEFAULT_TLS_HOST, guardTlsListener, serverTlsOptions, warnInsecureTcp, type TlsSettings } from './tls.js';
import { log, debugIgnored } from '../lib/log.js';
import { processAlive } from '../lib/process.js';

/**
 * Opens the daemon's API listeners: unix sockets, and tcp:// addresses (TLS when `tls.enabled`).
 * Each address gets an HTTP server of its own that shares the API server's handlers, so that one
 * `server.close()` (daemon stop) closes every listener and drops their connections. A socket file
 * that answers belongs to a live daemon and is never taken over; a stale one is removed. The
 * returned closers remove the socket files. If one address fails, those already opened are closed.
 */
export async function listen(server: http.Server, hosts: string[], tls?: TlsSettings): Promise<Array<() => Promise<void>>> {
  const secure = tls?.enabled ? await serverTlsOptions(tls) : undefined;
  const closers: Array<() => Promise<void>> = [];
  const opened: http.Server[] = [];
  const closeAll = () => {
    for (const s of opened) {
      s.close();
      s.closeAllConnections();
    }
  };
  // Normalized and without repeats, as dockerd does.
  const urls = [...new Map(hosts.map((host) => parseHost(host, secure !== undefined)).map((u) => [u.kind === 'unix' ? `unix://${u.path}` : u.url, u])).values()];
  // As dockerd: every warning (and its pause) before any listener serves.
  for (const url of urls) {
    if (url.kind === 'tcp' && !(secure && tls?.verify)) await warnInsecureTcp(url.url, url.address, tls?.explicit ?? false);
  }
  server.once('close', closeAll);
  try {
    // TCP first: once the unix socket answers (what local tools and tests wait for), all serve.
    for (const url of [...urls.filter((u) => u.kind === 'tcp'), ...urls.filter((u) => u.kind === 'unix')]) {
      if (url.kind === 'unix') {
        await claimSocketPath(url.path);
        await fs.mkdir(path.dirname(url.path), { recursive: true });
        const s = sibling(server);
        opened.push(s);
        await listenOn(s, { path: url.path });
        closers.push(async () => {
          await fs.rm(url.path, { force: true });
        });
        await fs.chmod(url.path, 0o660);
        const gid = groupId('berth');
        if (gid !== undefined) await fs.chown(url.path, 0, gid);
      } else {
        const s = sibling(server, secure);
        opened.push(s);
        if (secure) guardTlsListener(s as https.Server);
        await listenOn(s, { host: url.address, port: url.port });
        log.debug(`Listener created for HTTP on tcp (${url.address}:${url.port})`, { tls: !!secure, verify: !!(secure && tls?.verify) });
      }
    }
  } catch (err) {
    server.off('close', closeAll);
    closeAll();
    for (const close of closers) await close().catch(debugIgnored('closing a listener failed'));
    throw err;
  }
  return closers;
}

/** An HTTP(S) server with the API server's handlers and timeouts. */
function sibling(api: http.Server, secure?: https.ServerOptions): http.Server {
  const options: http.ServerOptions = { requestTimeout: api.requestTimeout, headersTimeout: api.headersTimeout, keepAliveTimeout: api.keepAliveTimeout };
  // Half-open as node's plain http server is: a client that is done sending (docker's CloseWrite
  // after stdin, a TLS close_notify) still gets the hijacked output of attach and exec.
  const s: http.Server = secure ? https.createServer({ ...secure, ...options, allowHalfOpen: true }) : http.createServer(options);
  for (const event of ['request', 'upgrade', 'checkContinue', 'checkExpectation', 'clientError', 'connect']) {
    for (const listener of api.listeners(event)) s.on(event, listener as (...args: unknown[]) => void);
  }
  return s;
}

export type HostAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; address: string; port: number; url: string };

/**
 * Parses a -H value as dockerd's ParseHost does: "" is the default (tcp://localhost:2376 with TLS,
 * else the unix socket); "HOST:PORT" means tcp; a tcp address without host is localhost, without
 * port 2375 (also with TLS, as in dockerd). An absolute path is taken as a unix socket.
 */
export function parseHost(host: string, defaultToTls = false): HostAddress {
  let h = host.trim();
  if (h === '') h = defaultToTls ? DEFAULT_TLS_HOST : 'unix:///run/berth/berth.sock';
  if (h.startsWith('unix://')) return { kind: 'unix', path: h.slice('unix://'.length) || '/run/berth/berth.sock' };
  if (h.startsWith('/')) return { kind: 'unix', path: h };
  const invalid = (why: string) => new Error(`invalid bind address (${host}): ${why}`);
  const sep = h.indexOf('://');
  if (sep !== -1 && h.slice(0, sep) !== 'tcp') {
    if (h.startsWith('fd://')) throw new Error(`listening on ${host} is not supported: use unix:// or tcp://`);
    throw invalid(`unsupported proto '${h.slice(0, sep)}'`);
  }
  const rest = sep === -1 ? h : h.slice(sep + 3);
  if (rest.includes('/')) throw invalid('should not contain a path element');
  const m = /^(\[[0-9a-fA-F:.]*\]|[^:[\]]*)(?::(\d*))?$/.exec(rest);
  if (!m) throw invalid('invalid port or address');
  const address = (m[1] || 'localhost').replace(/^\[(.*)\]$/, '$1');
  const port = m[2] ? Number(m[2]) : DEFAULT_HTTP_PORT;
  if (port > 65535) throw invalid(`invalid port ${m[2]}`);
  const shown = address.includes(':') ? `[${address}]` : address;
  return { kind: 'tcp', address, port, url: `tcp://${shown}:${port}` };
}

async function claimSocketPath(file: string): Promise<void> {
  try {
    await fs.lstat(file);
  } catch {
    return; // nothing at the path: free to bind
  }
  const alive = await new Promise<boolean>((resolve) => {
    const sock = net.connect(file);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another berthd is already listening on ${file}`);
  await fs.rm(file, { force: true });
}

function listenOn(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function groupId(name: string): number | undefined {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [group, , gid] = line.split(':');
      if (group === name && gid) return Number(gid);
    }
  } catch {
    // no /etc/group: no group to hand the socket to
  }
  return undefined;
}

/** Takes the pidfile, refusing if it names a live process (another daemon on the same state). */
export async function takePidfile(file: string): Promise<() => Promise<void>> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  try {
    const pid = Number((await fs.readFile(file, 'utf8')).trim());
    if (pid && pid !== process.pid && processAlive(pid)) {
      throw new Error(`pid file found, ensure berthd is not running or delete ${file}`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.writeFile(file, `${process.pid}`);
  return async () => {
    try {
      if ((await fs.readFile(file, 'utf8')).trim() === `${process.pid}`) await fs.rm(file, { force: true });
    } catch {
      // already gone
    }
  };
}
