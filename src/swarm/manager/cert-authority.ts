/**
 * The manager side of node certificates after join (docs/swarm.md "Root rotation, renewal, roles"):
 * `ca --rotate` (a new root, cross-signed by the old one, both trusted until every node has a
 * certificate of the new root), certificate renewal for nodes that ask, and the role a node's
 * certificate carries (promote/demote: the certificate follows the node's Spec.Role).
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { invalidArgument, notFound, unavailable } from '../../lib/errors.js';
import type { SwarmStore } from '../contracts.js';
import type { EtcdClient } from '../etcd/client.js';
import type { Cluster, NodeRole, SwarmSpec, TLSInfo } from '../types.js';
import * as ca from './seams.js';

/** What a node asks every few seconds: the roots to trust and the role its certificate should carry. */
export interface CertStatus {
  /** The current root (new certificates are signed by it). */
  root: string;
  /** Roots to trust: the current one, and the old one while a rotation runs. */
  bundle: string;
  role: NodeRole;
}

/** A renewed certificate; for a node becoming a manager, how to start its etcd member. */
export interface RenewAnswer {
  cert: string;
  bundle: string;
  role: NodeRole;
  managers: Array<{ NodeID: string; Addr: string }>;
  etcd?: { initialCluster: Array<{ name: string; peerUrl: string }> };
  unlockKey?: string;
}

export interface RenewRequest {
  csr: string;
  /** host:port of the node's control server (a new manager's ManagerStatus.Addr). */
  advertiseAddr?: string;
  /** Its etcd peer URL, for a node that becomes a manager. */
  etcdPeerUrl?: string;
}

export const trustBundle = (c: Cluster): string => (c.BerthCA?.Cert ?? '') + (c.BerthRotatingFrom ?? '');

/** The chain a node presents: its certificate, then the cross-signed root when the certificate is of the current root. */
export function presentedChain(c: Cluster, cert: string): string {
  const leaf = ca.splitPems(cert)[0] ?? cert;
  if (c.BerthCrossSigned && c.BerthCA && ca.isSignedBy(leaf, c.BerthCA.Cert)) return leaf + c.BerthCrossSigned;
  return leaf;
}

/** Whether POST /swarm/update asks for a new root: ForceRotate changed, or another signing CA given. */
export function rotationRequested(current: Cluster, spec: SwarmSpec | undefined): boolean {
  const want = spec?.CAConfig;
  if (!want) return false;
  if ((want.ForceRotate ?? 0) !== (current.Spec.CAConfig?.ForceRotate ?? 0)) return true;
  const given = want.SigningCACert?.trim();
  return Boolean(given && ca.splitPems(given)[0] !== ca.splitPems(current.BerthCA?.Cert ?? '')[0]);
}

/** The signing CA a spec gives (cert and key, dockerd's errors when one is missing), or a new one. */
async function newRoot(spec: SwarmSpec): Promise<ca.RootCA> {
  const cert = spec.CAConfig?.SigningCACert?.trim();
  const key = spec.CAConfig?.SigningCAKey?.trim();
  if (!cert && !key) return ca.createRootCA();
  if (!cert) throw invalidArgument('rpc error: code = InvalidArgument desc = if a signing CA key is provided, the signing CA cert must also be provided');
  if (!key) throw invalidArgument('rpc error: code = InvalidArgument desc = if a signing CA cert is provided, a signing CA key or external CA must also be provided');
  try {
    const x = new X509Certificate(cert);
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' }).toString('base64');
    if (!x.ca) throw new Error('not a CA certificate');
    if (spki(x.publicKey) !== spki(createPublicKey(createPrivateKey(key)))) throw new Error('certificate key mismatch');
  } catch (err) {
    throw invalidArgument(`rpc error: code = InvalidArgument desc = invalid signing CA cert or key: ${(err as Error).message}`);
  }
  return { cert: cert + '\n', key: key + '\n' };
}

/**
 * Starts a root rotation on `next` (the cluster object about to be written): the new root signs from
 * now on, the old one stays trusted, tokens keep their secrets with the new root's digest. The
 * signing key never stays in the spec.
 */
export async function startRotation(next: Cluster, oldRoot: ca.RootCA, spec: SwarmSpec): Promise<ca.RootCA> {
  const root = await newRoot(spec);
  const cross = await ca.crossSignRoot(oldRoot, root);
  if (next.Spec.CAConfig) {
    delete next.Spec.CAConfig.SigningCAKey;
    delete next.Spec.CAConfig.SigningCACert;
  }
  next.BerthRotatingFrom = ca.splitPems(oldRoot.cert)[0]!;
  next.BerthCrossSigned = cross;
  next.TLSInfo = ca.tlsInfo(root.cert);
  next.RootRotationInProgress = true;
  const keep = (token: string) => ca.makeJoinToken(root.cert, ca.parseJoinToken(token).secret);
  next.JoinTokens = { Worker: keep(next.JoinTokens.Worker), Manager: keep(next.JoinTokens.Manager) };
  return root;
}

/** The TLSInfo a node shows once it holds a certificate of the current root. */
const nodeTlsInfo = (c: Cluster): TLSInfo => c.TLSInfo;

export interface AuthorityDeps {
  store: SwarmStore;
  clusterId: string;
  etcd?: EtcdClient;
  /** The current root with its key (decrypted). */
  rootOf(c: Cluster): ca.RootCA;
  /** The managers' unlock key while autolock is on (stored sealed: the SwarmService opens it). */
  unlockKeyOf?(c: Cluster): string | undefined;
  certExpirySeconds(c: Cluster): number;
}

/** On a manager: answers nodes' status and renewal requests. */
export class CertAuthority {
  constructor(private readonly d: AuthorityDeps) {}

  private async cluster(): Promise<Cluster> {
    const c = await this.d.store.cluster.get(this.d.clusterId);
    if (!c?.BerthCA) throw unavailable('the swarm has no cluster object yet');
    return c;
  }

  async status(nodeId: string): Promise<CertStatus> {
    const c = await this.cluster();
    const node = await this.d.store.nodes.get(nodeId);
    if (!node) throw notFound(`node ${nodeId} not found`);
    return { root: c.BerthCA!.Cert, bundle: trustBundle(c), role: node.Spec.Role };
  }

  /** Signs a node's CSR with the current root for the role its spec says; a node becoming a manager is added to etcd. */
  async renew(nodeId: string, certRole: NodeRole, req: RenewRequest): Promise<RenewAnswer> {
    if (typeof req?.csr !== 'string') throw invalidArgument('invalid certificate renewal request');
    const c = await this.cluster();
    const node = await this.d.store.nodes.get(nodeId);
    if (!node) throw notFound(`node ${nodeId} not found`);
    // The role of the certificate it holds: role changes go through the SwarmService (POST /manager/node-certificate).
    const role = certRole;
    const etcd: RenewAnswer['etcd'] = undefined;
    const cert = await ca.issueNodeCert(this.d.rootOf(c), req.csr, {
      nodeId, role, clusterId: c.ID, expirySeconds: this.d.certExpirySeconds(c), ips: [node.Status.Addr].filter(Boolean),
    });
    // A demoted node's ManagerStatus may not be cleared yet: never send a worker its own address as a manager's.
    const managers = (await this.d.store.nodes.list()).filter((n) => n.ManagerStatus && (role === 'manager' || n.ID !== nodeId)).map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus!.Addr }));
    await this.d.store.nodes.modify(nodeId, (n) => ({
      ...n,
      Description: { ...n.Description, TLSInfo: nodeTlsInfo(c) },
    }));
    await this.finishRotationIfDone();
    return {
      cert: presentedChain(c, cert), bundle: trustBundle(c), role, managers,
      ...(etcd ? { etcd } : {}), ...(role === 'manager' && this.d.unlockKeyOf?.(c) ? { unlockKey: this.d.unlockKeyOf(c) } : {}),
    };
  }

  /** Once every node shows a certificate of the new root, the old root is no longer trusted. */
  async finishRotationIfDone(): Promise<void> {
    const c = await this.cluster();
    if (!c.RootRotationInProgress) return;
    const nodes = await this.d.store.nodes.list();
    const want = c.TLSInfo;
    if (!nodes.every((n) => n.Description.TLSInfo?.CertIssuerPublicKey === want.CertIssuerPublicKey && n.Description.TLSInfo?.CertIssuerSubject === want.CertIssuerSubject)) return;
    await this.d.store.cluster.modify(c.ID, (cur) => {
      if (!cur.RootRotationInProgress || cur.TLSInfo.CertIssuerPublicKey !== want.CertIssuerPublicKey) return undefined;
      const { BerthRotatingFrom: _old, ...rest } = cur;
      return { ...rest, RootRotationInProgress: false };
    });
  }
}
