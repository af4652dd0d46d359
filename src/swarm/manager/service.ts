/**
 * The node's swarm membership (docs/swarm.md "The manager"): init, join, leave, update, unlock, and
 * what runs while the node is in a swarm. Lifecycle: constructed inactive -> resume() at daemon start
 * (state.json says whether and how it was in a swarm) -> init/join make it active -> leave wipes it
 * -> stop() at daemon stop ends what runs and keeps the state (task containers stay).
 *
 * On a manager, the node runs: its etcd member (supervised), an etcd client, the store on it, the
 * control server (node-to-node HTTPS), the dispatcher, the leadership contest (the leader runs the
 * LeaderDuties) and the node's agent. A worker runs the control server and its agent, which talks to
 * the managers. With autolock, node.key is kept encrypted and a restarted manager stays `locked`
 * until `swarm unlock` gives the key.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { KeyedMutex } from '../../lib/mutex.js';
import { invalidArgument, unavailable, BerthError } from '../../lib/errors.js';
import { log } from '../../lib/log.js';
import type { AgentChannel, ClusterNetworking, LeaderContext, LeaderDuties, NodeAgentFactory, SecretSealer, SwarmStore, TaskAllocator } from '../contracts.js';
import type { Cluster, NodeRole, NodeState, SwarmNode, SwarmSpec } from '../types.js';
import { EtcdClient } from '../etcd/client.js';
import { EtcdMember, urlFor, type EtcdPeer } from '../etcd/member.js';
import { etcdSwarmStore } from '../store/etcd.js';
import { newSwarmId } from '../ids.js';
import * as ca from './seams.js';
import { ControlClient, ControlServer, requestJoin, type ControlTls } from './seams.js';
import * as addr from './addresses.js';
import { waitNodeSettled } from './settle.js';
import * as msg from './errors.js';
import { clusterInfoView, clusterView, defaultSwarmSpec, mergeSpec, newNodeObject, nodeDescription, type EngineInfo } from './defaults.js';
import { Leadership } from './leadership.js';
import { SwarmStateDir, type NodeCerts, type PersistedSwarmState } from './state.js';
import { CertAuthority, presentedChain, rotationRequested, startRotation, trustBundle } from './cert-authority.js';
import { certRoutes, startCertKeeper, type KeeperHost } from './cert-keeper.js';
import { ManagerSecretsKey } from './secrets-key.js';
import { createSealer, newSecretsKey } from '../secrets/sealer.js';

export type LocalNodeState = 'inactive' | 'pending' | 'active' | 'locked' | 'error';

/** The dispatcher part (helper "dispatcher"), as the manager starts it. */
export interface DispatcherPart {
  /** On every manager: serves agents over `control` and in-process. */
  /** `sealer` (issue 16) opens sealed secrets for the nodes whose tasks use them; absent until the secrets part provides it. */
  start(o: { store: SwarmStore; control: ControlServer; nodeId: string; etcd: EtcdClient; sealer?: SecretSealer }): Promise<RunningDispatcher>;
  /** On a worker: the agent's line to the managers. */
  remoteChannel(client: ControlClient, nodeId: string): AgentChannel;
}

export interface RunningDispatcher {
  localChannel(nodeId: string): AgentChannel;
  nodeStates(): Map<string, NodeState>;
  stop(): Promise<void>;
}

export interface SwarmServiceDeps {
  dataRoot: string;
  /** Runtime directory (exec root): decrypted keys live here only while the node runs. */
  runRoot: string;
  engine: () => EngineInfo;
  leaderDuties: LeaderDuties;
  agentFactory: NodeAgentFactory;
  dispatcher: DispatcherPart;
  networking?: ClusterNetworking;
  allocator?: (store: SwarmStore) => TaskAllocator;
  etcdBinary?: string;
  /** Routes other parts serve to the other nodes on this node's control server (the agent's task logs). */
  controlRoutes?: (control: ControlServer) => void;
}

export interface InitRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  DataPathPort?: number;
  DefaultAddrPool?: string[];
  SubnetSize?: number;
  ForceNewCluster?: boolean;
  Spec?: SwarmSpec;
  AutoLockManagers?: boolean;
  Availability?: 'active' | 'pause' | 'drain';
}

export interface JoinRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  RemoteAddrs?: string[];
  JoinToken?: string;
  Availability?: 'active' | 'pause' | 'drain';
}

/** What POST /join (control server) takes and answers. */
interface JoinBody {
  token: string;
  csr: string;
  advertiseAddr: string;
  etcdPeerUrl: string;
  availability?: 'active' | 'pause' | 'drain';
  description: ReturnType<typeof nodeDescription>;
}
interface JoinAnswer {
  nodeId: string;
  clusterId: string;
  role: NodeRole;
  cert: string;
  caCert: string;
  managers: Array<{ NodeID: string; Addr: string }>;
  etcd?: { initialCluster: EtcdPeer[] };
  unlockKey?: string;
  /** Issue 16: the cluster's secrets key (base64), to a node that joins as a manager. */
  secretsKey?: string;
}

export interface UpdateFlags {
  rotateWorkerToken?: boolean;
  rotateManagerToken?: boolean;
  rotateManagerUnlockKey?: boolean;
}

/** What runs while the node is in a swarm. */
interface Runtime {
  state: PersistedSwarmState;
  certs: NodeCerts;
  control?: ControlServer;
  member?: EtcdMember;
  etcd?: EtcdClient;
  store?: SwarmStore;
  dispatcher?: RunningDispatcher;
  leadership?: Leadership;
  agent?: { stop(opts: { removeTasks: boolean }): Promise<void> };
  managersClient?: ControlClient;
  stops: Array<() => void>;
  cluster?: Cluster;
  nodes: SwarmNode[];
  /** The unlock key node.key is stored under (undefined: stored plain). */
  unlockKey?: string;
  /** Managers: the cluster's secrets key (secrets-key.ts). */
  secretsKey?: ManagerSecretsKey;
}

const noAllocator: TaskAllocator = { allocateTask: async (t) => t, releaseTask: async () => undefined };
const etcdClientPort = (listenPort: number) => listenPort + 2;
const etcdPeerPort = (listenPort: number) => listenPort + 3;
const certExpirySeconds = (c: Cluster | undefined) => Math.floor((c?.Spec.CAConfig?.NodeCertExpiry ?? 7_776_000_000_000_000) / 1e9);

export class SwarmService {
  private status: LocalNodeState = 'inactive';
  private error = '';
  private rt: Runtime | undefined;
  /** A locked node: its state, waiting for the key. */
  private locked: PersistedSwarmState | undefined;
  private readonly dir: SwarmStateDir;
  private readonly control = new KeyedMutex();
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SwarmServiceDeps) {
    this.dir = new SwarmStateDir(deps.dataRoot, `${deps.runRoot}/swarm`);
  }

  // ---------------------------------------------------------------- queries

  get localNodeState(): LocalNodeState {
    return this.status;
  }

  get nodeId(): string {
    return this.rt?.state.nodeId ?? this.locked?.nodeId ?? '';
  }

  /** The store, for the routes of cluster objects; dockerd's 503s when this node cannot serve them. */
  managerStore(): SwarmStore {
    const rt = this.rt;
    if (this.status === 'locked') throw msg.swarmLocked();
    if (this.status === 'pending') throw unavailable(msg.NOT_A_MANAGER_PENDING);
    if (!rt || this.status !== 'active') throw unavailable(msg.NOT_A_MANAGER_INACTIVE);
    if (rt.state.role !== 'manager' || !rt.store) throw unavailable(msg.NOT_A_MANAGER_WORKER);
    return rt.store;
  }

  /** The cluster's sealer for the /secrets routes; the same 503s as managerStore() first. */
  secretSealer(): SecretSealer {
    this.managerStore();
    const key = this.rt?.secretsKey;
    if (!key?.available) throw unavailable('the swarm\'s secrets key is not available on this manager yet');
    return key.sealer();
  }

  /** The node's id and a control-plane client to another node (its address, this node's listen port), e.g. for its task logs. */
  async nodeClient(nodeId: string): Promise<ControlClient> {
    const rt = this.rt;
    if (!rt) throw unavailable(msg.NOT_A_MANAGER_INACTIVE);
    const node = await this.managerStore().nodes.get(nodeId);
    if (!node?.Status.Addr) throw unavailable(`node ${nodeId} has no known address`);
    const port = addr.splitHostPort(rt.state.listenAddr).port;
    const target = node.BerthControlAddr ?? addr.joinHostPort(node.Status.Addr, port ?? '2377');
    return new ControlClient({ addrs: [target], tls: { ca: rt.certs.ca, cert: rt.certs.cert, key: rt.certs.key } });
  }

  /** A worker's control-plane client to the managers (undefined on a manager or outside a swarm). */
  managersClient(): ControlClient | undefined {
    return this.status === 'active' ? this.rt?.managersClient : undefined;
  }

  /** Whether this node currently holds leadership (for node views). */
  isLeader(): boolean {
    return Boolean(this.rt?.leadership?.isLeader);
  }

  /** GET /swarm. */
  async inspect(): Promise<Record<string, unknown>> {
    const store = this.managerStore();
    const cluster = await store.cluster.get(this.rt!.state.clusterId);
    if (!cluster) throw unavailable('the swarm has no cluster object yet');
    return clusterView(cluster);
  }

  /** /info's Swarm section (synchronous: from what the node keeps up to date). */
  swarmInfo(): Record<string, unknown> {
    const rt = this.rt;
    const st = rt?.state ?? this.locked;
    const base: Record<string, unknown> = {
      NodeID: st?.nodeId ?? '',
      NodeAddr: st ? addr.splitHostPort(st.advertiseAddr).host : '',
      LocalNodeState: this.status,
      ControlAvailable: false,
      Error: this.error,
      RemoteManagers: null,
    };
    if (this.status === 'locked') base.Error = msg.SWARM_LOCKED;
    if (!rt) return base;
    const managers = this.managerList();
    base.RemoteManagers = managers.length ? managers : null;
    if (rt.state.role === 'manager' && this.status === 'active') {
      base.ControlAvailable = true;
      base.Nodes = rt.nodes.length;
      base.Managers = rt.nodes.filter((n) => n.ManagerStatus).length;
      if (rt.cluster) base.Cluster = clusterInfoView(rt.cluster);
    }
    return base;
  }

  private managerList(): Array<{ NodeID: string; Addr: string }> {
    const rt = this.rt;
    if (!rt) return [];
    if (rt.state.role === 'manager' && rt.nodes.length) {
      return rt.nodes.filter((n) => n.ManagerStatus).map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus!.Addr }));
    }
    return rt.state.managers;
  }

  // ---------------------------------------------------------------- lifecycle

  /** At daemon start: picks up the membership state.json describes, in the background. */
  resume(): void {
    void this.control.run('swarm', async () => {
      let st: PersistedSwarmState | undefined;
      try {
        st = await this.dir.load();
      } catch (err) {
        this.fail(err);
        return;
      }
      if (!st) return;
      try {
        const stored = await this.dir.loadCerts();
        if (stored.keyEncrypted) {
          this.locked = st;
          this.status = 'locked';
          return;
        }
        this.status = 'pending';
        await this.run(st, { ca: stored.ca, cert: stored.cert, key: stored.key }, undefined);
        this.status = 'active';
      } catch (err) {
        this.fail(err);
      }
    });
  }

  /** At daemon stop: ends what runs; the membership stays for the next start. */
  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    await this.control.run('swarm', async () => {
      // An autolock change just made (its watch event maybe not handled yet) must hold after the restart.
      const rt = this.rt;
      if (rt?.store) {
        const sync = rt.store.cluster.get(rt.state.clusterId).then(async (c) => {
          if (!c) return;
          rt.cluster = c;
          await this.followAutolock(rt);
        });
        await Promise.race([sync, new Promise((r) => setTimeout(r, 1_500))]).catch(() => undefined);
      }
      await this.halt({ removeTasks: false });
    });
  }

  private fail(err: unknown): void {
    log.error('swarm: could not start', { error: (err as Error).message });
    this.status = 'error';
    this.error = (err as Error).message;
  }

  // ---------------------------------------------------------------- init

  async init(req: InitRequest): Promise<string> {
    return this.control.run('swarm', async () => {
      if (this.status !== 'inactive' && this.status !== 'error') {
        if (req.ForceNewCluster) throw invalidArgument('--force-new-cluster is not supported by Berth on a node in a swarm: leave with --force first');
        throw msg.swarmExists();
      }
      const listenAddr = addr.normalizeAddr(req.ListenAddr || addr.DEFAULT_LISTEN, 'ListenAddr');
      const spec = mergeSpec(defaultSwarmSpec(), req.Spec);
      const listen = addr.resolveListenAddr(listenAddr);
      const advertise = addr.resolveAdvertiseAddr(req.AdvertiseAddr, listen.port);
      if (['0.0.0.0', '::'].includes(listen.host) && !(await this.isSystemAddress(advertise.host))) {
        throw invalidArgument("must specify a listening address because the address to advertise is not recognized as a system address, and a system's IP address to use could not be uniquely identified");
      }
      const dataPathAddr = addr.resolveDataPathAddr(req.DataPathAddr);
      addr.validateAddrPool(req.DefaultAddrPool, req.SubnetSize);
      const dataPathPort = addr.dataPathPort(req.DataPathPort);
      const autolock = Boolean(req.AutoLockManagers ?? spec.EncryptionConfig?.AutoLockManagers);
      spec.EncryptionConfig = { AutoLockManagers: autolock };

      this.status = 'pending';
      this.error = '';
      const nodeId = newSwarmId();
      const clusterId = newSwarmId();
      try {
        const root = await ca.createRootCA();
        const { key, csr } = await ca.createKeyAndCsr(nodeId);
        const expiry = certExpirySeconds({ Spec: spec } as Cluster);
        const cert = await ca.issueNodeCert(root, csr, { nodeId, role: 'manager', clusterId, expirySeconds: expiry, ips: [advertise.host] });
        const certs = { ca: root.cert, cert, key };
        const unlockKey = autolock ? ca.makeUnlockKey() : undefined;
        const st: PersistedSwarmState = {
          nodeId, clusterId, role: 'manager', listenAddr: addr.joinHostPort(listen.host, listen.port),
          advertiseAddr: addr.joinHostPort(advertise.host, advertise.port), dataPathAddr, managers: [], autolock,
        };
        st.managers = [{ NodeID: nodeId, Addr: st.advertiseAddr }];
        await this.dir.saveCerts(unlockKey ? { ...certs, key: ca.encryptKey(key, unlockKey) } : certs, Boolean(unlockKey));
        const secretsKey = newSecretsKey();
        await this.dir.saveSecretsKey(secretsKey, unlockKey);
        const cluster: Cluster = {
          ID: clusterId, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: spec,
          TLSInfo: ca.tlsInfo(root.cert), RootRotationInProgress: false, DataPathPort: dataPathPort,
          DefaultAddrPool: req.DefaultAddrPool?.length ? req.DefaultAddrPool : ['10.0.0.0/8'], SubnetSize: req.SubnetSize || 24,
          JoinTokens: { Worker: ca.makeJoinToken(root.cert), Manager: ca.makeJoinToken(root.cert) },
          BerthCA: unlockKey ? { Cert: root.cert, Key: ca.encryptKey(root.key, unlockKey), KeyEncrypted: true } : { Cert: root.cert, Key: root.key },
          ...(unlockKey ? { BerthUnlockKeySealed: createSealer(secretsKey).seal(Buffer.from(unlockKey)) } : {}),
        };
        const self = newNodeObject({
          id: nodeId, role: 'manager', description: nodeDescription(this.deps.engine(), ca.tlsInfo(root.cert)),
          addr: advertise.host, managerAddr: st.advertiseAddr, availability: req.Availability || undefined,
        });
        await this.run(st, certs, unlockKey, {
          etcd: { initialCluster: [{ name: nodeId, peerUrl: urlFor('https', advertise.host, etcdPeerPort(listen.port)) }], clusterState: 'new' },
          seed: async (store) => {
            await store.cluster.create(cluster);
            await store.nodes.create(self);
          },
        });
        await this.dir.save(st);
        if (this.rt?.store) await waitNodeSettled(this.rt.store, nodeId);
        this.status = 'active';
        return nodeId;
      } catch (err) {
        await this.halt({ removeTasks: true });
        await this.dir.wipe();
        this.status = 'inactive';
        throw err;
      }
    });
  }

  private async isSystemAddress(ip: string): Promise<boolean> {
    return Object.values(os.networkInterfaces()).some((list) => list?.some((a) => a.address === ip));
  }

  // ---------------------------------------------------------------- join

  async join(req: JoinRequest): Promise<void> {
    return this.control.run('swarm', async () => {
      if (this.status !== 'inactive' && this.status !== 'error') throw msg.swarmExists();
      const listenAddr = addr.normalizeAddr(req.ListenAddr || addr.DEFAULT_LISTEN, 'ListenAddr');
      if (!req.RemoteAddrs?.length) throw invalidArgument('at least 1 RemoteAddr is required to join');
      const remotes = req.RemoteAddrs.map((r) => addr.normalizeAddr(r, 'remoteAddr'));
      const token = req.JoinToken ?? '';
      ca.parseJoinToken(token); // "invalid join token" before anything is made
      const listen = addr.resolveListenAddr(listenAddr);
      let advertiseHost: string;
      let advertisePort = listen.port;
      if (req.AdvertiseAddr) {
        const a = addr.resolveAdvertiseAddr(req.AdvertiseAddr, listen.port);
        advertiseHost = a.host;
        advertisePort = a.port;
      } else if (!['0.0.0.0', '::'].includes(listen.host)) {
        advertiseHost = listen.host;
      } else {
        advertiseHost = await addr.localAddressTowards(remotes[0]!);
      }
      const dataPathAddr = addr.resolveDataPathAddr(req.DataPathAddr);

      this.status = 'pending';
      this.error = '';
      try {
        const { key, csr } = await ca.createKeyAndCsr('swarm-node');
        const body: JoinBody = {
          token, csr, advertiseAddr: addr.joinHostPort(advertiseHost, advertisePort),
          etcdPeerUrl: urlFor('https', advertiseHost, etcdPeerPort(listen.port)),
          ...(req.Availability ? { availability: req.Availability } : {}),
          description: nodeDescription(this.deps.engine(), { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' }),
        };
        const answer = (await requestJoin(remotes, token, body)) as JoinAnswer;
        const st: PersistedSwarmState = {
          nodeId: answer.nodeId, clusterId: answer.clusterId, role: answer.role, listenAddr: addr.joinHostPort(listen.host, listen.port),
          advertiseAddr: body.advertiseAddr, dataPathAddr, managers: answer.managers, autolock: Boolean(answer.unlockKey),
        };
        const certs = { ca: answer.caCert, cert: answer.cert, key };
        await this.dir.saveCerts(answer.unlockKey ? { ...certs, key: ca.encryptKey(key, answer.unlockKey) } : certs, Boolean(answer.unlockKey));
        if (answer.role === 'manager' && answer.secretsKey) await this.dir.saveSecretsKey(Buffer.from(answer.secretsKey, 'base64'), answer.unlockKey);
        await this.run(st, certs, answer.unlockKey, answer.etcd ? { etcd: { initialCluster: answer.etcd.initialCluster, clusterState: 'existing' }, joining: true } : {});
        await this.dir.save(st);
        this.status = 'active';
      } catch (err) {
        await this.halt({ removeTasks: true });
        await this.dir.wipe();
        this.status = 'inactive';
        throw err;
      }
    });
  }

  /** The manager side of POST /join (control server, no client certificate). */
  private async admit(body: JoinBody): Promise<JoinAnswer> {
    const rt = this.rt;
    if (!rt?.store || !rt.etcd || rt.state.role !== 'manager' || this.status !== 'active') throw unavailable(msg.NOT_A_MANAGER_WORKER);
    const cluster = await rt.store.cluster.get(rt.state.clusterId);
    if (!cluster) throw unavailable('the swarm has no cluster object yet');
    const role: NodeRole | undefined = body?.token === cluster.JoinTokens.Manager ? 'manager' : body?.token === cluster.JoinTokens.Worker ? 'worker' : undefined;
    if (!role) throw invalidArgument(msg.INVALID_JOIN_TOKEN);
    if (typeof body.csr !== 'string' || typeof body.advertiseAddr !== 'string') throw invalidArgument('invalid join request');
    const nodeId = newSwarmId();
    const host = addr.splitHostPort(body.advertiseAddr).host;
    const root = this.caOf(cluster);
    const cert = await ca.issueNodeCert(root, body.csr, { nodeId, role, clusterId: cluster.ID, expirySeconds: certExpirySeconds(cluster), ips: [host] });
    await rt.store.nodes.create(newNodeObject({
      id: nodeId, role, description: { ...body.description, TLSInfo: cluster.TLSInfo }, addr: host, managerAddr: body.advertiseAddr, availability: body.availability,
    }));
    // Read before the member is added (a learner now, but a read must not wait on a cluster that grows).
    const managers = (await rt.store.nodes.list()).filter((n) => n.ManagerStatus).map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus!.Addr }));
    let etcd: JoinAnswer['etcd'];
    if (role === 'manager') {
      try {
        // A learner first: it counts for no quorum until promoted, so a joiner that never starts cannot stall the cluster.
        // etcd may answer "member not found" to an add right after a member at the same URL was removed.
        const { members } = await whileUnhealthy(() => rt.etcd!.memberAdd([body.etcdPeerUrl], { learner: true }), 10_000, /member not found/);
        etcd = { initialCluster: members.map((m) => ({ name: m.name || nodeId, peerUrl: m.peerUrls[0] ?? body.etcdPeerUrl })) };
      } catch (err) {
        log.warn('swarm join: could not add the etcd member', { node: nodeId, error: (err as Error).message });
        await rt.store.nodes.delete(nodeId).catch(() => undefined);
        throw err;
      }
    }
    return {
      nodeId, clusterId: cluster.ID, role, cert: presentedChain(cluster, cert), caCert: trustBundle(cluster), managers,
      ...(etcd ? { etcd } : {}), ...(role === 'manager' && this.unlockKeyOf(rt, cluster) ? { unlockKey: this.unlockKeyOf(rt, cluster) } : {}),
      ...(role === 'manager' && rt.secretsKey?.exported() ? { secretsKey: rt.secretsKey.exported() } : {}),
    };
  }

  private caOf(cluster: Cluster): ca.RootCA {
    const c = cluster.BerthCA;
    if (!c) throw unavailable('the swarm has no CA key');
    return { cert: c.Cert, key: c.KeyEncrypted ? ca.decryptKey(c.Key, this.unlockKeyOf(this.rt, cluster) ?? '') : c.Key };
  }

  /**
   * The managers' unlock key while autolock is on. Stored sealed with the secrets key (so the etcd data
   * on a manager's disk does not give away what autolock protects); clear in clusters made before.
   */
  private unlockKeyOf(rt: Runtime | undefined, cluster: Cluster | undefined): string | undefined {
    if (!cluster) return undefined;
    if (!cluster.BerthUnlockKeySealed) return cluster.BerthUnlockKey;
    const holder = rt?.secretsKey;
    if (!holder?.available) throw unavailable('the swarm\'s secrets key is not available on this manager yet');
    return holder.sealer().open(cluster.BerthUnlockKeySealed).toString('utf8');
  }

  // ---------------------------------------------------------------- leave

  async leave(force: boolean): Promise<void> {
    return this.control.run('swarm', async () => {
      if (this.status === 'inactive') throw msg.noSwarm();
      if (this.status === 'locked' && !force) throw unavailable(msg.LEAVE_LOCKED);
      const rt = this.rt;
      if (rt?.state.role === 'manager' && !force) {
        if (this.status !== 'active' || !rt.etcd) throw msg.managerLeaveRefusal(2, 0);
        const members = await rt.etcd.memberList().catch(() => []);
        let reachable = 0;
        for (const m of members) if (await this.memberReachable(m.clientUrls[0])) reachable++;
        throw msg.managerLeaveRefusal(Math.max(reachable, 1), Math.max(members.length - reachable, 0));
      }
      if (rt?.state.role === 'manager' && rt.store && rt.etcd) {
        await rt.leadership?.stop();
        await rt.store.nodes.modify(rt.state.nodeId, (n) => ({ ...n, Status: { ...n.Status, State: 'down' }, ManagerStatus: n.ManagerStatus && { ...n.ManagerStatus, Leader: false, Reachability: 'unreachable' } })).catch(() => undefined);
        const members = await rt.etcd.memberList().catch(() => []);
        const self = members.find((m) => m.name === rt.state.nodeId);
        if (self && members.length > 1) {
          // Removed while it still runs, so the others keep their quorum (2 managers -> 1 too); the
          // removed member exits on its own and stop() ends its supervision.
          await whileUnhealthy(() => rt.etcd!.memberRemove(self.id)).catch((err: Error) => log.warn('swarm leave: could not remove the etcd member', { error: err.message }));
          await rt.member?.stop();
        }
      } else if (rt?.managersClient) {
        await rt.managersClient.call('POST', '/node/leave').catch((err: Error) => log.warn('swarm leave: managers not told', { error: err.message }));
      }
      await this.halt({ removeTasks: true });
      await this.deps.networking?.teardown().catch((err: Error) => log.warn('swarm leave: network teardown failed', { error: err.message }));
      await this.dir.wipe();
      this.locked = undefined;
      this.status = 'inactive';
      this.error = '';
    });
  }

  private async memberReachable(clientUrl: string | undefined): Promise<boolean> {
    const rt = this.rt;
    if (!clientUrl || !rt?.etcd) return false;
    const files = await this.dir.tlsFiles(rt.certs);
    const probe = new EtcdClient({ endpoints: [clientUrl], tls: files, timeoutMs: 1_000 });
    try {
      await probe.range('/', { countOnly: true });
      return true;
    } catch {
      return false;
    } finally {
      probe.close();
    }
  }

  // ---------------------------------------------------------------- update, unlock

  async update(version: number, spec: SwarmSpec, flags: UpdateFlags): Promise<void> {
    return this.control.run('swarm', async () => {
      const store = this.managerStore();
      if (!Number.isInteger(version) || version <= 0) throw invalidArgument(`invalid swarm version: ${version}`);
      const current = await store.cluster.get(this.rt!.state.clusterId);
      if (!current) throw unavailable('the swarm has no cluster object yet');
      const next: Cluster = { ...current, Version: { Index: version }, Spec: mergeSpec(defaultSwarmSpec(), spec) };
      let root = this.caOf(current);
      if (rotationRequested(current, spec)) root = await startRotation(next, root, spec); // ca --rotate (cert-authority.ts)
      if (flags.rotateWorkerToken) next.JoinTokens = { ...next.JoinTokens, Worker: ca.makeJoinToken(root.cert) };
      if (flags.rotateManagerToken) next.JoinTokens = { ...next.JoinTokens, Manager: ca.makeJoinToken(root.cert) };
      const autolock = Boolean(next.Spec.EncryptionConfig?.AutoLockManagers);
      let unlockKey = this.unlockKeyOf(this.rt, current);
      if (autolock && (!unlockKey || flags.rotateManagerUnlockKey)) unlockKey = ca.makeUnlockKey();
      if (!autolock) unlockKey = undefined;
      next.BerthCA = unlockKey ? { Cert: root.cert, Key: ca.encryptKey(root.key, unlockKey), KeyEncrypted: true } : { Cert: root.cert, Key: root.key };
      delete next.BerthUnlockKey;
      if (unlockKey) next.BerthUnlockKeySealed = this.secretSealer().seal(Buffer.from(unlockKey));
      else delete next.BerthUnlockKeySealed;
      await store.cluster.update(next);
    });
  }

  /** GET /swarm/unlockkey. */
  async unlockKey(): Promise<{ UnlockKey: string }> {
    const store = this.managerStore();
    const cluster = await store.cluster.get(this.rt!.state.clusterId);
    return { UnlockKey: this.unlockKeyOf(this.rt, cluster) ?? '' };
  }

  async unlock(key: string): Promise<void> {
    return this.control.run('swarm', async () => {
      if (this.status === 'active' && this.rt?.state.role === 'manager') throw msg.notLocked();
      if (this.status !== 'locked' || !this.locked) {
        if (this.status === 'pending') throw unavailable(msg.NOT_A_MANAGER_PENDING);
        if (this.rt) throw unavailable(msg.NOT_A_MANAGER_WORKER);
        throw unavailable(msg.NOT_A_MANAGER_INACTIVE);
      }
      const stored = await this.dir.loadCerts();
      let plain: string;
      try {
        plain = ca.decryptKey(stored.key, key ?? '');
      } catch {
        throw msg.invalidUnlockKey();
      }
      const st = this.locked;
      this.status = 'pending';
      try {
        await this.run(st, { ca: stored.ca, cert: stored.cert, key: plain }, key);
        this.locked = undefined;
        this.status = 'active';
      } catch (err) {
        await this.halt({ removeTasks: false });
        this.status = 'locked';
        throw new BerthError('Internal', `swarm component could not be started: ${(err as Error).message}`);
      }
    });
  }

  // ---------------------------------------------------------------- running

  /**
   * Starts what a swarm node runs. `etcd` is for a manager's first start (bootstrap or join); a
   * restarted manager's member comes back from its data dir. `seed` writes the first objects (init).
   */
  private async run(st: PersistedSwarmState, certs: NodeCerts, unlockKey: string | undefined, o: { etcd?: { initialCluster: EtcdPeer[]; clusterState: 'new' | 'existing' }; seed?: (s: SwarmStore) => Promise<void>; joining?: boolean } = {}): Promise<void> {
    const rt: Runtime = { state: st, certs, stops: [], nodes: [], ...(unlockKey ? { unlockKey } : {}) };
    this.rt = rt;
    const tls: ControlTls = { ca: certs.ca, cert: certs.cert, key: certs.key };
    const listen = addr.splitHostPort(st.listenAddr);
    const listenPort = Number(listen.port);
    rt.control = new ControlServer({ host: listen.host, port: listenPort, tls });
    this.controlRoutes(rt.control);
    certRoutes(rt.control, () => (rt.store ? this.certAuthority(rt) : undefined), () => unavailable(msg.NOT_A_MANAGER_WORKER));
    this.deps.controlRoutes?.(rt.control);
    if (st.role === 'manager') {
      const files = await this.dir.tlsFiles(certs);
      const host = addr.splitHostPort(st.advertiseAddr).host;
      rt.member = new EtcdMember({
        name: st.nodeId, root: this.dir.etcdDir, address: host, clientPort: etcdClientPort(listenPort), peerPort: etcdPeerPort(listenPort),
        initialCluster: o.etcd?.initialCluster ?? [{ name: st.nodeId, peerUrl: urlFor('https', host, etcdPeerPort(listenPort)) }],
        clusterState: o.etcd?.clusterState ?? 'existing', clusterToken: `berth-${st.clusterId}`,
        peerTls: files, clientTls: files, restart: true, startTimeoutMs: 60_000,
        ...(this.deps.etcdBinary ? { binary: this.deps.etcdBinary } : {}),
      });
      try {
        await rt.member.start();
        if (o.etcd?.clusterState === 'existing') await this.promoteOwnMember(st, certs);
      } catch (err) {
        if (o.etcd?.clusterState === 'existing') await this.abandonOwnMember(st, certs, Boolean(o.joining));
        throw err;
      }
      // Its own member first; the others' client URLs let the client survive the loss of its own.
      const probe = new EtcdClient({ endpoints: [rt.member.clientUrl], tls: files, timeoutMs: 2_000 });
      const others = await probe.memberList().then((ms) => ms.flatMap((m) => m.clientUrls).filter((u) => u !== rt.member!.clientUrl), () => []);
      probe.close();
      rt.etcd = new EtcdClient({ endpoints: [rt.member.clientUrl, ...others], tls: files, timeoutMs: 5_000 });
      rt.store = etcdSwarmStore(rt.etcd);
      if (o.seed) await o.seed(rt.store);
      await this.followStore(rt);
      await this.startSecretsKey(rt, unlockKey);
      await this.followAutolock(rt);
      rt.dispatcher = await this.deps.dispatcher.start({ store: rt.store, control: rt.control, nodeId: st.nodeId, etcd: rt.etcd, sealer: rt.secretsKey!.sealer() });
      const store = rt.store;
      const dispatcher = rt.dispatcher;
      rt.leadership = new Leadership({
        client: rt.etcd, nodeId: st.nodeId, duties: this.deps.leaderDuties,
        context: (): LeaderContext => ({ store, allocator: this.deps.allocator?.(store) ?? noAllocator, nodeStates: () => dispatcher.nodeStates() }),
        holderAlive: (nodeId) => this.managerAnswers(rt, nodeId),
        onChange: (leader) => {
          if (leader) void this.markLeader(rt).catch((err: Error) => log.warn('swarm: could not mark the leader', { error: err.message }));
        },
      });
      rt.leadership.start();
    } else {
      await this.dir.removeSecretsKey(); // a worker never keeps it (a demoted manager's copy goes)
      rt.managersClient = new ControlClient({ addrs: st.managers.map((m) => m.Addr), tls });
      this.refreshManagersLater(rt);
    }
    await rt.control.listen();
    const channel = rt.dispatcher ? rt.dispatcher.localChannel(st.nodeId) : this.deps.dispatcher.remoteChannel(rt.managersClient!, st.nodeId);
    rt.agent = await this.deps.agentFactory.start(st.nodeId, this.withNetworking(channel));
    rt.stops.push(startCertKeeper(this.keeperHost(rt)));
  }

  /** A manager's secrets key: on disk, else from another manager, else (the only manager) a new one. */
  private async startSecretsKey(rt: Runtime, unlockKey: string | undefined): Promise<void> {
    const holder = new ManagerSecretsKey(this.dir);
    rt.secretsKey = holder;
    holder.serve(rt.control!, () => this.managerStore());
    const others = () => this.managerList().filter((m) => m.NodeID !== rt.state.nodeId).map((m) => m.Addr);
    await holder.load({
      unlockKey,
      currentUnlockKey: () => rt.unlockKey,
      peers: () => (others().length && this.rt === rt ? new ControlClient({ addrs: others(), tls: { ca: rt.certs.ca, cert: rt.certs.cert, key: rt.certs.key } }) : undefined),
      // Only where no other manager could hold one and nothing is sealed yet: a new key never orphans secrets.
      mayMakeKey: async () => (await this.managersOf(rt.store!)).every((m) => m.NodeID === rt.state.nodeId) && !(await rt.store!.secrets.list()).length,
      makeKey: newSecretsKey,
      // The unlock key is sealed with it: autolock can be followed once the key is here.
      onAdopt: () => void this.followAutolock(rt).catch((err: Error) => log.warn('swarm: could not follow autolock', { error: err.message })),
    });
    // Read under the key the node was started with; stored under the one autolock has now.
    await holder.rewrap(rt.unlockKey);
  }

  /** The control server's routes the manager part serves (the dispatcher adds its own). */
  private controlRoutes(control: ControlServer): void {
    control.handle('POST', '/join', async (req) => this.admit(req.body as JoinBody), { public: true });
    control.handle('GET', '/managers', async () => this.managerList());
    control.handle('POST', '/node/leave', async (req) => {
      const store = this.managerStore();
      await store.nodes.modify(req.peer!.nodeId, (n) => ({ ...n, Status: { ...n.Status, State: 'down' } }));
      return {};
    });
    // A manager tells this node its role changed; the node then asks for a certificate of the new role.
    control.handle('POST', '/node/role', async (req) => {
      const role = (req.body as { role?: NodeRole })?.role;
      if (role !== 'manager' && role !== 'worker') throw invalidArgument('invalid role');
      this.changeRoleSoon(role);
      return {};
    }, { roles: ['manager'] });
    control.handle('POST', '/manager/node-certificate', async (req) => this.reissue(req.peer!.nodeId, req.body as { csr: string; etcdPeerUrl?: string }));
    control.handle('POST', '/manager/etcd-member', async (req) => this.settleMember(req.peer!.nodeId, req.body as { etcdPeerUrl: string; action: 'promote' | 'remove'; forgetNode?: boolean }));
  }

  // ---------------------------------------------------------------- promote, demote

  /**
   * The /nodes routes changed a node's Spec.Role (promote/demote): the node is told, and switches by
   * asking a manager for a certificate of its new role (which also adds or removes its etcd member).
   */
  async onRoleChange(nodeId: string, role: NodeRole): Promise<void> {
    if (nodeId === this.nodeId) return this.changeRoleSoon(role);
    const client = await this.nodeClient(nodeId);
    await client.call('POST', '/node/role', { role }).catch((err: Error) => {
      // A node that is down learns its role when it comes back (its next certificate request).
      log.warn('swarm: could not tell a node its new role', { node: nodeId, role, error: err.message });
    });
  }

  private changeRoleSoon(role: NodeRole): void {
    void this.control.run('swarm', () => this.changeRole(role)).catch((err: Error) => {
      log.error('swarm: role change failed', { role, error: err.message });
      this.error = `role change to ${role} failed: ${err.message}`;
    });
  }

  private async changeRole(role: NodeRole): Promise<void> {
    const rt = this.rt;
    if (!rt || this.status !== 'active' || rt.state.role === role) return;
    const st = rt.state;
    const listenPort = Number(addr.splitHostPort(st.listenAddr).port);
    const host = addr.splitHostPort(st.advertiseAddr).host;
    const others = this.managerList().filter((m) => m.NodeID !== st.nodeId).map((m) => m.Addr);
    if (!others.length) throw unavailable('no other manager to ask for a certificate');
    const { key, csr } = await ca.createKeyAndCsr(st.nodeId);
    if (role === 'worker') await this.stopManagerDuties(rt, { removeTasks: false });
    const client = new ControlClient({ addrs: others, tls: { ca: rt.certs.ca, cert: rt.certs.cert, key: rt.certs.key } });
    let answer: JoinAnswer;
    try {
      answer = await client.call<JoinAnswer>('POST', '/manager/node-certificate', { csr, etcdPeerUrl: urlFor('https', host, etcdPeerPort(listenPort)) });
    } catch (err) {
      // Nothing changed: the node goes on as it was.
      // 'pending' before the halt: a node between runtimes is not shown as active with none.
      this.status = 'pending';
      await this.halt({ removeTasks: false });
      await this.run(st, rt.certs, rt.unlockKey).then(() => (this.status = 'active'), (e) => this.fail(e));
      throw err;
    }
    this.status = 'pending';
    await this.halt({ removeTasks: false });
    await fs.rm(this.dir.etcdDir, { recursive: true, force: true });
    const next: PersistedSwarmState = { ...st, role: answer.role, managers: answer.managers, autolock: Boolean(answer.unlockKey) };
    const certs = { ca: answer.caCert, cert: answer.cert, key };
    await this.dir.saveCerts(answer.unlockKey ? { ...certs, key: ca.encryptKey(key, answer.unlockKey) } : certs, Boolean(answer.unlockKey));
    await this.dir.save(next);
    this.status = 'pending';
    try {
      await this.run(next, certs, answer.unlockKey, answer.etcd ? { etcd: { initialCluster: answer.etcd.initialCluster, clusterState: 'existing' } } : {});
      this.status = 'active';
      this.error = '';
    } catch (err) {
      this.fail(err);
    }
  }

  /** The manager side: a certificate for the role the store gives the node, its etcd member added or removed to match. */
  private async reissue(nodeId: string, body: { csr: string; etcdPeerUrl?: string }): Promise<JoinAnswer> {
    const rt = this.rt;
    const store = this.managerStore();
    if (!rt?.etcd || typeof body?.csr !== 'string') throw invalidArgument('invalid certificate request');
    const node = await store.nodes.get(nodeId);
    if (!node) throw invalidArgument(`node ${nodeId} is not part of this swarm`);
    const cluster = await store.cluster.get(rt.state.clusterId);
    if (!cluster) throw unavailable('the swarm has no cluster object yet');
    const role = node.Spec.Role;
    const cert = await ca.issueNodeCert(this.caOf(cluster), body.csr, { nodeId, role, clusterId: cluster.ID, expirySeconds: certExpirySeconds(cluster), ips: [node.Status.Addr] });
    const controlAddr = node.BerthControlAddr ?? addr.joinHostPort(node.Status.Addr, addr.splitHostPort(rt.state.listenAddr).port ?? '2377');
    const members = await rt.etcd.memberList();
    const member = members.find((m) => m.name === nodeId);
    let etcd: JoinAnswer['etcd'];
    if (role === 'manager') {
      await store.nodes.modify(nodeId, (n) => ({ ...n, ManagerStatus: { Reachability: 'reachable', Addr: controlAddr } }));
      const managers = await this.managersOf(store);
      if (!member) {
        if (!body.etcdPeerUrl) throw invalidArgument('a manager needs an etcd peer URL');
        const added = await whileUnhealthy(() => rt.etcd!.memberAdd([body.etcdPeerUrl!], { learner: true }), 10_000, /member not found/);
        etcd = { initialCluster: added.members.map((m) => ({ name: m.name || nodeId, peerUrl: m.peerUrls[0] ?? body.etcdPeerUrl! })) };
      }
      return { nodeId, clusterId: cluster.ID, role, cert: presentedChain(cluster, cert), caCert: trustBundle(cluster), managers, ...(etcd ? { etcd } : {}), ...(this.unlockKeyOf(rt, cluster) ? { unlockKey: this.unlockKeyOf(rt, cluster) } : {}) };
    }
    if (member) await whileUnhealthy(() => rt.etcd!.memberRemove(member.id));
    await store.nodes.modify(nodeId, (n) => {
      const { ManagerStatus: _gone, ...rest } = n;
      return rest as SwarmNode;
    });
    return { nodeId, clusterId: cluster.ID, role, cert: presentedChain(cluster, cert), caCert: trustBundle(cluster), managers: await this.managersOf(store) };
  }

  /** A joining manager's member started as a learner: a manager makes it a voter (once it caught up). */
  private async promoteOwnMember(st: PersistedSwarmState, certs: NodeCerts): Promise<void> {
    const client = new ControlClient({ addrs: st.managers.filter((m) => m.NodeID !== st.nodeId).map((m) => m.Addr), tls: { ca: certs.ca, cert: certs.cert, key: certs.key } });
    const peerUrl = urlFor('https', addr.splitHostPort(st.advertiseAddr).host, etcdPeerPort(Number(addr.splitHostPort(st.listenAddr).port)));
    await client.call('POST', '/manager/etcd-member', { etcdPeerUrl: peerUrl, action: 'promote' });
  }

  /** A join whose member did not start: the announced learner is removed again (best effort). */
  private async abandonOwnMember(st: PersistedSwarmState, certs: NodeCerts, forgetNode: boolean): Promise<void> {
    const client = new ControlClient({ addrs: st.managers.filter((m) => m.NodeID !== st.nodeId).map((m) => m.Addr), tls: { ca: certs.ca, cert: certs.cert, key: certs.key } });
    const peerUrl = urlFor('https', addr.splitHostPort(st.advertiseAddr).host, etcdPeerPort(Number(addr.splitHostPort(st.listenAddr).port)));
    await client.call('POST', '/manager/etcd-member', { etcdPeerUrl: peerUrl, action: 'remove', forgetNode }).catch((err: Error) => log.warn('swarm: could not remove the member of a failed join', { error: err.message }));
  }

  /** The manager side: promote or remove the etcd member at a node's peer URL (its own only). */
  private async settleMember(nodeId: string, body: { etcdPeerUrl: string; action: 'promote' | 'remove'; forgetNode?: boolean }): Promise<object> {
    const rt = this.rt;
    const store = this.managerStore();
    if (!rt?.etcd) throw unavailable(msg.NOT_A_MANAGER_PENDING);
    const node = await store.nodes.get(nodeId);
    if (!node || typeof body?.etcdPeerUrl !== 'string' || new URL(body.etcdPeerUrl).hostname.replace(/^\[|\]$/g, '') !== node.Status.Addr) throw invalidArgument('not this node\'s etcd member');
    // A member's list is served locally and may lag (still showing a learner just removed at this URL):
    // "member not found" means read again.
    const end = Date.now() + 10_000;
    for (;;) {
      const members = (await rt.etcd.memberList()).filter((m) => m.peerUrls.includes(body.etcdPeerUrl));
      if (!members.length) {
        if (body.action === 'remove') return {};
        throw invalidArgument('no such etcd member');
      }
      let done = false;
      let lastErr: unknown;
      for (const member of members) {
        try {
          if (body.action === 'remove') await whileUnhealthy(() => rt.etcd!.memberRemove(member.id));
          else if (member.isLearner) await whileUnhealthy(() => rt.etcd!.memberPromote(member.id), 30_000);
          done = true;
        } catch (err) {
          if (!/member not found/.test((err as Error).message)) throw err;
          log.warn('swarm: etcd member not found (a stale member list?)', { member: member.id, action: body.action });
          lastErr = err;
        }
      }
      if (done) break;
      if (Date.now() > end) throw lastErr;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (body.action === 'remove' && body.forgetNode) await store.nodes.delete(nodeId).catch(() => undefined); // a join that failed: no node
    return {};
  }

  private async managersOf(store: SwarmStore): Promise<Array<{ NodeID: string; Addr: string }>> {
    return (await store.nodes.list()).filter((n) => n.ManagerStatus).map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus!.Addr }));
  }

  /** Keeps the cluster object and the node list at hand (for /info) and state.json's managers current. */
  private async followStore(rt: Runtime): Promise<void> {
    const store = rt.store!;
    let timer: NodeJS.Timeout | undefined;
    const refresh = async () => {
      rt.cluster = await store.cluster.get(rt.state.clusterId);
      rt.nodes = await store.nodes.list();
      const managers = this.managerList();
      if (JSON.stringify(managers) !== JSON.stringify(rt.state.managers) && this.rt === rt) {
        rt.state.managers = managers;
        await this.dir.save(rt.state);
      }
      await this.followAutolock(rt);
    };
    const later = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void refresh().catch(() => undefined), 50);
    };
    rt.stops.push(store.cluster.watch(later), store.nodes.watch(later), () => timer && clearTimeout(timer));
    await refresh();
  }

  /** A manager's node key at rest follows the cluster's autolock key (changed by update on any manager). */
  private async followAutolock(rt: Runtime): Promise<void> {
    if (!rt.cluster) return;
    let key: string | undefined;
    try {
      key = this.unlockKeyOf(rt, rt.cluster);
    } catch {
      return; // sealed, and this manager has no secrets key yet: done once it has (startSecretsKey)
    }
    if (key === rt.unlockKey) return;
    await this.dir.saveCerts(key ? { ...rt.certs, key: ca.encryptKey(rt.certs.key, key) } : rt.certs, Boolean(key));
    await rt.secretsKey?.rewrap(key);
    rt.unlockKey = key;
    rt.state.autolock = Boolean(key);
    if (this.rt === rt) await this.dir.save(rt.state);
  }

  private async markLeader(rt: Runtime): Promise<void> {
    const store = rt.store!;
    for (const n of await store.nodes.list()) {
      if (!n.ManagerStatus) continue;
      const leader = n.ID === rt.state.nodeId;
      if (Boolean(n.ManagerStatus.Leader) === leader) continue;
      await store.nodes.modify(n.ID, (cur) => cur.ManagerStatus && ({ ...cur, ManagerStatus: { ...cur.ManagerStatus, ...(leader ? { Leader: true } : {}), ...(leader ? {} : { Leader: undefined }) } }));
    }
  }

  /** Whether a manager's control server accepts a connection (unknown managers count as alive). */
  private managerAnswers(rt: Runtime, nodeId: string): Promise<boolean> {
    const address = rt.nodes.find((n) => n.ID === nodeId)?.ManagerStatus?.Addr;
    if (!address) return Promise.resolve(true);
    const { host, port } = addr.splitHostPort(address);
    return new Promise((resolve) => {
      const s = net.connect({ host, port: Number(port), timeout: 500 }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(false));
    });
  }

  private refreshManagersLater(rt: Runtime): void {
    const tick = async () => {
      if (this.rt !== rt || !rt.managersClient) return;
      const managers = await rt.managersClient.call<Array<{ NodeID: string; Addr: string }>>('GET', '/managers').catch(() => undefined);
      if (managers?.length && JSON.stringify(managers) !== JSON.stringify(rt.state.managers)) {
        rt.state.managers = managers;
        rt.managersClient.setAddrs(managers.map((m) => m.Addr));
        await this.dir.save(rt.state).catch(() => undefined);
      }
    };
    const timer = setInterval(() => void tick(), 5_000);
    rt.stops.push(() => clearInterval(timer));
  }

  /** The agent's channel, with every view also applied to the node's cluster networking first. */
  private withNetworking(channel: AgentChannel): AgentChannel {
    const networking = this.deps.networking;
    if (!networking) return channel;
    return {
      report: (u) => channel.report(u),
      watch: (onView) => {
        let chain = Promise.resolve();
        return channel.watch((view) => {
          chain = chain.then(() => networking.sync(view)).catch((err: Error) => log.warn('swarm: network sync failed', { error: err.message })).then(() => onView(view));
        });
      },
    };
  }

  /** Stops what runs, in reverse order; never throws. */
  private async halt(o: { removeTasks: boolean }): Promise<void> {
    const rt = this.rt;
    this.rt = undefined;
    if (!rt) return;
    await this.stopManagerDuties(rt, o);
    await quietly('control server close', rt.control && (() => rt.control!.close()));
    rt.control = undefined;
    rt.etcd?.close();
    rt.etcd = undefined;
    await quietly('etcd member stop', rt.member && (() => rt.member!.stop()));
    rt.member = undefined;
    await this.dir.clearRun();
  }

  // ---------------------------------------------------------------- certificates (cert-authority.ts, cert-keeper.ts)

  private certAuthority(rt: Runtime): CertAuthority {
    return new CertAuthority({ store: rt.store!, clusterId: rt.state.clusterId, ...(rt.etcd ? { etcd: rt.etcd } : {}), rootOf: (c) => this.caOf(c), unlockKeyOf: (c) => this.unlockKeyOf(rt, c), certExpirySeconds });
  }

  /** Renewed certificates go to every TLS user of the runtime. */
  private keeperHost(rt: Runtime): KeeperHost {
    const listenPort = Number(addr.splitHostPort(rt.state.listenAddr).port);
    return {
      nodeId: rt.state.nodeId, role: rt.state.role, advertiseAddr: rt.state.advertiseAddr,
      etcdPeerUrl: urlFor('https', addr.splitHostPort(rt.state.advertiseAddr).host, etcdPeerPort(listenPort)),
      certs: () => rt.certs,
      managerAddrs: () => (this.rt === rt ? this.managerList().map((m) => m.Addr) : []),
      apply: async (certs) => {
        rt.certs = certs;
        await this.dir.saveCerts(rt.unlockKey ? { ...certs, key: ca.encryptKey(certs.key, rt.unlockKey) } : certs, Boolean(rt.unlockKey));
        rt.control?.setTls(certs);
        rt.managersClient?.setTls(certs);
      },
    };
  }

  /** Agent, watches, leadership, dispatcher: what must end before the etcd member does (or is removed). */
  private async stopManagerDuties(rt: Runtime, o: { removeTasks: boolean }): Promise<void> {
    const agent = rt.agent;
    rt.agent = undefined;
    await quietly('agent stop', agent && (() => agent.stop(o)));
    for (const stop of rt.stops.splice(0)) stop();
    const leadership = rt.leadership;
    rt.leadership = undefined;
    await quietly('leadership stop', leadership && (() => leadership.stop()));
    const dispatcher = rt.dispatcher;
    rt.dispatcher = undefined;
    await quietly('dispatcher stop', dispatcher && (() => dispatcher.stop()));
    rt.secretsKey?.stop();
    rt.secretsKey = undefined;
  }
}

/**
 * etcd refuses membership changes as "unhealthy cluster" until every member has been connected for
 * 5 s (its strict reconfiguration check): right after a join, such a change is retried for a while.
 */
async function whileUnhealthy<T>(f: () => Promise<T>, ms = 10_000, also?: RegExp): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      const m = (err as Error).message;
      if (!(/unhealthy cluster|not in sync with leader/.test(m) || also?.test(m)) || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function quietly(what: string, f: (() => Promise<unknown>) | undefined): Promise<void> {
  try {
    await f?.();
  } catch (err) {
    log.warn(`swarm: ${what} failed`, { error: (err as Error).message });
  }
}
