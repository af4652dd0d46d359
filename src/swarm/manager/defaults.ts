/** The Cluster and Node objects as dockerd shows them right after `swarm init` / `join`. */
import { invalidArgument } from '../../lib/errors.js';
import type { Cluster, NodeDescription, NodeRole, SwarmNode, SwarmSpec, TLSInfo } from '../types.js';

/** What a node says about itself (Node.Description), from the engine. */
export interface EngineInfo {
  hostname: string;
  os: string;
  architecture: string;
  ncpu: number;
  memoryBytes: number;
  engineVersion: string;
  labels: Record<string, string>;
}

/** swarmkit's defaults, as GET /swarm shows them. */
export function defaultSwarmSpec(): SwarmSpec {
  return {
    Name: 'default',
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: 5 },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: 5_000_000_000 },
    CAConfig: { NodeCertExpiry: 7_776_000_000_000_000 },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The spec a client sent laid over `base`, section by section (moby's MergeSwarmSpecToGRPC keeps unset fields). */
export function mergeSpec(base: SwarmSpec, given: SwarmSpec | undefined): SwarmSpec {
  const out: SwarmSpec = structuredClone(base);
  if (!given) return out;
  if (given.Name !== undefined && given.Name !== '' && given.Name !== 'default') throw invalidArgument('swarm spec must be named "default"');
  for (const [k, v] of Object.entries(given)) {
    if (k === 'Name' || v === undefined || v === null) continue;
    if (isObject(v) && isObject(out[k]) && k !== 'Labels') {
      const section = { ...(out[k] as Record<string, unknown>) };
      for (const [kk, vv] of Object.entries(v)) if (vv !== undefined && vv !== null && !(typeof vv === 'number' && vv === 0 && kk !== 'KeepOldSnapshots' && kk !== 'ForceRotate')) section[kk] = vv;
      out[k] = section;
    } else {
      out[k] = structuredClone(v);
    }
  }
  out.Name = 'default';
  return out;
}

export function nodeDescription(e: EngineInfo, tls: TLSInfo): NodeDescription {
  return {
    Hostname: e.hostname,
    Platform: { Architecture: e.architecture, OS: e.os },
    Resources: { NanoCPUs: e.ncpu * 1e9, MemoryBytes: e.memoryBytes },
    Engine: { EngineVersion: e.engineVersion, ...(Object.keys(e.labels).length ? { Labels: e.labels } : {}), Plugins: [
      { Type: 'Log', Name: 'json-file' }, { Type: 'Log', Name: 'local' },
      { Type: 'Network', Name: 'bridge' }, { Type: 'Network', Name: 'host' }, { Type: 'Network', Name: 'null' }, { Type: 'Network', Name: 'overlay' },
      { Type: 'Volume', Name: 'local' },
    ] },
    TLSInfo: tls,
  };
}

export function newNodeObject(o: { id: string; role: NodeRole; description: NodeDescription; addr: string; managerAddr?: string; availability?: 'active' | 'pause' | 'drain' }): SwarmNode {
  return {
    ID: o.id,
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Labels: {}, Role: o.role, Availability: o.availability ?? 'active' },
    Description: o.description,
    Status: { State: 'ready', Addr: o.addr },
    ...(o.managerAddr ? { BerthControlAddr: o.managerAddr } : {}),
    ...(o.role === 'manager' ? { ManagerStatus: { Reachability: 'reachable' as const, Addr: o.managerAddr ?? o.addr } } : {}),
  };
}

/** GET /swarm: the stored cluster without Berth-internal fields (JoinTokens only for managers, which are the only askers). */
export function clusterView(c: Cluster): Record<string, unknown> {
  const out: Record<string, unknown> = { ID: c.ID, Version: c.Version };
  for (const [k, v] of Object.entries(c)) if (!k.startsWith('Berth')) out[k] = v;
  return out;
}

/** /info's Swarm.Cluster: as GET /swarm without the join tokens. */
export function clusterInfoView(c: Cluster): Record<string, unknown> {
  const { JoinTokens: _tokens, ...rest } = clusterView(c);
  return rest;
}
