/**
 * The service names the embedded DNS answers for containers on cluster networks, from the node's view:
 * `<service>` and its aliases on a network -> the service's VIP there (endpoint mode vip) or its running
 * tasks' addresses (dnsrr); `tasks.<service>` and `tasks.<alias>` -> the running tasks' addresses; a
 * task's container name (`<service>.<slot or node id>.<task id>`) -> its address, on any node. A
 * container gets only the names of services on networks it is on itself.
 *
 * Lifecycle: `update(view)` at each sync replaces the records at once; lookups read the last ones.
 */
import type { NodeView } from '../../../swarm/contracts.js';
import type { DnsRecordSource } from '../../dns-service.js';
import { bareAddr, taskAddrs } from './rules.js';

/** Per cluster network ID: lower-case name -> addresses. */
type Records = Map<string, Map<string, string[]>>;

export function buildRecords(view: NodeView): Records {
  const records: Records = new Map();
  const add = (networkId: string, name: string, addrs: string[]) => {
    if (!name || !addrs.length) return;
    let names = records.get(networkId);
    if (!names) records.set(networkId, (names = new Map()));
    const key = name.toLowerCase();
    if (!names.has(key)) names.set(key, addrs);
  };
  for (const ep of view.endpoints) {
    const networkIds = new Set([...ep.VirtualIPs.map((v) => v.NetworkID), ...Object.keys(ep.Aliases ?? {}), ...ep.Tasks.flatMap((t) => t.Addresses.map((a) => a.NetworkID))]);
    // The ingress network carries the routing mesh, not service discovery (as in Docker).
    if (view.ingress) networkIds.delete(view.ingress.NetworkID);
    for (const networkId of networkIds) {
      const tasks = taskAddrs(ep, networkId);
      const vip = ep.Mode === 'vip' ? ep.VirtualIPs.find((v) => v.NetworkID === networkId && v.Addr) : undefined;
      const service = vip ? [bareAddr(vip.Addr)] : tasks;
      for (const name of [ep.Name, ...(ep.Aliases?.[networkId] ?? [])]) {
        add(networkId, name, service);
        add(networkId, `tasks.${name}`, tasks);
      }
      // Each task by its container's name, wherever it runs (<service>.<slot or node>.<task id>).
      for (const t of ep.Tasks) {
        const addr = t.Addresses.find((a) => a.NetworkID === networkId && a.Addr);
        if (addr) add(networkId, `${ep.Name}.${t.Slot ?? t.NodeID}.${t.ID}`, [bareAddr(addr.Addr)]);
      }
    }
  }
  return records;
}

export class ServiceRecords implements DnsRecordSource {
  private records: Records = new Map();
  private networks: NodeView['networks'] = [];

  /** `localNetwork`: the local name or id a cluster network has on this node (ClusterNetworking.localNetwork). */
  constructor(private readonly localNetwork: (clusterNetworkId: string) => string | undefined = () => undefined) {}

  update(view: NodeView): void {
    this.records = buildRecords(view);
    this.networks = view.networks;
  }

  clear(): void {
    this.records = new Map();
    this.networks = [];
  }

  lookup(networks: Array<{ id: string; name: string }>, name: string): string[] | undefined {
    const key = name.toLowerCase();
    const found = new Set<string>();
    for (const n of networks) {
      for (const cn of this.networks) {
        const local = this.localNetwork(cn.ID);
        if (cn.ID !== n.id && local !== n.id && local !== n.name) continue;
        for (const a of this.records.get(cn.ID)?.get(key) ?? []) found.add(a);
      }
    }
    return found.size ? [...found] : undefined;
  }
}
