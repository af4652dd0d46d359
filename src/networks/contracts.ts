/**
 * What the network modules share: the daemon's network settings, what they need to know of a container
 * (and how they find one), the container service's view of networking, and Docker's option names.
 *
 * Lifecycle: types and constants only.
 */
import type { EndpointConfig, NetworkRecord } from './model.js';

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
  config: { Hostname?: string; ExposedPorts?: unknown; Labels?: Record<string, string> | null };
  hostConfig: {
    NetworkMode?: string;
    PortBindings?: unknown;
    PublishAllPorts?: unknown;
    Dns?: string[] | null;
    ExtraHosts?: string[] | null;
  };
  state: { Running: boolean };
}

/** How networking finds a container by id (the container service's records). */
export interface ContainerLookup {
  get(id: string): NetContainer | undefined;
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

export const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
export const OPT_MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
export const OPT_ICC = 'com.docker.network.bridge.enable_icc';
export const OPT_HOST_BINDING = 'com.docker.network.bridge.host_binding_ipv4';
export const OPT_MTU = 'com.docker.network.driver.mtu';

export function networkModeOf(mode: string | undefined): string {
  return !mode || mode === 'default' ? 'bridge' : mode;
}

/** The label of a swarm task's container: such a container may join a non-attachable overlay. */
export const LABEL_SWARM_TASK = 'com.docker.swarm.task.id';

/** An overlay's MTU is VXLAN's: 1500 less 50 bytes of encapsulation, as Docker's. */
export const OVERLAY_MTU = 1450;

export function mtuOf(n: NetworkRecord): number | undefined {
  const v = n.options[OPT_MTU];
  return v ? Number(v) : n.driver === 'overlay' ? OVERLAY_MTU : undefined;
}

/**
 * Addresses on attachable swarm overlays for containers outside services: the swarm's managers hand them
 * out (a node allocating from its own pool would give what another node's task has). Set by the swarm
 * wiring (daemon/swarm.ts) while the node is in a swarm.
 */
export interface SwarmAttachments {
  /** The container's address on the cluster network (CIDR or bare), the same one again if it has one. */
  allocate(networkId: string, containerId: string): Promise<string>;
  /** Gives it back; a failure is the caller's to log. */
  release(networkId: string, containerId: string): Promise<void>;
}
