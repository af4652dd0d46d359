/**
 * The network model: networks, a container's endpoint settings on them (what it asked for, kept while
 * it exists), and its sandbox (what is in place while it runs: network namespace, interfaces,
 * addresses, published ports). Field names of API shapes follow the Engine API.
 */
import type { PortMapping } from './ports.js';

/** overlay: the local twin of a swarm's overlay network (networks/overlay/). */
/** Any other name: a network driver plugin's (networks/remote.ts; the record's `remote` is set). */
export type NetworkDriver = 'bridge' | 'host' | 'null' | 'overlay' | (string & {});

export interface IpamConfigEntry {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  id: string;
  name: string;
  created: string;
  driver: NetworkDriver;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
  /** The IPAM section as inspect shows it (Config filled in with the chosen subnet and gateway). */
  ipam: { Driver: string; Options: Record<string, string> | null; Config: IpamConfigEntry[] };
  /** Whether the user chose the subnet (static container addresses need it, as in Docker). */
  userSubnet: boolean;
  /** Whether the user chose the IPv6 subnet (static IPv6 addresses need it). */
  userSubnet6?: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  /** The Linux bridge, for bridge networks (and overlays: their devices are made by networks/overlay/). */
  bridge?: string;
  /** "swarm" for the twins of a swarm's networks; local otherwise. */
  scope?: 'local' | 'swarm';
  /** The swarm's ingress network (routing mesh). */
  ingress?: boolean;
  /** bridge, host, none: made by the daemon, never removed. */
  predefined: boolean;
  /** The network's devices are made by the network driver plugin named by `driver` (networks/remote.ts). */
  remote?: boolean;
  /** The pool an IPAM plugin (ipam.Driver) gave; container addresses come from it. */
  remotePool?: { poolId: string; gateway: string };
}

/** EndpointSettings as clients send them (NetworkingConfig.EndpointsConfig, network connect). */
export interface EndpointConfig {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
  GwPriority?: number;
  NetworkID?: string;
}

/** A container's membership of a network; exists from create (or connect) until rm (or disconnect). */
export interface EndpointRecord {
  containerId: string;
  /** The container's name when it joined (dockerd's endpoint name), to find the endpoint once the container is gone. */
  containerName?: string;
  networkId: string;
  /** The name the container knows the network by (its key in NetworkSettings.Networks). */
  networkName: string;
  config: EndpointConfig;
}

/** One interface of a running container. */
export interface EndpointState {
  networkId: string;
  endpointId: string;
  ip: string;
  prefix: number;
  gateway: string;
  /** The IPv6 address, prefix length and gateway, on networks with IPv6 enabled. */
  ip6?: string;
  prefix6?: number;
  gateway6?: string;
  mac: string;
  /** Host end of the veth pair, on the network's bridge. */
  veth: string;
  /** Name inside the container (eth0, eth1, ...). */
  ifname: string;
  /**
   * The interface was made by a network driver plugin (its SrcName, moved in and renamed): the plugin is
   * told Leave and DeleteEndpoint when it goes, and it goes back to the host under that name.
   */
  remoteSrcName?: string;
  /** The address came from an IPAM plugin's pool: given back to it when the endpoint goes. */
  remotePoolId?: string;
  /** The address was the swarm's (an attachable overlay, no --ip): given back when the endpoint goes. */
  swarmAttachment?: boolean;
}

/** What is in place for a running container; persisted so a restarted daemon can adopt or undo it. */
export interface SandboxRecord {
  containerId: string;
  id: string;
  /** Name of the namespace under /run/netns. */
  netns: string;
  endpoints: EndpointState[];
  ports: PortMapping[];
  /** Network whose gateway is the default route (and whose address published ports lead to). */
  gatewayNetwork?: string;
  /** Whether the embedded DNS serves this container. */
  dns: boolean;
}

export const PREDEFINED = ['bridge', 'host', 'none'] as const;
