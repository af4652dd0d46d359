/**
 * The swarm's service load balancing on one node (called by ClusterNetworking.sync in ../index.ts):
 * VIP balancing inside local containers' namespaces, the ingress routing mesh in the node's own
 * namespace, and the service names for the embedded DNS. What the rules are is in rules.ts; this
 * module puts them in place and remembers what it put where.
 *
 * Lifecycle: `sync(view, local)` after every change of the view or of the local containers (serialized
 * by the caller; idempotent: a namespace whose rules did not change is not touched); `teardown()` when
 * the node leaves the swarm (the mesh chains go; container namespaces are emptied of VIP rules).
 * The first sync removes mesh chains a crashed earlier run left.
 */
import { stat, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { NodeView } from '../../../swarm/contracts.js';
import * as iptables from '../../iptables.js';
import * as ip from '../../ip.js';
import { NETNS_DIR } from '../../ip.js';
import type { DnsRecordSource } from '../../dns-service.js';
import { log } from '../../../lib/log.js';
import { messageOf } from '../../../lib/errors.js';
import {
  meshChainNames,
  meshChains,
  meshJumps,
  meshPlanOf,
  renderMesh,
  renderVipTables,
  replyRouteCommands,
  replyRouteRemoval,
  vipTargetsFor,
  bareAddr,
  type LocalEndpoint,
  type MeshChains,
  type ReplyRoute,
} from './rules.js';
import { ServiceRecords } from './records.js';
import { bridgeName } from '../names.js';
import { setRouteLocalnet } from '../../bridge.js';

export type { LocalEndpoint } from './rules.js';
export type { DnsRecordSource } from '../../dns-service.js';

/** Local containers on cluster networks. */
export type LocalEndpoints = LocalEndpoint[];

export interface ServiceBalancerDeps {
  /** The daemon's firewall tag (default bridge name): keeps two daemons' mesh chains in one namespace apart. */
  tag?: string;
  /** ClusterNetworking.localNetwork: a cluster network's local name or id, so DNS matches a container's networks. */
  localNetwork?(clusterNetworkId: string): string | undefined;
  /** The ingress network's bridge in this namespace (default: the overlay part's bridgeName). */
  ingressBridge?(networkId: string): string;
  /** false with --iptables=false: no rules at all (DNS records still served). */
  iptables?: boolean;
}

export interface ServiceBalancer {
  /** Brings the VIP rules of every local container and the node's mesh in line with the view. */
  sync(view: NodeView, local: LocalEndpoints): Promise<void>;
  /** Removes the mesh and the VIP rules; the DNS records are emptied. */
  teardown(): Promise<void>;
  /** The service names for the embedded DNS: NetworkService.addDnsRecords(balancer.dnsRecords). */
  readonly dnsRecords: DnsRecordSource;
}

export function createServiceBalancer(deps: ServiceBalancerDeps = {}): ServiceBalancer {
  return new Balancer(deps);
}

/** What the balancer wrote into one container namespace. */
interface NetnsState {
  /** The namespace file's identity when written (a namespace made anew has another). */
  identity: string;
  /** Its nat and filter tables. */
  text: string;
  /** The reply route of a task on the ingress network (a ReplyRoute as JSON), or ''. */
  route: string;
}

const EMPTY_TABLES = renderVipTables([]);

/** How many namespaces are rewritten at once (each is an nsenter + iptables-restore). */
const PARALLEL = 4;

/** The namespace file's inode: a namespace made anew under the same name has a different one. */
async function netnsIdentity(p: string): Promise<string | undefined> {
  try {
    const s = await stat(p);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

class Balancer implements ServiceBalancer {
  private readonly records: ServiceRecords;
  private readonly chains: MeshChains;
  private readonly enabled: boolean;
  /** Per namespace path: what was last written there. */
  private readonly written = new Map<string, NetnsState>();
  private mesh?: { text: string; chains: { nat: string[]; filter: string[] } };
  private meshReady = false;
  private cleaned = false;
  /** The ingress network whose bridge has route_localnet on. */
  private routeLocalnetOn?: string;
  private readonly ingressBridge: (networkId: string) => string;
  /** Whether a sync has looked at every local container namespace since this process started. */
  private synced = false;

  constructor(deps: ServiceBalancerDeps) {
    this.records = new ServiceRecords(deps.localNetwork);
    this.chains = meshChains(deps.tag);
    this.enabled = deps.iptables !== false;
    this.ingressBridge = deps.ingressBridge ?? bridgeName;
  }

  get dnsRecords(): DnsRecordSource {
    return this.records;
  }

  async sync(view: NodeView, local: LocalEndpoints): Promise<void> {
    this.records.update(view);
    if (!this.enabled) return;
    const failures: string[] = [];
    await this.syncContainers(view, local, failures);
    this.synced = true;
    try {
      await this.syncMesh(view);
    } catch (err) {
      failures.push(`routing mesh: ${messageOf(err)}`);
    }
    if (failures.length) throw new Error(`service load balancing: ${failures.join('; ')}`);
  }

  private async syncContainers(view: NodeView, local: LocalEndpoints, failures: string[]): Promise<void> {
    const byNetns = new Map<string, { containerId: string; networks: Set<string>; ingress?: LocalEndpoint }>();
    for (const e of local) {
      let c = byNetns.get(e.netnsPath);
      if (!c) byNetns.set(e.netnsPath, (c = { containerId: e.containerId, networks: new Set() }));
      c.networks.add(e.networkId);
      if (view.ingress && e.networkId === view.ingress.NetworkID) c.ingress = e;
    }
    const ingressSubnet = view.networks.find((n) => n.ID === view.ingress?.NetworkID)?.IPAMOptions?.Configs?.[0]?.Subnet;
    const wanted = new Map<string, Omit<NetnsState, 'identity'> & { containerId: string }>();
    for (const [p, c] of byNetns) {
      const targets = vipTargetsFor(view, c.networks);
      const route = c.ingress && view.ingress ? JSON.stringify({ from: bareAddr(c.ingress.address), via: bareAddr(view.ingress.Address), dev: c.ingress.ifname, subnet: ingressSubnet } satisfies ReplyRoute) : '';
      // A container that never had a rule of ours is left alone; one that had is emptied. At the first
      // sync every one is looked at: a daemon restarted under running tasks may have left rules there.
      if (targets.length || route || this.written.has(p) || !this.synced) wanted.set(p, { containerId: c.containerId, text: renderVipTables(targets), route });
    }
    for (const p of this.written.keys()) if (!wanted.has(p)) wanted.set(p, { containerId: '', text: EMPTY_TABLES, route: '' });

    await inParallel([...wanted.entries()], PARALLEL, async ([p, w]) => {
      const identity = await netnsIdentity(p);
      if (!identity) {
        this.written.delete(p); // the container is gone, and its rules with its namespace
        return;
      }
      // A namespace made anew under the same name starts without rules.
      const before = this.written.get(p)?.identity === identity ? this.written.get(p) : undefined;
      // What is there: what this process wrote, or nothing of ours, or unknown (first sync: undefined).
      const textThere = before ? before.text : this.synced ? EMPTY_TABLES : undefined;
      const routeThere = before ? before.route : this.synced ? '' : undefined;
      try {
        if (w.text !== textThere) await iptables.replaceTables(w.text, { netnsPath: p });
        if (w.route !== routeThere) await setReplyRoute(p, w.route, Boolean(before?.route));
        if (w.text === EMPTY_TABLES && !w.route) this.written.delete(p);
        else this.written.set(p, { identity, text: w.text, route: w.route });
      } catch (err) {
        this.written.delete(p); // unknown state: written whole next time
        if (!(await netnsIdentity(p))) return; // deleted meanwhile: not a failure
        log.warn('swarm VIP rules not applied', { netns: p, id: w.containerId, error: messageOf(err) });
        failures.push(`${w.containerId || p}: ${messageOf(err)}`);
      }
    });
  }

  private async syncMesh(view: NodeView): Promise<void> {
    const plan = meshPlanOf(view) ?? { ingressAddr: '', ports: [] };
    const text = renderMesh(this.chains, plan);
    if (!this.cleaned) {
      await removeMeshLeftovers(this.chains); // of a crashed earlier run
      this.cleaned = true;
    }
    if (!this.meshReady) {
      if (!plan.ports.some((p) => p.backends.length)) return; // no chain until there is something to balance
      await enableForwarding();
    }
    if (view.ingress && this.routeLocalnetOn !== view.ingress.NetworkID) {
      const bridge = this.ingressBridge(view.ingress.NetworkID);
      this.routeLocalnetOn = view.ingress.NetworkID; // tried once per ingress network
      await setRouteLocalnet(bridge, true).catch((err) => log.warn('published ports will not answer on 127.0.0.1: setting route_localnet failed', { bridge, error: messageOf(err) }));
    }
    if (this.meshReady && this.mesh?.text === text) return;
    const names = meshChainNames(this.chains, plan);
    await iptables.restore(text);
    if (!this.meshReady) {
      // Inserted first: ahead of the daemon's own FORWARD isolation and POSTROUTING masquerade.
      for (const j of meshJumps(this.chains)) await iptables.ensureRule(j.table, j.chain, j.rule, 'first');
      this.meshReady = true;
    }
    // Per-port chains of ports gone are unreferenced now.
    for (const chain of this.mesh?.chains.nat ?? []) {
      if (!names.nat.includes(chain)) await iptables.removeChain('nat', chain).catch((err) => log.warn('could not delete mesh chain', { chain, error: messageOf(err) }));
    }
    this.mesh = { text, chains: names };
  }

  async teardown(): Promise<void> {
    this.records.clear();
    if (!this.enabled) return;
    const written = [...this.written.entries()];
    this.written.clear();
    await inParallel(written, PARALLEL, async ([p, w]) => {
      if ((await netnsIdentity(p)) !== w.identity) return;
      await iptables.replaceTables(EMPTY_TABLES, { netnsPath: p }).catch((err) => log.warn('could not empty swarm VIP rules', { netns: p, error: messageOf(err) }));
      if (w.route) await setReplyRoute(p, '', true).catch((err) => log.warn('could not remove the ingress reply route', { netns: p, error: messageOf(err) }));
    });
    await removeMeshLeftovers(this.chains);
    this.mesh = undefined;
    this.meshReady = false;
    this.cleaned = false;
    this.synced = false;
    this.routeLocalnetOn = undefined;
  }
}

/** Puts the reply route (a ReplyRoute as JSON) in place in the namespace, or takes it out (''). */
async function setReplyRoute(netnsPath: string, route: string, hadOne: boolean): Promise<void> {
  const netns = path.basename(netnsPath);
  if (path.dirname(netnsPath) !== NETNS_DIR) throw new Error(`${netnsPath}: not a named network namespace`);
  // After a daemon restart an old rule may be there although this process did not write it.
  await ip.batch(replyRouteRemoval(), { netns, force: true }).catch((err) => {
    if (hadOne) log.debug('removing the ingress reply route', { netns, error: messageOf(err) });
  });
  if (!route) return;
  await ip.batch(replyRouteCommands(JSON.parse(route) as ReplyRoute), { netns });
}

/** Forwarding on in this namespace (the mesh routes from the node's addresses to the ingress network). */
async function enableForwarding(): Promise<void> {
  const f = '/proc/sys/net/ipv4/ip_forward';
  const cur = await readFile(f, 'utf8').catch(() => '');
  if (cur.trim() !== '1') await writeFile(f, '1');
}

/** Removes the jumps into the mesh chains and the chains themselves, whatever state they are in. */
export async function removeMeshLeftovers(c: MeshChains): Promise<void> {
  const isPortChain = (name: string) => name.startsWith(c.portPrefix) && /^[tu]\d+$/.test(name.slice(c.portPrefix.length));
  const ours = (name: string) => name === c.dnat || name === c.post || name === c.fwd || isPortChain(name);
  for (const table of ['nat', 'filter'] as const) {
    let text: string;
    try {
      text = await iptables.save(table);
    } catch (err) {
      log.warn('iptables-save failed', { table, error: messageOf(err) });
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('-A ')) continue;
      const words = iptables.splitRule(line);
      const j = words.indexOf('-j');
      if (ours(words[1]!) || j < 0 || !ours(words[j + 1]!)) continue;
      await iptables.deleteRule(table, words[1]!, words.slice(2)).catch((err) => log.warn('could not delete rule', { rule: line, error: messageOf(err) }));
    }
    // The main chains first: they are the only ones that refer to the per-port chains.
    const declared = text
      .split('\n')
      .filter((l) => l.startsWith(':'))
      .map((l) => l.slice(1).split(' ')[0]!)
      .filter(ours)
      .sort((a, b) => Number(isPortChain(a)) - Number(isPortChain(b)));
    for (const chain of declared) await iptables.removeChain(table, chain).catch((err) => log.warn('could not delete chain', { chain, error: messageOf(err) }));
  }
}
