/**
 * Berth's registry server: the OCI distribution API over a content-addressed store on disk, with htpasswd
 * or bearer-token auth, TLS, online garbage collection and a pull-through cache mode.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { log } from '../lib/log.js';
import { Htpasswd, TokenIssuer } from './auth.js';
import { BasicGate, openGate, tokenEndpoint, TokenGate, type AccessGate } from './gate.js';
import { GarbageCollector } from './gc.js';
import { ProxyCache } from './proxy.js';
import { lockRoot } from './root-lock.js';
import { RwLock } from './rwlock.js';
import { RegistryHandler } from './server.js';
import { RegistryService } from './service.js';
import { RegistryStorage } from './storage.js';
import { UploadManager } from './uploads.js';

export { RegistryStorage } from './storage.js';
export { GarbageCollector, type GcOptions, type GcResult } from './gc.js';
export { RwLock } from './rwlock.js';
export { RootInUseError } from './root-lock.js';

export interface RegistryServerOptions {
  /** The storage directory. */
  root: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Idle upload sessions older than this are removed (default 24 h). */
  uploadExpiryMs?: number;
  /** How often expired uploads are looked for (default: a tenth of the expiry, at most 10 min). */
  uploadSweepMs?: number;
  /** An htpasswd file (bcrypt entries): basic auth, or the users the token endpoint accepts. */
  htpasswd?: string;
  /** Serve GET /token and require bearer tokens from it. */
  tokenIssue?: boolean;
  tokenService?: string;
  /** The realm clients are sent to (default: this server's /token, from the request's Host). */
  tokenRealm?: string;
  tokenTtlSeconds?: number;
  /** HTTPS; with `clientCa`, clients must present a certificate signed by it (as Distribution's clientcas). */
  tls?: { cert: string; key: string; clientCa?: string };
  /** Run a garbage collection this often while serving (0 or absent: only on POST /admin/gc). */
  gcIntervalMs?: number;
  /** Unreferenced blobs younger than this are kept (default 1 h). */
  gcGraceMs?: number;
  /** Refuse pushes and deletes (maintenance); pulls go on. */
  readOnly?: boolean;
  proxy?: { remote: string; username?: string; password?: string; tagTtlMs?: number; cacheTtlMs?: number };
}

export interface RunningRegistry {
  url: string;
  address: { host: string; port: number };
  close(): Promise<void>;
}

const HOUR = 3_600_000;

export async function startRegistryServer(options: RegistryServerOptions): Promise<RunningRegistry> {
  const storage = new RegistryStorage(options.root);
  await storage.init();
  const unlockRoot = await lockRoot(options.root);
  try {
    return await serveOn(storage, options, unlockRoot);
  } catch (err) {
    await unlockRoot();
    throw err;
  }
}

async function serveOn(storage: RegistryStorage, options: RegistryServerOptions, unlockRoot: () => Promise<void>): Promise<RunningRegistry> {
  const lock = new RwLock();
  const uploads = new UploadManager(storage);
  const proxy = options.proxy ? new ProxyCache(storage, options.proxy) : undefined;
  const service = new RegistryService(storage, uploads, lock, proxy, options.readOnly);
  const gc = new GarbageCollector(storage, lock, { graceMs: options.gcGraceMs ?? HOUR, beforeMark: proxy ? async () => void (await proxy.expire()) : undefined });
  const users = options.htpasswd ? Htpasswd.load(options.htpasswd) : undefined;
  const scheme = options.tls ? 'https' : 'http';
  let gate: AccessGate = openGate;
  let token: ConstructorParameters<typeof RegistryHandler>[0]['token'];
  if (options.tokenIssue) {
    const issuer = new TokenIssuer(options.tokenService ?? 'berth-registry', 'berth-registry', options.tokenTtlSeconds ?? 300);
    gate = new TokenGate(issuer, options.tokenRealm, scheme);
    token = tokenEndpoint(issuer, users);
  } else if (users) {
    gate = new BasicGate(users);
  }
  const handler = new RegistryHandler({ service, gate, gc, token });
  const server = options.tls
    ? https.createServer(
        {
          cert: readFileSync(options.tls.cert),
          key: readFileSync(options.tls.key),
          ...(options.tls.clientCa ? { ca: readFileSync(options.tls.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
        },
        handler.listener,
      )
    : http.createServer(handler.listener);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    socket.destroy();
  });
  // Uploads can be slow; a stalled client is cut after 10 minutes of silence, not 5.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.setTimeout(600_000);

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 5000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const expiry = options.uploadExpiryMs ?? 24 * HOUR;
  const sweepEvery = options.uploadSweepMs ?? Math.min(expiry / 10, 10 * 60_000);
  const timers: NodeJS.Timeout[] = [];
  timers.push(setInterval(() => void uploads.expire(expiry).catch((err) => log.warn('upload expiry failed', { error: String(err) })), Math.max(sweepEvery, 50)));
  if (options.gcIntervalMs && options.gcIntervalMs > 0) {
    timers.push(setInterval(() => void gc.collect().catch((err) => log.warn('garbage collection failed', { error: String(err) })), options.gcIntervalMs));
  }
  for (const t of timers) t.unref();

  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${scheme}://${shownHost}:${addr.port}`,
    address: { host: addr.address, port: addr.port },
    close: async () => {
      for (const t of timers) clearInterval(t);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await unlockRoot();
    },
  };
}

/** Offline garbage collection of a registry's storage (the server should not be running on it). */
export async function collectGarbage(root: string, graceMs = 0, dryRun = false) {
  const storage = new RegistryStorage(root);
  await storage.init();
  const unlock = await lockRoot(root);
  try {
    return await new GarbageCollector(storage, new RwLock(), { graceMs, dryRun }).collect();
  } finally {
    await unlock();
  }
}
