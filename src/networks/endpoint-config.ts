/**
 * A container's endpoint settings (its networks and, for each, the requested addresses, aliases, links,
 * MAC): checked at container create and on connect with Docker's messages, and recorded.
 *
 * Lifecycle: an endpoint record exists from container create (`created`) or network connect until
 * container rm or network disconnect; the sandbox code reads them at start.
 */
import type { EndpointConfig, NetworkRecord } from './model.js';
import type { NetworkStore } from './store.js';
import type { NetworkRegistry } from './registry.js';
import { contains6, parseIPv6 } from './ipv6.js';
import { pool6Of } from './dual-stack.js';
import { contains, parseCidr, parseIPv4 } from './ipam.js';
import { portRequests } from './ports.js';
import { normalizeMac } from './mac.js';
import { networkModeOf, type NetContainer, type NetworkingConfig } from './contracts.js';
import { invalidArgument, messageOf } from '../lib/errors.js';

export const ERR = {
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

interface WantedEndpoint {
  /** The name the request used (network mode or EndpointsConfig key). */
  name: string;
  net?: NetworkRecord;
  config: EndpointConfig;
  /** Given in NetworkingConfig (validated), rather than implied by the network mode. */
  fromConfig: boolean;
}

export class EndpointSettings {
  constructor(
    private readonly store: NetworkStore,
    private readonly networks: Pick<NetworkRegistry, 'tryResolve'>,
  ) {}

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
    const out: WantedEndpoint[] = [{ name: mode, net: this.networks.tryResolve(mode), config: {}, fromConfig: false }];
    for (const [key, cfg] of Object.entries(networking?.EndpointsConfig ?? {})) {
      const name = networkModeOf(key);
      const net = this.networks.tryResolve(cfg?.NetworkID || name);
      const existing = out.find((o) => (net && o.net?.id === net.id) || o.name === name);
      if (existing) {
        existing.config = { ...(cfg ?? {}) };
        existing.fromConfig = true;
      } else out.push({ name, net, config: { ...(cfg ?? {}) }, fromConfig: true });
    }
    return out;
  }

  validateEndpoint(net: NetworkRecord | undefined, name: string, cfg: EndpointConfig): void {
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
}

/** The settings worth recording (empty fields dropped, aliases deduplicated). */
export function cleanEndpointConfig(cfg: EndpointConfig): EndpointConfig {
  const out: EndpointConfig = {};
  if (cfg.IPAMConfig && (cfg.IPAMConfig.IPv4Address || cfg.IPAMConfig.IPv6Address || cfg.IPAMConfig.LinkLocalIPs?.length)) out.IPAMConfig = { ...cfg.IPAMConfig };
  if (cfg.Aliases?.length) out.Aliases = [...new Set(cfg.Aliases)];
  if (cfg.Links?.length) out.Links = [...cfg.Links];
  if (cfg.MacAddress) out.MacAddress = cfg.MacAddress;
  if (cfg.DriverOpts && Object.keys(cfg.DriverOpts).length) out.DriverOpts = { ...cfg.DriverOpts };
  if (cfg.GwPriority) out.GwPriority = cfg.GwPriority;
  return out;
}
