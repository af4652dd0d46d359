/**
 * TLS for the daemon's TCP listeners, with dockerd's rules:
 *
 *  - `--tlsverify` (true or false, flag or daemon.json) turns TLS on; `--tls` alone also turns it on
 *    and, as in dockerd since 20.10, then requires client certificates unless `--tlsverify=false`.
 *  - Paths default to $DOCKER_CERT_PATH, else $DOCKER_CONFIG, else ~/.docker, + ca.pem, cert.pem,
 *    key.pem.
 *  - With verification, a client must present a certificate signed by the CA in --tlscacert (only
 *    that CA: the system roots are not trusted); others are refused during the handshake.
 *  - A TCP listener without client verification is logged loudly, and start-up pauses as dockerd's
 *    does: 1 s always, plus 15 s when the operator did not say --tls=false / --tlsverify=false and the
 *    address is not a loopback one (dockerd exempts loopback from the long pause too).
 *
 * Unix sockets never use TLS. Nothing here is reloaded on SIGHUP (dockerd does not reload TLS either).
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import tls from 'node:tls';
import type https from 'node:https';
import { log } from '../lib/log.js';
import { sleep as wait } from '../lib/sleep.js';

/** Where dockerd looks for ca.pem, cert.pem and key.pem when no path is given. */
export function defaultCertDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CERT_PATH || env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
}

/** IANA's ports for the Engine API: plain and TLS. */
export const DEFAULT_HTTP_PORT = 2375;
export const DEFAULT_TLS_PORT = 2376;
/** dockerd's default host when TLS is on and no host is configured. */
export const DEFAULT_TLS_HOST = `tcp://localhost:${DEFAULT_TLS_PORT}`;

/** The TLS options as given (flags merged with daemon.json); undefined means not given. */
export interface TlsOptionsGiven {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** What the daemon does with TLS, decided once at start. */
export interface TlsSettings {
  /** TCP listeners speak TLS. */
  enabled: boolean;
  /** Clients must present a certificate signed by `ca`. */
  verify: boolean;
  /** Verification comes from --tls alone (no --tlsverify): worth a hint when the CA is missing. */
  verifyImplied: boolean;
  /** --tls or --tlsverify was given at all: dockerd then skips its long warning pause. */
  explicit: boolean;
  ca: string;
  cert: string;
  key: string;
}

export function resolveTls(given: TlsOptionsGiven, env: NodeJS.ProcessEnv = process.env): TlsSettings {
  const dir = defaultCertDir(env);
  const verifyGiven = given.tlsverify !== undefined;
  // Whether set to true or false, tlsverify turns TLS on; tls alone implies verification.
  const enabled = verifyGiven ? true : given.tls === true;
  return {
    enabled,
    verify: enabled && given.tlsverify !== false,
    verifyImplied: enabled && !verifyGiven,
    explicit: given.tls !== undefined || verifyGiven,
    ca: given.tlscacert || path.join(dir, 'ca.pem'),
    cert: given.tlscert || path.join(dir, 'cert.pem'),
    key: given.tlskey || path.join(dir, 'key.pem'),
  };
}

export class TlsConfigError extends Error {}

/**
 * Reads the certificate, key and (when verifying) CA, and checks they form a usable server
 * context, so that a mistake stops the daemon at start rather than at the first handshake.
 */
export async function serverTlsOptions(s: TlsSettings): Promise<https.ServerOptions> {
  const fail = (msg: string) => new TlsConfigError(`invalid TLS configuration: ${msg}`);
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = await fs.readFile(s.cert);
    key = await fs.readFile(s.key);
  } catch (err) {
    throw fail(`could not load X509 key pair (cert: ${JSON.stringify(s.cert)}, key: ${JSON.stringify(s.key)}): ${goFsError(err)}`);
  }
  let ca: Buffer | undefined;
  if (s.verify) {
    try {
      ca = await fs.readFile(s.ca);
    } catch (err) {
      const hint = s.verifyImplied ? ' (--tls verifies client certificates against it; --tlsverify=false encrypts without them)' : '';
      throw fail(`could not read CA certificate ${JSON.stringify(s.ca)}: ${goFsError(err)}${hint}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw fail(`failed to append certificates from PEM file: ${JSON.stringify(s.ca)}`);
  }
  const options: https.ServerOptions = {
    cert,
    key,
    minVersion: 'TLSv1.2',
    // Only this CA: passing `ca` replaces Node's bundled roots for verifying clients.
    ...(s.verify ? { ca, requestCert: true, rejectUnauthorized: true } : { requestCert: false, rejectUnauthorized: false }),
  };
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw fail(
      `error reading X509 key pair - make sure the key is not encrypted (cert: ${JSON.stringify(s.cert)}, key: ${JSON.stringify(s.key)}): ${(err as Error).message}`,
    );
  }
  return options;
}

function goFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a directory' };
  return e.code && words[e.code] && e.path ? `open ${e.path}: ${words[e.code]}` : e.message;
}

/** Sleeps dockerd does before serving an unauthenticated TCP listener. */
export const INSECURE_PAUSE_MS = 1_000;
export const INSECURE_LONG_PAUSE_MS = 15_000;

/**
 * dockerd's warnings for a TCP listener that does not verify clients, and its pauses. The
 * long pause is skipped for loopback addresses (dockerd's rule: only local users, and scripts
 * in local browsers, can reach them — which the second warning still points out) and when
 * TLS was configured explicitly.
 */
export async function warnInsecureTcp(hostUrl: string, address: string, explicit: boolean, sleep: (ms: number) => Promise<void> = wait): Promise<void> {
  const f = { host: hostUrl };
  log.warn('Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.', f);
  log.warn('Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!', f);
  log.warn('[DEPRECATION NOTICE] In future versions this will be a hard failure preventing the daemon from starting! Learn more at: https://docs.docker.com/go/api-security/', f);
  await sleep(INSECURE_PAUSE_MS);
  if (explicit || (await isLoopback(address))) return;
  log.warn('Binding to an IP address without --tlsverify is deprecated. Startup is intentionally being slowed down to show this message', f);
  log.warn('Please consider generating tls certificates with client validation to prevent exposing unauthenticated root access to your network', f);
  log.warn("You can override this by explicitly specifying '--tls=false' or '--tlsverify=false'", f);
  log.warn('Support for listening on TCP without authentication or explicit intent to run without authentication will be removed in the next release', f);
  await sleep(INSECURE_LONG_PAUSE_MS);
}

/** Whether an address (IP or name, resolved as dockerd does: first answer) is a loopback one. */
export async function isLoopback(address: string): Promise<boolean> {
  if (address === 'localhost') return true;
  let ip = address;
  if (!net.isIP(ip)) {
    try {
      ip = (await dns.lookup(address)).address;
    } catch (err) {
      log.error('Error looking up specified host address', { host: address, error: (err as Error).message });
      return false;
    }
  }
  if (net.isIPv4(ip)) return ip.startsWith('127.');
  const v6 = ip.toLowerCase();
  return v6 === '::1' || v6 === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(v6);
}

/**
 * Answers a plain HTTP request sent to a TLS listener as Go's server does (so `docker` without
 * --tls says why), and logs refused handshakes (no certificate, another CA) without letting them
 * disturb anyone else. The first byte of a TLS connection is 0x16 (a handshake record).
 */
export function guardTlsListener(server: https.Server, firstByteTimeoutMs = 30_000): void {
  const tlsListeners = server.listeners('connection') as Array<(socket: net.Socket) => void>;
  // Node checks a client certificate against the CA after the handshake and, when it fails, just
  // closes (no alert, no tlsClientError). A TLS connection that closes without having been accepted
  // or reported is logged as such a refusal.
  const settled = new Set<string>();
  const peer = (s: net.Socket) => `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
  server.prependListener('secureConnection', (s: tls.TLSSocket) => settled.add(peer(s)));
  server.removeAllListeners('connection');
  server.on('connection', (socket: net.Socket) => {
    const from = peer(socket);
    socket.setTimeout(firstByteTimeoutMs, () => socket.destroy());
    socket.once('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      if (chunk[0] === 0x16) {
        socket.once('close', () => {
          if (!settled.delete(from)) log.warn(`http: TLS handshake error from ${from}: tls: client certificate refused, or the client left during the handshake`);
        });
        socket.unshift(chunk);
        for (const listener of tlsListeners) listener.call(server, socket);
      } else {
        socket.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
      }
    });
  });
  server.on('tlsClientError', (err: Error & { reason?: string; code?: string }, socket: tls.TLSSocket) => {
    // A connection closed during the handshake (also Node's own close after refusing a
    // certificate): the close above reports it, with the peer's address.
    if (err.code === 'ECONNRESET') return;
    settled.add(peer(socket));
    log.warn(`http: TLS handshake error from ${peer(socket)}: ${handshakeErrorText(err)}`);
  });
}

/** OpenSSL's reason for a refused handshake, in Go's words where they differ. */
function handshakeErrorText(err: Error & { reason?: string }): string {
  const reason = err.reason ?? err.message.trim();
  const go: Record<string, string> = {
    'peer did not return a certificate': "tls: client didn't provide a certificate",
    'certificate verify failed': 'tls: failed to verify certificate: x509: certificate signed by unknown authority',
    'wrong version number': 'tls: unsupported version',
    'unsupported protocol': 'tls: client offered only unsupported versions',
  };
  return go[reason] ?? reason;
}
