/**
 * Docker's JSON shapes for networks (GET /networks, GET /networks/{id}) and for a container's
 * NetworkSettings. Pure functions over the records.
 */
import type { EndpointRecord, EndpointState, NetworkRecord } from './model.js';
import { normalizeMac } from './mac.js';

export interface AttachedContainer {
  id: string;
  name: string;
  endpoint: EndpointState;
}

export function networkView(n: NetworkRecord, containers?: AttachedContainer[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: n.scope ?? 'local',
    Driver: n.driver,
    EnableIPv4: n.driver === 'bridge' || n.driver === 'overlay' || Boolean(n.remote),
    EnableIPv6: n.enableIPv6,
    IPAM: {
      Driver: n.ipam.Driver,
      Options: n.ipam.Options,
      Config: n.driver === 'bridge' || n.driver === 'overlay' || n.remote ? n.ipam.Config : null,
    },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: Boolean(n.ingress),
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
  };
  if (containers) {
    const map: Record<string, unknown> = {};
    for (const c of [...containers].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      map[c.id] = {
        Name: c.name,
        EndpointID: c.endpoint.endpointId,
        MacAddress: c.endpoint.mac,
        IPv4Address: `${c.endpoint.ip}/${c.endpoint.prefix}`,
        IPv6Address: c.endpoint.ip6 ? `${c.endpoint.ip6}/${c.endpoint.prefix6}` : '',
      };
    }
    out.Containers = map;
  }
  out.Options = n.options;
  out.Labels = n.labels;
  return out;
}

/** One entry of NetworkSettings.Networks. */
export function endpointView(rec: EndpointRecord, networkId: string, state: EndpointState | undefined, dnsNames: string[] | null): Record<string, unknown> {
  const aliases = rec.config.Aliases?.length ? [...rec.config.Aliases] : null;
  return {
    IPAMConfig: rec.config.IPAMConfig ?? null,
    Links: rec.config.Links?.length ? rec.config.Links : null,
    Aliases: aliases,
    // A stopped container shows the address it asked for, as dockerd keeps it in the endpoint settings.
    MacAddress: state?.mac ?? ((rec.config.MacAddress && normalizeMac(rec.config.MacAddress)) || ''),
    DriverOpts: rec.config.DriverOpts ?? null,
    GwPriority: rec.config.GwPriority ?? 0,
    NetworkID: networkId,
    EndpointID: state?.endpointId ?? '',
    Gateway: state?.gateway ?? '',
    IPAddress: state?.ip ?? '',
    IPPrefixLen: state?.prefix ?? 0,
    IPv6Gateway: state?.gateway6 ?? '',
    GlobalIPv6Address: state?.ip6 ?? '',
    GlobalIPv6PrefixLen: state?.prefix6 ?? 0,
    DNSNames: dnsNames,
  };
}
