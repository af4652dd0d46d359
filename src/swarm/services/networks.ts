/**
 * The networks the cluster owns (overlays and the `ingress` network): create with a VNI and a subnet
 * from the cluster's address pool, list/inspect in the shape of the local network API, remove while no
 * service or task uses them. What swarmkit's controlapi/network.go and network allocator do, with their
 * words. The overlay part (networks/overlay/) makes each network real on the nodes from the NodeView.
 */
import { conflict, forbidden, invalidArgument, notFound } from '../../lib/errors.js';
import { Filters } from '../../lib/filters.js';
import { parseTimestampNs } from '../../lib/timestamps.js';
import { formatCidr, formatIPv4, maskOf, overlaps, parseCidr, parseIPv4, type Cidr } from '../../networks/ipam.js';
import type { CreateNetworkRequest } from '../../networks/contracts.js';
import type { SwarmStore } from '../contracts.js';
import type { ClusterNetwork, Service, Task } from '../types.js';
import { TASK_STATE_ORDER } from '../types.js';
import { newSwarmId } from './ids.js';
import { rpcError } from './rpc-errors.js';
import { validateName } from './spec.js';

export const VXLAN_ID_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';
/** VNIs of cluster networks start here, as Docker's overlay driver's. */
export const FIRST_VNI = 4096;
const DEFAULT_POOL = ['10.0.0.0/8'];
const DEFAULT_SUBNET_SIZE = 24;
const PREDEFINED = ['bridge', 'host', 'none', 'default'];

/** The cluster's address pool (Cluster.DefaultAddrPool / SubnetSize), Docker's defaults without a cluster object. */
async function addressPool(store: SwarmStore): Promise<{ pools: Cidr[]; size: number }> {
  const cluster = (await store.cluster.list())[0];
  const pools = (cluster?.DefaultAddrPool?.length ? cluster.DefaultAddrPool : DEFAULT_POOL).flatMap((p) => parseCidr(p) ?? []);
  return { pools, size: cluster?.SubnetSize || DEFAULT_SUBNET_SIZE };
}

/** The first subnet of `size` in the pools that overlaps none of `taken`. */
function pickSubnet(pools: Cidr[], size: number, taken: Cidr[]): Cidr | undefined {
  for (const pool of pools) {
    if (size < pool.prefix) continue;
    const step = 2 ** (32 - size);
    const count = 2 ** (size - pool.prefix);
    for (let i = 0; i < count; i++) {
      const cand = { addr: (pool.addr + i * step) >>> 0, prefix: size };
      if (!taken.some((t) => overlaps(t, cand))) return cand;
    }
  }
  return undefined;
}

/** A map with its keys in Go's JSON order (sorted). */
const sortedKeys = (m: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

const subnetsOf = (nets: ClusterNetwork[]): Cidr[] => nets.flatMap((n) => n.IPAMOptions.Configs.flatMap((c) => parseCidr(c.Subnet) ?? []));

function lowestFreeVni(nets: ClusterNetwork[]): number {
  const used = new Set(nets.map((n) => Number(n.DriverState.Options[VXLAN_ID_OPTION])));
  let vni = FIRST_VNI;
  while (used.has(vni)) vni++;
  return vni;
}

export function isIngress(n: ClusterNetwork): boolean {
  return Boolean(n.Spec.Ingress);
}

/** Whether a service needs the ingress network: it publishes a port in ingress mode. */
export function needsIngress(s: { Spec: { EndpointSpec?: Service['Spec']['EndpointSpec'] } }): boolean {
  return (s.Spec.EndpointSpec?.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress');
}

/** The networks a service's tasks attach to (TaskTemplate.Networks targets are cluster network IDs). */
export function serviceNetworkIds(s: Service): string[] {
  return (s.Spec.TaskTemplate.Networks ?? []).map((n) => n.Target);
}

/** What POST /networks/create takes for a cluster network (network.CreateRequest). */
export type ClusterNetworkRequest = CreateNetworkRequest;

/** Makes a cluster network in the store; shared by the API and ensureIngressNetwork. */
async function createNetwork(store: SwarmStore, req: ClusterNetworkRequest): Promise<ClusterNetwork> {
  const name = req.Name ?? '';
  if (req.Attachable && req.Ingress) throw rpcError('InvalidArgument', 'ingress network cannot be attachable');
  validateName(name);
  if ((req.Labels ?? {})['com.docker.swarm.predefined'] !== undefined) {
    throw rpcError('PermissionDenied', 'label com.docker.swarm.predefined is for internally created predefined networks and cannot be applied by users');
  }
  const driver = req.Driver || 'overlay';
  if (req.Ingress && driver !== 'overlay') throw rpcError('Unimplemented', 'only overlay driver is currently supported for ingress network');
  if (driver !== 'overlay') throw rpcError('InvalidArgument', `plugin ${driver} not supported`);
  const ipamDriver = req.IPAM?.Driver || 'default';
  if (ipamDriver !== 'default') throw rpcError('InvalidArgument', `plugin ${ipamDriver} not supported`);
  const configs = (req.IPAM?.Config ?? []).filter((c) => !(c.Subnet ?? '').includes(':'));
  if (configs.length > 1) throw invalidArgument('only one IPv4 subnet per network is supported');
  const cfg = configs[0] ?? {};

  const existing = await store.networks.list();
  if (existing.some((n) => n.Spec.Name.toLowerCase() === name.toLowerCase())) throw conflict(`network with name ${name} already exists`);
  const ingress = existing.find(isIngress);
  if (req.Ingress && ingress) throw rpcError('AlreadyExists', `ingress network (${ingress.ID}) is already present`);

  let subnet: Cidr | undefined;
  let gateway: number | undefined;
  if (cfg.Subnet) {
    subnet = parseCidr(cfg.Subnet);
    if (!subnet || cfg.Subnet.includes(':')) throw rpcError('InvalidArgument', `ipam configuration: invalid subnet ${cfg.Subnet}`);
    if (subnetsOf(existing).some((t) => overlaps(t, subnet!))) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
  } else {
    const { pools, size } = await addressPool(store);
    subnet = pickSubnet(pools, size, subnetsOf(existing));
    if (!subnet) throw invalidArgument('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  }
  if (cfg.IPRange) {
    const range = parseCidr(cfg.IPRange);
    if (!range) throw rpcError('InvalidArgument', `ipam configuration: invalid range ${cfg.IPRange}`);
    if (range.prefix < subnet.prefix || !overlaps(range, subnet)) throw rpcError('InvalidArgument', `ipam configuration: subnet ${cfg.Subnet} does not contain range ${cfg.IPRange}`);
  }
  if (cfg.Gateway) {
    gateway = parseIPv4(cfg.Gateway);
    if (gateway === undefined) throw rpcError('InvalidArgument', `ipam configuration: invalid gateway ${cfg.Gateway}`);
    if (((gateway & maskOf(subnet.prefix)) >>> 0) !== subnet.addr) throw rpcError('InvalidArgument', `ipam configuration: subnet ${cfg.Subnet} does not contain gateway ${cfg.Gateway}`);
  }
  gateway ??= subnet.addr + 1;

  // A VNI the user asked for (--opt com.docker.network.driver.overlay.vxlanid_list=N) is kept when free.
  const asked = req.Options?.[VXLAN_ID_OPTION];
  let vni = lowestFreeVni(existing);
  if (asked !== undefined) {
    vni = Number(asked);
    if (!/^\d+$/.test(asked) || vni < 1 || vni > 0xffffff) throw invalidArgument(`invalid VXLAN id: ${asked}`);
    if (existing.some((n) => Number(n.DriverState.Options[VXLAN_ID_OPTION]) === vni)) throw conflict(`VXLAN id ${vni} is already in use`);
  }
  const specIpam: ClusterNetwork['Spec']['IPAMOptions'] = { Driver: { Name: ipamDriver, ...(req.IPAM?.Options ? { Options: req.IPAM.Options } : {}) } };
  if (configs.length) specIpam.Configs = configs.map((c) => ({ ...(c.Subnet ? { Subnet: c.Subnet } : {}), ...(c.Gateway ? { Gateway: c.Gateway } : {}), ...(c.IPRange ? { Range: c.IPRange } : {}) }));
  const net: ClusterNetwork = {
    ID: newSwarmId(),
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: {
      Name: name,
      Labels: req.Labels ?? {},
      DriverConfiguration: { Name: 'overlay', ...(req.Options && Object.keys(req.Options).length ? { Options: req.Options } : {}) },
      IPAMOptions: specIpam,
      Internal: Boolean(req.Internal),
      Attachable: Boolean(req.Attachable),
      Ingress: Boolean(req.Ingress),
      Scope: 'swarm',
    },
    // The driver's options as the overlay allocator returns them: the VNI, then what the user gave (e.g. "encrypted").
    DriverState: { Name: 'overlay', Options: sortedKeys({ ...(req.Options ?? {}), [VXLAN_ID_OPTION]: String(vni) }) },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: formatCidr(subnet), Gateway: formatIPv4(gateway) }] },
  };
  return store.networks.create(net);
}

/**
 * The `ingress` network, made when the swarm is initialized (10.0.0.0/24 when the pool has it, as
 * Docker's). Returns the existing one when there is one.
 */
export async function ensureIngressNetwork(store: SwarmStore): Promise<ClusterNetwork> {
  const existing = (await store.networks.list()).find(isIngress);
  if (existing) return existing;
  return createNetwork(store, { Name: 'ingress', Driver: 'overlay', Ingress: true, Labels: {} });
}

/** dockerd's network JSON (network.Summary / network.Inspect) for a cluster network. */
export function clusterNetworkView(n: ClusterNetwork, inspect = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Name: n.Spec.Name,
    Id: n.ID,
    Created: n.CreatedAt,
    Scope: 'swarm',
    Driver: n.DriverState.Name,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: {
      Driver: n.IPAMOptions.Driver.Name,
      Options: n.Spec.IPAMOptions?.Driver?.Options ?? null,
      Config: n.IPAMOptions.Configs.map((c) => ({ Subnet: c.Subnet, Gateway: c.Gateway })),
    },
    Internal: Boolean(n.Spec.Internal),
    Attachable: Boolean(n.Spec.Attachable),
    Ingress: Boolean(n.Spec.Ingress),
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
  };
  if (inspect) out.Containers = {};
  out.Options = n.DriverState.Options;
  out.Labels = n.Spec.Labels ?? {};
  return out;
}

/** Docker's network filter match: the value as a regular expression anywhere in the string, else a substring. */
function matches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return value.includes(pattern);
  }
}

const LIVE = TASK_STATE_ORDER.indexOf('running');

/** The cluster side of /networks on a manager. */
export class ClusterNetworkApi {
  constructor(private readonly store: () => SwarmStore) {}

  create(req: ClusterNetworkRequest): Promise<ClusterNetwork> {
    if (PREDEFINED.includes(req.Name ?? '')) return Promise.reject(forbidden(`${req.Name} is a pre-defined network and cannot be created`));
    return createNetwork(this.store(), req);
  }

  async list(filtersRaw?: string): Promise<Array<Record<string, unknown>>> {
    const f = Filters.parse(filtersRaw, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    for (const t of f.get('type')) if (t !== 'custom' && t !== 'builtin') throw invalidArgument(`invalid filter: 'type'='${t}'`);
    const dangling = f.bool('dangling');
    const store = this.store();
    const nets = await store.networks.list();
    const used = dangling === undefined ? new Set<string>() : new Set((await store.services.list()).flatMap(serviceNetworkIds));
    return nets
      .filter((n) => {
        if (f.has('name') && !f.get('name').some((v) => matches(v, n.Spec.Name))) return false;
        if (f.has('id') && !f.get('id').some((v) => matches(v, n.ID))) return false;
        if (f.has('driver') && !f.get('driver').includes(n.DriverState.Name)) return false;
        if (f.has('scope') && !f.get('scope').includes('swarm')) return false;
        if (f.has('type') && !f.get('type').includes('custom')) return false;
        if (!f.matchLabels(n.Spec.Labels)) return false;
        if (dangling !== undefined && dangling !== (!isIngress(n) && !used.has(n.ID))) return false;
        return true;
      })
      .sort((a, b) => (a.Spec.Name < b.Spec.Name ? -1 : 1))
      .map((n) => clusterNetworkView(n));
  }

  /** By full ID, full name, then unique ID prefix (dockerd's getNetwork); undefined when none. */
  async tryResolve(ref: string): Promise<ClusterNetwork | undefined> {
    const nets = await this.store().networks.list();
    const byId = nets.find((n) => n.ID === ref);
    if (byId) return byId;
    const byName = nets.filter((n) => n.Spec.Name.toLowerCase() === ref.toLowerCase());
    if (byName.length > 1) throw invalidArgument(`network ${ref} is ambiguous (${byName.length} matches found)`);
    if (byName.length === 1) return byName[0];
    const byPrefix = ref ? nets.filter((n) => n.ID.startsWith(ref)) : [];
    if (byPrefix.length > 1) throw invalidArgument(`network ${ref} is ambiguous (${byPrefix.length} matches found)`);
    return byPrefix[0];
  }

  async resolve(ref: string): Promise<ClusterNetwork> {
    const n = await this.tryResolve(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }

  async inspect(ref: string): Promise<Record<string, unknown>> {
    return clusterNetworkView(await this.resolve(ref), true);
  }

  /**
   * dockerd's cluster side of `network prune`: every cluster network but ingress that nothing uses
   * (filters until, label, label!); returns the names removed.
   */
  async prune(filtersRaw?: string): Promise<string[]> {
    const f = Filters.parse(filtersRaw, ['until', 'label', 'label!']);
    const until = f.get('until').map((v) => parseTimestampNs(v) / 1e6);
    const removed: string[] = [];
    for (const n of await this.store().networks.list()) {
      if (isIngress(n) || !f.matchLabels(n.Spec.Labels)) continue;
      if (f.get('label!').some((cond) => Filters.parse(JSON.stringify({ label: [cond] }), ['label']).matchLabels(n.Spec.Labels))) continue;
      if (until.some((u) => Date.parse(n.CreatedAt) > u)) continue;
      try {
        await this.remove(n.ID);
        removed.push(n.Spec.Name);
      } catch {
        // In use: not pruned, as dockerd.
      }
    }
    return removed;
  }

  async remove(ref: string): Promise<void> {
    const store = this.store();
    const n = await this.resolve(ref);
    const services = await store.services.list();
    if (isIngress(n)) {
      const user = services.find(needsIngress);
      if (user) throw rpcError('FailedPrecondition', `ingress network cannot be removed because service ${user.ID} depends on it`);
    } else {
      const user = services.find((s) => serviceNetworkIds(s).includes(n.ID));
      if (user) throw rpcError('FailedPrecondition', `network ${n.ID} is in use by service ${user.ID}`);
      const tasks: Task[] = await store.tasks.list();
      // A task whose service is gone is being removed (swarmkit marks it so at once; the orchestrator
      // here does it a moment later): it does not hold the network, or `stack rm` could not remove it.
      const serviceIds = new Set(services.map((s) => s.ID));
      const live = tasks.find(
        (t) =>
          serviceIds.has(t.ServiceID) &&
          (t.NetworksAttachments ?? []).some((a) => a.Network.ID === n.ID) &&
          TASK_STATE_ORDER.indexOf(t.DesiredState) <= LIVE &&
          TASK_STATE_ORDER.indexOf(t.Status.State) <= LIVE,
      );
      if (live) throw rpcError('FailedPrecondition', `network ${n.ID} is in use by task ${live.ID}`);
    }
    try {
      await store.networks.delete(n.ID);
    } catch (err) {
      if ((err as { kind?: string }).kind === 'NotFound') throw rpcError('NotFound', `network ${n.ID} not found`);
      throw err;
    }
  }
}
