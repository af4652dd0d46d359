/**
 * Sandboxes: a running container's network namespace and its endpoints there (one veth per network, the
 * addresses, the default routes), connect and disconnect, and the container's network views.
 *
 * Lifecycle: a sandbox exists while the container runs: `setUp` (called by the container service before runc
 * starts the container) makes the namespace, the interfaces, the published ports (publishing.ts) and the
 * embedded DNS (dns-service.ts); `tearDown` (after exit, or when a start fails half-way) undoes all of it.
 * The record is written before anything is made, so a crash in between is undone at the next start
 * (`claimAddresses` at start-up, `restore` after the container service has reconciled). All changes for
 * one container are serialized by a per-container lock.
 */
import type { EventBus } from '../events/bus.js';
import type { EndpointConfig, EndpointRecord, EndpointState, NetworkRecord, SandboxRecord } from './model.js';
import type { NetworkStore } from './store.js';
import type { Ipam6 } from './ipv6.js';
import { formatIPv6, parseIPv6 } from './ipv6.js';
import { formatIPv4, parseIPv4, type Ipam } from './ipam.js';
import * as sandbox from './sandbox.js';
import { portsSummary, portsView } from './ports.js';
import { normalizeMac } from './mac.js';
import { endpointView } from './views.js';
import type { NetworkRegistry } from './registry.js';
import type { Publishing } from './publishing.js';
import type { DnsService } from './dns-service.js';
import { ERR, cleanEndpointConfig, type EndpointSettings } from './endpoint-config.js';
import { LABEL_SWARM_TASK, mtuOf, type SwarmAttachments, networkModeOf, type ContainerLookup, type NetContainer, type NetworkEtc } from './contracts.js';
import { BerthError, forbidden, internal, invalidArgument, messageOf, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { KeyedMutex } from '../lib/mutex.js';
import { log, debugIgnored } from '../lib/log.js';
import type { PluginRegistry } from '../plugins/contracts.js';
import { RemoteIpam, RemoteNetworkDriver } from './remote.js';

/** dockerd's prefix for errors of a container's networking at start. */
const SETUP_ERROR = 'failed to set up container networking';

export class Sandboxes {
  private readonly locks = new KeyedMutex();
  private attachments?: SwarmAttachments;

  constructor(
    private readonly store: NetworkStore,
    private readonly tag: string,
    private readonly events: EventBus,
    private readonly ipam: Ipam,
    private readonly ipam6: Ipam6,
    private readonly networks: Pick<NetworkRegistry, 'resolve' | 'tryResolve' | 'quietResolve' | 'poolOf' | 'defaultGateway'>,
    private readonly endpoints: Pick<EndpointSettings, 'created' | 'validateEndpoint'>,
    private readonly publishing: Publishing,
    private readonly dns: DnsService,
    private readonly containers: ContainerLookup,
    /** Network driver and IPAM plugins (networks/remote.ts). */
    private readonly plugins?: PluginRegistry,
  ) {}

  /** While the node is in a swarm: where plain containers on attachable overlays get their addresses. */
  setSwarmAttachments(a: SwarmAttachments | undefined): void {
    this.attachments = a;
  }

  /** Gives a swarm-allocated address back (logged, not thrown: the container goes anyway). */
  private async releaseAttachment(e: EndpointState, containerId: string): Promise<void> {
    if (!e.swarmAttachment) return;
    await this.attachments?.release(e.networkId, containerId).catch((err) => log.warn('could not give the swarm its address back', { id: containerId, network: e.networkId, error: messageOf(err) }));
  }

  /**
   * A plain container on swarm overlays only (attachable ones) gets a hidden interface on the default
   * bridge for its default route and published ports, as Docker's docker_gwbridge: overlays carry no
   * default route. Not recorded as an endpoint (inspect's Networks show the overlays); a task has the
   * bridge as an endpoint of its own (the agent asks for it).
   */
  private egressJoin(c: NetContainer, nets: NetworkRecord[]): { rec: EndpointRecord; net: NetworkRecord } | undefined {
    if (!this.attachments || c.config.Labels?.[LABEL_SWARM_TASK] || !nets.length) return undefined;
    if (!nets.every((n) => n.driver === 'overlay') || nets.every((n) => n.internal)) return undefined;
    const bridge = this.networks.tryResolve('bridge');
    if (!bridge || bridge.driver !== 'bridge') return undefined;
    return { rec: { containerId: c.id, containerName: c.name, networkId: bridge.id, networkName: bridge.name, config: {} }, net: bridge };
  }

  // ---- start-up and shutdown ---------------------------------------------------------------------

  /** At start-up: the addresses of the recorded sandboxes stay taken. */
  claimAddresses(): void {
    for (const sb of this.store.allSandboxes()) {
      for (const e of sb.endpoints) {
        this.ipam.claim(e.networkId, parseIPv4(e.ip)!);
        if (e.ip6) this.ipam6.claim(e.networkId, parseIPv6(e.ip6)!);
      }
    }
  }

  /**
   * After the container service has reconciled its containers: sandboxes of containers that still
   * run get their proxies and DNS back; the others are undone.
   */
  async restore(): Promise<void> {
    for (const sb of this.store.allSandboxes()) {
      if (this.publishing.isLive(sb.containerId)) continue;
      const c = this.containers.get(sb.containerId);
      if (!c || !c.state.Running) {
        await this.tearDown(sb.containerId).catch((err) => log.warn('network cleanup failed', { id: sb.containerId, error: messageOf(err) }));
        continue;
      }
      await this.locks.run(sb.containerId, async () => {
        await this.publishing.reopen(sb);
        if (sb.dns) await this.startDns(sb).catch((err) => log.warn('embedded DNS not restored', { id: sb.containerId, error: messageOf(err) }));
      });
    }
  }

  /** Shutdown without live-restore: every sandbox is undone. */
  async tearDownAll(): Promise<void> {
    for (const sb of this.store.allSandboxes()) await this.tearDown(sb.containerId).catch(debugIgnored('tearing down a sandbox at shutdown failed'));
  }

  private startDns(sb: SandboxRecord): Promise<void> {
    return this.dns.start(sb, () => this.publishing.isLive(sb.containerId));
  }

  private saveIfCurrent(sb: SandboxRecord): void {
    if (this.store.sandbox(sb.containerId)?.id === sb.id) this.store.saveSandbox(sb);
  }

  // ---- containers: start and stop ----------------------------------------------------------------

  /**
   * Everything the container needs on the host before runc starts it; the namespace path to join and
   * what its /etc files should say. On failure nothing stays behind.
   */
  async setUp(c: NetContainer): Promise<{ netnsPath?: string; etc: NetworkEtc }> {
    const mode = networkModeOf(c.hostConfig.NetworkMode);
    const hostGateway = this.networks.defaultGateway();
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return { etc: { hostGateway } };
    return this.locks.run(c.id, () =>
      this.setUpLocked(c, mode, hostGateway).catch((err: unknown) => {
        const msg = messageOf(err);
        if (msg.startsWith(SETUP_ERROR)) throw err;
        throw new BerthError(err instanceof BerthError ? err.kind : 'Internal', `${SETUP_ERROR}: ${msg}`, { cause: err });
      }),
    );
  }

  private async setUpLocked(c: NetContainer, mode: string, hostGateway: string | undefined): Promise<{ netnsPath?: string; etc: NetworkEtc }> {
    await this.tearDownLocked(c.id);
    let records = this.store.endpointsOf(c.id);
    if (!records.length) {
      // A container recorded before networks existed: it joins the network its mode names.
      this.endpoints.created(c);
      records = this.store.endpointsOf(c.id);
    }
    const joins = records.map((found) => {
      let rec = found;
      const net = this.store.network(rec.networkId) ?? this.store.networkByName(rec.networkName);
      if (!net) throw notFound(`network ${rec.networkName} not found`);
      if (net.id !== rec.networkId) {
        // Created before the network existed, or the network was re-created: found by name, as dockerd does.
        this.store.deleteEndpoint(c.id, rec.networkId);
        rec = { ...rec, networkId: net.id, networkName: net.name };
        this.store.saveEndpoint(rec);
      }
      return { rec, net };
    });
    const primary = this.networks.resolve(mode);
    joins.sort((a, b) => Number(b.net.id === primary.id) - Number(a.net.id === primary.id));
    for (const j of joins) if (j.net.driver !== 'bridge' && j.net.driver !== 'overlay' && !j.net.remote) throw invalidArgument(ERR.sharedNetwork);
    const egress = this.egressJoin(c, joins.map((j) => j.net));
    if (egress) joins.push(egress);

    const sb: SandboxRecord = { containerId: c.id, id: newId(), netns: sandbox.netnsName(this.tag, c.id), endpoints: [], ports: [], dns: false };
    const wantsDns = joins.some((j) => !j.net.predefined);
    let ready: Promise<void> | undefined;
    this.store.saveSandbox(sb);
    this.publishing.begin(c.id);
    try {
      await sandbox.createNetns(sb.netns);
      // The DNS helper (a Node process) starts while the rest is set up and the container is created.
      // Saved only if the sandbox is still this one: a set-up that failed meanwhile (a port already taken)
      // has torn it down, and saving would bring back its endpoints and keep its networks 'in use'.
      const dnsReady = wantsDns ? this.startDns(sb).then(() => this.saveIfCurrent(sb)) : undefined;
      dnsReady?.catch(() => {}); // awaited later by the set-up; not an unhandled rejection meanwhile
      for (const j of joins) await this.join(sb, j.rec, j.net, c);
      await this.publishing.publish(sb, c);
      this.store.saveSandbox(sb);
      ready = dnsReady;
    } catch (err) {
      await this.tearDownLocked(c.id).catch((e) => log.warn('network cleanup after failed start failed', { id: c.id, error: messageOf(e) }));
      throw err;
    }
    for (const e of sb.endpoints) this.publishEndpointEvent('connect', e.networkId, c.id);
    return {
      netnsPath: sandbox.netnsPath(sb.netns),
      etc: { ip: sb.endpoints[0]?.ip, addresses: sb.endpoints.flatMap((e) => (e.ip6 ? [e.ip, e.ip6] : [e.ip])), internalResolver: wantsDns, hostGateway, ready },
    };
  }

  async tearDown(containerId: string): Promise<void> {
    await this.locks.run(containerId, () => this.tearDownLocked(containerId));
  }

  /** Undoes a sandbox: ports, DNS, interfaces, namespace, addresses; then forgets it. */
  private async tearDownLocked(containerId: string): Promise<void> {
    const sb = this.store.sandbox(containerId);
    const closing = this.publishing.closeProxies(containerId);
    this.dns.close(containerId);
    await closing;
    if (!sb) {
      const name = sandbox.netnsName(this.tag, containerId);
      if (sandbox.netnsExists(name)) await sandbox.deleteNetns(name, []);
      return;
    }
    await this.publishing.unpublish(sb);
    for (const e of sb.endpoints) if (e.remoteSrcName) await this.leaveRemote(sb, e);
    await sandbox.deleteNetns(sb.netns, sb.endpoints.flatMap((e) => (e.remoteSrcName ? [] : [e.veth])));
    for (const e of sb.endpoints) {
      await this.releaseAddress(e.networkId, parseIPv4(e.ip)!, e.remotePoolId);
      if (e.ip6) this.ipam6.release(e.networkId, parseIPv6(e.ip6)!);
      await this.releaseAttachment(e, containerId);
    }
    this.store.deleteSandbox(containerId);
    for (const e of sb.endpoints) this.publishEndpointEvent('disconnect', e.networkId, containerId);
  }

  /** Container rm: its endpoint settings go (a running container was stopped before this). */
  async removed(containerId: string): Promise<void> {
    await this.tearDown(containerId);
    this.store.deleteEndpointsOf(containerId);
  }

  /** One interface on one network, in a sandbox that exists. */
  private async join(sb: SandboxRecord, rec: EndpointRecord, net: NetworkRecord, c: NetContainer): Promise<EndpointState> {
    let requested = rec.config.IPAMConfig?.IPv4Address ? parseIPv4(rec.config.IPAMConfig.IPv4Address) : undefined;
    let swarmAttachment = false;
    if (net.driver === 'overlay' && checkOverlayJoin(net, c, requested, Boolean(this.attachments))) {
      const given = await this.attachments!.allocate(net.id, c.id);
      requested = parseIPv4(given.split('/')[0]!);
      if (requested === undefined) throw internal(`the swarm gave an address that is not one: ${given}`);
      swarmAttachment = true;
    }
    try {
      return await this.joinWith(sb, rec, net, requested, swarmAttachment);
    } catch (err) {
      if (swarmAttachment) await this.attachments?.release(net.id, c.id).catch(debugIgnored('giving back an address after a failed join failed'));
      throw err;
    }
  }

  private async joinWith(sb: SandboxRecord, rec: EndpointRecord, net: NetworkRecord, requested: number | undefined, swarmAttachment: boolean): Promise<EndpointState> {
    const pool = this.networks.poolOf(net);
    // Only a bridge network routes through the host: an overlay's gateway is not on this node (Docker's
    // is on docker_gwbridge), so its interface carries no default route.
    const routed = net.driver === 'bridge' && !net.internal;
    const remotePoolId = net.remotePool?.poolId;
    const addr = await this.allocateAddress(net, requested);
    let addr6: bigint | undefined;
    if (this.ipam6.has(net.id)) {
      const requested6 = rec.config.IPAMConfig?.IPv6Address ? parseIPv6(rec.config.IPAMConfig.IPv6Address) : undefined;
      try {
        addr6 = this.ipam6.allocate(net.id, requested6);
      } catch (err) {
        await this.releaseAddress(net.id, addr, remotePoolId);
        throw err;
      }
    }
    const pool6 = this.ipam6.pool(net.id);
    const used = new Set(sb.endpoints.map((e) => e.ifname));
    let n = 0;
    while (used.has(`eth${n}`)) n++;
    const ipText = formatIPv4(addr);
    const state: EndpointState = {
      networkId: net.id,
      endpointId: newId(),
      ip: ipText,
      prefix: pool.subnet.prefix,
      gateway: routed ? formatIPv4(pool.gateway) : '',
      ...(addr6 !== undefined && pool6 ? { ip6: formatIPv6(addr6), prefix6: pool6.subnet.prefix, gateway6: routed ? formatIPv6(pool6.gateway) : '' } : {}),
      mac: (rec.config.MacAddress && normalizeMac(rec.config.MacAddress)) || sandbox.macFor(ipText),
      veth: sandbox.vethName(),
      ifname: `eth${n}`,
      ...(swarmAttachment ? { swarmAttachment } : {}),
      ...(remotePoolId ? { remotePoolId } : {}),
    };
    if (net.remote) {
      try {
        await this.joinRemote(sb, net, state, used);
      } catch (err) {
        await this.releaseAddress(net.id, addr, remotePoolId);
        throw err;
      }
      sb.endpoints.push(state);
      if (state.gateway && !net.internal && !sb.gatewayNetwork) sb.gatewayNetwork = net.id;
      this.store.saveSandbox(sb);
      return state;
    }
    const carriesDefault = routed && !sb.gatewayNetwork;
    try {
      await sandbox.addInterface({
        netns: sb.netns,
        bridge: net.bridge!,
        veth: state.veth,
        ifname: state.ifname,
        mac: state.mac,
        address: `${ipText}/${pool.subnet.prefix}`,
        mtu: mtuOf(net),
        defaultGateway: carriesDefault ? formatIPv4(pool.gateway) : undefined,
        address6: state.ip6 && `${state.ip6}/${state.prefix6}`,
        // The first network with an IPv6 gateway carries the default IPv6 route (it may not be the IPv4 one's).
        defaultGateway6: state.gateway6 && !sb.endpoints.some((e) => e.gateway6) ? state.gateway6 : undefined,
      });
    } catch (err) {
      await this.releaseAddress(net.id, addr, remotePoolId);
      if (addr6 !== undefined) this.ipam6.release(net.id, addr6);
      throw err;
    }
    sb.endpoints.push(state);
    if (carriesDefault) sb.gatewayNetwork = net.id;
    this.store.saveSandbox(sb);
    return state;
  }

  // ---- plugins: addresses from IPAM plugins, interfaces from network driver plugins -----------------

  /** A container's address: from Berth's allocator, or from the network's IPAM plugin. */
  private async allocateAddress(net: NetworkRecord, requested: number | undefined): Promise<number> {
    if (!net.remotePool) return this.ipam.allocate(net.id, requested);
    const ipam = await RemoteIpam.get(this.plugins, net.ipam.Driver);
    const given = await ipam.requestAddress(net.remotePool.poolId, requested === undefined ? undefined : formatIPv4(requested));
    const addr = parseIPv4(given.split('/')[0]!);
    if (addr === undefined) {
      await ipam.releaseAddress(net.remotePool.poolId, given).catch(debugIgnored('giving back an unusable address failed'));
      throw internal(`the IPAM plugin ${net.ipam.Driver} gave an address that is not one: ${given}`);
    }
    return addr;
  }

  /** Gives an address back to where it came from; an IPAM plugin's failure is logged (the endpoint goes anyway). */
  private async releaseAddress(networkId: string, addr: number, remotePoolId: string | undefined): Promise<void> {
    if (!remotePoolId) return this.ipam.release(networkId, addr);
    const ipamDriver = this.store.network(networkId)?.ipam.Driver;
    try {
      if (!ipamDriver) throw internal(`network ${networkId} is gone`);
      await (await RemoteIpam.get(this.plugins, ipamDriver)).releaseAddress(remotePoolId, formatIPv4(addr));
    } catch (err) {
      log.warn('IPAM plugin could not release an address', { network: networkId, address: formatIPv4(addr), error: messageOf(err) });
    }
  }

  /**
   * CreateEndpoint, Join, then the plugin's interface moved in as DstPrefix<n>: as libnetwork, a failed
   * Join deletes the endpoint and a failed move leaves the sandbox, so nothing stays half-made.
   */
  private async joinRemote(sb: SandboxRecord, net: NetworkRecord, state: EndpointState, usedNames: Set<string>): Promise<void> {
    const driver = await RemoteNetworkDriver.get(this.plugins, net.driver);
    const iface = await driver.createEndpoint({
      NetworkID: net.id,
      EndpointID: state.endpointId,
      Interface: { Address: `${state.ip}/${state.prefix}`, AddressIPv6: '', MacAddress: state.mac },
      Options: {},
    });
    if (iface.MacAddress) state.mac = iface.MacAddress.toLowerCase();
    try {
      const joined = await driver.join({ NetworkID: net.id, EndpointID: state.endpointId, SandboxKey: sandbox.netnsPath(sb.netns), Options: {} });
      let n = 0;
      while (usedNames.has(`${joined.dstPrefix}${n}`)) n++;
      state.ifname = `${joined.dstPrefix}${n}`;
      state.veth = joined.srcName;
      state.gateway = joined.gateway ?? '';
      try {
        await sandbox.adoptInterface({
          netns: sb.netns,
          src: joined.srcName,
          ifname: state.ifname,
          mac: state.mac,
          address: `${state.ip}/${state.prefix}`,
          mtu: mtuOf(net),
          defaultGateway: state.gateway && !net.internal && !sb.gatewayNetwork ? state.gateway : undefined,
          routes: joined.routes,
        });
        state.remoteSrcName = joined.srcName;
      } catch (err) {
        await driver.leave(net.id, state.endpointId).catch(debugIgnored('Leave after a failed join failed'));
        throw err;
      }
    } catch (err) {
      await driver.deleteEndpoint(net.id, state.endpointId).catch(debugIgnored('DeleteEndpoint after a failed join failed'));
      throw err;
    }
  }

  /** The plugin's interface goes back to the host, then Leave and DeleteEndpoint; failures are logged. */
  private async leaveRemote(sb: SandboxRecord, e: EndpointState): Promise<void> {
    await sandbox.releaseAdopted(sb.netns, e.ifname, e.remoteSrcName!).catch((err) => log.warn('could not give a plugin its interface back', { id: sb.containerId, error: messageOf(err) }));
    const net = this.store.network(e.networkId);
    if (!net) return;
    try {
      const driver = await RemoteNetworkDriver.get(this.plugins, net.driver);
      await driver.leave(net.id, e.endpointId).catch((err) => log.warn('network plugin failed to leave', { network: net.name, error: messageOf(err) }));
      await driver.deleteEndpoint(net.id, e.endpointId);
    } catch (err) {
      log.warn('network plugin failed to delete the endpoint', { network: net.name, endpoint: e.endpointId, error: messageOf(err) });
    }
  }

  // ---- connect and disconnect --------------------------------------------------------------------

  /** Resolves true when the running container's embedded DNS started now (its resolv.conf is to point at it). */
  async connect(netRef: string, c: NetContainer, config: EndpointConfig = {}): Promise<boolean> {
    let dnsStarted = false;
    const net = this.networks.resolve(netRef);
    const mode = networkModeOf(c.hostConfig.NetworkMode);
    if (mode.startsWith('container:')) throw invalidArgument(ERR.sharedNetwork);
    if (net.driver === 'host' && mode !== 'host') throw invalidArgument(ERR.connectHost);
    if (mode === 'host' || net.driver === 'host') throw invalidArgument(ERR.sharedNetwork);
    if (mode === 'none' || net.driver === 'null') throw invalidArgument(ERR.noNetwork);
    this.endpoints.validateEndpoint(net, net.name, config);
    await this.locks.run(c.id, async () => {
      if (this.store.endpoint(c.id, net.id)) throw forbidden(`endpoint with name ${c.name} already exists in network ${net.name}`);
      const rec: EndpointRecord = { containerId: c.id, containerName: c.name, networkId: net.id, networkName: net.name, config: cleanEndpointConfig(config) };
      const sb = c.state.Running ? this.store.sandbox(c.id) : undefined;
      if (sb?.endpoints.some((e) => e.networkId === net.id)) {
        // Already on it without an endpoint of its own (the egress interface of an overlay-only container): now it has one.
        this.store.saveEndpoint(rec);
        return;
      }
      if (sb) {
        const hadGateway = Boolean(sb.gatewayNetwork);
        await this.join(sb, rec, net, c);
        if (!net.predefined && !sb.dns) {
          await this.startDns(sb).catch((err) => log.warn('embedded DNS not started', { id: c.id, error: messageOf(err) }));
          this.store.saveSandbox(sb);
          dnsStarted = sb.dns;
        }
        if (!hadGateway && sb.gatewayNetwork) await this.publishing.retarget(sb, c);
      }
      this.store.saveEndpoint(rec);
    });
    this.publishEndpointEvent('connect', net.id, c.id);
    return dnsStarted;
  }

  async disconnect(netRef: string, c: NetContainer, force = false): Promise<void> {
    const net = this.networks.tryResolve(netRef);
    if (!c.state.Running || (!net && force)) {
      // As dockerd: only the container's settings change, the network found by name if it is gone.
      await this.locks.run(c.id, async () => this.forgetEndpoint(c, net?.name ?? netRef, net?.id));
      if (net) this.publishEndpointEvent('disconnect', net.id, c.id);
      return;
    }
    if (!net) throw notFound(`network ${netRef} not found`);
    const mode = networkModeOf(c.hostConfig.NetworkMode);
    if (net.driver === 'host' && mode === 'host') throw invalidArgument(ERR.disconnectHost);
    await this.locks.run(c.id, async () => {
      const rec = this.store.endpoint(c.id, net.id);
      if (!rec) throw internal(`container ${c.id} is not connected to network ${net.name}`);
      const sb = this.store.sandbox(c.id);
      const ep = sb?.endpoints.find((e) => e.networkId === net.id);
      if (sb && ep) {
        if (ep.remoteSrcName) await this.leaveRemote(sb, ep);
        else await sandbox.removeInterface(ep.veth);
        await this.releaseAddress(net.id, parseIPv4(ep.ip)!, ep.remotePoolId);
        if (ep.ip6) this.ipam6.release(net.id, parseIPv6(ep.ip6)!);
        await this.releaseAttachment(ep, c.id);
        sb.endpoints = sb.endpoints.filter((e) => e !== ep);
        if (sb.gatewayNetwork === net.id) {
          sb.gatewayNetwork = undefined;
          const next = sb.endpoints.find((e) => e.gateway);
          if (next) {
            await sandbox.setDefaultRoute(sb.netns, next.gateway, next.ifname).catch((err) => log.warn('could not move the default route', { id: c.id, error: messageOf(err) }));
            if (next.gateway6) await sandbox.setDefaultRoute6(sb.netns, next.gateway6, next.ifname).catch((err) => log.warn('could not move the default IPv6 route', { id: c.id, error: messageOf(err) }));
            sb.gatewayNetwork = next.networkId;
          }
          await this.publishing.retarget(sb, c);
        }
        this.store.saveSandbox(sb);
      }
      this.store.deleteEndpoint(c.id, net.id);
    });
    this.publishEndpointEvent('disconnect', net.id, c.id);
  }

  /** Disconnect of a container that does not run (or from a network that is gone, forced): its settings go. */
  private forgetEndpoint(c: NetContainer, networkName: string, networkId?: string): void {
    const rec = this.store.endpointsOf(c.id).find((e) => e.networkId === networkId || e.networkName === networkName);
    if (!rec) throw internal(`container ${c.id} is not connected to the network ${networkName}`);
    this.store.deleteEndpoint(c.id, rec.networkId);
  }

  /**
   * Forced disconnect of a container that no longer exists (dockerd's ForceEndpointDelete): its endpoint
   * on the network, found by the container's name or id, goes with whatever of its sandbox is left.
   */
  async forceEndpointDelete(containerRef: string, netRef: string): Promise<void> {
    const net = this.networks.resolve(netRef);
    if (!containerRef) throw invalidArgument('invalid name: name is empty');
    const rec = this.store
      .endpointsOn(net.id)
      .find((e) => !this.containers.get(e.containerId) && (e.containerName === containerRef || e.containerId === containerRef || (containerRef.length >= 12 && e.containerId.startsWith(containerRef))));
    if (!rec) throw notFound(`endpoint ${containerRef} not found`);
    await this.locks.run(rec.containerId, async () => {
      await this.tearDownLocked(rec.containerId);
      this.store.deleteEndpoint(rec.containerId, net.id);
    });
    this.publishEndpointEvent('disconnect', net.id, rec.containerId);
  }

  private publishEndpointEvent(action: 'connect' | 'disconnect', networkId: string, containerId: string): void {
    const net = this.store.network(networkId);
    this.events.publish('network', action, networkId, { container: containerId, name: net?.name ?? '', type: net?.driver ?? 'bridge' });
  }

  // ---- container views ---------------------------------------------------------------------------

  /** inspect's NetworkSettings fields, ps's Ports and NetworkSettings.Networks for a container. */
  containerView(c: NetContainer): { settings: Record<string, unknown>; ports: Array<Record<string, unknown>>; networks: Record<string, unknown> } {
    const mode = networkModeOf(c.hostConfig.NetworkMode);
    const sb = c.state.Running ? this.store.sandbox(c.id) : undefined;
    const networks: Record<string, unknown> = {};
    if (!mode.startsWith('container:')) {
      const records = this.store.endpointsOf(c.id);
      if (!records.length) {
        const net = this.networks.quietResolve(mode);
        if (net) records.push({ containerId: c.id, networkId: net.id, networkName: net.name, config: {} });
      }
      for (const rec of records.sort((a, b) => (a.networkName < b.networkName ? -1 : 1))) {
        const net = this.store.network(rec.networkId);
        const state = sb?.endpoints.find((e) => e.networkId === rec.networkId);
        networks[rec.networkName] = endpointView(rec, rec.networkId, state, net && !net.predefined ? this.dns.namesOf(c, rec) : null);
      }
    }
    const bridgeNet = this.store.networkByName('bridge');
    const recorded = this.store.endpointsOf(c.id);
    // The hidden egress interface of an overlay-only container (egressJoin) is not the legacy bridge endpoint.
    const hiddenBridge = recorded.length > 0 && !recorded.some((r) => r.networkId === bridgeNet?.id);
    const legacy = hiddenBridge ? undefined : sb?.endpoints.find((e) => e.networkId === bridgeNet?.id);
    const settings: Record<string, unknown> = {
      Ports: sb ? portsView(c.config.ExposedPorts, sb.ports) : {},
      EndpointID: legacy?.endpointId ?? '',
      Gateway: legacy?.gateway ?? '',
      IPAddress: legacy?.ip ?? '',
      IPPrefixLen: legacy?.prefix ?? 0,
      MacAddress: legacy?.mac ?? '',
      GlobalIPv6Address: legacy?.ip6 ?? '',
      GlobalIPv6PrefixLen: legacy?.prefix6 ?? 0,
      IPv6Gateway: legacy?.gateway6 ?? '',
      Networks: networks,
    };
    if (sb) {
      settings.SandboxID = sb.id;
      settings.SandboxKey = sandbox.netnsPath(sb.netns);
    }
    return { settings, ports: sb ? portsSummary(c.config.ExposedPorts, sb.ports) : [], networks };
  }

  renamed(containerId: string, name: string): void {
    for (const e of this.store.endpointsOf(containerId)) this.store.saveEndpoint({ ...e, containerName: name });
  }

  addressOn(containerId: string, networkName: string): string | undefined {
    const net = this.store.networkByName(networkName);
    return this.store.sandbox(containerId)?.endpoints.find((e) => e.networkId === net?.id)?.ip;
  }

  /** Names and ids of the networks a container is on (for the `network` filter of ps). */
  networksOf(containerId: string): string[] {
    const recs = this.store.endpointsOf(containerId);
    if (recs.length) return recs.flatMap((e) => [e.networkName, e.networkId]);
    const mode = networkModeOf(this.containers.get(containerId)?.hostConfig.NetworkMode);
    const net = this.networks.quietResolve(mode);
    return net ? [net.name, net.id] : [mode];
  }
}

/**
 * A container joins an overlay's twin with an address the swarm gave: a task's (the agent asks for it),
 * or, on an attachable overlay, one the user gave with --ip or one the swarm hands out on request. The
 * swarm allocates addresses for the whole cluster; a node allocating from its own pool would hand out
 * what another node's task has. True when the swarm is to be asked for the address.
 */
function checkOverlayJoin(net: NetworkRecord, c: NetContainer, requested: number | undefined, canAsk: boolean): boolean {
  const task = Boolean(c.config.Labels?.[LABEL_SWARM_TASK]);
  if (!task && !net.attachable) throw forbidden(`Could not attach to network ${net.name}: rpc error: code = PermissionDenied desc = network ${net.name} not manually attachable`);
  if (requested !== undefined) return false;
  if (!task && canAsk) return true;
  throw invalidArgument(
    `network ${net.name} is a swarm overlay: a container outside a service needs its address there given with --ip (in ${net.ipam.Config[0]?.Subnet ?? 'its subnet'}, one no task uses), as this node cannot ask the swarm for one`,
  );
}
