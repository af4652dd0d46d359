/**
 * Whether a service's converted spec differs from the one the cluster holds, so a redeploy updates only
 * the services whose definition changed. The daemon stores a spec with its defaults filled in
 * (dockerd's conversion: Runtime, Isolation, restart condition "any", update defaults, "vip", tcp,
 * ingress, one replica...) and network names turned into IDs; both sides are brought to one form
 * (defaults filled, networks by ID, zero values dropped as Go's omitempty drops them, lists whose order
 * carries no meaning sorted) before comparing.
 */
import type { NetworkAttachmentConfig, ServiceSpec, UpdateConfig } from '../swarm/types.js';

type Dict = Record<string, unknown>;

/** Network name -> ID (and IDs to themselves) for the attachments' targets. */
export type NetworkIds = (target: string) => string;

export function sameServiceSpec(wanted: ServiceSpec, stored: ServiceSpec, networkId: NetworkIds = (t) => t): boolean {
  return equal(comparable(wanted, networkId), comparable(stored, networkId));
}

/** The spec in the form compared: defaults in, empties out. Exported for tests. */
export function comparable(spec: ServiceSpec, networkId: NetworkIds = (t) => t): unknown {
  const s = structuredClone(spec) as ServiceSpec & Dict;
  const task = (s.TaskTemplate ??= {});
  if (!task.Networks?.length && s.Networks?.length) task.Networks = s.Networks;
  delete s.Networks;
  task.Runtime ||= 'container';
  if (task.ContainerSpec) {
    task.ContainerSpec.Isolation ||= 'default';
    // What only the daemon keeps (registry credentials) is not part of the definition.
    for (const k of Object.keys(task.ContainerSpec)) if (k.startsWith('Berth')) delete task.ContainerSpec[k];
  }
  if (task.RestartPolicy) task.RestartPolicy.Condition ||= 'any';
  task.Networks = (task.Networks ?? [])
    .map((n: NetworkAttachmentConfig) => ({ ...n, Target: networkId(n.Target), Aliases: [...(n.Aliases ?? [])].sort() }))
    .sort((a, b) => (a.Target < b.Target ? -1 : a.Target > b.Target ? 1 : 0));
  // The mode as a string: omitempty would make `Global: {}` and `Replicas: 0` vanish alike.
  const mode = s.Mode ?? {};
  const max = mode.ReplicatedJob?.MaxConcurrent ?? 1;
  (s as Dict).Mode = mode.Global ? 'global' : mode.GlobalJob ? 'global-job'
    : mode.ReplicatedJob ? `replicated-job ${max}/${mode.ReplicatedJob.TotalCompletions ?? max}`
    : `replicated ${mode.Replicated?.Replicas ?? 1}`;
  for (const key of ['UpdateConfig', 'RollbackConfig'] as const) {
    const u = s[key] as UpdateConfig | undefined;
    if (u) s[key] = { ...u, FailureAction: u.FailureAction || 'pause', Order: u.Order || 'stop-first' };
  }
  const endpoint = (s.EndpointSpec ??= {});
  endpoint.Mode ||= 'vip';
  endpoint.Ports = (endpoint.Ports ?? [])
    .map((p) => ({ ...p, Protocol: p.Protocol || 'tcp', PublishMode: p.PublishMode || 'ingress' }))
    .sort((a, b) => (JSON.stringify(sortKeys(a)) < JSON.stringify(sortKeys(b)) ? -1 : 1));
  return prune(sortKeys(s));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v as Dict).sort().map((k) => [k, sortKeys((v as Dict)[k])]));
  return v;
}

/** Go's omitempty: undefined, null, "", 0, false, [] and {} are as good as absent. */
function prune(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(prune);
    return items.length ? items.map((x) => (x === undefined ? null : x)) : undefined;
  }
  if (v && typeof v === 'object') {
    const out: Dict = {};
    for (const [k, x] of Object.entries(v as Dict)) {
      const p = prune(x);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length ? out : undefined;
  }
  if (v === null || v === '' || v === 0 || v === false) return undefined;
  return v;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
