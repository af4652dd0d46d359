/**
 * libnetwork's remote driver protocol (docs/plugins.md, "Network and IPAM plugins"): a network driver
 * plugin (NetworkDriver.*) makes a network's devices and each endpoint's interface, which Berth then moves
 * into the container's namespace; an IPAM plugin (IpamDriver.*) hands out a network's pool and its
 * addresses. These are thin typed wrappers over PluginHandle.call with the request and answer shapes of
 * moby's libnetwork/drivers/remote/api and libnetwork/ipams/remote/api.
 *
 * Lifecycle: stateless; the plugin is looked up in the registry at every use (a restarted plugin is
 * activated again by the registry).
 */
import type { PluginHandle, PluginRegistry } from '../plugins/contracts.js';
import { BerthError, invalidArgument, notFound } from '../lib/errors.js';

/** The Options key under which libnetwork passes the user's `-o` driver options. */
export const GENERIC_OPTIONS = 'com.docker.network.generic';
/** RequestAddress's option asking for the network's gateway address. */
const REQUEST_ADDRESS_TYPE = 'RequestAddressType';
const GATEWAY_ADDRESS_TYPE = 'com.docker.network.gateway';

/** Builtin drivers that never go to a plugin. */
export const BUILTIN_NETWORK_DRIVERS = ['bridge', 'host', 'null', 'overlay', 'macvlan', 'ipvlan'];

/** A plugin's answer shapes. */
export interface JoinAnswer {
  InterfaceName?: { SrcName?: string; DstPrefix?: string } | null;
  Gateway?: string;
  GatewayIPv6?: string;
  StaticRoutes?: Array<{ Destination: string; RouteType: number; NextHop?: string }> | null;
  DisableGatewayService?: boolean;
}

interface PoolAnswer {
  PoolID?: string;
  Pool?: string;
  Data?: Record<string, string> | null;
}

/** Found plugins, with dockerd's wording when there is no registry or no such plugin. */
async function pluginFor(plugins: PluginRegistry | undefined, name: string, capability: 'NetworkDriver' | 'IpamDriver'): Promise<PluginHandle> {
  if (!plugins) throw notFound(`plugin "${name}" not found`);
  return plugins.get(name, capability);
}

/** Calls a plugin method; an error keeps its kind (the registry's) and says which plugin answered. */
async function call<T>(p: PluginHandle, method: string, body: unknown): Promise<T> {
  const answer = await p.call<T & { Err?: string }>(method, body);
  // A registry may hand back {"Err": ...} answered with 200: dockerd reports it as "remote: <text>".
  const err = answer && typeof answer === 'object' ? (answer as { Err?: unknown }).Err : undefined;
  if (typeof err === 'string' && err) throw new BerthError('Internal', `remote: ${err}`);
  return (answer ?? {}) as T;
}

export class RemoteNetworkDriver {
  private constructor(private readonly plugin: PluginHandle) {}

  static async get(plugins: PluginRegistry | undefined, name: string): Promise<RemoteNetworkDriver> {
    return new RemoteNetworkDriver(await pluginFor(plugins, name, 'NetworkDriver'));
  }

  /** "local" or "global"; Berth serves local networks only. */
  async scope(): Promise<string> {
    const caps = await call<{ Scope?: string }>(this.plugin, 'NetworkDriver.GetCapabilities', {});
    return caps.Scope || 'local';
  }

  createNetwork(req: { NetworkID: string; Options: Record<string, unknown>; IPv4Data: Array<{ AddressSpace: string; Pool: string; Gateway: string; AuxAddresses?: Record<string, string> }>; IPv6Data: unknown[] }): Promise<unknown> {
    return call(this.plugin, 'NetworkDriver.CreateNetwork', req);
  }

  deleteNetwork(networkId: string): Promise<unknown> {
    return call(this.plugin, 'NetworkDriver.DeleteNetwork', { NetworkID: networkId });
  }

  /** The interface as the plugin leaves it: it may only fill in what Berth left empty. */
  async createEndpoint(req: { NetworkID: string; EndpointID: string; Interface: { Address: string; AddressIPv6: string; MacAddress: string }; Options: Record<string, unknown> }): Promise<{ Address?: string; MacAddress?: string }> {
    const out = await call<{ Interface?: { Address?: string; AddressIPv6?: string; MacAddress?: string } | null }>(this.plugin, 'NetworkDriver.CreateEndpoint', req);
    const iface = out.Interface ?? {};
    // As libnetwork: a driver may not change an address or MAC it was given.
    if (iface.Address && req.Interface.Address && iface.Address !== req.Interface.Address) throw invalidArgument(`driver modified interface address: cannot do that`);
    if (iface.MacAddress && req.Interface.MacAddress && iface.MacAddress.toLowerCase() !== req.Interface.MacAddress.toLowerCase()) throw invalidArgument(`driver modified interface MAC address: cannot do that`);
    return iface;
  }

  async join(req: { NetworkID: string; EndpointID: string; SandboxKey: string; Options: Record<string, unknown> }): Promise<{ srcName: string; dstPrefix: string; gateway?: string; routes: Array<{ Destination: string; RouteType: number; NextHop?: string }> }> {
    const out = await call<JoinAnswer>(this.plugin, 'NetworkDriver.Join', req);
    const srcName = out.InterfaceName?.SrcName ?? '';
    const dstPrefix = out.InterfaceName?.DstPrefix ?? '';
    // libnetwork refuses a Join without an interface to move; so does Berth.
    if (!srcName || !dstPrefix) throw invalidArgument('no interface name information received from the network plugin');
    return { srcName, dstPrefix, gateway: out.Gateway || undefined, routes: out.StaticRoutes ?? [] };
  }

  leave(networkId: string, endpointId: string): Promise<unknown> {
    return call(this.plugin, 'NetworkDriver.Leave', { NetworkID: networkId, EndpointID: endpointId });
  }

  deleteEndpoint(networkId: string, endpointId: string): Promise<unknown> {
    return call(this.plugin, 'NetworkDriver.DeleteEndpoint', { NetworkID: networkId, EndpointID: endpointId });
  }
}

/** A pool an IPAM plugin gave: what a network record keeps of it. */
export interface RemotePool {
  poolId: string;
  /** "10.9.0.0/24" */
  pool: string;
  /** "10.9.0.1/24", the gateway as the plugin gave it (with prefix). */
  gateway: string;
}

export class RemoteIpam {
  private constructor(private readonly plugin: PluginHandle) {}

  static async get(plugins: PluginRegistry | undefined, name: string): Promise<RemoteIpam> {
    return new RemoteIpam(await pluginFor(plugins, name, 'IpamDriver'));
  }

  /**
   * RequestPool then the gateway's address, as libnetwork does at network create; the pool is given back
   * if the gateway cannot be had (nothing half-made).
   */
  async requestPool(req: { Pool?: string; SubPool?: string; Gateway?: string; Options?: Record<string, string> | null }): Promise<RemotePool> {
    await call(this.plugin, 'IpamDriver.GetCapabilities', {}).catch(() => ({})); // optional in the protocol
    const spaces = await call<{ LocalDefaultAddressSpace?: string }>(this.plugin, 'IpamDriver.GetDefaultAddressSpaces', {});
    const out = await call<PoolAnswer>(this.plugin, 'IpamDriver.RequestPool', {
      AddressSpace: spaces.LocalDefaultAddressSpace ?? '',
      Pool: req.Pool ?? '',
      SubPool: req.SubPool ?? '',
      Options: req.Options ?? {},
      V6: false,
    });
    if (!out.PoolID || !out.Pool) throw invalidArgument('the IPAM plugin answered RequestPool without a PoolID or Pool');
    const poolId = out.PoolID;
    try {
      let gateway = out.Data?.[GATEWAY_ADDRESS_TYPE];
      if (!gateway || req.Gateway) gateway = await this.requestAddress(poolId, req.Gateway, true);
      return { poolId, pool: out.Pool, gateway: withPrefix(gateway, out.Pool) };
    } catch (err) {
      await this.releasePool(poolId).catch(() => {}); // the error that matters is the first one
      throw err;
    }
  }

  /** An address ("10.9.0.2/24"); `address` asks for that one. */
  async requestAddress(poolId: string, address?: string, gateway = false): Promise<string> {
    const out = await call<{ Address?: string }>(this.plugin, 'IpamDriver.RequestAddress', {
      PoolID: poolId,
      Address: address ?? '',
      Options: gateway ? { [REQUEST_ADDRESS_TYPE]: GATEWAY_ADDRESS_TYPE } : {},
    });
    if (!out.Address) throw invalidArgument('the IPAM plugin answered RequestAddress without an Address');
    return out.Address;
  }

  releaseAddress(poolId: string, address: string): Promise<unknown> {
    return call(this.plugin, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: address.split('/')[0] });
  }

  releasePool(poolId: string): Promise<unknown> {
    return call(this.plugin, 'IpamDriver.ReleasePool', { PoolID: poolId });
  }
}

/** "10.9.0.1" in pool "10.9.0.0/24" -> "10.9.0.1/24". */
function withPrefix(address: string, pool: string): string {
  return address.includes('/') ? address : `${address}/${pool.split('/')[1] ?? '32'}`;
}
