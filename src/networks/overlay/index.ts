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
  /** The cluster's DataPathPort (Cluster.DataPathPort); 4789 when unset or 0. */
  dataPathPort?: number;
  /** --data-path-addr: the VTEP address; by default the node's own address in the view. */
  dataPathAddr?: string;
  /** VIPs, routing mesh, service DNS (lb/); none until it is wired in. */
  balancer?: ServiceBalancer;
}

export function createClusterNetworking(deps: ClusterNetworkingDeps): ClusterNetworking {
  return new OverlayNetworking(deps);
}

/** The VXLAN device name of a twin record (from the VNI it keeps in its options). */
function vxlanOf(n: NetworkRecord): string | undefined {
  const vni = Number(n.options[OPT_VXLANID]?.split(',')[0]);
  return Number.isInteger(vni) && vni > 0 ? vxlanName(vni, n.id) : undefined;
}

class OverlayNetworking implements ClusterNetworking {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ClusterNetworkingDeps) {}

  private get port(): number {
    return this.deps.dataPathPort || DEFAULT_DATA_PATH_PORT;
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
    const plan = planNode(view);
    const local = this.deps.dataPathAddr || plan.local;
    const failures: string[] = plan.skipped.map((s) => `network ${s.networkId}: ${s.reason}`);
    const made: OverlayPlan[] = [];
    for (const p of plan.overlays) {
      try {
        await networks.swarmNetworks.put(p.record);
        if (!local) throw new Error('this node has no address in the swarm to carry overlay traffic from');
        await ensureOverlay(p, { tag: networks.tag, local, port: this.port });
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
      await removeOverlay({ bridge: n.bridge ?? bridgeName(n.id), vxlan: vxlanOf(n) }, networks.tag).catch((err) => failures.push(`network ${n.name}: ${messageOf(err)}`));
    }
    await (this.deps.balancer ?? noBalancer).sync(view, this.localEndpoints(view, made)).catch((err) => failures.push(`service balancing: ${messageOf(err)}`));
    if (failures.length) {
      for (const f of failures) log.warn('overlay sync', { error: f });
      throw new Error(`overlay networks not in line with the swarm: ${failures.join('; ')}`);
    }
  }

  /** The running containers on the overlays just made, with the task each address belongs to. */
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
    if (failures.length) throw new Error(`overlay teardown incomplete: ${failures.join('; ')}`);
  }
}
