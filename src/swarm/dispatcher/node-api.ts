/**
 * The /nodes endpoints' semantics on the manager's store, with dockerd's rules and words (moby's
 * daemon/cluster/nodes.go and filters.go, swarmkit's controlapi/node.go): list with filters, lookup by
 * id, hostname or id prefix, update with the version read before, remove only what may go.
 */
import type { SwarmStore } from '../contracts.js';
import type { NodeAvailability, NodeRole, NodeSpec, SwarmNode } from '../types.js';
import { Filters } from '../../lib/filters.js';
import { internal, invalidArgument, isKind, notFound } from '../../lib/errors.js';
import { rfc3339Nano } from '../../lib/timestamps.js';
import { stateIndex } from './view.js';

export interface NodeApiDeps {
  /** The cluster store; throws 503 when this node is not a manager (or is locked). */
  managerStore(): SwarmStore;
  /** A node's role changed (promote/demote): the manager adds or removes its etcd member. */
  onRoleChange?(nodeId: string, role: NodeRole): Promise<void>;
}

/** A node as the Engine API shows it (internal fields dropped). */
export type NodeJson = Omit<SwarmNode, 'BerthIngress'>;

const NODE_FILTERS = ['id', 'label', 'node.label', 'membership', 'name', 'role'] as const;
const ROLES: readonly NodeRole[] = ['worker', 'manager'];
const AVAILABILITIES: readonly NodeAvailability[] = ['active', 'pause', 'drain'];
const COMPLETE = stateIndex('complete');

/** swarmkit's gRPC errors as dockerd passes them on. */
const failedPrecondition = (desc: string) => invalidArgument(`rpc error: code = FailedPrecondition desc = ${desc}`);

export function nodeView(n: SwarmNode): NodeJson {
  const { BerthIngress: _internal, ...rest } = n;
  for (const key of Object.keys(rest)) if (key.startsWith('Berth')) delete (rest as Record<string, unknown>)[key];
  return { ...rest, Spec: { ...(n.Spec.Name ? { Name: n.Spec.Name } : {}), Labels: n.Spec.Labels ?? {}, Role: n.Spec.Role, Availability: n.Spec.Availability } };
}

/** `key` or `key=value` strings as a map (moby's convertKVStringsToMap); an empty value matches any. */
function kvMap(values: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 0) m.set(v, '');
    else m.set(v.slice(0, i), v.slice(i + 1));
  }
  return m;
}

function matchLabels(labels: Record<string, string> | undefined, want: Map<string, string>): boolean {
  for (const [k, v] of want) {
    const have = labels?.[k];
    if (have === undefined) return false;
    if (v !== '' && v !== have) return false;
  }
  return true;
}

/** A filter whose values must be one of `allowed` (case-insensitive, empty values ignored), with dockerd's error. */
function enumFilter<T extends string>(f: Filters, key: string, allowed: readonly T[], what: string): T[] {
  const out: T[] = [];
  for (const v of f.get(key)) {
    const lower = v.toLowerCase() as T;
    if (allowed.includes(lower)) out.push(lower);
    else if (v !== '') throw invalidArgument(`Invalid ${what} filter: '${v}'`);
  }
  return out;
}

/** Go's %q of a string, closely enough for the values dockerd quotes in errors. */
const goQuote = (s: string) => JSON.stringify(s);

export class NodeApi {
  constructor(private readonly deps: NodeApiDeps) {}

  async list(rawFilters?: string | null): Promise<NodeJson[]> {
    const f = Filters.parse(rawFilters, NODE_FILTERS);
    const roles = enumFilter(f, 'role', ROLES, 'role');
    const memberships = enumFilter(f, 'membership', ['accepted', 'pending'] as const, 'membership');
    const names = f.get('name');
    const ids = f.get('id');
    const engineLabels = kvMap(f.get('label'));
    const nodeLabels = kvMap(f.get('node.label'));
    const nodes = await this.deps.managerStore().nodes.list();
    return nodes
      .filter((n) => !names.length || names.some((p) => n.Description?.Hostname?.startsWith(p)))
      .filter((n) => !ids.length || ids.some((p) => n.ID.startsWith(p)))
      .filter((n) => matchLabels(n.Description?.Engine?.Labels, engineLabels))
      .filter((n) => matchLabels(n.Spec.Labels, nodeLabels))
      .filter((n) => !roles.length || roles.includes(n.Spec.Role))
      // Berth accepts nodes when they join with a valid token: every node is accepted, none pending.
      .filter((n) => !memberships.length || memberships.includes('accepted'))
      .sort((a, b) => a.ID.localeCompare(b.ID))
      .map(nodeView);
  }

  async inspect(ref: string): Promise<NodeJson> {
    return nodeView(await this.resolve(this.deps.managerStore(), ref));
  }

  /** POST /nodes/{id}/update?version=: the whole spec, as the client read it at that version. */
  async update(ref: string, rawVersion: string | null, body: Partial<NodeSpec> | undefined): Promise<void> {
    // Not a manager comes first (dockerd parses the version before; clients expect the 503 either way).
    const store = this.deps.managerStore();
    const raw = rawVersion ?? '';
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      const why = /^\d+$/.test(raw) ? 'value out of range' : 'invalid syntax';
      throw invalidArgument(`invalid node version '${raw}': strconv.ParseUint: parsing ${goQuote(raw)}: ${why}`);
    }
    const spec = normalizeSpec(body ?? {});
    const node = await this.resolve(store, ref);
    if (node.Spec.Role === 'manager' && spec.Role === 'worker') {
      const managers = (await store.nodes.list()).filter((n) => n.Spec.Role === 'manager');
      if (managers.length === 1 && managers[0]!.ID === node.ID) throw failedPrecondition('attempting to demote the last manager of the swarm');
      // swarmkit's quorum safeguard: the managers left, those reachable, must still make a quorum of the current set.
      const reachableAfter = managers.filter((m) => m.ID !== node.ID && m.Status.State === 'ready' && m.ManagerStatus?.Reachability !== 'unreachable').length;
      if (reachableAfter < Math.floor((managers.length - 1) / 2) + 1) throw failedPrecondition("can't remove member from the raft: this would result in a loss of quorum");
    }
    try {
      await store.nodes.update({ ...node, Version: { Index: Number(raw) }, Spec: spec });
    } catch (err) {
      if (isKind(err, 'Conflict')) throw internal('rpc error: code = Unknown desc = update out of sequence');
      if (isKind(err, 'NotFound')) throw notFound(`rpc error: code = NotFound desc = node ${node.ID} not found`);
      throw err;
    }
    if (spec.Role !== node.Spec.Role) await this.deps.onRoleChange?.(node.ID, spec.Role);
  }

  /** DELETE /nodes/{id}?force: never a manager; a node still up only with force. Its tasks become orphaned. */
  async remove(ref: string, force: boolean): Promise<void> {
    const store = this.deps.managerStore();
    const node = await this.resolve(store, ref);
    if (node.Spec.Role === 'manager') {
      throw failedPrecondition(`node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
    }
    if (!force && node.Status.State === 'ready') throw failedPrecondition(`node ${node.ID} is not down and can't be removed`);
    const orphaned = (await store.tasks.list()).filter((t) => t.NodeID === node.ID && stateIndex(t.Status.State) < COMPLETE);
    await Promise.all(
      orphaned.map((t) =>
        store.tasks
          .modify(t.ID, (cur) =>
            cur.NodeID === node.ID && stateIndex(cur.Status.State) < COMPLETE
              ? { ...cur, Status: { Timestamp: rfc3339Nano(Date.now()), State: 'orphaned', Message: 'Task belonged to a node that has been deleted' } }
              : undefined,
          )
          .catch((err) => {
            if (!isKind(err, 'NotFound')) throw err;
          }),
      ),
    );
    try {
      await store.nodes.delete(node.ID);
    } catch (err) {
      if (!isKind(err, 'NotFound')) throw err;
    }
  }

  /** By full ID, then by exact hostname, then by unique ID prefix (moby's getNode). */
  async resolve(store: SwarmStore, ref: string): Promise<SwarmNode> {
    const byId = await store.nodes.get(ref);
    if (byId) return byId;
    const nodes = await store.nodes.list();
    let matches = nodes.filter((n) => n.Description?.Hostname === ref);
    if (!matches.length) matches = nodes.filter((n) => n.ID.startsWith(ref));
    if (!matches.length) throw notFound(`node ${ref} not found`);
    if (matches.length > 1) throw invalidArgument(`node ${ref} is ambiguous (${matches.length} matches found)`);
    return matches[0]!;
  }
}

/** A NodeSpec as dockerd's NodeSpecToGRPC accepts it: role and availability named in any case. */
export function normalizeSpec(body: Partial<NodeSpec>): NodeSpec {
  const role = String(body.Role ?? '').toLowerCase() as NodeRole;
  if (!ROLES.includes(role)) throw invalidArgument(`invalid Role: ${goQuote(String(body.Role ?? ''))}`);
  const availability = String(body.Availability ?? '').toLowerCase() as NodeAvailability;
  if (!AVAILABILITIES.includes(availability)) throw invalidArgument(`invalid Availability: ${goQuote(String(body.Availability ?? ''))}`);
  return { ...(body.Name ? { Name: body.Name } : {}), Labels: { ...(body.Labels ?? {}) }, Role: role, Availability: availability };
}

