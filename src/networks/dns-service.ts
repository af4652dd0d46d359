/**
 * The embedded DNS (127.0.0.11) of each sandbox on a user-defined network, and what it answers: the
 * names of the containers on the same networks (name, aliases, short id, hostname, links), their reverse
 * names, and the upstream servers for everything else.
 *
 * Lifecycle: `start` when a sandbox on a user-defined network is set up, connected or adopted after a
 * restart; `close` when the sandbox is torn down; `closeAll` at shutdown. Answers are computed per query
 * from the records, so they follow connects, disconnects and renames at once.
 */
import type { NetworkStore } from './store.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model.js';
import { DnsServer, bindInNetns } from './dns.js';
import { linkTargets } from './links.js';
import type { ContainerLookup, NetContainer } from './contracts.js';

/**
 * Names that come from elsewhere than the local containers (the swarm's services, from the node's view
 * of the cluster: networks/overlay/lb/records.ts). Asked before the containers' own names, as a
 * service's name and aliases stand for its VIP even where a local task container has them too.
 */
export interface DnsRecordSource {
  /** IPv4/IPv6 addresses of `name` on any of these networks (the asking container's), or undefined. */
  lookup(networks: Array<{ id: string; name: string }>, name: string): string[] | undefined;
}

export class DnsService {
  private readonly dns: DnsServer;
  private readonly sources = new Set<DnsRecordSource>();

  constructor(
    private readonly store: NetworkStore,
    private readonly containers: ContainerLookup,
  ) {
    this.dns = new DnsServer({
      lookup: (id, name) => this.lookup(id, name),
      reverse: (id, addr) => this.reverse(id, addr),
      upstreams: (id) => this.upstreams(id),
    });
  }

  /**
   * Starts the embedded DNS for the sandbox (sockets bound inside its namespace) and marks the record
   * (not saved); `current` says whether the sandbox is still the one set up (it may be torn down meanwhile).
   */
  async start(sb: SandboxRecord, current: () => boolean): Promise<void> {
    const sockets = await bindInNetns(sb.netns);
    if (!current() || this.store.sandbox(sb.containerId)?.id !== sb.id) {
      // torn down (or set up anew) meanwhile
      sockets.udp.close();
      sockets.tcp.close();
      return;
    }
    this.dns.serve(sb.containerId, sockets);
    sb.dns = true;
  }

  /** Adds a source of names for containers on user-defined networks; returns its removal. */
  addRecords(source: DnsRecordSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  close(containerId: string): void {
    this.dns.close(containerId);
  }

  closeAll(): void {
    this.dns.closeAll();
  }

  /** The names a container answers to on a user-defined network (also inspect's DNSNames). */
  namesOf(c: NetContainer, rec: EndpointRecord): string[] {
    const names = [c.name, ...(rec.config.Aliases ?? []), c.id.slice(0, 12), ...(c.config.Hostname ? [c.config.Hostname] : [])];
    return [...new Set(names.filter(Boolean))];
  }

  private userNetworksOf(sb: SandboxRecord): NetworkRecord[] {
    return sb.endpoints.flatMap((e) => {
      const n = this.store.network(e.networkId);
      return n && !n.predefined ? [n] : [];
    });
  }

  private lookup(containerId: string, name: string): string[] | undefined {
    const sb = this.store.sandbox(containerId);
    if (!sb) return undefined;
    if (this.sources.size) {
      const networks = this.userNetworksOf(sb).map((n) => ({ id: n.id, name: n.name }));
      for (const source of this.sources) {
        const addrs = source.lookup(networks, name);
        if (addrs?.length) return addrs;
      }
    }
    const found = new Set<string>();
    for (const net of this.userNetworksOf(sb)) {
      const candidates = [name, ...linkTargets(this.store.endpoint(containerId, net.id)?.config.Links, name)];
      const suffix = `.${net.name.toLowerCase()}`;
      if (name.endsWith(suffix)) candidates.push(name.slice(0, -suffix.length));
      for (const other of this.store.allSandboxes()) {
        const ep = other.endpoints.find((e) => e.networkId === net.id);
        if (!ep) continue;
        const oc = this.containers.get(other.containerId);
        const rec = this.store.endpoint(other.containerId, net.id);
        if (!oc || !rec) continue;
        const names = this.namesOf(oc, rec).map((n) => n.toLowerCase());
        if (candidates.some((cand) => names.includes(cand))) {
          found.add(ep.ip);
          if (ep.ip6) found.add(ep.ip6);
        }
      }
    }
    return found.size ? [...found] : undefined;
  }

  private reverse(containerId: string, addr: string): string | undefined {
    const sb = this.store.sandbox(containerId);
    if (!sb) return undefined;
    for (const net of this.userNetworksOf(sb)) {
      for (const other of this.store.allSandboxes()) {
        if (!other.endpoints.some((e) => e.networkId === net.id && (e.ip === addr || e.ip6 === addr))) continue;
        const oc = this.containers.get(other.containerId);
        if (oc) return `${oc.name}.${net.name}`;
      }
    }
    return undefined;
  }

  private upstreams(containerId: string): string[] {
    const sb = this.store.sandbox(containerId);
    if (sb && sb.endpoints.length && sb.endpoints.every((e) => this.store.network(e.networkId)?.internal)) return [];
    const c = this.containers.get(containerId);
    if (c?.hostConfig.Dns?.length) return c.hostConfig.Dns;
    return this.dns.hostUpstreams();
  }
}
