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
  vipTargetsFor,
  type LocalEndpoint,
  type MeshChains,
} from './rules.js';
import { ServiceRecords } from './records.js';

export type { LocalEndpoint } from './rules.js';
export type { DnsRecordSource } from '../../dns-service.js';

/** Local containers on cluster networks. */
export type LocalEndpoints = LocalEndpoint[];

export interface ServiceBalancerDeps {
  /** The daemon's firewall tag (default bridge name): keeps two daemons' mesh chains in one namespace apart. */
  tag?: string;
  /** ClusterNetworking.localNetwork: a cluster network's local name or id, so DNS matches a container's networks. */
  localNetwork?(clusterNetworkId: string): string | undefined;
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

/** How many namespaces are rewritten at once (each is an nsenter + iptables-restore). */
const PARALLEL = 4;

function netnsPathOf(netns: string): string {
  return path.isAbsolute(netns) ? netns : path.join(NETNS_DIR, netns);
}

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
  /** Per namespace path: the namespace's identity and the tables last written there. */
  private readonly written = new Map<string, { identity: string; text: string }>();
  private mesh?: { text: string; chains: { nat: string[]; filter: string[] } };
  private meshReady = false;
  private cleaned = false;

  constructor(deps: ServiceBalancerDeps) {
    this.records = new ServiceRecords(deps.localNetwork);
    this.chains = meshChains(deps.tag);
    this.enabled = deps.iptables !== false;
  }

  get dnsRecords(): DnsRecordSource {
    return this.records;
  }

  async sync(view: NodeView, local: LocalEndpoints): Promise<void> {
    this.records.update(view);
    if (!this.enabled) return;
    const failures: string[] = [];
    await this.syncContainers(view, local, failures);
    try {
      await this.syncMesh(view);
    } catch (err) {
      failures.push(`routing mesh: ${messageOf(err)}`);
    }
    if (failures.length) throw new Error(`service load balancing: ${failures.join('; ')}`);
  }

  private async syncContainers(view: NodeView, local: LocalEndpoints, failures: string[]): Promise<void> {
    const wanted = new Map<string, { containerId: string; text: string }>();
    for (const ep of local) {
      const targets = vipTargetsFor(view, new Set(ep.networks.map((n) => n.NetworkID)));
      const p = netnsPathOf(ep.netns);
      // A container that never had a VIP rule is left alone; one that had gets its tables emptied.
      if (targets.length || this.written.has(p)) wanted.set(p, { containerId: ep.containerId, text: renderVipTables(targets) });
    }
    const empty = renderVipTables([]);
    for (const p of this.written.keys()) if (!wanted.has(p)) wanted.set(p, { containerId: '', text: empty });

    await inParallel([...wanted.entries()], PARALLEL, async ([p, w]) => {
      const identity = await netnsIdentity(p);
      const before = this.written.get(p);
      if (!identity) {
        this.written.delete(p); // the container is gone, and its rules with its namespace
        return;
      }
      if (before?.identity === identity && before.text === w.text) return;
      if (w.text === empty && before?.identity !== identity) {
        this.written.delete(p); // never written, or made anew since: no rules of ours there
        return;
      }
      try {
        await iptables.replaceTables(w.text, { netnsPath: p });
        if (w.text === empty) this.written.delete(p);
        else this.written.set(p, { identity, text: w.text });
      } catch (err) {
        // A namespace deleted meanwhile is not a failure.
        if (!(await netnsIdentity(p))) {
          this.written.delete(p);
          return;
        }
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
    } else if (this.mesh?.text === text) return;
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
    const empty = renderVipTables([]);
    const paths = [...this.written.keys()];
    this.written.clear();
    await inParallel(paths, PARALLEL, async (p) => {
      if (!(await netnsIdentity(p))) return;
      await iptables.replaceTables(empty, { netnsPath: p }).catch((err) => log.warn('could not empty swarm VIP rules', { netns: p, error: messageOf(err) }));
    });
    await removeMeshLeftovers(this.chains);
    this.mesh = undefined;
    this.meshReady = false;
    this.cleaned = false;
  }
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
