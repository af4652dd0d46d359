/**
 * Networks: the predefined bridge, host and none networks, user-defined bridge networks, and each
 * container's place on them.
 *
 * What exists when:
 *  - A network record exists from create (the predefined ones from the first start) until rm; a bridge
 *    network's Linux bridge exists while the daemon runs (made at start or create, deleted at rm and,
 *    without live-restore, at shutdown).
 *  - An endpoint record (the container's settings for a network) exists from container create or
 *    network connect until container rm or network disconnect.
 *  - A sandbox exists while the container runs: `setUp` (called by the container service before runc
 *    starts the container) makes the network namespace, one veth per network, the addresses, the
 *    default route, the published ports (userland proxy + DNAT rules) and the embedded DNS; `tearDown`
 *    (after exit, or when a start fails half-way) undoes all of it. The record is written before
 *    anything is made, so a crash in between is undone at the next start.
 * All changes for one container are serialized by a per-container lock.
 *
 * Lifecycle: `init` before the container service starts (bridges, iptables chains, leftovers of a
 * crash removed), `restore` after it (adopts sandboxes of containers that still run, undoes the rest),
 * `shutdown` last.
 */
import { promises as fs } from 'node:fs';
import type { Db } from '../store/db.js';
import type { EventBus } from '../events/bus.js';
import type { EndpointConfig, EndpointRecord, EndpointState, NetworkRecord, SandboxRecord } from './model.js';
import { NetworkStore } from './store.js';
import { Ipam6, contains6, formatCidr6, formatIPv6, overlaps6, parseCidr6, parseIPv6, pickSubnet6, pool6From, type Cidr6 } from './ipv6.js';
import { enableIPv6Forwarding, hostHasIPv6, hostRoutes6, pool6Of, proxyTarget, v6ConfigOf } from './dual-stack.js';
import { Ipam, auxAddresses, contains, formatCidr, formatIPv4, overlaps, parseCidr, parseIPv4, parseIfaceCidr, pickSubnet, poolFrom, type Cidr, type Pool } from './ipam.js';
import * as ip from './ip.js';
import * as sandbox from './sandbox.js';
import { ensureBridge, deleteBridge, bridgeAlias, validBridgeName, setRouteLocalnet } from './bridge.js';
import { Firewall, type FirewallState } from './firewall.js';
import { PortProxy, BindError } from './proxy.js';
import { portRequests, portsSummary, portsView, type PortMapping, type PortRequest } from './ports.js';
import { DnsServer, bindInNetns } from './dns.js';
import { normalizeMac } from './mac.js';
import { linkTargets } from './links.js';
import { findExternalBridge, checkBip, useExternalBridge, type ExternalBridge } from './external-bridge.js';
import { networkView, endpointView, type AttachedContainer } from './views.js';
import { BerthError, conflict, forbidden, internal, invalidArgument, messageOf, notFound } from '../lib/errors.js';
import { Filters } from '../lib/filters.js';
import { newId } from '../lib/ids.js';
import { rfc3339Nano, parseTimestampNs } from '../lib/timestamps.js';
import { KeyedMutex } from '../lib/mutex.js';
import { log } from '../lib/log.js';
import { processAlive } from '../lib/process.js';

export interface NetworkConfig {
  /** Name of the default bridge; also the tag of everything this daemon makes on the host. */
  bridge: string;
  /** --bip: the default bridge's address and prefix, e.g. 172.20.0.1/16. */
  bip?: string;
  /** --fixed-cidr: where default-bridge containers get their addresses. */
  fixedCidr?: string;
  /** --ipv6, --fixed-cidr-v6: IPv6 on the default bridge. */
  ipv6?: boolean;
  fixedCidrV6?: string;
  iptables: boolean;
  ipForward: boolean;
  userlandProxy: boolean;
}

/** What networking needs to know of a container (structurally, a containers/model Container). */
export interface NetContainer {
  id: string;
  name: string;
  config: { Hostname?: string; ExposedPorts?: unknown };
  hostConfig: {
    NetworkMode?: string;
    PortBindings?: unknown;
    PublishAllPorts?: unknown;
    Dns?: string[] | null;
    ExtraHosts?: string[] | null;
  };
  state: { Running: boolean };
}

export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointConfig | null> | null;
}

/** What the container's /etc files need from its networks. */
export interface NetworkEtc {
  /** The container's address on its first network (for /etc/hosts). */
  ip?: string;
  /** Every address it has (each network's IPv4, then IPv6), for /etc/hosts as Docker 28 writes it. */
  addresses?: string[];
  /** Whether the embedded DNS serves it (resolv.conf then names 127.0.0.11, with ndots:0). */
  internalResolver?: boolean;
  /** What "host-gateway" in --add-host stands for. */
  hostGateway?: string;
  /** Settles when the embedded DNS listens in the namespace: to await before the process runs. */
  ready?: Promise<void>;
}

/** The container service's view of networking. */
export interface ContainerNetworking {
  validateCreate(config: { Hostname?: string; ExposedPorts?: unknown }, hostConfig: NetContainer['hostConfig'] & { DnsSearch?: string[] | null; DnsOptions?: string[] | null }, networking?: NetworkingConfig | null): string[];
  created(c: NetContainer, networking?: NetworkingConfig | null): void;
  setUp(c: NetContainer): Promise<{ netnsPath?: string; etc: NetworkEtc }>;
  tearDown(containerId: string): Promise<void>;
  removed(containerId: string): Promise<void>;
  /** Names and ids of the networks the container is on (ps --filter network=...). */
  networksOf(containerId: string): string[];
  /** The running container's address on a network, by name (legacy links: networks/links.ts). */
  addressOn?(containerId: string, networkName: string): string | undefined;
  /** A rename renames the container's endpoints, as libnetwork's sandbox rename. */
  renamed?(containerId: string, name: string): void;
}

export interface CreateNetworkRequest {
  Name?: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  EnableIPv6?: boolean | null;
  EnableIPv4?: boolean | null;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }> | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
const OPT_MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
const OPT_ICC = 'com.docker.network.bridge.enable_icc';
const OPT_HOST_BINDING = 'com.docker.network.bridge.host_binding_ipv4';
const OPT_MTU = 'com.docker.network.driver.mtu';

const ERR = {
  sharedNetwork: 'container sharing network namespace with another container or host cannot be connected to any other network',
  noNetwork: 'container cannot be connected to multiple networks with one of the networks in private (none) mode',
  connectHost: 'cannot connect container to host network - container must be created in host network mode',
  disconnectHost: 'cannot disconnect container from host network - container was created in host network mode',
  netDns: 'conflicting options: dns and the network mode',
  netHostname: 'conflicting options: hostname and the network mode',
  netHosts: 'conflicting options: custom host-to-IP mapping and the network mode',
  netPublish: 'conflicting options: port publishing and the container type network mode',
  netExpose: 'conflicting options: port exposing and the container type network mode',
  ipOnPredefined: 'user specified IP address is supported on user defined networks only',
  ipNoSubnet: 'user specified IP address is supported only when connecting to networks with user configured subnets',
  aliasOnPredefined: 'network-scoped alias is supported only for containers in user defined networks',
};

/** Where daemons record which tag (default bridge name) each one holds. */
const TAG_DIR = '/run/berth-network';

/** dockerd's prefix for errors of a container's networking at start. */
const SETUP_ERROR = 'failed to set up container networking';

interface WantedEndpoint {
  /** The name the request used (network mode or EndpointsConfig key). */
  name: string;
  net?: NetworkRecord;
  config: EndpointConfig;
  /** Given in NetworkingConfig (validated), rather than implied by the network mode. */
  fromConfig: boolean;
}

interface Live {
  proxies: PortProxy[];
}

export class NetworkService implements ContainerNetworking {
  readonly store: NetworkStore;
  readonly tag: string;
  private readonly ipam = new Ipam();
  private readonly ipam6 = new Ipam6();
  private readonly firewall: Firewall;
  private readonly firewall6: Firewall;
  /** Whether the host has IPv6: ports published without an address are then bound on [::] too. */
  private dualStackPorts = false;
  private readonly dns: DnsServer;
  private readonly locks = new KeyedMutex();
  /** Sandboxes set up (or adopted) by this process, with their live sockets. */
  private readonly live = new Map<string, Live>();
  /** Host ports held by published ports: "tcp/127.0.0.1/8080". */
  private readonly allocated = new Set<string>();
  /** The administrator's bridge given with --bridge, if it existed before the daemon (external-bridge.ts). */
  private externalBridge?: ExternalBridge;
  /** How the service finds a container by id (set by the daemon once the container service exists). */
  lookupContainer: (id: string) => NetContainer | undefined = () => undefined;

  constructor(
    db: Db,
    private readonly events: EventBus,
    private readonly config: NetworkConfig,
  ) {
    this.store = new NetworkStore(db);
    this.tag = config.bridge;
    this.firewall = new Firewall(this.tag, { enabled: config.iptables, userlandProxy: config.userlandProxy }, () => this.firewallState());
    this.firewall6 = new Firewall(this.tag, { enabled: config.iptables, userlandProxy: config.userlandProxy, family: 6 }, () => this.firewallState6());
    this.dns = new DnsServer({
      lookup: (id, name) => this.dnsLookup(id, name),
      reverse: (id, addr) => this.dnsReverse(id, addr),
      upstreams: (id) => this.dnsUpstreams(id),
    });
  }

  // ---- start-up and shutdown ---------------------------------------------------------------------

  async init(): Promise<void> {
    if (!validBridgeName(this.tag)) throw invalidArgument(`invalid bridge name: ${this.tag}`);
    await this.claimTag();
    if (this.config.ipForward) {
      const cur = await fs.readFile('/proc/sys/net/ipv4/ip_forward', 'utf8').catch(() => '');
      if (cur.trim() !== '1') await fs.writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    }
    this.dualStackPorts = await hostHasIPv6();
    await this.firewall.init();
    await this.ensurePredefined();
    for (const n of this.store.allNetworks()) {
      if (n.driver !== 'bridge') continue;
      const pool = this.poolOf(n);
      this.ipam.addNetwork(n.id, pool);
      const pool6 = pool6Of(n);
      if (pool6) {
        this.ipam6.addNetwork(n.id, pool6);
        if (this.config.ipForward) await enableIPv6Forwarding();
      }
      if (this.externalBridge && n.bridge === this.externalBridge.name) await useExternalBridge(this.externalBridge, `${formatIPv4(pool.gateway)}/${pool.subnet.prefix}`);
      else await ensureBridge({ name: n.bridge!, address: `${formatIPv4(pool.gateway)}/${pool.subnet.prefix}`, tag: this.tag, mtu: mtuOf(n), address6: pool6 && `${formatIPv6(pool6.gateway)}/${pool6.subnet.prefix}` });
      if (!this.config.userlandProxy) await setRouteLocalnet(n.bridge!, true).catch(() => {});
    }
    for (const sb of this.store.allSandboxes()) {
      for (const e of sb.endpoints) {
        this.ipam.claim(e.networkId, parseIPv4(e.ip)!);
        if (e.ip6) this.ipam6.claim(e.networkId, parseIPv6(e.ip6)!);
      }
    }
    await this.removeLeftovers();
    await this.firewall.apply();
    await this.firewall6.apply();
  }

  /**
   * After the container service has reconciled its containers: sandboxes of containers that still
   * run get their proxies and DNS back; the others are undone.
   */
  async restore(): Promise<void> {
    for (const sb of this.store.allSandboxes()) {
      if (this.live.has(sb.containerId)) continue;
      const c = this.lookupContainer(sb.containerId);
      if (!c || !c.state.Running) {
        await this.tearDown(sb.containerId).catch((err) => log.warn('network cleanup failed', { id: sb.containerId, error: messageOf(err) }));
        continue;
      }
      await this.locks.run(sb.containerId, async () => {
        const live: Live = { proxies: [] };
        this.live.set(sb.containerId, live);
        const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
        for (const p of sb.ports) {
          this.allocated.add(portKey(p.proto, p.hostIp, p.hostPort));
          if (!target) continue;
          try {
            live.proxies.push(await PortProxy.open({ proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, target: { ip: proxyTarget(p.hostIp, target), port: p.containerPort }, forward: this.config.userlandProxy }));
          } catch (err) {
            log.warn('could not re-open a published port', { id: sb.containerId, port: `${p.hostIp}:${p.hostPort}`, error: messageOf(err) });
          }
        }
        if (sb.dns) await this.startDns(sb).catch((err) => log.warn('embedded DNS not restored', { id: sb.containerId, error: messageOf(err) }));
      });
    }
    await this.firewall.apply();
    await this.firewall6.apply();
  }

  async shutdown(opts: { liveRestore: boolean }): Promise<void> {
    this.dns.closeAll();
    for (const live of this.live.values()) await Promise.all(live.proxies.map((p) => p.close().catch(() => {})));
    this.live.clear();
    if (!opts.liveRestore) {
      for (const sb of this.store.allSandboxes()) await this.tearDown(sb.containerId).catch(() => {});
      for (const n of this.store.allNetworks()) if (n.bridge) await deleteBridge(n.bridge, this.tag).catch((err) => log.warn('could not delete bridge', { bridge: n.bridge, error: messageOf(err) }));
      await this.firewall.remove().catch((err) => log.warn('could not remove iptables rules', { error: messageOf(err) }));
      await this.firewall6.remove().catch((err) => log.warn('could not remove ip6tables rules', { error: messageOf(err) }));
    }
    await fs.rm(this.tagFile(), { force: true }).catch(() => {});
  }

  private tagFile(): string {
    return `${TAG_DIR}/${this.tag}.pid`;
  }

  /**
   * The tag (bridge name) names host-wide things: links, namespaces, iptables chains. Two daemons with
   * one tag would undo each other's, so a daemon takes the tag for as long as it runs.
   */
  private async claimTag(): Promise<void> {
    await fs.mkdir(TAG_DIR, { recursive: true, mode: 0o700 });
    const file = this.tagFile();
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
      if (pid && pid !== process.pid && processAlive(pid)) {
        throw conflict(`bridge ${this.tag} is in use by another daemon (pid ${pid}): give each daemon its own --bridge`);
      }
      await fs.rm(file, { force: true });
    }
    throw conflict(`could not take ${file}`);
  }

  /** The bridge, host and none networks, made once with ids that then stay. */
  private async ensurePredefined(): Promise<void> {
    for (const [name, driver] of [['host', 'host'], ['none', 'null']] as const) {
      if (this.store.networkByName(name)) continue;
      this.store.saveNetwork({
        id: newId(),
        name,
        created: rfc3339Nano(Date.now()),
        driver,
        internal: false,
        attachable: false,
        enableIPv6: false,
        ipam: { Driver: 'default', Options: null, Config: [] },
        userSubnet: false,
        options: {},
        labels: {},
        predefined: true,
      });
    }
    const existing = this.store.networkByName('bridge');
    this.externalBridge = await findExternalBridge(this.tag, this.tag);
    if (this.externalBridge) checkBip(this.externalBridge, this.config.bip ? parseIfaceCidr(this.config.bip) : undefined);
    let subnet: Cidr;
    let gateway: number;
    if (this.externalBridge?.address && !this.config.bip) {
      // As dockerd with -b: the subnet is the one of the address the administrator gave the bridge.
      subnet = this.externalBridge.address.cidr;
      gateway = this.externalBridge.address.ip;
    } else if (this.config.bip) {
      const bip = parseIfaceCidr(this.config.bip);
      if (!bip || bip.ip === bip.cidr.addr) throw invalidArgument(`invalid bip: ${this.config.bip}: it must be an address with a prefix length, as 172.20.0.1/16`);
      subnet = bip.cidr;
      gateway = bip.ip;
    } else {
      const taken = await this.takenSubnets(existing?.id);
      const stored = existing?.ipam.Config[0]?.Subnet ? parseCidr(existing.ipam.Config[0].Subnet) : undefined;
      if (stored && !taken.some((t) => overlaps(t, stored))) {
        subnet = stored;
        gateway = parseIPv4(existing!.ipam.Config[0]!.Gateway ?? '') ?? stored.addr + 1;
      } else {
        const picked = pickSubnet(taken);
        if (!picked) throw invalidArgument('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
        subnet = picked;
        gateway = picked.addr + 1;
      }
    }
    const cfg: { Subnet: string; Gateway: string; IPRange?: string } = { Subnet: formatCidr(subnet), Gateway: formatIPv4(gateway) };
    if (this.config.fixedCidr) {
      const fixed = parseCidr(this.config.fixedCidr);
      if (!fixed || !overlaps(fixed, subnet) || fixed.prefix < subnet.prefix) throw invalidArgument(`invalid fixed-cidr ${this.config.fixedCidr}: it must lie in the bridge subnet ${formatCidr(subnet)}`);
      cfg.IPRange = formatCidr(fixed);
    }
    const bridgeId = existing?.id ?? newId();
    const cfg6 = this.config.ipv6 ? await this.defaultBridgeV6(bridgeId) : undefined;
    this.store.saveNetwork({
      id: bridgeId,
      name: 'bridge',
      created: existing?.created ?? rfc3339Nano(Date.now()),
      driver: 'bridge',
      internal: false,
      attachable: false,
      enableIPv6: Boolean(cfg6),
      ipam: { Driver: 'default', Options: null, Config: cfg6 ? [cfg, cfg6] : [cfg] },
      userSubnet: false,
      options: {
        'com.docker.network.bridge.default_bridge': 'true',
        [OPT_ICC]: 'true',
        [OPT_MASQUERADE]: 'true',
        [OPT_HOST_BINDING]: '0.0.0.0',
        [OPT_BRIDGE_NAME]: this.tag,
        [OPT_MTU]: '1500',
      },
      labels: {},
      bridge: this.tag,
      predefined: true,
    });
  }

  /** The default bridge's IPv6 subnet (--ipv6): --fixed-cidr-v6, or a /64 of the default ULA pool. */
  private async defaultBridgeV6(bridgeId: string): Promise<{ Subnet: string; Gateway: string }> {
    let pool;
    if (this.config.fixedCidrV6) {
      const fixed = parseCidr6(this.config.fixedCidrV6);
      if (!fixed || fixed.cidr.prefix > 126) throw invalidArgument(`invalid fixed-cidr-v6 ${this.config.fixedCidrV6}: it must be an IPv6 subnet, as fd00:1::/64`);
      pool = pool6From({ Subnet: formatCidr6(fixed.cidr) }, () => undefined);
    } else {
      const taken = await this.takenSubnets6(bridgeId);
      pool = pool6From({}, () => pickSubnet6(bridgeId, taken));
    }
    return { Subnet: formatCidr6(pool.subnet), Gateway: formatIPv6(pool.gateway) };
  }

  /** IPv6 subnets a new network must not overlap: host routes not on our bridges, and other networks'. */
  private async takenSubnets6(exceptNetwork?: string): Promise<Cidr6[]> {
    const ours = new Set(this.store.allNetworks().flatMap((n) => (n.bridge ? [n.bridge] : [])));
    const taken = await hostRoutes6(ours);
    for (const n of this.store.allNetworks()) {
      const p = n.id === exceptNetwork ? undefined : pool6Of(n);
      if (p) taken.push(p.subnet);
    }
    return taken;
  }

  /** Subnets a new network must not overlap: host routes not on our bridges, and other networks. */
  private async takenSubnets(exceptNetwork?: string): Promise<Cidr[]> {
    const ours = new Set(this.store.allNetworks().flatMap((n) => (n.bridge ? [n.bridge] : [])));
    const routes = await ip.routes();
    const taken: Cidr[] = routes.filter((r) => r.dst !== 'default' && !(r.dev && ours.has(r.dev))).flatMap((r) => {
      const c = parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
      return c ? [c] : [];
    });
    for (const n of this.store.allNetworks()) {
      if (n.id === exceptNetwork || n.driver !== 'bridge') continue;
      const s = n.ipam.Config[0]?.Subnet ? parseCidr(n.ipam.Config[0].Subnet) : undefined;
      if (s) taken.push(s);
    }
    return taken;
  }

  /** Removes what a crash left: namespaces, veths and bridges of ours that no record knows. */
  private async removeLeftovers(): Promise<void> {
    const known = new Set(this.store.allSandboxes().map((s) => s.netns));
    const stale = (await ip.netnsList()).filter((n) => sandbox.isOurNetns(this.tag, n) && !known.has(n));
    if (stale.length) await ip.batch(stale.map((n) => `netns del ${n}`), { force: true }).catch(() => {});
    const bridges = new Set(this.store.allNetworks().flatMap((n) => (n.bridge ? [n.bridge] : [])));
    const veths = new Set(this.store.allSandboxes().flatMap((s) => s.endpoints.map((e) => e.veth)));
    const links = await ip.links();
    const cmds: string[] = [];
    for (const l of links) {
      // Only veths: an administrator's bridge (--bridge) may hold other interfaces of theirs.
      if (l.master && bridges.has(l.master) && !veths.has(l.ifname) && l.linkinfo?.info_kind === 'veth') cmds.push(`link del ${l.ifname}`);
    }
    for (const l of links) {
      if (l.ifalias === bridgeAlias(this.tag) && !bridges.has(l.ifname)) cmds.push(`link del ${l.ifname}`);
    }
    if (cmds.length) {
      log.info('removing network leftovers', { links: cmds.length, namespaces: stale.length });
      await ip.batch(cmds, { force: true }).catch(() => {});
    }
  }

  // ---- lookup ------------------------------------------------------------------------------------

  /** By full id, by name, then by unique id prefix, as dockerd's FindNetwork. */
  resolve(ref: string): NetworkRecord {
    const n = this.tryResolve(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }

  tryResolve(ref: string): NetworkRecord | undefined {
    if (!ref) return undefined;
    const byId = this.store.network(ref);
    if (byId) return byId;
    const byName = this.store.networkByName(ref);
    if (byName) return byName;
    const prefixed = this.store.allNetworks().filter((n) => n.id.startsWith(ref));
    if (prefixed.length > 1) throw invalidArgument(`network ${ref} is ambiguous (${prefixed.length} matches found based on ID prefix)`);
    return prefixed[0];
  }

  /** tryResolve for views: an ambiguous id prefix names no network rather than failing the listing. */
  private quietResolve(ref: string): NetworkRecord | undefined {
    try {
      return this.tryResolve(ref);
    } catch {
      return undefined;
    }
  }

  private poolOf(n: NetworkRecord): Pool {
    const cfg = n.ipam.Config[0];
    const subnet = parseCidr(cfg?.Subnet ?? '');
    if (!subnet) throw internal(`network ${n.name} has no subnet`);
    return {
      subnet,
      gateway: parseIPv4(cfg?.Gateway ?? '') ?? subnet.addr + 1,
      range: (cfg?.IPRange && parseCidr(cfg.IPRange)) || subnet,
      aux: auxAddresses(cfg),
    };
  }

  /** The default bridge's gateway: what "host-gateway" means. */
  defaultGateway(): string | undefined {
    return this.store.networkByName('bridge')?.ipam.Config[0]?.Gateway;
  }

  // ---- networks: create, list, inspect, remove, prune ---------------------------------------------

  async create(req: CreateNetworkRequest): Promise<{ Id: string; Warning: string }> {
    // As libnetwork: any name with a character other than white space ("my net", unicode) is a name.
    const name = typeof req.Name === 'string' ? req.Name : '';
    if (!name.trim()) throw invalidArgument('invalid name: name is empty');
    if (['bridge', 'host', 'none', 'default'].includes(name)) throw forbidden(`${name} is a pre-defined network and cannot be created`);
    if (this.store.networkByName(name)) throw conflict(`network with name ${name} already exists`);
    const driver = req.Driver || 'bridge';
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`);
    const ipamDriver = req.IPAM?.Driver || 'default';
    if (ipamDriver !== 'default') throw notFound(`plugin "${ipamDriver}" not found`);
    if (req.EnableIPv4 === false) throw invalidArgument('IPv4 cannot be disabled on a bridge network here');
    if (req.ConfigOnly || req.Ingress) throw invalidArgument('config-only and ingress networks are not supported');
    if (req.Scope && req.Scope !== 'local') throw invalidArgument(`invalid scope ${req.Scope}: only local networks are supported`);
    const configs = (req.IPAM?.Config ?? []).filter((c) => !(c.Subnet ?? '').includes(':'));
    if (configs.length > 1) throw invalidArgument('only one IPv4 subnet per network is supported');
    const cfg = configs[0] ?? {};
    // As dockerd, IPv6 subnets count only on an IPv6 network.
    const configs6 = req.EnableIPv6 ? (req.IPAM?.Config ?? []).filter((c) => (c.Subnet ?? '').includes(':')) : [];
    if (configs6.length > 1) throw invalidArgument('only one IPv6 subnet per network is supported');

    const id = newId();
    const taken = await this.takenSubnets();
    const pool = poolFrom(cfg, () => pickSubnet(taken));
    for (const n of this.store.allNetworks()) {
      const s = n.driver === 'bridge' && n.ipam.Config[0]?.Subnet ? parseCidr(n.ipam.Config[0].Subnet) : undefined;
      if (s && overlaps(s, pool.subnet)) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
    }
    const taken6 = req.EnableIPv6 ? await this.takenSubnets6() : [];
    const pool6 = req.EnableIPv6 ? pool6From(configs6[0] ?? {}, () => pickSubnet6(this.store.networkByName('bridge')?.id ?? this.tag, taken6)) : undefined;
    if (pool6) {
      for (const n of this.store.allNetworks()) {
        const s6 = pool6Of(n)?.subnet;
        if (s6 && overlaps6(s6, pool6.subnet)) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
      }
    }
    const options = { ...(req.Options ?? {}) };
    const bridgeName = options[OPT_BRIDGE_NAME] || `br-${id.slice(0, 12)}`;
    if (!validBridgeName(bridgeName)) throw invalidArgument(`invalid bridge name: ${bridgeName}`);
    if (this.store.allNetworks().some((n) => n.bridge === bridgeName)) {
      throw forbidden(`cannot create network ${id} (${bridgeName}): conflicts with network ${this.store.allNetworks().find((n) => n.bridge === bridgeName)!.id} (${bridgeName}): networks have same bridge name`);
    }
    for (const key of [OPT_MASQUERADE, OPT_ICC]) {
      if (options[key] !== undefined && !/^(true|false|1|0)$/i.test(options[key]!)) throw invalidArgument(`invalid value for ${key}: ${options[key]}`);
    }
    if (options[OPT_HOST_BINDING] !== undefined && parseIPv4(options[OPT_HOST_BINDING]!) === undefined) throw invalidArgument(`invalid host binding address ${options[OPT_HOST_BINDING]}`);
    const mtu = options[OPT_MTU] !== undefined ? Number(options[OPT_MTU]) : undefined;
    if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) throw invalidArgument(`invalid MTU ${options[OPT_MTU]}`);

    const ipamCfg: { Subnet: string; Gateway: string; IPRange?: string } = { Subnet: formatCidr(pool.subnet), Gateway: formatIPv4(pool.gateway) };
    if (cfg.IPRange) ipamCfg.IPRange = formatCidr(pool.range);
    if (cfg.AuxiliaryAddresses && Object.keys(cfg.AuxiliaryAddresses).length) Object.assign(ipamCfg, { AuxiliaryAddresses: cfg.AuxiliaryAddresses });
    const ipamCfg6: { Subnet: string; Gateway: string; IPRange?: string } | undefined = pool6 && { Subnet: formatCidr6(pool6.subnet), Gateway: formatIPv6(pool6.gateway) };
    if (ipamCfg6 && configs6[0]?.IPRange) ipamCfg6.IPRange = formatCidr6(pool6!.range);
    const n: NetworkRecord = {
      id,
      name,
      created: rfc3339Nano(Date.now()),
      driver: 'bridge',
      internal: Boolean(req.Internal),
      attachable: Boolean(req.Attachable),
      enableIPv6: Boolean(pool6),
      ipam: { Driver: 'default', Options: req.IPAM?.Options ?? null, Config: ipamCfg6 ? [ipamCfg, ipamCfg6] : [ipamCfg] },
      userSubnet: Boolean(cfg.Subnet),
      userSubnet6: Boolean(configs6[0]?.Subnet),
      options,
      labels: { ...(req.Labels ?? {}) },
      bridge: bridgeName,
      predefined: false,
    };
    await ensureBridge({ name: bridgeName, address: `${formatIPv4(pool.gateway)}/${pool.subnet.prefix}`, tag: this.tag, mtu, address6: ipamCfg6 && `${ipamCfg6.Gateway}/${pool6!.subnet.prefix}` });
    try {
      if (!this.config.userlandProxy) await setRouteLocalnet(bridgeName, true).catch(() => {});
      if (pool6 && this.config.ipForward) await enableIPv6Forwarding();
      this.store.saveNetwork(n);
      this.ipam.addNetwork(id, pool);
      if (pool6) this.ipam6.addNetwork(id, pool6);
      await this.firewall.apply();
      if (pool6) await this.firewall6.apply();
    } catch (err) {
      this.store.deleteNetwork(id);
      this.ipam.removeNetwork(id);
      this.ipam6.removeNetwork(id);
      await deleteBridge(bridgeName, this.tag).catch(() => {});
      throw err;
    }
    this.events.publish('network', 'create', id, { name, type: 'bridge' });
    return { Id: id, Warning: '' };
  }

  list(filtersRaw?: string): Array<Record<string, unknown>> {
    const f = Filters.parse(filtersRaw, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    for (const t of f.get('type')) if (t !== 'custom' && t !== 'builtin') throw invalidArgument(`invalid filter: 'type'='${t}'`);
    const dangling = f.bool('dangling');
    return this.store
      .allNetworks()
      .filter((n) => {
        if (f.has('name') && !f.get('name').some((v) => matches(v, n.name))) return false;
        if (f.has('id') && !f.get('id').some((v) => matches(v, n.id))) return false;
        if (f.has('driver') && !f.get('driver').includes(n.driver)) return false;
        if (f.has('scope') && !f.get('scope').includes('local')) return false;
        if (f.has('type') && !f.get('type').includes(n.predefined ? 'builtin' : 'custom')) return false;
        if (!f.matchLabels(n.labels)) return false;
        if (dangling !== undefined) {
          const isDangling = !n.predefined && this.attached(n.id).length === 0;
          if (dangling !== isDangling) return false;
        }
        return true;
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((n) => networkView(n));
  }

  inspect(ref: string): Record<string, unknown> {
    const n = this.resolve(ref);
    return networkView(n, this.attached(n.id));
  }

  /** Running containers on the network, with their interface there. */
  private attached(networkId: string): AttachedContainer[] {
    const out: AttachedContainer[] = [];
    for (const sb of this.store.allSandboxes()) {
      const e = sb.endpoints.find((x) => x.networkId === networkId);
      if (e) out.push({ id: sb.containerId, name: this.lookupContainer(sb.containerId)?.name ?? '', endpoint: e });
    }
    return out;
  }

  async remove(ref: string): Promise<void> {
    const n = this.resolve(ref);
    if (n.predefined) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`);
    const active = this.attached(n.id);
    if (active.length) {
      const list = active.map((a) => `name:"${a.name}" id:"${a.endpoint.endpointId.slice(0, 12)}"`).join(', ');
      throw forbidden(`error while removing network: network ${n.name} has active endpoints (${list})`);
    }
    if (n.bridge) await deleteBridge(n.bridge, this.tag);
    this.store.deleteNetwork(n.id);
    this.ipam.removeNetwork(n.id);
    this.ipam6.removeNetwork(n.id);
    await this.firewall.apply();
    if (n.enableIPv6) await this.firewall6.apply();
    this.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
  }

  async prune(filtersRaw?: string): Promise<{ NetworksDeleted: string[] }> {
    const f = Filters.parse(filtersRaw, ['until', 'label', 'label!']);
    const until = f.get('until').map((v) => parseTimestampNs(v) / 1e6);
    const deleted: string[] = [];
    for (const n of this.store.allNetworks()) {
      if (n.predefined || this.attached(n.id).length) continue;
      if (!f.matchLabels(n.labels)) continue;
      if (f.get('label!').some((cond) => Filters.parse(JSON.stringify({ label: [cond] }), ['label']).matchLabels(n.labels))) continue;
      if (until.some((u) => Date.parse(n.created) > u)) continue;
      try {
        await this.remove(n.id);
        deleted.push(n.name);
      } catch (err) {
        log.warn('prune could not remove network', { network: n.name, error: messageOf(err) });
      }
    }
    this.events.publish('network', 'prune', '', { reclaimed: '0' });
    return { NetworksDeleted: deleted };
  }

  // ---- containers: create-time settings ----------------------------------------------------------

  validateCreate(
    config: { Hostname?: string; ExposedPorts?: unknown },
    hostConfig: NetContainer['hostConfig'] & { DnsSearch?: string[] | null; DnsOptions?: string[] | null },
    networking?: NetworkingConfig | null,
  ): string[] {
    const mode = networkModeOf(hostConfig.NetworkMode);
    const warnings: string[] = [];
    const hasBindings = Boolean(hostConfig.PortBindings && Object.keys(hostConfig.PortBindings as object).length) || Boolean(hostConfig.PublishAllPorts);
    if (mode.startsWith('container:')) {
      if (hostConfig.Dns?.length) throw invalidArgument(ERR.netDns);
      if (hostConfig.ExtraHosts?.length) throw invalidArgument(ERR.netHosts);
      if (hasBindings) throw invalidArgument(ERR.netPublish);
      if (config.ExposedPorts && Object.keys(config.ExposedPorts as object).length) throw invalidArgument(ERR.netExpose);
      if (config.Hostname) throw invalidArgument(ERR.netHostname);
      return warnings;
    }
    portRequests(hostConfig.PortBindings, false, {});
    if (mode === 'host' && hasBindings) warnings.push('Published ports are discarded when using host network mode');
    for (const h of hostConfig.ExtraHosts ?? []) {
      const i = h.indexOf(':'); // "name:address", cut at the first colon (the address may be IPv6)
      const addr = i > 0 ? h.slice(i + 1) : '';
      if (i <= 0 || (addr !== 'host-gateway' && parseIPv4(addr) === undefined && !addr.includes(':'))) throw invalidArgument(`invalid IP address in add-host: "${addr}"`);
    }
    const eps = this.endpointsFor(mode, networking);
    const driverOf = (e: WantedEndpoint) => e.net?.driver ?? (e.name === 'host' ? 'host' : e.name === 'none' ? 'null' : 'bridge');
    if (eps.length > 1) {
      if (eps.some((e) => driverOf(e) === 'host')) throw invalidArgument(ERR.sharedNetwork);
      if (eps.some((e) => driverOf(e) === 'null')) throw invalidArgument(ERR.noNetwork);
    }
    // As dockerd: a network that does not exist yet is no error until the container starts.
    const errs: string[] = [];
    for (const e of eps.filter((x) => x.fromConfig)) {
      try {
        this.validateEndpoint(e.net, e.name, e.config);
      } catch (err) {
        errs.push(`invalid config for network ${e.name}: ${messageOf(err)}`);
      }
    }
    if (errs.length) throw invalidArgument(errs.join('\n'));
    return warnings;
  }

  /** Records the container's endpoint settings (after validateCreate accepted them). */
  created(c: NetContainer, networking?: NetworkingConfig | null): void {
    const mode = networkModeOf(c.hostConfig.NetworkMode);
    if (mode.startsWith('container:')) return;
    for (const e of this.endpointsFor(mode, networking)) {
      this.store.saveEndpoint({
        containerId: c.id,
        containerName: c.name,
        // A network not there yet is found by name when the container starts.
        networkId: e.net?.id ?? `unresolved:${e.name}`,
        networkName: e.net?.name ?? e.name,
        config: cleanEndpointConfig(e.config),
      });
    }
  }

  /** The networks a new container joins: its network mode's, then any other EndpointsConfig entries. */
  private endpointsFor(mode: string, networking?: NetworkingConfig | null): WantedEndpoint[] {
    const out: WantedEndpoint[] = [{ name: mode, net: this.tryResolve(mode), config: {}, fromConfig: false }];
    for (const [key, cfg] of Object.entries(networking?.EndpointsConfig ?? {})) {
      const name = networkModeOf(key);
      const net = this.tryResolve(cfg?.NetworkID || name);
      const existing = out.find((o) => (net && o.net?.id === net.id) || o.name === name);
      if (existing) {
        existing.config = { ...(cfg ?? {}) };
        existing.fromConfig = true;
      } else out.push({ name, net, config: { ...(cfg ?? {}) }, fromConfig: true });
    }
    return out;
  }

  private validateEndpoint(net: NetworkRecord | undefined, name: string, cfg: EndpointConfig): void {
    const errs: string[] = [];
    const v4 = cfg.IPAMConfig?.IPv4Address;
    const v6 = cfg.IPAMConfig?.IPv6Address;
    if (net?.predefined ?? ['bridge', 'host', 'none'].includes(name)) {
      if (v4 || v6) errs.push(ERR.ipOnPredefined);
      if (cfg.Aliases?.length) errs.push(ERR.aliasOnPredefined);
    }
    if (v4) {
      const addr = parseIPv4(v4);
      if (addr === undefined || addr === 0) errs.push(`invalid IPv4 address: ${v4}`);
      else if (net && !net.predefined) {
        const subnet = parseCidr(net.ipam.Config[0]?.Subnet ?? '');
        if (!net.userSubnet) errs.push(ERR.ipNoSubnet);
        else if (!subnet || !contains(subnet, addr)) errs.push(`no configured subnet or ip-range contain the IP address ${v4}`);
      }
    }
    if (v6) {
      const addr = parseIPv6(v6);
      if (addr === undefined || addr === 0n) errs.push(`invalid IPv6 address: ${v6}`);
      else if (net && !net.predefined) {
        const subnet6 = pool6Of(net)?.subnet;
        if (subnet6 && !net.userSubnet6 && !net.userSubnet) errs.push(ERR.ipNoSubnet);
        else if (!subnet6 || !contains6(subnet6, addr)) errs.push(`no configured subnet or ip-range contain the IP address ${v6}`);
      }
    }
    if (cfg.MacAddress && !normalizeMac(cfg.MacAddress)) throw invalidArgument(`invalid MAC address ${cfg.MacAddress}`);
    if (errs.length) throw invalidArgument(`invalid endpoint settings:\n${errs.join('\n')}`);
  }

  // ---- containers: start and stop ----------------------------------------------------------------

  /**
   * Everything the container needs on the host before runc starts it; the namespace path to join and
   * what its /etc files should say. On failure nothing stays behind.
   */
  async setUp(c: NetContainer): Promise<{ netnsPath?: string; etc: NetworkEtc }> {
    const mode = networkModeOf(c.hostConfig.NetworkMode);
    const hostGateway = this.defaultGateway();
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
      this.created(c);
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
    const primary = this.resolve(mode);
    joins.sort((a, b) => Number(b.net.id === primary.id) - Number(a.net.id === primary.id));
    for (const j of joins) if (j.net.driver !== 'bridge') throw invalidArgument(ERR.sharedNetwork);

    const sb: SandboxRecord = { containerId: c.id, id: newId(), netns: sandbox.netnsName(this.tag, c.id), endpoints: [], ports: [], dns: false };
    const wantsDns = joins.some((j) => !j.net.predefined);
    let ready: Promise<void> | undefined;
    this.store.saveSandbox(sb);
    this.live.set(c.id, { proxies: [] });
    try {
      await sandbox.createNetns(sb.netns);
      // The DNS helper (a Node process) starts while the rest is set up and the container is created.
      const dnsReady = wantsDns ? this.startDns(sb).then(() => this.store.saveSandbox(sb)) : undefined;
      dnsReady?.catch(() => {});
      for (const j of joins) await this.join(sb, j.rec, j.net);
      await this.publish(sb, c);
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
    const live = this.live.get(containerId);
    this.live.delete(containerId);
    this.dns.close(containerId);
    if (live) await Promise.all(live.proxies.map((p) => p.close().catch(() => {})));
    if (!sb) {
      const name = sandbox.netnsName(this.tag, containerId);
      if (sandbox.netnsExists(name)) await sandbox.deleteNetns(name, []);
      return;
    }
    for (const p of sb.ports) this.allocated.delete(portKey(p.proto, p.hostIp, p.hostPort));
    if (sb.ports.length) {
      sb.ports = [];
      this.store.saveSandbox(sb);
      await this.firewall.apply().catch((err) => log.warn('iptables update failed', { id: containerId, error: messageOf(err) }));
      await this.firewall6.apply().catch((err) => log.warn('ip6tables update failed', { id: containerId, error: messageOf(err) }));
    }
    await sandbox.deleteNetns(sb.netns, sb.endpoints.map((e) => e.veth));
    for (const e of sb.endpoints) {
      this.ipam.release(e.networkId, parseIPv4(e.ip)!);
      if (e.ip6) this.ipam6.release(e.networkId, parseIPv6(e.ip6)!);
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
  private async join(sb: SandboxRecord, rec: EndpointRecord, net: NetworkRecord): Promise<EndpointState> {
    const pool = this.poolOf(net);
    const requested = rec.config.IPAMConfig?.IPv4Address ? parseIPv4(rec.config.IPAMConfig.IPv4Address) : undefined;
    const addr = this.ipam.allocate(net.id, requested);
    let addr6: bigint | undefined;
    if (this.ipam6.has(net.id)) {
      const requested6 = rec.config.IPAMConfig?.IPv6Address ? parseIPv6(rec.config.IPAMConfig.IPv6Address) : undefined;
      try {
        addr6 = this.ipam6.allocate(net.id, requested6);
      } catch (err) {
        this.ipam.release(net.id, addr);
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
      gateway: net.internal ? '' : formatIPv4(pool.gateway),
      ...(addr6 !== undefined && pool6 ? { ip6: formatIPv6(addr6), prefix6: pool6.subnet.prefix, gateway6: net.internal ? '' : formatIPv6(pool6.gateway) } : {}),
      mac: (rec.config.MacAddress && normalizeMac(rec.config.MacAddress)) || sandbox.macFor(ipText),
      veth: sandbox.vethName(),
      ifname: `eth${n}`,
    };
    const carriesDefault = !net.internal && !sb.gatewayNetwork;
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
      this.ipam.release(net.id, addr);
      if (addr6 !== undefined) this.ipam6.release(net.id, addr6);
      throw err;
    }
    sb.endpoints.push(state);
    if (carriesDefault) sb.gatewayNetwork = net.id;
    this.store.saveSandbox(sb);
    return state;
  }

  /** Binds the published ports (the proxies hold them) and adds their DNAT rules. */
  private async publish(sb: SandboxRecord, c: NetContainer): Promise<void> {
    const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
    const net = target ? this.store.network(target.networkId) : undefined;
    const reqs = portRequests(c.hostConfig.PortBindings, Boolean(c.hostConfig.PublishAllPorts), c.config.ExposedPorts, net?.options[OPT_HOST_BINDING] || '0.0.0.0', this.dualStackPorts);
    if (!reqs.length || !target) return;
    const live = this.live.get(c.id)!;
    try {
      for (const req of reqs) {
        // The [::] half of a binding without an address takes the port its 0.0.0.0 half got.
        const twinPort = req.twin ? sb.ports[sb.ports.length - 1]?.hostPort : undefined;
        const proxy = await this.bindPort(twinPort ? { ...req, hostPortStart: twinPort, hostPortEnd: twinPort } : req, proxyTarget(req.hostIp, target));
        live.proxies.push(proxy);
        this.allocated.add(portKey(req.proto, req.hostIp, proxy.hostPort));
        sb.ports.push({ proto: req.proto, containerPort: req.containerPort, hostIp: req.hostIp, hostPort: proxy.hostPort });
      }
      this.store.saveSandbox(sb);
      await this.firewall.apply();
      await this.firewall6.apply();
    } catch (err) {
      const msg = err instanceof BerthError ? err.message : messageOf(err);
      throw internal(`driver failed programming external connectivity on endpoint ${c.name} (${target.endpointId}): ${msg}`, err);
    }
  }

  private async bindPort(req: PortRequest, containerIp: string): Promise<PortProxy> {
    const target = { ip: containerIp, port: req.containerPort };
    const open = (port: number) => PortProxy.open({ proto: req.proto, hostIp: req.hostIp, hostPort: port, target, forward: this.config.userlandProxy });
    const describe = (port: number) => `${req.hostIp.includes(':') ? `[${req.hostIp}]` : req.hostIp}:${port}:${containerIp}:${req.containerPort}/${req.proto}`;
    if (req.hostPortStart === 0) {
      try {
        return await open(0);
      } catch (err) {
        throw new Error(`failed to bind host port for ${req.hostIp}::${containerIp}:${req.containerPort}/${req.proto}: ${messageOf(err)}`);
      }
    }
    let lastErr: Error | undefined;
    for (let port = req.hostPortStart; port <= req.hostPortEnd; port++) {
      if (this.allocated.has(portKey(req.proto, req.hostIp, port))) {
        lastErr = new Error(`Bind for ${req.hostIp.includes(':') ? `[${req.hostIp}]` : req.hostIp}:${port} failed: port is already allocated`);
        continue;
      }
      try {
        return await open(port);
      } catch (err) {
        if (!(err instanceof BindError)) throw err;
        lastErr = new Error(req.hostPortStart === req.hostPortEnd ? `failed to bind host port for ${describe(port)}: ${err.message}` : `failed to bind host port ${port} for ${describe(port)}: ${err.message}`);
      }
    }
    throw lastErr ?? new Error('all ports are allocated');
  }

  /** Starts the embedded DNS for the sandbox (sockets bound inside its namespace). */
  private async startDns(sb: SandboxRecord): Promise<void> {
    const sockets = await bindInNetns(sb.netns);
    if (!this.live.has(sb.containerId) || this.store.sandbox(sb.containerId)?.id !== sb.id) {
      // torn down (or set up anew) meanwhile
      sockets.udp.close();
      sockets.tcp.close();
      return;
    }
    this.dns.serve(sb.containerId, sockets);
    sb.dns = true;
  }

  // ---- connect and disconnect --------------------------------------------------------------------

  /** Resolves true when the running container's embedded DNS started now (its resolv.conf is to point at it). */
  async connect(netRef: string, c: NetContainer, config: EndpointConfig = {}): Promise<boolean> {
    let dnsStarted = false;
    const net = this.resolve(netRef);
    const mode = networkModeOf(c.hostConfig.NetworkMode);
    if (mode.startsWith('container:')) throw invalidArgument(ERR.sharedNetwork);
    if (net.driver === 'host' && mode !== 'host') throw invalidArgument(ERR.connectHost);
    if (mode === 'host' || net.driver === 'host') throw invalidArgument(ERR.sharedNetwork);
    if (mode === 'none' || net.driver === 'null') throw invalidArgument(ERR.noNetwork);
    this.validateEndpoint(net, net.name, config);
    await this.locks.run(c.id, async () => {
      if (this.store.endpoint(c.id, net.id)) throw forbidden(`endpoint with name ${c.name} already exists in network ${net.name}`);
      const rec: EndpointRecord = { containerId: c.id, containerName: c.name, networkId: net.id, networkName: net.name, config: cleanEndpointConfig(config) };
      const sb = c.state.Running ? this.store.sandbox(c.id) : undefined;
      if (sb) {
        const hadGateway = Boolean(sb.gatewayNetwork);
        await this.join(sb, rec, net);
        if (!net.predefined && !sb.dns) {
          await this.startDns(sb).catch((err) => log.warn('embedded DNS not started', { id: c.id, error: messageOf(err) }));
          this.store.saveSandbox(sb);
          dnsStarted = sb.dns;
        }
        if (!hadGateway && sb.gatewayNetwork) await this.retargetPorts(sb, c);
      }
      this.store.saveEndpoint(rec);
    });
    this.publishEndpointEvent('connect', net.id, c.id);
    return dnsStarted;
  }

  async disconnect(netRef: string, c: NetContainer, force = false): Promise<void> {
    const net = this.tryResolve(netRef);
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
        await sandbox.removeInterface(ep.veth);
        this.ipam.release(net.id, parseIPv4(ep.ip)!);
        if (ep.ip6) this.ipam6.release(net.id, parseIPv6(ep.ip6)!);
        sb.endpoints = sb.endpoints.filter((e) => e !== ep);
        if (sb.gatewayNetwork === net.id) {
          sb.gatewayNetwork = undefined;
          const next = sb.endpoints.find((e) => e.gateway);
          if (next) {
            await sandbox.setDefaultRoute(sb.netns, next.gateway, next.ifname).catch((err) => log.warn('could not move the default route', { id: c.id, error: messageOf(err) }));
            if (next.gateway6) await sandbox.setDefaultRoute6(sb.netns, next.gateway6, next.ifname).catch((err) => log.warn('could not move the default IPv6 route', { id: c.id, error: messageOf(err) }));
            sb.gatewayNetwork = next.networkId;
          }
          await this.retargetPorts(sb, c);
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
    const net = this.resolve(netRef);
    if (!containerRef) throw invalidArgument('invalid name: name is empty');
    const rec = this.store
      .endpointsOn(net.id)
      .find((e) => !this.lookupContainer(e.containerId) && (e.containerName === containerRef || e.containerId === containerRef || (containerRef.length >= 12 && e.containerId.startsWith(containerRef))));
    if (!rec) throw notFound(`endpoint ${containerRef} not found`);
    await this.locks.run(rec.containerId, async () => {
      await this.tearDownLocked(rec.containerId);
      this.store.deleteEndpoint(rec.containerId, net.id);
    });
    this.publishEndpointEvent('disconnect', net.id, rec.containerId);
  }

  /** Points published ports at the address on the network that now carries the default route. */
  private async retargetPorts(sb: SandboxRecord, c: NetContainer): Promise<void> {
    const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
    const live = this.live.get(c.id);
    if (target && live) for (const p of live.proxies) p.setTarget({ ip: proxyTarget(p.hostIp, target), port: sb.ports.find((m) => m.hostPort === p.hostPort && m.proto === p.proto)?.containerPort ?? 0 });
    await this.firewall.apply().catch((err) => log.warn('iptables update failed', { id: c.id, error: messageOf(err) }));
    await this.firewall6.apply().catch((err) => log.warn('ip6tables update failed', { id: c.id, error: messageOf(err) }));
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
        const net = this.quietResolve(mode);
        if (net) records.push({ containerId: c.id, networkId: net.id, networkName: net.name, config: {} });
      }
      for (const rec of records.sort((a, b) => (a.networkName < b.networkName ? -1 : 1))) {
        const net = this.store.network(rec.networkId);
        const state = sb?.endpoints.find((e) => e.networkId === rec.networkId);
        networks[rec.networkName] = endpointView(rec, rec.networkId, state, net && !net.predefined ? this.dnsNamesOf(c, rec) : null);
      }
    }
    const bridgeNet = this.store.networkByName('bridge');
    const legacy = sb?.endpoints.find((e) => e.networkId === bridgeNet?.id);
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
    const mode = networkModeOf(this.lookupContainer(containerId)?.hostConfig.NetworkMode);
    const net = this.quietResolve(mode);
    return net ? [net.name, net.id] : [mode];
  }

  // ---- embedded DNS ------------------------------------------------------------------------------

  private dnsNamesOf(c: NetContainer, rec: EndpointRecord): string[] {
    const names = [c.name, ...(rec.config.Aliases ?? []), c.id.slice(0, 12), ...(c.config.Hostname ? [c.config.Hostname] : [])];
    return [...new Set(names.filter(Boolean))];
  }

  private userNetworksOf(sb: SandboxRecord): NetworkRecord[] {
    return sb.endpoints.flatMap((e) => {
      const n = this.store.network(e.networkId);
      return n && !n.predefined ? [n] : [];
    });
  }

  private dnsLookup(containerId: string, name: string): string[] | undefined {
    const sb = this.store.sandbox(containerId);
    if (!sb) return undefined;
    const found = new Set<string>();
    for (const net of this.userNetworksOf(sb)) {
      const candidates = [name, ...linkTargets(this.store.endpoint(containerId, net.id)?.config.Links, name)];
      const suffix = `.${net.name.toLowerCase()}`;
      if (name.endsWith(suffix)) candidates.push(name.slice(0, -suffix.length));
      for (const other of this.store.allSandboxes()) {
        const ep = other.endpoints.find((e) => e.networkId === net.id);
        if (!ep) continue;
        const oc = this.lookupContainer(other.containerId);
        const rec = this.store.endpoint(other.containerId, net.id);
        if (!oc || !rec) continue;
        const names = this.dnsNamesOf(oc, rec).map((n) => n.toLowerCase());
        if (candidates.some((cand) => names.includes(cand))) {
          found.add(ep.ip);
          if (ep.ip6) found.add(ep.ip6);
        }
      }
    }
    return found.size ? [...found] : undefined;
  }

  private dnsReverse(containerId: string, addr: string): string | undefined {
    const sb = this.store.sandbox(containerId);
    if (!sb) return undefined;
    for (const net of this.userNetworksOf(sb)) {
      for (const other of this.store.allSandboxes()) {
        if (!other.endpoints.some((e) => e.networkId === net.id && (e.ip === addr || e.ip6 === addr))) continue;
        const oc = this.lookupContainer(other.containerId);
        if (oc) return `${oc.name}.${net.name}`;
      }
    }
    return undefined;
  }

  private dnsUpstreams(containerId: string): string[] {
    const sb = this.store.sandbox(containerId);
    if (sb && sb.endpoints.length && sb.endpoints.every((e) => this.store.network(e.networkId)?.internal)) return [];
    const c = this.lookupContainer(containerId);
    if (c?.hostConfig.Dns?.length) return c.hostConfig.Dns;
    return this.dns.hostUpstreams();
  }

  // ---- firewall ----------------------------------------------------------------------------------

  private firewallState(): FirewallState {
    const networks = this.store
      .allNetworks()
      .filter((n) => n.driver === 'bridge' && n.bridge)
      .map((n) => ({
        bridge: n.bridge!,
        subnet: n.ipam.Config[0]?.Subnet ?? '',
        internal: n.internal,
        masquerade: !/^(false|0)$/i.test(n.options[OPT_MASQUERADE] ?? 'true'),
        icc: !/^(false|0)$/i.test(n.options[OPT_ICC] ?? 'true'),
      }));
    const ports: FirewallState['ports'] = [];
    for (const sb of this.store.allSandboxes()) {
      const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
      const bridge = target ? this.store.network(target.networkId)?.bridge : undefined;
      if (!target || !bridge) continue;
      for (const p of sb.ports) if (!p.hostIp.includes(':')) ports.push({ proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: target.ip, containerPort: p.containerPort, bridge });
    }
    return { networks, ports };
  }

  /** The IPv6 side: IPv6 networks, and ports published on IPv6 host addresses of containers with an IPv6 address. */
  private firewallState6(): FirewallState {
    const networks = this.store
      .allNetworks()
      .filter((n) => n.driver === 'bridge' && n.bridge && v6ConfigOf(n))
      .map((n) => ({
        bridge: n.bridge!,
        subnet: v6ConfigOf(n)!.Subnet!,
        internal: n.internal,
        masquerade: !/^(false|0)$/i.test(n.options[OPT_MASQUERADE] ?? 'true'),
        icc: !/^(false|0)$/i.test(n.options[OPT_ICC] ?? 'true'),
      }));
    const ports: FirewallState['ports'] = [];
    for (const sb of this.store.allSandboxes()) {
      const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
      const bridge = target ? this.store.network(target.networkId)?.bridge : undefined;
      if (!target?.ip6 || !bridge) continue;
      for (const p of sb.ports) if (p.hostIp.includes(':')) ports.push({ proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: target.ip6, containerPort: p.containerPort, bridge });
    }
    return { networks, ports };
  }
}

// ---- helpers ----------------------------------------------------------------------------------------

export function networkModeOf(mode: string | undefined): string {
  return !mode || mode === 'default' ? 'bridge' : mode;
}

function portKey(proto: string, hostIp: string, port: number): string {
  return `${proto}/${hostIp}/${port}`;
}

function mtuOf(n: NetworkRecord): number | undefined {
  const v = n.options[OPT_MTU];
  return v ? Number(v) : undefined;
}

/** Docker's filter match: the value as a regular expression anywhere in the string, else a substring. */
function matches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return value.includes(pattern);
  }
}

function cleanEndpointConfig(cfg: EndpointConfig): EndpointConfig {
  const out: EndpointConfig = {};
  if (cfg.IPAMConfig && (cfg.IPAMConfig.IPv4Address || cfg.IPAMConfig.IPv6Address || cfg.IPAMConfig.LinkLocalIPs?.length)) out.IPAMConfig = { ...cfg.IPAMConfig };
  if (cfg.Aliases?.length) out.Aliases = [...new Set(cfg.Aliases)];
  if (cfg.Links?.length) out.Links = [...cfg.Links];
  if (cfg.MacAddress) out.MacAddress = cfg.MacAddress;
  if (cfg.DriverOpts && Object.keys(cfg.DriverOpts).length) out.DriverOpts = { ...cfg.DriverOpts };
  if (cfg.GwPriority) out.GwPriority = cfg.GwPriority;
  return out;
}

export type { PortMapping };
