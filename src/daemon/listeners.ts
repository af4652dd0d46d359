import net from 'node:net';
import http from 'node:http';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Opens the daemon's API listeners (unix:// now; tcp:// with TLS comes later). A socket file that
 * answers belongs to a live daemon and is never taken over; a stale one is removed.
 */
export async function listen(server: http.Server, hosts: string[]): Promise<Array<() => Promise<void>>> {
  const closers: Array<() => Promise<void>> = [];
  for (const host of hosts) {
    const url = parseHost(host);
    if (url.kind === 'unix') {
      await claimSocketPath(url.path);
      await fs.mkdir(path.dirname(url.path), { recursive: true });
      await listenOn(server, { path: url.path });
      await fs.chmod(url.path, 0o660);
      const gid = groupId('berth');
      if (gid !== undefined) await fs.chown(url.path, 0, gid);
      closers.push(async () => {
        await fs.rm(url.path, { force: true });
      });
    } else {
      throw new Error(`listening on ${host} is not supported yet: use unix://`);
    }
  }
  return closers;
}

export function parseHost(host: string): { kind: 'unix'; path: string } | { kind: 'tcp'; address: string; port: number } {
  if (host.startsWith('unix://')) return { kind: 'unix', path: host.slice('unix://'.length) || '/run/berth/berth.sock' };
  if (host.startsWith('/')) return { kind: 'unix', path: host };
  const m = /^(?:tcp:\/\/)?([^:]*):(\d+)$/.exec(host);
  if (m) return { kind: 'tcp', address: m[1] || '127.0.0.1', port: Number(m[2]) };
  throw new Error(`invalid host address: ${host}`);
}

async function claimSocketPath(file: string): Promise<void> {
  try {
    await fs.lstat(file);
  } catch {
    return;
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

function listenOn(server: http.Server, options: net.ListenOptions): Promise<void> {
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
