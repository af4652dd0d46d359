// Root rotation and renewal decisions (manager/cert-authority.ts, manager/cert-keeper.ts) on the in-memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyAndCsr, createRootCA, issueNodeCert, isSignedBy, makeJoinToken, parseJoinToken, splitPems, tlsInfo, type RootCA } from '../../src/swarm/ca/index.js';
import { memorySwarmStore } from '../../src/swarm/store/memory.js';
import { CertAuthority, presentedChain, rotationRequested, startRotation, trustBundle } from '../../src/swarm/manager/cert-authority.js';
import { keeperAction, RENEW_AT } from '../../src/swarm/manager/cert-keeper.js';
import { defaultSwarmSpec, newNodeObject } from '../../src/swarm/manager/defaults.js';
import type { Cluster } from '../../src/swarm/types.js';

const CLUSTER = 'c0000000000000000000000001';
const desc = (root: string) => ({ Hostname: 'h', Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 1e9, MemoryBytes: 1 }, Engine: { EngineVersion: '1' }, TLSInfo: tlsInfo(root) });

async function setup(): Promise<{ store: ReturnType<typeof memorySwarmStore>; root: RootCA; cluster: Cluster; authority: () => CertAuthority; roots: Map<string, RootCA> }> {
  const store = memorySwarmStore();
  const root = await createRootCA();
  const roots = new Map([[root.cert, root]]);
  const cluster = await store.cluster.create({
    ID: CLUSTER, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: defaultSwarmSpec(), TLSInfo: tlsInfo(root.cert), RootRotationInProgress: false,
    DataPathPort: 4789, DefaultAddrPool: ['10.0.0.0/8'], SubnetSize: 24,
    JoinTokens: { Worker: makeJoinToken(root.cert), Manager: makeJoinToken(root.cert) }, BerthCA: { Cert: root.cert, Key: root.key },
  } as Cluster);
  for (const [id, role] of [['n1', 'manager'], ['n2', 'worker']] as const) {
    await store.nodes.create(newNodeObject({ id: id.padEnd(25, '0'), role, description: desc(root.cert), addr: '127.0.0.1' }));
  }
  const authority = () => new CertAuthority({ store, clusterId: CLUSTER, rootOf: (c) => roots.get(c.BerthCA!.Cert)!, certExpirySeconds: () => 86_400 });
  return { store, root, cluster, authority, roots };
}

test('ca --rotate: a new root cross-signed by the old, both trusted until every node renewed, then the old dropped', async () => {
  const { store, root, cluster, authority, roots } = await setup();
  const spec = { ...cluster.Spec, CAConfig: { ...cluster.Spec.CAConfig, ForceRotate: 1 } };
  assert.equal(rotationRequested(cluster, cluster.Spec), false);
  assert.equal(rotationRequested(cluster, spec), true);
  const next: Cluster = structuredClone({ ...cluster, Spec: spec });
  const fresh = await startRotation(next, root, spec);
  roots.set(fresh.cert, fresh);
  assert.equal(next.RootRotationInProgress, true);
  assert.equal(next.TLSInfo.TrustRoot, splitPems(fresh.cert).join(''));
  assert.equal(parseJoinToken(next.JoinTokens.Worker).secret, parseJoinToken(cluster.JoinTokens.Worker).secret, 'tokens keep their secret');
  assert.notEqual(next.JoinTokens.Worker, cluster.JoinTokens.Worker, 'tokens carry the new digest');
  await store.cluster.update({ ...next, BerthCA: { Cert: fresh.cert, Key: fresh.key } });
  const rotating = (await store.cluster.get(CLUSTER))!;
  assert.equal(splitPems(trustBundle(rotating)).length, 2);

  const { key, csr } = await createKeyAndCsr('swarm-node');
  void key;
  const a1 = await authority().renew('n1'.padEnd(25, '0'), 'manager', { csr });
  const chain = splitPems(a1.cert);
  assert.equal(chain.length, 2, 'the certificate comes with the cross-signed root');
  assert.ok(isSignedBy(chain[0]!, fresh.cert));
  assert.ok(isSignedBy(chain[1]!, root.cert), 'the cross-signed root chains to the old one');
  assert.equal((await store.cluster.get(CLUSTER))!.RootRotationInProgress, true, 'one node left');
  await authority().renew('n2'.padEnd(25, '0'), 'worker', { csr });
  const done = (await store.cluster.get(CLUSTER))!;
  assert.equal(done.RootRotationInProgress, false);
  assert.equal(trustBundle(done), fresh.cert, 'the old root is dropped');
  assert.equal(presentedChain(done, chain[0]!), chain[0]! + done.BerthCrossSigned);
  const node = (await store.nodes.get('n2'.padEnd(25, '0')))!;
  assert.deepEqual(node.Description.TLSInfo, done.TLSInfo);
});

test('a node renews when the root or 60% of its life changed; only trusts when the bundle changed', async () => {
  const { root } = await setup();
  const other = await createRootCA();
  const { key, csr } = await createKeyAndCsr('swarm-node');
  const cert = await issueNodeCert(root, csr, { nodeId: 'n1'.padEnd(25, '0'), role: 'worker', clusterId: CLUSTER, expirySeconds: 10 * 86_400, ips: [] });
  const mine = { ca: root.cert, cert, key };
  const status = { root: root.cert, bundle: root.cert, role: 'worker' as const };
  assert.equal(keeperAction(status, mine, 'worker'), 'none');
  assert.equal(keeperAction({ ...status, role: 'manager' }, mine, 'worker'), 'none', 'role changes are the SwarmService\'s');
  assert.equal(keeperAction({ ...status, root: other.cert, bundle: other.cert + root.cert }, mine, 'worker'), 'renew');
  assert.equal(keeperAction({ ...status, bundle: root.cert + other.cert }, mine, 'worker'), 'trust');
  assert.equal(keeperAction(status, mine, 'worker', Date.now() + (RENEW_AT - 0.1) * 10 * 86_400_000), 'none');
  assert.equal(keeperAction(status, mine, 'worker', Date.now() + (RENEW_AT + 0.05) * 10 * 86_400_000), 'renew');
});

test('a renewal keeps the role of the certificate the node holds', async () => {
  const { store, authority } = await setup();
  const id = 'n2'.padEnd(25, '0');
  await store.nodes.modify(id, (n) => ({ ...n, Spec: { ...n.Spec, Role: 'manager' } }));
  const { csr } = await createKeyAndCsr('swarm-node');
  assert.equal((await authority().renew(id, 'worker', { csr })).role, 'worker');
});

test('--ca-cert/--ca-key: a key of another certificate is refused before anything changes', async () => {
  const { cluster, root } = await setup();
  const a = await createRootCA();
  const b = await createRootCA();
  const spec = { ...cluster.Spec, CAConfig: { ...cluster.Spec.CAConfig, SigningCACert: a.cert, SigningCAKey: b.key } };
  assert.equal(rotationRequested(cluster, spec), true);
  const next: Cluster = structuredClone({ ...cluster, Spec: spec });
  await assert.rejects(startRotation(next, root, spec), /certificate key mismatch/);
  assert.equal(next.RootRotationInProgress, false);
  const ok = structuredClone({ ...cluster, Spec: { ...spec, CAConfig: { ...spec.CAConfig, SigningCAKey: a.key } } });
  const given = await startRotation(ok, root, ok.Spec);
  assert.equal(splitPems(given.cert)[0], splitPems(a.cert)[0]);
  assert.equal(ok.Spec.CAConfig?.SigningCAKey, undefined, 'the key never stays in the spec');
});
