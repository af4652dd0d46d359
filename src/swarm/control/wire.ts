/**
 * What both ends of the control plane share: TLS material, the peer identity a certificate carries,
 * and how errors cross the wire ({message, kind} bodies, rethrown as BerthError of the same kind).
 */
import type { PeerCertificate } from 'node:tls';
import { BerthError, type ErrorKind } from '../../lib/errors.js';
import { statusOf } from '../../lib/error-status.js';

/** PEM. `ca` may be a bundle (several roots during a CA rotation); `cert` may carry its chain. */
export interface ControlTls {
  ca: string;
  cert: string;
  key: string;
}

export type Role = 'manager' | 'worker';

/** Who is calling, from the client certificate (CN, OU, O). */
export interface Peer {
  nodeId: string;
  role: Role;
  clusterId?: string;
}

export const ROLE_OU: Record<Role, string> = { manager: 'swarm-manager', worker: 'swarm-worker' };

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** The swarm identity in a peer certificate as node's TLS gives it, or undefined if it has none. */
export function peerFromCert(cert: PeerCertificate | undefined): Peer | undefined {
  if (!cert || !cert.subject) return undefined;
  const ou = first(cert.subject.OU);
  const role: Role | undefined = ou === ROLE_OU.manager ? 'manager' : ou === ROLE_OU.worker ? 'worker' : undefined;
  const nodeId = first(cert.subject.CN);
  if (!role || !nodeId) return undefined;
  const clusterId = first(cert.subject.O);
  return clusterId ? { nodeId, role, clusterId } : { nodeId, role };
}

export interface WireError {
  message: string;
  kind: ErrorKind;
}

const KINDS = new Set<ErrorKind>(['InvalidArgument', 'Unauthorized', 'Forbidden', 'NotFound', 'Conflict', 'NotModified', 'TooLarge', 'Unavailable', 'NotImplemented', 'Internal']);

export function toWire(err: unknown): { status: number; body: WireError } {
  if (err instanceof BerthError) {
    const status = statusOf(err);
    // 304 has no body: the kind travels in the body anyway.
    return { status: status === 304 ? 409 : status, body: { message: err.message, kind: err.kind } };
  }
  return { status: 500, body: { message: err instanceof Error ? err.message : String(err), kind: 'Internal' } };
}

export function fromWire(status: number, body: unknown): BerthError {
  const b = (body && typeof body === 'object' ? body : {}) as Partial<WireError>;
  const kind = typeof b.kind === 'string' && KINDS.has(b.kind) ? b.kind : status === 404 ? 'NotFound' : status === 403 ? 'Forbidden' : status === 401 ? 'Unauthorized' : status === 400 ? 'InvalidArgument' : 'Internal';
  const message = typeof b.message === 'string' ? b.message : `control request failed with status ${status}`;
  return new BerthError(kind, message);
}
