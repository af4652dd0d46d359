/**
 * The join request of a node that has no certificate yet, pinned by the join token (as swarmkit's
 * DownloadRootCA): first the manager's trusted roots are fetched over an unverified connection
 * (public `GET /ca`) and the one whose DER sha256 is the token's digest is kept (else dockerd's
 * "remote CA does not match fingerprint"); then `POST /join` goes over a connection verified
 * against that root alone, to a server whose certificate says manager. The token's secret is never
 * sent before the server proved it is of the swarm the token names.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { BerthError, unavailable } from '../../lib/errors.js';
import { derDigest, parseJoinToken, splitPems } from '../ca/index.js';
import { readAll, splitHostPort } from './client.js';
import { CA_PATH } from './server.js';
import { fromWire, peerFromCert } from './wire.js';

export const JOIN_PATH = '/join';

/** Marks failures to reach an address at all (try the next one). */
class Unreachable extends Error {}

/** The root of `bundle` whose DER sha256 is `digestHex`, as PEM; dockerd's error otherwise. */
export function pickPinnedRoot(bundle: string, digestHex: string): string {
  for (const pem of splitPems(bundle)) {
    let x: X509Certificate;
    try {
      x = new X509Certificate(pem);
    } catch {
      continue;
    }
    if (derDigest(x.raw) === digestHex && x.ca) return pem;
  }
  throw new BerthError('InvalidArgument', `remote CA does not match fingerprint. Expected: ${digestHex}`);
}

function send(addr: string, method: string, path: string, payload: string | undefined, tlsOptions: https.RequestOptions, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const { host, port } = splitHostPort(addr);
  return new Promise((resolve, reject) => {
    let connected = false;
    const req = https.request({
      host, port, method, path, agent: false, ...tlsOptions,
      headers: { Accept: 'application/json', Connection: 'close', ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}) },
    });
    const timer = setTimeout(() => req.destroy(connected ? unavailable(`join request to ${addr} timed out`) : new Unreachable(`${addr}: connect timed out`)), timeoutMs);
    req.on('socket', (s) => s.once('secureConnect', () => (connected = true)));
    req.on('error', (err) => {
      clearTimeout(timer);
      if (err instanceof BerthError || err instanceof Unreachable) reject(err);
      else if (/swarm manager/.test(err.message)) reject(new BerthError('InvalidArgument', err.message));
      else if (!connected && /certificate/i.test(err.message)) reject(new BerthError('InvalidArgument', `the manager's certificate does not chain to the pinned CA: ${err.message}`));
      else if (!connected) reject(new Unreachable(`${addr}: ${err.message}`));
      else reject(unavailable(`join request to ${addr} failed: ${err.message}`));
    });
    req.on('response', (res: IncomingMessage) => {
      readAll(res, timeoutMs).then((text) => {
        clearTimeout(timer);
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          return reject(new BerthError('Internal', `invalid answer from ${addr} (status ${res.statusCode})`));
        }
        resolve({ status: res.statusCode ?? 500, body });
      }, (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end(payload);
  });
}

/**
 * POST /join to the first manager that can be reached, with the CA pinned by the token.
 * Resolves with the manager's answer and the root certificate (PEM) it was pinned to.
 */
export async function requestJoinPinned(addrs: string[], token: string, body: unknown, o: { timeoutMs?: number } = {}): Promise<{ answer: unknown; ca: string }> {
  const { caDigest } = parseJoinToken(token);
  const timeoutMs = o.timeoutMs ?? 20_000;
  const errors: string[] = [];
  for (const addr of addrs) {
    try {
      // Unverified on purpose: what comes back is checked against the token's digest.
      const roots = await send(addr, 'GET', CA_PATH, undefined, { rejectUnauthorized: false }, Math.min(timeoutMs, 10_000));
      if (roots.status >= 300) throw fromWire(roots.status, roots.body);
      const ca = pickPinnedRoot(String((roots.body as { ca?: unknown } | undefined)?.ca ?? ''), caDigest);
      const answer = await send(addr, 'POST', JOIN_PATH, JSON.stringify(body ?? {}), {
        ca,
        rejectUnauthorized: true,
        checkServerIdentity: (_host: string, cert: PeerCertificate) =>
          peerFromCert(cert)?.role === 'manager' ? undefined : new Error('the remote node is not a swarm manager'),
      }, timeoutMs);
      if (answer.status >= 300) throw fromWire(answer.status, answer.body);
      return { answer: answer.body, ca };
    } catch (err) {
      if (!(err instanceof Unreachable)) throw err;
      errors.push(err.message);
    }
  }
  throw unavailable(`could not reach any manager: ${errors.join('; ')}`);
}

/** POST /join with no client certificate; the manager's CA is pinned by the token's digest. */
export async function requestJoin(addrs: string[], token: string, body: unknown, o: { timeoutMs?: number } = {}): Promise<unknown> {
  return (await requestJoinPinned(addrs, token, body, o)).answer;
}
