/**
 * Swarm overlays on a node: `createClusterNetworking(deps)` gives the ClusterNetworking the swarm's
 * manager part starts on every node (swarm/contracts.ts). From each NodeView it keeps, per cluster
 * network, the local twin network (NetworkService.swarmNetworks: same ID and name, driver overlay, scope
 * swarm), the bridge and VXLAN device, and the VXLAN peers (plan.ts says what and why, devices.ts makes
 * it); then it hands the view and the local containers on those networks to the service balancer
 * (balancer.ts; VIPs, routing mesh, service DNS).
 *
 * Containers join a twin through the ordinary sandbox code (a veth on its bridge), with the address
 * the swarm gave (sandboxes.ts checks it) and a MAC derived from it, so peers know it without asking.
 *
 * Lifecycle: made when the node's swarm starts; `sync` on every view (serialized here too); `teardown`
 * when it leaves: every device and forwarding entry goes, and every twin no running container is on.
 */
import type { ClusterNetworking, NodeView } from '../../swarm/contracts.js';
import type { NetworkService } from '../service.js';
import type { NetworkRecord } from '../model.js';
import type { EventBus } from '../../events/bus.js';
import { log } from '../../lib/log.js';
import { messageOf } from '../../lib/errors.js';
import { DEFAULT_DATA_PATH_PORT, OPT_VXLANID, addressOnly, bridgeName, vxlanName } from './names.js';
import { planNode, type OverlayPlan } from './plan.js';
import { ensureOverlay, removeOverlay, removeVxlan } from './devices.js';
import { noBalancer, type LocalEndpoint, type ServiceBalancer } from './balancer.js';

export type { LocalEndpoint, ServiceBalancer } from './balancer.js';
export { noBalancer } from './balancer.js';
export { bridgeName, vxlanName, overlayMac } from './names.js';

export interface ClusterNetworkingDeps {
  networks: Pick<NetworkService, 'tag' | 'swarmNetworks' | 'liveEndpointsOn'>;
  /** The VXLAN port when the view does not say (NodeView.dataPathPort); 4789 when neither does. */
  dataPathPort?: number;
  /** --data-path-addr: the VTEP address; by default the node's own address in the view. */
  dataPathAddr?: string;
  /** VIPs, routing mesh, service DNS (lb/); none until it is wired in. */
  balancer?: ServiceBalancer;
  /**
   * The daemon's events: a container connecting to or leaving an overlay (a task starting before its
   * view arrives, a plain container on an attachable overlay) gets the balancer's rules at once.
   */
  events?: Pick<EventBus, 'subscribe'>;
}

export function createClusterNetworking(deps: ClusterNetworkingDeps): ClusterNetworking {
  return new OverlayNetworking(deps);
}

/** The VXLAN device name of a twin record (from the VNI it keeps in its options). */
/** How long an overlay whose plan did not change goes unchecked (devices removed behind our back come back then). */
const RECHECK_MS = 30_000;

function vxlanOf(n: NetworkRecord): string | undefined {
  const vni = Number(n.options[OPT_VXLANID]?.split(',')[0]);
  return Number.isInteger(vni) && vni > 0 ? vxlanName(vni, n.id) : undefined;
}

class OverlayNetworking implements ClusterNetworking {
  private queue: Promise<unknown> = Promise.resolve();
  /** The view of the last sync and the overlays it made: what a container event re-balances with. */
  private last?: { view: NodeView; made: OverlayPlan[] };
  private rebalancePending = false;
  private unsubscribe?: () => void;
  /**
   * What each overlay was last brought to, and when: views change with every task state in the cluster,
   * and an overlay whose plan did not change is not checked again (a few `ip` runs each) for a while.
   */
  private readonly applied = new Map<string, { signature: string; at: number }>();

  constructor(private readonly deps: ClusterNetworkingDeps) {}

  /** From the first sync until teardown: container events on the overlays re-run the balancer. */
  private listen(): void {
    if (this.unsubscribe || !this.deps.events) return;
    this.unsubscribe = this.deps.events.subscribe((e) => {
      if (e.Type !== 'network' || (e.Action !== 'connect' && e.Action !== 'disconnect')) return;
      if (this.last?.made.some((p) => p.networkId === e.Actor.ID)) this.rebalance();
    });
  }

  /** The balancer again with the last view, for the containers there are now (one run for a burst of events). */
  private rebalance(): void {
    if (this.rebalancePending) return;
    this.rebalancePending = true;
    void this.serialized(async () => {
      this.rebalancePending = false;
      if (!this.last) return;
      await (this.deps.balancer ?? noBalancer).sync(this.last.view, this.localEndpoints(this.last.view, this.last.made));
    }).catch((err) => log.warn('service balancing after a container change failed', { error: messageOf(err) }));
  }

  private port(view: NodeView): number {
    return view.dataPathPort || this.deps.dataPathPort || DEFAULT_DATA_PATH_PORT;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.catch(() => {}).then(work); // the previous call's failure went to its caller
    this.queue = run;
    return run;
  }

  sync(view: NodeView): Promise<void> {
    return this.serialized(() => this.syncNow(view));
  }

  localNetwork(clusterNetworkId: string): string | undefined {
    // The ID, not the name: a local network may have the same name.
    return this.deps.networks.swarmNetworks.list().some((n) => n.id === clusterNetworkId) ? clusterNetworkId : undefined;
  }

  teardown(): Promise<void> {
    return this.serialized(() => this.teardownNow());
  }

  private async syncNow(view: NodeView): Promise<void> {
    const { networks } = this.deps;
    this.listen();
    networks.swarmNetworks.setManaged(true);
    const plan = planNode(view);
    const local = this.deps.dataPathAddr || plan.local;
    const failures: string[] = plan.skipped.map((s) => `network ${s.networkId}: ${s.reason}`);
    const made: OverlayPlan[] = [];
    for (const p of plan.overlays) {
      try {
        await networks.swarmNetworks.put(p.record);
        if (!local) throw new Error('this node has no address in the swarm to carry overlay traffic from');
        const o = { tag: networks.tag, local, port: this.port(view) };
        const signature = JSON.stringify([p, o]);
        const last = this.applied.get(p.networkId);
        if (!last || last.signature !== signature || Date.now() - last.at > RECHECK_MS) {
          this.applied.delete(p.networkId);
          await ensureOverlay(p, o);
          this.applied.set(p.networkId, { signature, at: Date.now() });
        }
        made.push(p);
      } catch (err) {
        failures.push(`network ${p.record.name} (${p.networkId}): ${messageOf(err)}`);
      }
    }
    const wanted = new Set(view.networks.map((n) => n.ID));
    for (const n of networks.swarmNetworks.list()) {
      if (wanted.has(n.id)) continue;
      // Gone from the cluster: kept while a local container is still on it, removed on a later sync.
      let unused: boolean;
      try {
        unused = await networks.swarmNetworks.remove(n.id);
      } catch (err) {
        failures.push(`network ${n.name}: ${messageOf(err)}`);
        continue;
      }
      if (!unused) continue;
      this.applied.delete(n.id);
      await removeOverlay({ bridge: n.bridge ?? bridgeName(n.id), vxlan: vxlanOf(n) }, networks.tag).catch((err) => failures.push(`network ${n.name}: ${messageOf(err)}`));
    }
    this.last = { view, made };
    await (this.deps.balancer ?? noBalancer).sync(view, this.localEndpoints(view, made)).catch((err) => failures.push(`service balancing: ${messageOf(err)}`));
    if (failures.length) {
      for (const f of failures) log.warn('overlay sync', { error: f });
      throw new Error(`overlay networks not in line with the swarm: ${failures.join('; ')}`);
    }
  }

  /** The running containers' interfaces on the overlays made, with the task each address belongs to. */
  private localEndpoints(view: NodeView, made: OverlayPlan[]): LocalEndpoint[] {
    const taskOf = new Map<string, string>();
    for (const t of view.tasks) for (const a of t.NetworksAttachments ?? []) for (const addr of a.Addresses) taskOf.set(`${a.Network.ID}/${addressOnly(addr)}`, t.ID);
    return made.flatMap((p) =>
      this.deps.networks.liveEndpointsOn(p.networkId).map((e) => {
        const taskId = taskOf.get(`${p.networkId}/${e.ip}`);
        return { containerId: e.containerId, ...(taskId ? { taskId } : {}), networkId: p.networkId, address: e.ip, ifname: e.ifname, netnsPath: e.netnsPath };
      }),
    );
  }

  private async teardownNow(): Promise<void> {
    const { networks } = this.deps;
    const failures: string[] = [];
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.last = undefined;
    this.applied.clear();
    await (this.deps.balancer ?? noBalancer).teardown().catch((err) => failures.push(`service balancing: ${messageOf(err)}`));
    for (const n of networks.swarmNetworks.list()) {
      const vxlan = vxlanOf(n);
      try {
        if (await networks.swarmNetworks.remove(n.id)) await removeOverlay({ bridge: n.bridge ?? bridgeName(n.id), vxlan }, networks.tag);
        else if (vxlan) await removeVxlan(vxlan); // a container still on it keeps its bridge and record, but no peers
      } catch (err) {
        failures.push(`network ${n.name}: ${messageOf(err)}`);
      }
    }
    networks.swarmNetworks.setManaged(false);
    if (failures.length) throw new Error(`overlay teardown incomplete: ${failures.join('; ')}`);
  }
}
