/**
 * The seam between the overlay part (this directory) and the service load balancing part (lb/, helper
 * "lb-dns"): VIP balancing in the containers' namespaces, the ingress routing mesh, service DNS.
 *
 * ClusterNetworking.sync (index.ts) first brings the overlays in line with the view (twin networks,
 * bridges, VXLAN devices, peers), then calls `balancer.sync(view, local)` with the containers of this
 * node that are on cluster networks, so the balancer can program their namespaces. teardown() calls
 * `balancer.teardown()` before the overlays go.
 *
 * What the balancer can rely on:
 *  - every cluster network of view.networks has a local twin network with the same ID and name
 *    (driver "overlay", scope "swarm") and a Linux bridge `bridgeName(id)` (names.ts) in the node's
 *    network namespace;
 *  - the ingress network's bridge carries the node's ingress address (view.ingress.Address), so the node
 *    reaches the ingress subnet directly; other overlay bridges carry no address (the host does not
 *    route overlay traffic, as Docker);
 *  - forwarded traffic into the ingress bridge that was DNATed (conntrack state DNAT) is accepted by the
 *    daemon's BERTH-FWD chain; anything else routed into an overlay bridge is dropped there;
 *  - a container on an overlay has no default route through it (Docker gives it one on docker_gwbridge):
 *    a local backend that is to answer a mesh client keeping the client's address needs a route back
 *    through the node's ingress address, which is the balancer's to add in the container's namespace.
 */
import type { NodeView } from '../../swarm/contracts.js';

/** One local container's interface on one cluster network (lb/ takes it as it is). */
export interface LocalEndpoint {
  containerId: string;
  /** The task the container runs, when its address is a task's attachment in the view. */
  taskId?: string;
  /** The cluster network's ID (the same as the local twin's). */
  networkId: string;
  /** The container's IPv4 address on it, without prefix. */
  address: string;
  /** The container's interface name there (eth0, eth1, ...). */
  ifname: string;
  /** The container's network namespace (/run/netns/...), to run iptables and the DNS in. */
  netnsPath: string;
}

export interface ServiceBalancer {
  /** Brings VIPs, the routing mesh and service DNS in line with the view; idempotent. */
  sync(view: NodeView, local: LocalEndpoint[]): Promise<void>;
  /** Leaving the swarm: removes every rule and listener it made. */
  teardown(): Promise<void>;
}

/** Until the balancer is wired in: overlays without service balancing. */
export const noBalancer: ServiceBalancer = {
  sync: async () => {},
  teardown: async () => {},
};
