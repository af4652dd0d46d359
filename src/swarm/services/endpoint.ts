/**
 * A service's endpoint: its virtual IPs (one per network its tasks attach to, plus the ingress network
 * when it publishes ingress ports) and its published ports (an ingress port published as 0 gets a free
 * one from 30000-32767). Allocated when the service is created or updated, kept across updates for
 * what did not change, freed with the service (they are part of it).
 */
import { unavailable } from '../../lib/errors.js';
import type { SwarmStore } from '../contracts.js';
import type { ClusterNetwork, PortConfig, Service, ServiceSpec } from '../types.js';
import { pickFree, poolOf, usedAddresses, withPrefix, addressOf } from './addresses.js';
import { isIngress, needsIngress } from './networks.js';
import { rpcError } from './rpc-errors.js';
import { normalizePort } from './spec.js';

export const DYNAMIC_PORT_START = 30000;
export const DYNAMIC_PORT_END = 32767;

const samePort = (a: PortConfig, b: PortConfig) =>
  (a.Name ?? '') === (b.Name ?? '') && a.Protocol === b.Protocol && a.TargetPort === b.TargetPort && a.PublishMode === b.PublishMode;

/**
 * swarmkit's checkPortConflicts: a published port another service holds (in its spec or its endpoint).
 * `selfId` is skipped (an update).
 */
export function checkPortConflicts(spec: ServiceSpec, services: Service[], selfId?: string): void {
  const mine = (spec.EndpointSpec?.Ports ?? []).filter((p) => p.PublishedPort);
  if (!mine.length) return;
  const key = (p: PortConfig) => `${p.Protocol ?? 'tcp'}/${p.PublishedPort}`;
  const ingress = new Set(mine.filter((p) => p.PublishMode !== 'host').map(key));
  const host = new Set(mine.filter((p) => p.PublishMode === 'host').map(key));
  for (const s of services) {
    if (s.ID === selfId) continue;
    for (const p of [...(s.Spec.EndpointSpec?.Ports ?? []), ...(s.Endpoint?.Ports ?? [])]) {
      if (!p.PublishedPort) continue;
      if (p.PublishMode === 'host') {
        if (ingress.has(key(p))) throw rpcError('InvalidArgument', `port '${p.PublishedPort}' is already in use by service '${s.Spec.Name}' (${s.ID}) as a host-published port`);
      } else if (ingress.has(key(p)) || host.has(key(p))) {
        throw rpcError('InvalidArgument', `port '${p.PublishedPort}' is already in use by service '${s.Spec.Name}' (${s.ID}) as an ingress port`);
      }
    }
  }
}

/** The endpoint for `spec` (VIPs and ports), keeping what `current` already has where it still fits. */
export async function allocateEndpoint(store: SwarmStore, spec: ServiceSpec, current?: Service): Promise<Service['Endpoint']> {
  const endpoint: Service['Endpoint'] = { Spec: structuredClone(spec.EndpointSpec ?? {}) };
  const services = (await store.services.list()).filter((s) => s.ID !== current?.ID);

  const specPorts = spec.EndpointSpec?.Ports ?? [];
  if (specPorts.length) {
    const taken = new Set(services.flatMap((s) => (s.Endpoint?.Ports ?? []).filter((p) => p.PublishMode !== 'host' && p.PublishedPort).map((p) => `${p.Protocol}/${p.PublishedPort}`)));
    for (const p of specPorts) if (p.PublishMode !== 'host' && p.PublishedPort) taken.add(`${p.Protocol}/${p.PublishedPort}`);
    const previous = [...(current?.Endpoint?.Ports ?? [])];
    const assignPort = (port: PortConfig): void => {
      if (port.PublishMode === 'host' || port.PublishedPort) return;
      // An update keeps the port it gave before for the same target.
      const i = previous.findIndex((q) => samePort(q, port) && q.PublishedPort && !taken.has(`${q.Protocol}/${q.PublishedPort}`));
      if (i >= 0) {
        port.PublishedPort = previous.splice(i, 1)[0]!.PublishedPort;
        taken.add(`${port.Protocol}/${port.PublishedPort}`);
        return;
      }
      for (let n = DYNAMIC_PORT_START; n <= DYNAMIC_PORT_END; n++) {
        if (!taken.has(`${port.Protocol}/${n}`)) {
          taken.add(`${port.Protocol}/${n}`);
          port.PublishedPort = n;
          return;
        }
      }
      throw unavailable('no available port in the dynamic range 30000-32767');
    };
    endpoint.Ports = specPorts.map((p) => {
      const port = { ...p };
      assignPort(port);
      return normalizePort(port);
    });
  }

  if ((spec.EndpointSpec?.Mode ?? 'vip') === 'vip') {
    const networks = await store.networks.list();
    const wanted: ClusterNetwork[] = [];
    if (needsIngress({ Spec: spec })) {
      const ingress = networks.find(isIngress);
      if (ingress) wanted.push(ingress);
    }
    for (const a of spec.TaskTemplate.Networks ?? []) {
      const n = networks.find((x) => x.ID === a.Target);
      if (n && !wanted.includes(n)) wanted.push(n);
    }
    if (wanted.length) {
      const used = await usedAddresses(store);
      // Our own current VIPs are in `used`; keeping one means it stays ours.
      const mine = new Map((current?.Endpoint?.VirtualIPs ?? []).map((v) => [v.NetworkID, v.Addr]));
      endpoint.VirtualIPs = [];
      for (const n of wanted) {
        const pool = poolOf(n);
        if (!pool) continue;
        const kept = mine.get(n.ID);
        if (kept !== undefined && addressOf(kept) !== undefined) {
          endpoint.VirtualIPs.push({ NetworkID: n.ID, Addr: kept });
          continue;
        }
        const taken = used.get(n.ID) ?? new Set<number>();
        const ip = pickFree(pool, taken, 'high');
        if (ip === undefined) throw rpcError('Unknown', `could not allocate VIP from IPAM: no available IPv4 addresses on network ${n.Spec.Name}`);
        taken.add(ip);
        used.set(n.ID, taken);
        endpoint.VirtualIPs.push({ NetworkID: n.ID, Addr: withPrefix(ip, pool) });
      }
    }
  }
  return endpoint;
}

const portKey = (p: PortConfig) => `${p.Protocol ?? 'tcp'}/${p.PublishedPort}`;
const isIngressPort = (p: PortConfig) => p.PublishMode !== 'host' && Boolean(p.PublishedPort);

/**
 * Two managers can serve creates at the same time, each choosing a dynamic port or a VIP the other also
 * chose. After its write, a service checks the store: where a service with a lower ID holds the same
 * dynamic ingress port or VIP, it gives its own up and takes another (the lower ID keeps; both sides
 * agree without talking). Ports the spec names itself are left as they are.
 */
export async function settleEndpoint(store: SwarmStore, serviceId: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const services = await store.services.list();
    const me = services.find((s) => s.ID === serviceId);
    if (!me) return;
    const first = services.filter((s) => s.ID < me.ID);
    const ports = new Set(first.flatMap((s) => (s.Endpoint?.Ports ?? []).filter(isIngressPort).map(portKey)));
    const vips = new Set(first.flatMap((s) => (s.Endpoint?.VirtualIPs ?? []).map((v) => `${v.NetworkID} ${addressOf(v.Addr)}`)));
    const named = new Set((me.Spec.EndpointSpec?.Ports ?? []).filter(isIngressPort).map(portKey));
    const badPort = (p: PortConfig) => isIngressPort(p) && ports.has(portKey(p)) && !named.has(portKey(p));
    const badVip = (v: { NetworkID: string; Addr: string }) => vips.has(`${v.NetworkID} ${addressOf(v.Addr)}`);
    const ep = me.Endpoint ?? { Spec: {} };
    if (!(ep.Ports ?? []).some(badPort) && !(ep.VirtualIPs ?? []).some(badVip)) return;
    const keep: Service = { ...me, Endpoint: { ...ep, Ports: (ep.Ports ?? []).filter((p) => !badPort(p)), VirtualIPs: (ep.VirtualIPs ?? []).filter((v) => !badVip(v)) } };
    try {
      await store.services.update({ ...me, Endpoint: await allocateEndpoint(store, me.Spec, keep) });
    } catch (err) {
      if ((err as { kind?: string }).kind !== 'Conflict') throw err;
    }
  }
}
