/**
 * A service's network settings as docker compose v2 sets them (pkg/compose/create.go
 * defaultNetworkSettings, createEndpointSettings): networks ordered by `priority` (highest first, then
 * by key); the first one is HostConfig.NetworkMode and the create body's only EndpointsConfig entry, the
 * others are connected after create, in that order. Each endpoint's aliases are the container's name,
 * then (for service containers, and `run --use-aliases`) the service name and the configured aliases.
 * `network_mode: service:X` becomes `container:<X's first container>`.
 */
import type { ComposeProject, ServiceConfig, ServiceNetworkConfig } from '../types.js';
import { ComposeError } from '../errors.js';

export type EndpointSettings = Record<string, unknown>;

/** compose-go's NetworksByPriority. */
export function networksByPriority(service: ServiceConfig): string[] {
  return Object.entries(service.networks)
    .map(([name, cfg]) => ({ name, priority: cfg?.priority ?? 0 }))
    .sort((a, b) => (a.priority === b.priority ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : b.priority - a.priority))
    .map((k) => k.name);
}

/** `service:X` -> `container:<project>-X-1` (or X's container_name); other modes unchanged. */
export function resolveServiceMode(project: ComposeProject, mode: string, firstContainerName: (svc: ServiceConfig) => string): string {
  if (!mode.startsWith('service:')) return mode;
  const target = project.services[mode.slice('service:'.length)];
  if (!target) throw new ComposeError(`service ${JSON.stringify(mode.slice('service:'.length))} not found`);
  return `container:${firstContainerName(target)}`;
}

export interface EndpointOptions {
  containerName: string;
  useAliases: boolean;
  links: string[];
  /** The service-level mac_address, for the primary network only. */
  macAddress?: string;
}

export function endpointSettings(service: ServiceConfig, key: string, opts: EndpointOptions): EndpointSettings {
  const cfg: ServiceNetworkConfig | null = service.networks[key] ?? null;
  const aliases = [opts.containerName];
  if (opts.useAliases) aliases.push(service.name, ...(cfg?.aliases ?? []));
  const ep: EndpointSettings = { Aliases: aliases };
  if (opts.links.length) ep.Links = opts.links;
  const ipam: Record<string, unknown> = {};
  if (cfg?.ipv4_address) ipam.IPv4Address = cfg.ipv4_address;
  if (cfg?.ipv6_address) ipam.IPv6Address = cfg.ipv6_address;
  if (cfg?.link_local_ips?.length) ipam.LinkLocalIPs = cfg.link_local_ips;
  if (Object.keys(ipam).length) ep.IPAMConfig = ipam;
  const mac = cfg?.mac_address || opts.macAddress;
  if (cfg?.mac_address && opts.macAddress && cfg.mac_address !== opts.macAddress) {
    throw new ComposeError(`the service-level mac_address should have the same value as network ${key}`);
  }
  if (mac) ep.MacAddress = mac;
  if (cfg?.driver_opts && Object.keys(cfg.driver_opts).length) ep.DriverOpts = { ...cfg.driver_opts };
  if (cfg?.gw_priority) ep.GwPriority = cfg.gw_priority;
  return ep;
}

export interface ServiceNetworking {
  networkMode: string;
  /** The create body's NetworkingConfig (undefined with network_mode). */
  networkingConfig?: { EndpointsConfig: Record<string, EndpointSettings> };
  extraNetworks: Array<{ network: string; endpoint: EndpointSettings }>;
}

export function serviceNetworking(
  project: ComposeProject,
  service: ServiceConfig,
  opts: Omit<EndpointOptions, 'macAddress'>,
  firstContainerName: (svc: ServiceConfig) => string,
): ServiceNetworking {
  if (service.network_mode) {
    return { networkMode: resolveServiceMode(project, service.network_mode, firstContainerName), extraNetworks: [] };
  }
  if (Object.keys(project.networks).length === 0) return { networkMode: 'none', extraNetworks: [] };
  const ordered = networksByPriority(service);
  const primary = ordered[0] ?? 'default';
  const mobyName = (key: string) => {
    const net = project.networks[key];
    if (!net) throw new ComposeError(`service "${service.name}" refers to undefined network ${key}: invalid compose project`);
    return net.name;
  };
  const primaryName = mobyName(primary);
  return {
    networkMode: primaryName,
    networkingConfig: { EndpointsConfig: { [primaryName]: endpointSettings(service, primary, { ...opts, macAddress: service.mac_address }) } },
    extraNetworks: ordered.slice(1).map((key) => ({ network: mobyName(key), endpoint: endpointSettings(service, key, { ...opts }) })),
  };
}
