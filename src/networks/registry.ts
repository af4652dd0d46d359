/**
 * The network registry: the predefined bridge, host and none networks and the user-defined bridge
 * networks (create, inspect, list, remove, prune), their Linux bridges and address pools, and the tag
 * (default bridge name) under which this daemon owns things on the host.
 *
 * Lifecycle: a network record exists from create (the predefined ones from the first start) until rm; a
 * bridge network's Linux bridge exists while the daemon runs. At daemon start `prepareHost` takes the tag,
 * `start` makes the predefined networks and brings every bridge up, `removeLeftovers` removes what a crash
 * left; at shutdown `deleteBridges` (without live-restore) and `releaseTag`.
 */
import { promises as fs } from 'node:fs';
import type { EventBus } from '../events/bus.js';
import type { NetworkRecord } from './model.js';
import type { NetworkStore } from './store.js';
import { Ipam6, formatCidr6, formatIPv6, overlaps6, parseCidr6, pickSubnet6, pool6From, type Cidr6 } from './ipv6.js';
import { enableIPv6Forwarding, hostRoutes6, pool6Of } from './dual-stack.js';
import { Ipam, auxAddresses, formatCidr, formatIPv4, overlaps, parseCidr, parseIPv4, parseIfaceCidr, pickSubnet, poolFrom, type Cidr, type Pool } from './ipam.js';
import * as ip from './ip.js';
import * as sandbox from './sandbox.js';
import { ensureBridge, deleteBridge, bridgeAlias, validBridgeName, setRouteLocalnet } from './bridge.js';
import { findExternalBridge, checkBip, useExternalBridge, type ExternalBridge } from './external-bridge.js';
import { networkView, type AttachedContainer } from './views.js';
import type { Publishing } from './publishing.js';
import { OPT_BRIDGE_NAME, OPT_HOST_BINDING, OPT_ICC, OPT_MASQUERADE, OPT_MTU, mtuOf, type ContainerLookup, type CreateNetworkRequest, type NetworkConfig } from './contracts.js';
import { conflict, forbidden, internal, invalidArgument, messageOf, notFound } from '../lib/errors.js';
import { Filters } from '../lib/filters.js';
import { newId } from '../lib/ids.js';
import { rfc3339Nano, parseTimestampNs } from '../lib/timestamps.js';
import { log, debugIgnored } from '../lib/log.js';
import { processAlive } from '../lib/process.js';
import type { PluginRegistry } from '../plugins/contracts.js';
import { BUILTIN_NETWORK_DRIVERS, GENERIC_OPTIONS, RemoteIpam, RemoteNetworkDriver, type RemotePool } from './remote.js';

/** Where daemons record which tag (default bridge name) each one holds. */
const TAG_DIR = '/run/berth-network';

export class NetworkRegistry {
  /** The administrator's bridge given with --bridge, if it existed before the daemon (external-bridge.ts). */
  private externalBridge?: ExternalBridge;
  /**
   * Whether the swarm keeps the overlay twins in line now (networks/overlay/, from its first sync until
   * teardown): meanwhile only it removes them; twins left once the node is out of the swarm (a container
   * was still on one) are the user's to remove.
   */
  overlaysManaged = false;

  constructor(
    private readonly store: NetworkStore,
    private readonly tag: string,
    private readonly config: NetworkConfig,
    private readonly events: EventBus,
    private readonly ipam: Ipam,
    private readonly ipam6: Ipam6,
    private readonly firewall: Pick<Publishing, 'apply'>,
    private readonly containers: ContainerLookup,
    /** Network driver and IPAM plugins (networks/remote.ts); without it only builtin drivers exist. */
    private readonly plugins?: PluginRegistry,
  ) {}

  // ---- start-up and shutdown ---------------------------------------------------------------------

  /** Takes the tag and turns on IPv4 forwarding. */
  async prepareHost(): Promise<void> {
    if (!validBridgeName(this.tag)) throw invalidArgument(`invalid bridge name: ${this.tag}`);
    await this.claimTag();
    if (this.config.ipForward) {
      const cur = await fs.readFile('/proc/sys/net/ipv4/ip_forward', 'utf8').catch(() => '');
      if (cur.trim() !== '1') await fs.writeFile('/proc/sys/net/ipv4/ip_forward', '1');
    }
  }

  /** The predefined networks, then every bridge network's Linux bridge and address pools. */
  async start(): Promise<void> {
    await this.ensurePredefined();
    for (const n of this.store.allNetworks()) {
      // An overlay's devices are made by the swarm's next sync (networks/overlay/); its pool is needed now.
      if (n.driver === 'overlay' || (n.remote && !n.remotePool)) this.ipam.addNetwork(n.id, this.poolOf(n));
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
      if (!this.config.userlandProxy) await setRouteLocalnet(n.bridge!, true).catch((err) => log.warn('ports published on 127.0.0.1 will not answer: setting route_localnet failed', { error: messageOf(err) }));
    }
  }

  /** Shutdown without live-restore: the bridges go. */
  async deleteBridges(): Promise<void> {
    for (const n of this.store.allNetworks()) if (n.bridge) await deleteBridge(n.bridge, this.tag).catch((err) => log.warn('could not delete bridge', { bridge: n.bridge, error: messageOf(err) }));
  }

  async releaseTag(): Promise<void> {
    await fs.rm(this.tagFile(), { force: true }).catch(() => {}); // force: only fails if the directory is unusable; the tag is advisory
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
      // The ingress overlay's subnet is routed on this host (the node's ingress address is on its bridge).
      if (n.id === exceptNetwork || !(n.driver === 'bridge' || n.ingress || n.remote)) continue;
      const s = n.ipam.Config[0]?.Subnet ? parseCidr(n.ipam.Config[0].Subnet) : undefined;
      if (s) taken.push(s);
    }
    return taken;
  }

  /** Removes what a crash left: namespaces, veths and bridges of ours that no record knows. */
  async removeLeftovers(): Promise<void> {
    const known = new Set(this.store.allSandboxes().map((s) => s.netns));
    const stale = (await ip.netnsList()).filter((n) => sandbox.isOurNetns(this.tag, n) && !known.has(n));
    if (stale.length) await ip.batch(stale.map((n) => `netns del ${n}`), { force: true }).catch(debugIgnored('deleting stale network namespaces failed'));
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
      await ip.batch(cmds, { force: true }).catch(debugIgnored('removing network leftovers failed'));
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
  quietResolve(ref: string): NetworkRecord | undefined {
    try {
      return this.tryResolve(ref);
    } catch {
      return undefined; // ambiguous or invalid: no network, as documented above
    }
  }

  poolOf(n: NetworkRecord): Pool {
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
    if (driver !== 'bridge' && BUILTIN_NETWORK_DRIVERS.includes(driver)) throw notFound(`plugin "${driver}" not found`);
    const ipamDriver = req.IPAM?.Driver || 'default';
    if (ipamDriver !== 'default' && !this.plugins) throw notFound(`plugin "${ipamDriver}" not found`);
    if (driver !== 'bridge') return this.createRemote(req, name, driver, ipamDriver);
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
    const { pool, remotePool } = await this.requestPool(req, cfg, ipamDriver);
    try {
      return await this.createBridge(req, id, name, cfg, configs6, pool, ipamDriver, remotePool);
    } catch (err) {
      await this.releasePool(ipamDriver, remotePool);
      throw err;
    }
  }

  /** A network's IPv4 pool: from Berth's own allocator, or from the IPAM plugin named `ipamDriver`. */
  private async requestPool(req: CreateNetworkRequest, cfg: { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }, ipamDriver: string): Promise<{ pool: Pool; remotePool?: RemotePool }> {
    if (ipamDriver !== 'default') {
      const ipam = await RemoteIpam.get(this.plugins, ipamDriver);
      const remotePool = await ipam.requestPool({ Pool: cfg.Subnet, SubPool: cfg.IPRange, Gateway: cfg.Gateway, Options: req.IPAM?.Options });
      const subnet = parseCidr(remotePool.pool);
      const gw = parseIfaceCidr(remotePool.gateway);
      if (!subnet || !gw) {
        await this.releasePool(ipamDriver, remotePool);
        throw invalidArgument(`the IPAM plugin ${ipamDriver} gave a pool Berth cannot use: ${remotePool.pool} (gateway ${remotePool.gateway})`);
      }
      const range = (cfg.IPRange && parseCidr(cfg.IPRange)) || subnet;
      return { pool: { subnet, gateway: gw.ip, range, aux: auxAddresses(cfg) }, remotePool };
    }
    const taken = await this.takenSubnets();
    const pool = poolFrom(cfg, () => pickSubnet(taken));
    for (const n of this.store.allNetworks()) {
      const s = (n.driver === 'bridge' || n.ingress || n.remote) && n.ipam.Config[0]?.Subnet ? parseCidr(n.ipam.Config[0].Subnet) : undefined;
      if (s && overlaps(s, pool.subnet)) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
    }
    return { pool };
  }

  /** Gives an IPAM plugin's pool back (its gateway address first); failures are logged, as dockerd. */
  private async releasePool(ipamDriver: string, remotePool: RemotePool | { poolId: string; gateway: string } | undefined): Promise<void> {
    if (!remotePool) return;
    try {
      const ipam = await RemoteIpam.get(this.plugins, ipamDriver);
      await ipam.releaseAddress(remotePool.poolId, remotePool.gateway).catch((err) => log.warn('IPAM plugin could not release the gateway address', { plugin: ipamDriver, error: messageOf(err) }));
      await ipam.releasePool(remotePool.poolId);
    } catch (err) {
      log.warn('IPAM plugin could not release a pool', { plugin: ipamDriver, pool: remotePool.poolId, error: messageOf(err) });
    }
  }

  /** A network whose devices a network driver plugin makes (networks/remote.ts). */
  private async createRemote(req: CreateNetworkRequest, name: string, driverName: string, ipamDriver: string): Promise<{ Id: string; Warning: string }> {
    const driver = await RemoteNetworkDriver.get(this.plugins, driverName);
    if (req.EnableIPv6) throw invalidArgument('IPv6 is not supported on networks of driver plugins here');
    if (req.ConfigOnly || req.Ingress) throw invalidArgument('config-only and ingress networks are not supported');
    await driver.scope();
    const configs = (req.IPAM?.Config ?? []).filter((c) => !(c.Subnet ?? '').includes(':'));
    if (configs.length > 1) throw invalidArgument('only one IPv4 subnet per network is supported');
    const cfg = configs[0] ?? {};
    const id = newId();
    const { pool, remotePool } = await this.requestPool(req, cfg, ipamDriver);
    const options = { ...(req.Options ?? {}) };
    const ipamCfg: { Subnet: string; Gateway: string; IPRange?: string } = { Subnet: formatCidr(pool.subnet), Gateway: formatIPv4(pool.gateway) };
    if (cfg.IPRange) ipamCfg.IPRange = formatCidr(pool.range);
    const n: NetworkRecord = {
      id,
      name,
      created: rfc3339Nano(Date.now()),
      driver: driverName,
      internal: Boolean(req.Internal),
      attachable: Boolean(req.Attachable),
      enableIPv6: false,
      ipam: { Driver: ipamDriver, Options: req.IPAM?.Options ?? null, Config: [ipamCfg] },
      userSubnet: Boolean(cfg.Subnet),
      options,
      labels: { ...(req.Labels ?? {}) },
      predefined: false,
      remote: true,
      ...(remotePool ? { remotePool: { poolId: remotePool.poolId, gateway: remotePool.gateway } } : {}),
    };
    try {
      await driver.createNetwork({
        NetworkID: id,
        Options: { [GENERIC_OPTIONS]: options, 'com.docker.network.enable_ipv6': false },
        IPv4Data: [{ AddressSpace: remotePool ? '' : 'LocalDefault', Pool: formatCidr(pool.subnet), Gateway: `${formatIPv4(pool.gateway)}/${pool.subnet.prefix}` }],
        IPv6Data: [],
      });
    } catch (err) {
      await this.releasePool(ipamDriver, remotePool);
      throw err;
    }
    try {
      this.store.saveNetwork(n);
      if (!remotePool) this.ipam.addNetwork(id, pool);
    } catch (err) {
      this.store.deleteNetwork(id);
      this.ipam.removeNetwork(id);
      await driver.deleteNetwork(id).catch(debugIgnored('removing a half-made plugin network failed'));
      await this.releasePool(ipamDriver, remotePool);
      throw err;
    }
    this.events.publish('network', 'create', id, { name, type: driverName });
    return { Id: id, Warning: '' };
  }

  private async createBridge(
    req: CreateNetworkRequest,
    id: string,
    name: string,
    cfg: { Subnet?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> },
    configs6: Array<{ Subnet?: string; IPRange?: string }>,
    pool: Pool,
    ipamDriver: string,
    remotePool: RemotePool | undefined,
  ): Promise<{ Id: string; Warning: string }> {
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
      ipam: { Driver: ipamDriver, Options: req.IPAM?.Options ?? null, Config: ipamCfg6 ? [ipamCfg, ipamCfg6] : [ipamCfg] },
      userSubnet: Boolean(cfg.Subnet),
      userSubnet6: Boolean(configs6[0]?.Subnet),
      options,
      labels: { ...(req.Labels ?? {}) },
      bridge: bridgeName,
      predefined: false,
      ...(remotePool ? { remotePool: { poolId: remotePool.poolId, gateway: remotePool.gateway } } : {}),
    };
    await ensureBridge({ name: bridgeName, address: `${formatIPv4(pool.gateway)}/${pool.subnet.prefix}`, tag: this.tag, mtu, address6: ipamCfg6 && `${ipamCfg6.Gateway}/${pool6!.subnet.prefix}` });
    try {
      if (!this.config.userlandProxy) await setRouteLocalnet(bridgeName, true).catch((err) => log.warn('ports published on 127.0.0.1 will not answer: setting route_localnet failed', { error: messageOf(err) }));
      if (pool6 && this.config.ipForward) await enableIPv6Forwarding();
      this.store.saveNetwork(n);
      this.ipam.addNetwork(id, pool);
      if (pool6) this.ipam6.addNetwork(id, pool6);
      await this.firewall.apply({ v6: Boolean(pool6) });
    } catch (err) {
      this.store.deleteNetwork(id);
      this.ipam.removeNetwork(id);
      this.ipam6.removeNetwork(id);
      await deleteBridge(bridgeName, this.tag).catch(debugIgnored('removing a half-made bridge failed'));
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
        if (f.has('scope') && !f.get('scope').includes(n.scope ?? 'local')) return false;
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

  /** Whether a running container is on the network. */
  isAttached(networkId: string): boolean {
    return this.attached(networkId).length > 0;
  }

  /** Running containers on the network, with their interface there. */
  private attached(networkId: string): AttachedContainer[] {
    const out: AttachedContainer[] = [];
    for (const sb of this.store.allSandboxes()) {
      const e = sb.endpoints.find((x) => x.networkId === networkId);
      if (e) out.push({ id: sb.containerId, name: this.containers.get(sb.containerId)?.name ?? '', endpoint: e });
    }
    return out;
  }

  async remove(ref: string): Promise<void> {
    const n = this.resolve(ref);
    if (n.predefined) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`);
    if (n.driver === 'overlay' && this.overlaysManaged) throw forbidden(`${n.name} is a swarm network: remove it on a swarm manager`);
    const active = this.attached(n.id);
    if (active.length) {
      const list = active.map((a) => `name:"${a.name}" id:"${a.endpoint.endpointId.slice(0, 12)}"`).join(', ');
      throw forbidden(`error while removing network: network ${n.name} has active endpoints (${list})`);
    }
    if (n.bridge) await deleteBridge(n.bridge, this.tag);
    if (n.remote) await this.deleteRemoteNetwork(n);
    await this.releasePool(n.ipam.Driver, n.remotePool);
    this.store.deleteNetwork(n.id);
    this.ipam.removeNetwork(n.id);
    this.ipam6.removeNetwork(n.id);
    await this.firewall.apply({ v6: n.enableIPv6 });
    this.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
  }

  /** As libnetwork: the plugin's failure to delete is logged, the network goes anyway (unless it is gone). */
  private async deleteRemoteNetwork(n: NetworkRecord): Promise<void> {
    try {
      const driver = await RemoteNetworkDriver.get(this.plugins, n.driver);
      await driver.deleteNetwork(n.id);
    } catch (err) {
      log.warn('driver error deleting network', { network: n.name, driver: n.driver, error: messageOf(err) });
    }
  }

  async prune(filtersRaw?: string): Promise<{ NetworksDeleted: string[] }> {
    const f = Filters.parse(filtersRaw, ['until', 'label', 'label!']);
    const until = f.get('until').map((v) => parseTimestampNs(v) / 1e6);
    const deleted: string[] = [];
    for (const n of this.store.allNetworks()) {
      if (n.predefined || (n.driver === 'overlay' && this.overlaysManaged) || this.attached(n.id).length) continue;
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
}

/** The records of the swarm's networks on this node (their devices are networks/overlay/'s). */
export class SwarmNetworkRecords {
  constructor(
    private readonly store: NetworkStore,
    private readonly registry: Pick<NetworkRegistry, 'poolOf' | 'isAttached' | 'overlaysManaged'>,
    private readonly ipam: Ipam,
    private readonly firewall: Pick<Publishing, 'apply'>,
    private readonly events: EventBus,
  ) {}

  list(): NetworkRecord[] {
    return this.store.allNetworks().filter((n) => n.driver === 'overlay');
  }

  /** From the swarm's first sync (true) to its teardown (false): see NetworkRegistry.overlaysManaged. */
  setManaged(managed: boolean): void {
    this.registry.overlaysManaged = managed;
  }

  /** Records a twin or brings it up to date; its pool is registered, the firewall rewritten if it matters. */
  async put(n: NetworkRecord): Promise<void> {
    if (n.driver !== 'overlay') throw internal(`network ${n.name} is not an overlay`);
    const old = this.store.network(n.id);
    if (old && old.driver !== 'overlay') throw conflict(`network ${n.id} exists and is not a swarm network`);
    const clash = this.store.networkByName(n.name);
    if (!old && clash) throw conflict(`network with name ${n.name} already exists`);
    if (old && JSON.stringify(old) === JSON.stringify(n)) return;
    this.store.saveNetwork(n);
    this.ipam.addNetwork(n.id, this.registry.poolOf(n));
    await this.firewall.apply({ v6: false });
    if (!old) this.events.publish('network', 'create', n.id, { name: n.name, type: 'overlay' });
  }

  /** Forgets a twin no running container is on; false (and nothing done) if one is. */
  async remove(id: string): Promise<boolean> {
    const n = this.store.network(id);
    if (!n || n.driver !== 'overlay') return true;
    if (this.registry.isAttached(id)) return false;
    this.store.deleteNetwork(id);
    this.ipam.removeNetwork(id);
    await this.firewall.apply({ v6: false });
    this.events.publish('network', 'destroy', id, { name: n.name, type: 'overlay' });
    return true;
  }
}

/** Docker's filter match: the value as a regular expression anywhere in the string, else a substring. */
function matches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return value.includes(pattern); // not a valid regexp: plain substring match
  }
}
