/**
 * Published ports: the userland proxies that hold the host ports, the host ports taken, and the iptables
 * (and ip6tables) state derived from the network and sandbox records.
 *
 * Lifecycle: `init` at daemon start (host IPv6 probe, iptables chains); `publish` when a sandbox is set up,
 * `reopen` when a running container's sandbox is adopted after a restart, `retarget` when the network
 * carrying the default route changes, `closeProxies` + `unpublish` when the sandbox is torn down;
 * `closeAll` at shutdown (and `remove` of the rules without live-restore). `apply` rewrites the rules from
 * the records after any change of networks or ports.
 */
import type { NetworkStore } from './store.js';
import type { NetworkRecord, SandboxRecord } from './model.js';
import { proxyTarget, hostHasIPv6, v6ConfigOf } from './dual-stack.js';
import { Firewall, type FirewallState } from './firewall.js';
import { PortProxy, BindError } from './proxy.js';
import { portRequests, type PortRequest } from './ports.js';
import { OPT_HOST_BINDING, OPT_ICC, OPT_MASQUERADE, type NetContainer, type NetworkConfig } from './contracts.js';
import { BerthError, internal, messageOf } from '../lib/errors.js';
import { log } from '../lib/log.js';

export class Publishing {
  private readonly firewall: Firewall;
  private readonly firewall6: Firewall;
  /** Whether the host has IPv6: ports published without an address are then bound on [::] too. */
  private dualStackPorts = false;
  /** The proxies of the sandboxes set up (or adopted) by this process, by container id. */
  private readonly proxies = new Map<string, PortProxy[]>();
  /** Host ports held by published ports: "tcp/127.0.0.1/8080". */
  private readonly allocated = new Set<string>();

  constructor(
    private readonly store: NetworkStore,
    tag: string,
    private readonly config: Pick<NetworkConfig, 'iptables' | 'userlandProxy'>,
  ) {
    this.firewall = new Firewall(tag, { enabled: config.iptables, userlandProxy: config.userlandProxy }, () => this.firewallStateOf(4));
    this.firewall6 = new Firewall(tag, { enabled: config.iptables, userlandProxy: config.userlandProxy, family: 6 }, () => this.firewallStateOf(6));
  }

  async init(): Promise<void> {
    this.dualStackPorts = await hostHasIPv6();
    await this.firewall.init();
  }

  /** Rewrites the iptables rules (and, unless `v6` is false, the ip6tables rules) from the records. */
  async apply(opts: { v6?: boolean } = {}): Promise<void> {
    await this.firewall.apply();
    if (opts.v6 !== false) await this.firewall6.apply();
  }

  /** Both rule sets, each failure logged rather than thrown (cleanup paths). */
  async applyQuietly(containerId: string): Promise<void> {
    await this.firewall.apply().catch((err) => log.warn('iptables update failed', { id: containerId, error: messageOf(err) }));
    await this.firewall6.apply().catch((err) => log.warn('ip6tables update failed', { id: containerId, error: messageOf(err) }));
  }

  /** Starts holding proxies for a sandbox set up by this process. */
  begin(containerId: string): void {
    this.proxies.set(containerId, []);
  }

  /** Whether this process set up (or adopted) the container's sandbox and has not torn it down. */
  isLive(containerId: string): boolean {
    return this.proxies.has(containerId);
  }

  /** Re-opens the published ports of a running container's sandbox adopted after a restart. */
  async reopen(sb: SandboxRecord): Promise<void> {
    const live: PortProxy[] = [];
    this.proxies.set(sb.containerId, live);
    const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
    for (const p of sb.ports) {
      this.allocated.add(portKey(p.proto, p.hostIp, p.hostPort));
      if (!target) continue;
      try {
        live.push(await PortProxy.open({ proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, target: { ip: proxyTarget(p.hostIp, target), port: p.containerPort }, forward: this.config.userlandProxy }));
      } catch (err) {
        log.warn('could not re-open a published port', { id: sb.containerId, port: `${p.hostIp}:${p.hostPort}`, error: messageOf(err) });
      }
    }
  }

  /** Binds the published ports (the proxies hold them) and adds their DNAT rules. */
  async publish(sb: SandboxRecord, c: NetContainer): Promise<void> {
    const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
    const net = target ? this.store.network(target.networkId) : undefined;
    const reqs = portRequests(c.hostConfig.PortBindings, Boolean(c.hostConfig.PublishAllPorts), c.config.ExposedPorts, net?.options[OPT_HOST_BINDING] || '0.0.0.0', this.dualStackPorts);
    if (!reqs.length || !target) return;
    const live = this.proxies.get(c.id)!;
    try {
      for (const req of reqs) {
        // The [::] half of a binding without an address takes the port its 0.0.0.0 half got.
        const twinPort = req.twin ? sb.ports[sb.ports.length - 1]?.hostPort : undefined;
        const proxy = await this.bindPort(twinPort ? { ...req, hostPortStart: twinPort, hostPortEnd: twinPort } : req, proxyTarget(req.hostIp, target));
        live.push(proxy);
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

  /** Points published ports at the address on the network that now carries the default route. */
  async retarget(sb: SandboxRecord, c: NetContainer): Promise<void> {
    const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
    const live = this.proxies.get(c.id);
    if (target && live) for (const p of live) p.setTarget({ ip: proxyTarget(p.hostIp, target), port: sb.ports.find((m) => m.hostPort === p.hostPort && m.proto === p.proto)?.containerPort ?? 0 });
    await this.applyQuietly(c.id);
  }

  /** Closes the container's proxies and forgets that this process holds its sandbox. */
  async closeProxies(containerId: string): Promise<void> {
    const live = this.proxies.get(containerId);
    this.proxies.delete(containerId);
    if (live) await Promise.all(live.map((p) => p.close().catch(() => {}))); // already closed: nothing to undo
  }

  /** Frees the sandbox's host ports and drops its rules (the record is saved without ports). */
  async unpublish(sb: SandboxRecord): Promise<void> {
    for (const p of sb.ports) this.allocated.delete(portKey(p.proto, p.hostIp, p.hostPort));
    if (sb.ports.length) {
      sb.ports = [];
      this.store.saveSandbox(sb);
      await this.applyQuietly(sb.containerId);
    }
  }

  /** Shutdown: every proxy closes (the rules stay for live-restore). */
  async closeAll(): Promise<void> {
    for (const live of this.proxies.values()) await Promise.all(live.map((p) => p.close().catch(() => {}))); // already closed: nothing to undo
    this.proxies.clear();
  }

  /** Shutdown without live-restore: the chains go. */
  async remove(): Promise<void> {
    await this.firewall.remove().catch((err) => log.warn('could not remove iptables rules', { error: messageOf(err) }));
    await this.firewall6.remove().catch((err) => log.warn('could not remove ip6tables rules', { error: messageOf(err) }));
  }

  /** One family's networks, and the ports published on host addresses of that family. */
  private firewallStateOf(family: 4 | 6): FirewallState {
    const subnetOf = (n: NetworkRecord) => (family === 6 ? v6ConfigOf(n)?.Subnet : n.ipam.Config[0]?.Subnet ?? '');
    const networks = this.store
      .allNetworks()
      .filter((n) => (n.driver === 'bridge' || n.driver === 'overlay') && n.bridge && subnetOf(n) !== undefined)
      .map((n) => ({
        bridge: n.bridge!,
        subnet: subnetOf(n)!,
        internal: n.internal,
        // An overlay's traffic never leaves through the host's NAT (Docker's leaves through docker_gwbridge).
        masquerade: n.driver === 'bridge' && !/^(false|0)$/i.test(n.options[OPT_MASQUERADE] ?? 'true'),
        icc: !/^(false|0)$/i.test(n.options[OPT_ICC] ?? 'true'),
        ...(n.ingress ? { ingress: true } : {}),
      }));
    const ports: FirewallState['ports'] = [];
    for (const sb of this.store.allSandboxes()) {
      const target = sb.endpoints.find((e) => e.networkId === sb.gatewayNetwork);
      const bridge = target ? this.store.network(target.networkId)?.bridge : undefined;
      const containerIp = family === 6 ? target?.ip6 : target?.ip;
      if (!containerIp || !bridge) continue;
      for (const p of sb.ports) {
        if (p.hostIp.includes(':') === (family === 6)) ports.push({ proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp, containerPort: p.containerPort, bridge });
      }
    }
    return { networks, ports };
  }
}

function portKey(proto: string, hostIp: string, port: number): string {
  return `${proto}/${hostIp}/${port}`;
}
