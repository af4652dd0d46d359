/**
 * The scheduler, pure: pending tasks -> a node each (or why none fits), as swarmkit's filter pipeline and
 * ranking do. Filters, in swarmkit's order, each node counted under the first one it fails: ready
 * (ready and active), resources (reservations vs the node's resources minus its tasks'), constraints,
 * platform, host-mode ports, max replicas per node. Among the nodes left: placement preferences spread
 * the service's tasks evenly over a label's values, then the node with the fewest tasks of the service,
 * then the fewest tasks overall.
 */
import type { NodeState, SwarmNode, Task } from '../types.js';
import { nodeMatches, tryParseConstraints, type Constraint } from './constraints.js';
import { isActive } from './task-model.js';

export interface Decision {
  task: Task;
  /** Set when the task is placed. */
  nodeId?: string;
  /** True when the node was chosen by the orchestrator (global services) and only confirmed here. */
  preassigned?: boolean;
  /** "no suitable node (...)" when nothing fits. */
  err?: string;
}

interface NodeInfo {
  node: SwarmNode;
  available: boolean;
  cpus: number;
  memory: number;
  total: number;
  byService: Map<string, number>;
  hostPorts: Set<string>;
}

const hostPortsOf = (t: Task): string[] =>
  (t.BerthService?.Ports ?? []).filter((p) => p.PublishMode === 'host' && p.PublishedPort).map((p) => `${p.Protocol ?? 'tcp'}/${p.PublishedPort}`);

function reservations(t: Task): { cpus: number; memory: number } {
  const r = t.Spec.Resources?.Reservations;
  return { cpus: r?.NanoCPUs ?? 0, memory: r?.MemoryBytes ?? 0 };
}

function addTask(info: NodeInfo, t: Task): void {
  const r = reservations(t);
  info.cpus -= r.cpus;
  info.memory -= r.memory;
  info.total++;
  info.byService.set(t.ServiceID, (info.byService.get(t.ServiceID) ?? 0) + 1);
  for (const p of hostPortsOf(t)) info.hostPorts.add(p);
}

interface Filter {
  explain(n: number): string;
  check(info: NodeInfo): boolean;
}

const plural = (n: number, what: string) => `${what} on ${n} node${n === 1 ? '' : 's'}`;

const normArch = (a: string | undefined) => (a === 'x86_64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a ?? '');

function filtersFor(t: Task, constraints: Constraint[] | undefined): Filter[] {
  const filters: Filter[] = [
    { explain: (n) => (n === 1 ? '1 node not available for new tasks' : `${n} nodes not available for new tasks`), check: (i) => i.available },
  ];
  const r = reservations(t);
  if (r.cpus > 0 || r.memory > 0) filters.push({ explain: (n) => plural(n, 'insufficient resources'), check: (i) => r.cpus <= i.cpus && r.memory <= i.memory });
  const placement = t.Spec.Placement;
  if (placement?.Constraints?.length) {
    filters.push({ explain: (n) => plural(n, 'scheduling constraints not satisfied'), check: (i) => !!constraints && nodeMatches(constraints, i.node) });
  }
  const platforms = placement?.Platforms ?? [];
  if (platforms.length) {
    filters.push({
      explain: (n) => plural(n, 'unsupported platform'),
      check: (i) => {
        const p = i.node.Description?.Platform;
        return !!p && platforms.some((w) => (!w.Architecture || normArch(w.Architecture) === normArch(p.Architecture)) && (!w.OS || w.OS === p.OS));
      },
    });
  }
  const ports = hostPortsOf(t);
  if (ports.length) filters.push({ explain: (n) => plural(n, 'host-mode port already in use'), check: (i) => ports.every((p) => !i.hostPorts.has(p)) });
  const max = placement?.MaxReplicas ?? 0;
  if (max > 0) filters.push({ explain: () => 'max replicas per node limit exceed', check: (i) => (i.byService.get(t.ServiceID) ?? 0) < max });
  return filters;
}

/** Runs the filters over every node: the nodes that pass, and swarmkit's explanation when none does. */
function filterNodes(infos: NodeInfo[], filters: Filter[]): { fit: NodeInfo[]; explanation: string } {
  const failures = new Array<number>(filters.length).fill(0);
  const fit: NodeInfo[] = [];
  for (const info of infos) {
    const failed = filters.findIndex((f) => !f.check(info));
    if (failed < 0) fit.push(info);
    else failures[failed]!++;
  }
  const explanation = filters
    .map((f, i) => ({ f, n: failures[i]! }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n)
    .map((x) => x.f.explain(x.n))
    .join('; ');
  return { fit, explanation };
}

function spreadValue(node: SwarmNode, descriptor: string): string {
  const d = descriptor.toLowerCase();
  if (d.startsWith('node.labels.')) return node.Spec.Labels?.[descriptor.slice('node.labels.'.length)] ?? '';
  if (d.startsWith('engine.labels.')) return node.Description?.Engine?.Labels?.[descriptor.slice('engine.labels.'.length)] ?? '';
  return '';
}

/** Placement preferences: narrow the candidates to the least used value of each spread label in turn. */
function applySpread(candidates: NodeInfo[], all: NodeInfo[], serviceId: string, descriptors: string[]): NodeInfo[] {
  let pool = candidates;
  let universe = all;
  for (const d of descriptors) {
    const used = new Map<string, number>();
    for (const info of universe) {
      const v = spreadValue(info.node, d);
      used.set(v, (used.get(v) ?? 0) + (info.byService.get(serviceId) ?? 0));
    }
    let best: string | undefined;
    for (const info of pool) {
      const v = spreadValue(info.node, d);
      if (best === undefined || used.get(v)! < used.get(best)! || (used.get(v) === used.get(best) && v < best)) best = v;
    }
    pool = pool.filter((i) => spreadValue(i.node, d) === best);
    universe = universe.filter((i) => spreadValue(i.node, d) === best);
  }
  return pool;
}

function rank(candidates: NodeInfo[], serviceId: string): NodeInfo {
  return candidates.reduce((best, i) => {
    const a = i.byService.get(serviceId) ?? 0;
    const b = best.byService.get(serviceId) ?? 0;
    if (a !== b) return a < b ? i : best;
    if (i.total !== best.total) return i.total < best.total ? i : best;
    return i.node.ID < best.node.ID ? i : best;
  });
}

export interface SchedulerInput {
  /** Tasks in state pending, wanted to run. */
  pending: Task[];
  nodes: SwarmNode[];
  liveness: (node: SwarmNode) => NodeState;
  /** Every task in the cluster (the active ones on each node count against it). */
  tasks: Task[];
}

export function schedule(input: SchedulerInput): Decision[] {
  const infos = new Map<string, NodeInfo>();
  for (const node of input.nodes) {
    infos.set(node.ID, {
      node,
      available: input.liveness(node) === 'ready' && node.Spec.Availability === 'active',
      cpus: node.Description?.Resources?.NanoCPUs ?? 0,
      memory: node.Description?.Resources?.MemoryBytes ?? 0,
      total: 0,
      byService: new Map(),
      hostPorts: new Set(),
    });
  }
  for (const t of input.tasks) {
    if (!t.NodeID || !isActive(t) || t.Status.State === 'pending' || t.Status.State === 'new') continue;
    const info = infos.get(t.NodeID);
    if (info) addTask(info, t);
  }
  const all = [...infos.values()].sort((a, b) => (a.node.ID < b.node.ID ? -1 : 1));
  const decisions: Decision[] = [];
  // Tasks of one service and spec share their filters; slot order keeps placement predictable.
  const pending = [...input.pending].sort((a, b) => (a.ServiceID === b.ServiceID ? (a.Slot ?? 0) - (b.Slot ?? 0) : a.ServiceID < b.ServiceID ? -1 : 1));
  const constraintCache = new Map<string, Constraint[] | undefined>();
  for (const task of pending) {
    const cacheKey = `${task.ServiceID}/${task.BerthSpecVersion}`;
    if (!constraintCache.has(cacheKey)) constraintCache.set(cacheKey, tryParseConstraints(task.Spec.Placement?.Constraints));
    const filters = filtersFor(task, constraintCache.get(cacheKey));
    if (task.NodeID) {
      const info = infos.get(task.NodeID);
      const { fit, explanation } = filterNodes(info ? [info] : [], filters);
      if (fit.length && info) {
        addTask(info, task);
        decisions.push({ task, nodeId: info.node.ID, preassigned: true });
      } else decisions.push({ task, err: explanation ? `no suitable node (${explanation})` : 'no suitable node' });
      continue;
    }
    const { fit, explanation } = filterNodes(all, filters);
    if (!fit.length) {
      decisions.push({ task, err: explanation ? `no suitable node (${explanation})` : 'no suitable node' });
      continue;
    }
    const spread = (task.Spec.Placement?.Preferences ?? []).map((p) => p.Spread?.SpreadDescriptor).filter((d): d is string => !!d);
    const chosen = rank(spread.length ? applySpread(fit, all, task.ServiceID, spread) : fit, task.ServiceID);
    addTask(chosen, task);
    decisions.push({ task, nodeId: chosen.node.ID });
  }
  return decisions;
}
