/**
 * Networks: the predefined bridge, host and none networks, user-defined bridge networks, and each
 * container's place on them. NetworkService is the facade the daemon, the API and the container service
 * use; the work is done by
 *  - registry.ts: the networks (create, inspect, list, remove, prune), their bridges and address pools;
 *  - endpoint-config.ts: a container's endpoint settings, checked at create and connect, and recorded;
 *  - sandboxes.ts: a running container's namespace and interfaces, connect/disconnect, its network views;
 *  - publishing.ts: published ports (proxies, host ports taken) and the iptables state;
 *  - dns-service.ts: the embedded DNS of each sandbox on a user-defined network.
 * Each module's lifecycle is described at its top.
 *
 * Lifecycle: `init` before the container service starts (bridges, iptables chains, leftovers of a
 * crash removed), `restore` after it (adopts sandboxes of containers that still run, undoes the rest),
 * `shutdown` last.
 */
import type { Db } from '../store/db.js';
import type { EventBus } from '../events/bus.js';
import type { EndpointConfig, NetworkRecord } from './model.js';
import { NetworkStore } from './store.js';
import { Ipam6 } from './ipv6.js';
import { Ipam } from './ipam.js';
import type { PortMapping } from './ports.js';
import { NetworkRegistry, SwarmNetworkRecords } from './registry.js';
import { netnsPath } from './sandbox.js';
import { EndpointSettings } from './endpoint-config.js';
import { Sandboxes } from './sandboxes.js';
import { Publishing } from './publishing.js';
import { DnsService, type DnsRecordSource } from './dns-service.js';
import type { PluginRegistry } from '../plugins/contracts.js';
import type {
  ContainerLookup,
  ContainerNetworking,
  CreateNetworkRequest,
  NetContainer,
  NetworkConfig,
  NetworkEtc,
  NetworkingConfig,
  SwarmAttachments,
} from './contracts.js';

export type { ContainerLookup, ContainerNetworking, CreateNetworkRequest, NetContainer, NetworkConfig, NetworkEtc, NetworkingConfig } from './contracts.js';
export { networkModeOf } from './contracts.js';

export class NetworkService implements ContainerNetworking {
  readonly store: NetworkStore;
  readonly tag: string;
  /** The local twins of a swarm's networks (networks/overlay/ keeps them in line with the cluster). */
  readonly swarmNetworks: SwarmNetworkRecords;
  private readonly registry: NetworkRegistry;
  private readonly endpoints: EndpointSettings;
  private readonly sandboxes: Sandboxes;
  private readonly publishing: Publishing;
  private readonly dns: DnsService;

  /** `plugins`: where network driver and IPAM plugins are found (networks/remote.ts); none without it. */
  constructor(db: Db, events: EventBus, config: NetworkConfig, containers: ContainerLookup, plugins?: PluginRegistry) {
    this.store = new NetworkStore(db);
    this.tag = config.bridge;
    const ipam = new Ipam();
    const ipam6 = new Ipam6();
    this.publishing = new Publishing(this.store, this.tag, config);
    this.dns = new DnsService(this.store, containers);
    this.registry = new NetworkRegistry(this.store, this.tag, config, events, ipam, ipam6, this.publishing, containers, plugins);
    this.swarmNetworks = new SwarmNetworkRecords(this.store, this.registry, ipam, this.publishing, events);
    this.endpoints = new EndpointSettings(this.store, this.registry);
    this.sandboxes = new Sandboxes(this.store, this.tag, events, ipam, ipam6, this.registry, this.endpoints, this.publishing, this.dns, containers, plugins);
  }

  // ---- start-up and shutdown ---------------------------------------------------------------------

  async init(): Promise<void> {
    await this.registry.prepareHost();
    await this.publishing.init();
    await this.registry.start();
    this.sandboxes.claimAddresses();
    await this.registry.removeLeftovers();
    await this.publishing.apply();
  }

  /**
   * After the container service has reconciled its containers: sandboxes of containers that still
   * run get their proxies and DNS back; the others are undone.
   */
  async restore(): Promise<void> {
    await this.sandboxes.restore();
    await this.publishing.apply();
  }

  async shutdown(opts: { liveRestore: boolean }): Promise<void> {
    this.dns.closeAll();
    await this.publishing.closeAll();
    if (!opts.liveRestore) {
      await this.sandboxes.tearDownAll();
      await this.registry.deleteBridges();
      await this.publishing.remove();
    }
    await this.registry.releaseTag();
  }

  // ---- networks ----------------------------------------------------------------------------------

  /** By full id, by name, then by unique id prefix, as dockerd's FindNetwork. */
  resolve(ref: string): NetworkRecord {
    return this.registry.resolve(ref);
  }

  tryResolve(ref: string): NetworkRecord | undefined {
    return this.registry.tryResolve(ref);
  }

  /** The default bridge's gateway: what "host-gateway" means. */
  defaultGateway(): string | undefined {
    return this.registry.defaultGateway();
  }

  /** More names for the embedded DNS (the swarm's services); returns the removal. */
  addDnsRecords(source: DnsRecordSource): () => void {
    return this.dns.addRecords(source);
  }

  create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    return this.registry.create(req);
  }

  list(filtersRaw?: string): Array<Record<string, unknown>> {
    return this.registry.list(filtersRaw);
  }

  inspect(ref: string): Record<string, unknown> {
    return this.registry.inspect(ref);
  }

  remove(ref: string): Promise<void> {
    return this.registry.remove(ref);
  }

  prune(filtersRaw?: string): Promise<{ NetworksDeleted: string[] }> {
    return this.registry.prune(filtersRaw);
  }

  // ---- containers: create-time settings ----------------------------------------------------------

  validateCreate(
    config: { Hostname?: string; ExposedPorts?: unknown },
    hostConfig: NetContainer['hostConfig'] & { DnsSearch?: string[] | null; DnsOptions?: string[] | null },
    networking?: NetworkingConfig | null,
  ): string[] {
    return this.endpoints.validateCreate(config, hostConfig, networking);
  }

  /** Records the container's endpoint settings (after validateCreate accepted them). */
  created(c: NetContainer, networking?: NetworkingConfig | null): void {
    this.endpoints.created(c, networking);
  }

  // ---- containers: start, stop, connect, disconnect ----------------------------------------------

  /**
   * Everything the container needs on the host before runc starts it; the namespace path to join and
   * what its /etc files should say. On failure nothing stays behind.
   */
  setUp(c: NetContainer): Promise<{ netnsPath?: string; etc: NetworkEtc }> {
    return this.sandboxes.setUp(c);
  }

  /** While the node is in a swarm (daemon/swarm.ts): addresses on attachable overlays for plain containers. */
  setSwarmAttachments(a: SwarmAttachments | undefined): void {
    this.sandboxes.setSwarmAttachments(a);
  }

  tearDown(containerId: string): Promise<void> {
    return this.sandboxes.tearDown(containerId);
  }

  /** Container rm: its endpoint settings go (a running container was stopped before this). */
  removed(containerId: string): Promise<void> {
    return this.sandboxes.removed(containerId);
  }

  /** Resolves true when the running container's embedded DNS started now (its resolv.conf is to point at it). */
  connect(netRef: string, c: NetContainer, config: EndpointConfig = {}): Promise<boolean> {
    return this.sandboxes.connect(netRef, c, config);
  }

  disconnect(netRef: string, c: NetContainer, force = false): Promise<void> {
    return this.sandboxes.disconnect(netRef, c, force);
  }

  /** Forced disconnect of a container that no longer exists (dockerd's ForceEndpointDelete). */
  forceEndpointDelete(containerRef: string, netRef: string): Promise<void> {
    return this.sandboxes.forceEndpointDelete(containerRef, netRef);
  }

  // ---- container views ---------------------------------------------------------------------------

  /** inspect's NetworkSettings fields, ps's Ports and NetworkSettings.Networks for a container. */
  containerView(c: NetContainer): { settings: Record<string, unknown>; ports: Array<Record<string, unknown>>; networks: Record<string, unknown> } {
    return this.sandboxes.containerView(c);
  }

  renamed(containerId: string, name: string): void {
    this.sandboxes.renamed(containerId, name);
  }

  addressOn(containerId: string, networkName: string): string | undefined {
    return this.sandboxes.addressOn(containerId, networkName);
  }

  /** The running containers' interfaces on a network (the swarm's balancer programs their namespaces). */
  liveEndpointsOn(networkId: string): Array<{ containerId: string; ip: string; ifname: string; netnsPath: string }> {
    return this.store.allSandboxes().flatMap((sb) =>
      sb.endpoints.filter((e) => e.networkId === networkId).map((e) => ({ containerId: sb.containerId, ip: e.ip, ifname: e.ifname, netnsPath: netnsPath(sb.netns) })),
    );
  }

  /** Names and ids of the networks a container is on (for the `network` filter of ps). */
  networksOf(containerId: string): string[] {
    return this.sandboxes.networksOf(containerId);
  }
}

export type { PortMapping };
