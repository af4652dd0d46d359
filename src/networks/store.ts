import type { Db } from '../store/db.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model.js';

/**
 * Network records, endpoint settings and sandboxes in SQLite (tables from the networks migration),
 * with in-memory maps as the working copy. Every change is written through, so a restarted daemon
 * knows which addresses, namespaces and ports it had handed out.
 */
export class NetworkStore {
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly endpoints = new Map<string, EndpointRecord>();
  private readonly sandboxes = new Map<string, SandboxRecord>();

  constructor(private readonly db: Db) {
    for (const row of db.prepare('SELECT data FROM networks').all() as Array<{ data: string }>) {
      const n = JSON.parse(row.data) as NetworkRecord;
      this.networks.set(n.id, n);
    }
    for (const row of db.prepare('SELECT data FROM network_endpoints').all() as Array<{ data: string }>) {
      const e = JSON.parse(row.data) as EndpointRecord;
      this.endpoints.set(key(e.containerId, e.networkId), e);
    }
    for (const row of db.prepare('SELECT data FROM network_sandboxes').all() as Array<{ data: string }>) {
      const s = JSON.parse(row.data) as SandboxRecord;
      this.sandboxes.set(s.containerId, s);
    }
  }

  // ---- networks

  allNetworks(): NetworkRecord[] {
    return [...this.networks.values()];
  }

  network(id: string): NetworkRecord | undefined {
    return this.networks.get(id);
  }

  networkByName(name: string): NetworkRecord | undefined {
    return this.allNetworks().find((n) => n.name === name);
  }

  saveNetwork(n: NetworkRecord): void {
    this.db
      .prepare('INSERT INTO networks (id, name, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, data = excluded.data')
      .run(n.id, n.name, JSON.stringify(n));
    this.networks.set(n.id, n);
  }

  deleteNetwork(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
    this.networks.delete(id);
  }

  // ---- endpoint settings

  endpointsOf(containerId: string): EndpointRecord[] {
    return [...this.endpoints.values()].filter((e) => e.containerId === containerId);
  }

  endpointsOn(networkId: string): EndpointRecord[] {
    return [...this.endpoints.values()].filter((e) => e.networkId === networkId);
  }

  endpoint(containerId: string, networkId: string): EndpointRecord | undefined {
    return this.endpoints.get(key(containerId, networkId));
  }

  saveEndpoint(e: EndpointRecord): void {
    this.db
      .prepare('INSERT INTO network_endpoints (container_id, network_id, data) VALUES (?, ?, ?) ON CONFLICT(container_id, network_id) DO UPDATE SET data = excluded.data')
      .run(e.containerId, e.networkId, JSON.stringify(e));
    this.endpoints.set(key(e.containerId, e.networkId), e);
  }

  deleteEndpoint(containerId: string, networkId: string): void {
    this.db.prepare('DELETE FROM network_endpoints WHERE container_id = ? AND network_id = ?').run(containerId, networkId);
    this.endpoints.delete(key(containerId, networkId));
  }

  deleteEndpointsOf(containerId: string): void {
    this.db.prepare('DELETE FROM network_endpoints WHERE container_id = ?').run(containerId);
    for (const e of this.endpointsOf(containerId)) this.endpoints.delete(key(e.containerId, e.networkId));
  }

  // ---- sandboxes

  allSandboxes(): SandboxRecord[] {
    return [...this.sandboxes.values()];
  }

  sandbox(containerId: string): SandboxRecord | undefined {
    return this.sandboxes.get(containerId);
  }

  saveSandbox(s: SandboxRecord): void {
    this.db
      .prepare('INSERT INTO network_sandboxes (container_id, data) VALUES (?, ?) ON CONFLICT(container_id) DO UPDATE SET data = excluded.data')
      .run(s.containerId, JSON.stringify(s));
    this.sandboxes.set(s.containerId, s);
  }

  deleteSandbox(containerId: string): void {
    this.db.prepare('DELETE FROM network_sandboxes WHERE container_id = ?').run(containerId);
    this.sandboxes.delete(containerId);
  }
}

function key(containerId: string, networkId: string): string {
  return `${containerId}/${networkId}`;
}
