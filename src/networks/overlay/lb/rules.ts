/**
 * What the swarm load balancing rules are: pure functions from the node's view of the cluster to
 * iptables-restore texts, so the exact rules are unit-tested without a kernel.
 *
 * - VIP balancing (endpoint mode vip), in each local container's namespace: nat OUTPUT sends every
 *   port of a service VIP to one of the service's running tasks on that network (`statistic --mode
 *   random`, one rule per backend with probability 1/remaining); a VIP without backends is refused
 *   (filter OUTPUT REJECT: a TCP reset, ICMP port unreachable otherwise) rather than left to time out.
 *   The container namespace's nat and filter tables are the daemon's alone (the embedded DNS uses
 *   sockets, not rules), so they are replaced whole: one atomic swap, nothing to find and delete.
 * - The routing mesh, in the node's own namespace, in chains of our own beside the daemon's firewall:
 *   a published ingress port on any local address goes to one of the service's tasks on the ingress
 *   network; connections to a task on another node are SNATed to this node's ingress address so the
 *   answer comes back through it, while a local task sees the client's real address (TCP; UDP flows
 *   are SNATed too, see renderMesh).
 * Connections already made keep their backend: NAT is decided once per connection (conntrack).
 */
import { createHash } from 'node:crypto';
import type { NodeView } from '../../../swarm/contracts.js';
import { DEFAULT_TAG } from '../../firewall.js';

/** One local container's interface on one cluster network: the overlay part's seam (../balancer.ts). */
import type { LocalEndpoint } from '../balancer.js';
export type { LocalEndpoint };

/** A service VIP seen from one container, and the task addresses behind it. */
export interface VipTarget {
  vip: string;
  backends: string[];
}

export interface MeshBackend {
  addr: string;
  /** Runs on this node: reached without SNAT, so it sees the client's address. */
  local: boolean;
}

export interface MeshPort {
  proto: 'tcp' | 'udp';
  published: number;
  target: number;
  backends: MeshBackend[];
}

export interface MeshPlan {
  /** This node's address on the ingress network (the source of SNATed connections). */
  ingressAddr: string;
  /** The ingress subnet (forwarding accepts); when unknown, the backends' /32s. */
  ingressSubnet?: string;
  ports: MeshPort[];
}

/** "10.0.0.5/24" -> "10.0.0.5". */
export function bareAddr(a: string): string {
  return a.split('/')[0]!;
}

function ipNum(a: string): number {
  return a.split('.').reduce((n, b) => n * 256 + Number(b), 0);
}

function byAddress(a: string, b: string): number {
  return ipNum(a) - ipNum(b);
}

/** The running tasks' addresses of a service on one network, sorted and without duplicates. */
export function taskAddrs(ep: NodeView['endpoints'][number], networkId: string): string[] {
  const out = new Set<string>();
  for (const t of ep.Tasks) for (const a of t.Addresses) if (a.NetworkID === networkId && a.Addr) out.add(bareAddr(a.Addr));
  return [...out].sort(byAddress);
}

/** The VIPs a container on these cluster networks balances, sorted by VIP. */
export function vipTargetsFor(view: NodeView, networkIds: ReadonlySet<string>): VipTarget[] {
  const out = new Map<string, string[]>();
  for (const ep of view.endpoints) {
    if (ep.Mode !== 'vip') continue;
    for (const v of ep.VirtualIPs) {
      // The ingress network's VIPs serve the mesh only: no name resolves to them (as in Docker).
      if (!networkIds.has(v.NetworkID) || !v.Addr || v.NetworkID === view.ingress?.NetworkID) continue;
      out.set(bareAddr(v.Addr), taskAddrs(ep, v.NetworkID));
    }
  }
  return [...out.entries()].sort(([a], [b]) => byAddress(a, b)).map(([vip, backends]) => ({ vip, backends }));
}

/** The node's published ingress ports and their backends; undefined when the node has no ingress address. */
export function meshPlanOf(view: NodeView): MeshPlan | undefined {
  if (!view.ingress) return undefined;
  const ingressId = view.ingress.NetworkID;
  const net = view.networks.find((n) => n.ID === ingressId);
  const ports: MeshPort[] = [];
  const seen = new Set<string>();
  for (const ep of view.endpoints) {
    for (const p of ep.Ports) {
      const proto = p.Protocol ?? 'tcp';
      if ((p.PublishMode ?? 'ingress') !== 'ingress' || !p.PublishedPort || !p.TargetPort || (proto !== 'tcp' && proto !== 'udp')) continue;
      const key = `${proto}/${p.PublishedPort}`;
      if (seen.has(key)) continue; // the allocator never gives one port twice; the first wins if it did
      seen.add(key);
      const backends = new Map<string, MeshBackend>();
      for (const t of ep.Tasks) {
        for (const a of t.Addresses) {
          if (a.NetworkID === ingressId && a.Addr) backends.set(bareAddr(a.Addr), { addr: bareAddr(a.Addr), local: t.NodeID === view.nodeId });
        }
      }
      ports.push({ proto, published: p.PublishedPort, target: p.TargetPort, backends: [...backends.values()].sort((a, b) => byAddress(a.addr, b.addr)) });
    }
  }
  ports.sort((a, b) => a.published - b.published || a.proto.localeCompare(b.proto));
  return { ingressAddr: bareAddr(view.ingress.Address), ingressSubnet: net?.IPAMOptions?.Configs?.[0]?.Subnet, ports };
}

/**
 * Rules that send a connection to one of `targets`: rule i matches with probability 1/(n-i) of what
 * the rules before it left, so each target gets 1/n; the last takes the rest.
 */
function spread(chain: string, match: string, targets: string[]): string[] {
  return targets.map((t, i) => {
    const left = targets.length - i;
    const stat = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(11)} ` : '';
    return `-A ${chain} ${match}${stat}-j DNAT --to-destination ${t}`;
  });
}

// ---------------------------------------------------------------- VIPs (container namespaces)

export const VIP_CHAIN = 'BERTH-VIP';

/** A VIP's own chain: BERTH-VIP-0A000005 for 10.0.0.5. */
export function vipChain(vip: string): string {
  return `${VIP_CHAIN}-${ipNum(vip).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** The nat and filter tables of a container namespace, whole (empty targets: empty tables). */
export function renderVipTables(targets: VipTarget[]): string {
  const nat = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]'];
  const filter = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  const balanced = targets.filter((t) => t.backends.length);
  const refused = targets.filter((t) => !t.backends.length);
  if (balanced.length) {
    nat.push(`:${VIP_CHAIN} - [0:0]`, ...balanced.map((t) => `:${vipChain(t.vip)} - [0:0]`), `-A OUTPUT -j ${VIP_CHAIN}`);
    for (const t of balanced) nat.push(`-A ${VIP_CHAIN} -d ${t.vip}/32 -j ${vipChain(t.vip)}`);
    for (const t of balanced) nat.push(...spread(vipChain(t.vip), '', t.backends));
  }
  if (refused.length) {
    filter.push(`:${VIP_CHAIN} - [0:0]`, `-A OUTPUT -j ${VIP_CHAIN}`);
    for (const t of refused) {
      filter.push(`-A ${VIP_CHAIN} -d ${t.vip}/32 -p tcp -j REJECT --reject-with tcp-reset`);
      filter.push(`-A ${VIP_CHAIN} -d ${t.vip}/32 -j REJECT --reject-with icmp-port-unreachable`);
    }
  }
  return [...nat, 'COMMIT', ...filter, 'COMMIT', ''].join('\n');
}

// ---------------------------------------------------------------- the routing mesh (node namespace)

export interface MeshChains {
  /** nat, from PREROUTING and OUTPUT (local destinations): published port -> its chain. */
  dnat: string;
  /** nat, from POSTROUTING: SNAT of connections to other nodes' tasks (and hairpins). */
  post: string;
  /** filter, from FORWARD: the mesh's connections pass. */
  fwd: string;
  /** Prefix of the per-port chains (`<prefix>t8080`, `<prefix>u53`). */
  portPrefix: string;
}

/** Chain names; a tag other than the default keeps two daemons in one namespace apart (as firewall.ts). */
export function meshChains(tag: string = DEFAULT_TAG): MeshChains {
  let s = '';
  // iptables chain names have at most 28 characters: "BERTH-MESH-<tag>-u65535" leaves 10 for the tag.
  if (tag !== DEFAULT_TAG) s = `-${tag.length <= 10 ? tag : createHash('sha256').update(tag).digest('hex').slice(0, 10)}`;
  return { dnat: `BERTH-MESH${s}`, post: `BERTH-MESH-POST${s}`, fwd: `BERTH-MESH-FWD${s}`, portPrefix: `BERTH-MESH${s}-` };
}

export function meshPortChain(c: MeshChains, p: Pick<MeshPort, 'proto' | 'published'>): string {
  return `${c.portPrefix}${p.proto[0]}${p.published}`;
}

/** The jumps from the built-in chains into the mesh chains (put first by the balancer). */
export function meshJumps(c: MeshChains): Array<{ table: 'nat' | 'filter'; chain: string; rule: string[] }> {
  return [
    { table: 'nat', chain: 'PREROUTING', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat] },
    // Loopback too (127.0.0.1:<port> on a node answers, as Docker's): route_localnet on the ingress
    // bridge lets such a connection out, and BERTH-MESH-POST gives it the node's ingress address.
    { table: 'nat', chain: 'OUTPUT', rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', c.dnat] },
    { table: 'nat', chain: 'POSTROUTING', rule: ['-j', c.post] },
    { table: 'filter', chain: 'FORWARD', rule: ['-j', c.fwd] },
  ];
}

/**
 * The mesh chains' contents (iptables-restore --noflush: the chains named are emptied and refilled in
 * one transaction). A port without backends has no chain: the connection reaches the node itself,
 * where nothing listens (refused).
 */
export function renderMesh(c: MeshChains, plan: MeshPlan): string {
  const ports = plan.ports.filter((p) => p.backends.length);
  const nat = [`:${c.dnat} - [0:0]`, `:${c.post} - [0:0]`, ...ports.map((p) => `:${meshPortChain(c, p)} - [0:0]`)];
  const filter = [`:${c.fwd} - [0:0]`];
  for (const p of ports) nat.push(`-A ${c.dnat} -p ${p.proto} -m ${p.proto} --dport ${p.published} -j ${meshPortChain(c, p)}`);
  // DNAT to a port needs the protocol in the rule itself.
  for (const p of ports) nat.push(...spread(meshPortChain(c, p), `-p ${p.proto} `, p.backends.map((b) => `${b.addr}:${p.target}`)));
  for (const p of ports) {
    const conn = `-p ${p.proto} -m ${p.proto} --dport ${p.target} -m conntrack --ctstate DNAT --ctorigdstport ${p.published}`;
    // The node's own connections from a loopback address: no task could answer 127.0.0.1.
    nat.push(`-A ${c.post} -s 127.0.0.0/8 ${conn} -j SNAT --to-source ${plan.ingressAddr}`);
    for (const b of p.backends) {
      // A remote task answers its own default route, not this node: SNAT brings the answer back here.
      // UDP to a local task too: a server on an unbound socket answers from the address its routes
      // choose, which the reply route (keyed on the source address) cannot catch; only TCP keeps the
      // client's address.
      if (!b.local || p.proto === 'udp') nat.push(`-A ${c.post} -d ${b.addr}/32 ${conn} -j SNAT --to-source ${plan.ingressAddr}`);
      // A local TCP task's answer to a client on its own ingress subnet would bypass this node (hairpin).
      else if (plan.ingressSubnet) nat.push(`-A ${c.post} -s ${plan.ingressSubnet} -d ${b.addr}/32 ${conn} -j SNAT --to-source ${plan.ingressAddr}`);
    }
  }
  if (ports.length) {
    // Both directions of a connection the mesh DNATed to the ingress network pass, whatever the
    // FORWARD policy and the daemon's own isolation rules say.
    const dests = plan.ingressSubnet ? [plan.ingressSubnet] : [...new Set(ports.flatMap((p) => p.backends.map((b) => `${b.addr}/32`)))];
    for (const d of dests) filter.push(`-A ${c.fwd} -d ${d} -m conntrack --ctstate DNAT -j ACCEPT`);
    for (const d of dests) filter.push(`-A ${c.fwd} -s ${d} -m conntrack --ctstate DNAT -j ACCEPT`);
  }
  return ['*nat', ...nat, 'COMMIT', '*filter', ...filter, 'COMMIT', ''].join('\n');
}

/** Every chain name renderMesh declares for this plan (to delete the ones a new plan drops). */
export function meshChainNames(c: MeshChains, plan: MeshPlan): { nat: string[]; filter: string[] } {
  return { nat: [c.dnat, c.post, ...plan.ports.filter((p) => p.backends.length).map((p) => meshPortChain(c, p))], filter: [c.fwd] };
}

// ---------------------------------------------------------------- answers of local mesh backends

/**
 * A task on the ingress network has no default route through it (as in Docker, where it goes through
 * docker_gwbridge), yet its answers to mesh clients, who keep their own address, must go back through
 * the node that DNATed them. A policy rule in the task's namespace does that: whatever leaves from its
 * ingress address goes through the node's ingress address, whatever the other routes say.
 */
export const REPLY_TABLE = 4411;

export interface ReplyRoute {
  /** The task's ingress address. */
  from: string;
  /** The node's ingress address. */
  via: string;
  /** The task's interface on the ingress network. */
  dev: string;
  /**
   * The ingress subnet: stays on-link in the table, so answers to other nodes' ingress addresses (the
   * SNATed connections of their meshes) go straight to them, not through this node.
   */
  subnet?: string;
}

/** `ip` commands (run in the task's namespace, after `replyRouteRemoval`) that put the route in place. */
export function replyRouteCommands(r: ReplyRoute): string[] {
  return [
    ...(r.subnet ? [`route replace ${r.subnet} dev ${r.dev} table ${REPLY_TABLE}`] : []),
    `route replace default via ${r.via} dev ${r.dev} table ${REPLY_TABLE}`,
    `rule add from ${r.from} lookup ${REPLY_TABLE} pref ${REPLY_TABLE}`,
  ];
}

/** `ip` commands that take it out (each may fail harmlessly when absent). */
export function replyRouteRemoval(): string[] {
  return [`rule del pref ${REPLY_TABLE}`, `route flush table ${REPLY_TABLE}`];
}
