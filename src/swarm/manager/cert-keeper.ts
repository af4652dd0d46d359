/**
 * The node side of certificates after join (every node, managers too): every second it asks a
 * manager which roots to trust, and renews its certificate (same key, same role) when the root
 * changed (`ca --rotate`) or when 60% of its life is gone. A new trust bundle alone (a rotation that
 * finished) is applied without a new certificate. Role changes are the SwarmService's (POST /node/role).
 */
import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { log } from '../../lib/log.js';
import { messageOf } from '../../lib/errors.js';
import { requestFromCert } from '../../lib/openssl.js';
import type { NodeRole } from '../types.js';
import type { ControlServer } from './seams.js';
import * as ca from './seams.js';
import { ControlClient } from './seams.js';
import type { CertAuthority, CertStatus, RenewAnswer, RenewRequest } from './cert-authority.js';
import type { NodeCerts } from './state.js';

export const CERT_STATUS_PATH = '/certificate/status';
export const CERT_RENEW_PATH = '/certificate/renew';

/** Serves the two routes on a manager's control server (`authority()` undefined: not a manager now, 503). */
export function certRoutes(control: ControlServer, authority: () => CertAuthority | undefined, notManager: () => Error): void {
  const get = () => {
    const a = authority();
    if (!a) throw notManager();
    return a;
  };
  control.handle('GET', CERT_STATUS_PATH, async (req) => get().status(req.peer!.nodeId));
  control.handle('POST', CERT_RENEW_PATH, async (req) => get().renew(req.peer!.nodeId, req.peer!.role, req.body as RenewRequest));
}

export interface KeeperHost {
  nodeId: string;
  role: NodeRole;
  advertiseAddr: string;
  etcdPeerUrl: string;
  certs(): NodeCerts;
  managerAddrs(): string[];
  /** Stores renewed certificates and hands them to every TLS user. */
  apply(certs: NodeCerts): Promise<void>;
}

/** A CSR for the node's existing key: renewing never changes the key (etcd reads cert and key files separately). */
async function csrForKey(cert: string, key: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-swarm-renew-'));
  try {
    await fs.writeFile(path.join(dir, 'node.crt'), ca.splitPems(cert)[0] ?? cert);
    await fs.writeFile(path.join(dir, 'node.key'), key, { mode: 0o600 });
    await requestFromCert({ cert: path.join(dir, 'node.crt'), key: path.join(dir, 'node.key'), out: path.join(dir, 'node.csr') });
    return await fs.readFile(path.join(dir, 'node.csr'), 'utf8');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Whether `share` of the certificate's life is gone. */
export function lifeUsed(certPem: string, now = Date.now()): number {
  const c = new X509Certificate(ca.splitPems(certPem)[0] ?? certPem);
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  return to > from ? (now - from) / (to - from) : 1;
}

export const RENEW_AT = 0.6;

/** Signed by `root`, whatever the clocks say (a manager's clock ahead must not make a node renew every second). */
function issuedBy(leafPem: string, root: string): boolean {
  const leaf = new X509Certificate(leafPem);
  return ca.splitPems(root).some((r) => {
    const c = new X509Certificate(r);
    return leaf.checkIssued(c) && leaf.verify(c.publicKey);
  });
}

/** What to do given the cluster's answer; exported for unit tests. */
export function keeperAction(status: CertStatus, mine: NodeCerts, role: NodeRole, now = Date.now()): 'renew' | 'trust' | 'none' {
  const leaf = ca.splitPems(mine.cert)[0] ?? mine.cert;
  void role; // a role change is not the keeper's: the node switches when told (SwarmService.onRoleChange)
  if (!issuedBy(leaf, status.root) || lifeUsed(leaf, now) >= RENEW_AT) return 'renew';
  if (status.bundle !== mine.ca) return 'trust';
  return 'none';
}

/** Starts the loop; returns its stop function. */
export function startCertKeeper(h: KeeperHost, o: { intervalMs?: number } = {}): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tls = () => ({ ca: h.certs().ca, cert: h.certs().cert, key: h.certs().key });
  const client = new ControlClient({ addrs: h.managerAddrs(), tls: tls(), timeoutMs: 5_000 });
  const tick = async (): Promise<void> => {
    client.setAddrs(h.managerAddrs());
    const status = await client.call<CertStatus>('GET', CERT_STATUS_PATH);
    if (stopped) return;
    const mine = h.certs();
    const action = keeperAction(status, mine, h.role);
    if (action === 'trust') {
      await h.apply({ ...mine, ca: status.bundle });
      client.setTls(tls());
    } else if (action === 'renew') {
      const body: RenewRequest = { csr: await csrForKey(mine.cert, mine.key), advertiseAddr: h.advertiseAddr, etcdPeerUrl: h.etcdPeerUrl };
      const answer = await client.call<RenewAnswer>('POST', CERT_RENEW_PATH, body);
      if (stopped) return;
      if (answer.role !== h.role) return; // a role change in flight: the node restarts in its new role and renews then
      const certs = { ca: answer.bundle, cert: answer.cert, key: mine.key };
      await h.apply(certs);
      client.setTls(tls());
      log.info('swarm: node certificate renewed');
    }
  };
  const loop = () => {
    timer = setTimeout(() => {
      void tick()
        .catch((err) => log.debug('swarm: certificate check failed', { error: messageOf(err) }))
        .finally(() => {
          if (!stopped) loop();
        });
    }, o.intervalMs ?? 1_000);
  };
  loop();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    client.close();
  };
}
