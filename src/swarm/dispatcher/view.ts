/**
 * A node's NodeView, computed from a snapshot of the cluster (pure): what the agent must run or stop,
 * and what the node's networking needs to know about every node, network and service.
 */
import type { NodeView, ServiceEndpoints } from '../contracts.js';
import { TASK_STATE_ORDER, type ClusterNetwork, type Config, type Secret, type Service, type SwarmNode, type Task, type TaskState } from '../types.js';
import { payloadSignature, payloadSources, taskPayloads, type OpenSecret, type PayloadSources } from './payloads.js';

export interface ClusterSnapshot {
  nodes: SwarmNode[];
  services: Service[];
  tasks: Task[];
  networks: ClusterNetwork[];
  /** Issue 16: stored sealed; `open` (buildNodeView) gives their data to the nodes whose tasks use them. */
  secrets?: Secret[];
  configs?: Config[];
}

export const stateIndex = (s: TaskState): number => TASK_STATE_ORDER.indexOf(s);

/** Plain code-unit order (IDs are ASCII; localeCompare is many times slower on large views). */
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const ASSIGNED = stateIndex('assigned');
const RUNNING = stateIndex('running');

/**
 * Whether a task belongs in its node's view: it reached the node (assigned or later: before that it may
 * not fit the node). As swarmkit's dispatcher, every such task stays in the view until the orchestrator
 * deletes it: the agent runs it, stops it when its desired state moved on, and keeps the container of a
 * task that ended (its logs, `ps -a`) until the task is reaped (TaskHistoryRetentionLimit).
 */
export function taskMattersToNode(t: Task): boolean {
  return stateIndex(t.Status.State) >= ASSIGNED;
}

/** The service's endpoints: VIPs, published ports, aliases per network and its running tasks' addresses. */
export function serviceEndpoints(services: Service[], tasks: Task[], networks: ClusterNetwork[]): ServiceEndpoints[] {
  const networkIdByName = new Map(networks.map((n) => [n.Spec.Name, n.ID]));
  const running = new Map<string, ServiceEndpoints['Tasks']>();
  for (const t of tasks) {
    // A task the orchestrator is stopping leaves the balancing before its container stops.
    if (t.Status.State !== 'running' || stateIndex(t.DesiredState) > RUNNING || !t.NodeID) continue;
    const list = running.get(t.ServiceID) ?? [];
    list.push({
      ID: t.ID,
      ...(t.Slot !== undefined ? { Slot: t.Slot } : {}),
      NodeID: t.NodeID,
      Addresses: (t.NetworksAttachments ?? []).flatMap((a) => a.Addresses.map((Addr) => ({ NetworkID: a.Network.ID, Addr }))),
    });
    running.set(t.ServiceID, list);
  }
  return services
    .map((s): ServiceEndpoints => {
      const aliases: Record<string, string[]> = {};
      for (const n of s.Spec.TaskTemplate?.Networks ?? s.Spec.Networks ?? []) {
        if (!n.Aliases?.length) continue;
        const id = networkIdByName.get(n.Target) ?? n.Target;
        aliases[id] = [...n.Aliases];
      }
      return {
        ServiceID: s.ID,
        Name: s.Spec.Name,
        Mode: s.Endpoint?.Spec?.Mode ?? s.Spec.EndpointSpec?.Mode ?? 'vip',
        Ports: s.Endpoint?.Ports ?? [],
        VirtualIPs: s.Endpoint?.VirtualIPs ?? [],
        Aliases: aliases,
        Tasks: (running.get(s.ID) ?? []).sort((a, b) => compare(a.ID, b.ID)),
      };
    })
    .sort((a, b) => compare(a.ServiceID, b.ServiceID));
}

/** The parts of a view that are the same for every node, computed once per snapshot. */
export interface SharedView {
  networks: ClusterNetwork[];
  nodes: NodeView['nodes'];
  endpoints: ServiceEndpoints[];
  /** Secrets, configs and services by ID, for the nodes' payloads. */
  payloadSources: PayloadSources;
}

export function sharedView(s: ClusterSnapshot): SharedView {
  const byId = <T extends { ID: string }>(a: T, b: T) => compare(a.ID, b.ID);
  return {
    networks: [...s.networks].sort(byId),
    nodes: s.nodes.map((n) => ({ ID: n.ID, Addr: n.Status.Addr, State: n.Status.State })).sort(byId),
    endpoints: serviceEndpoints(s.services, s.tasks, s.networks),
    payloadSources: payloadSources(s),
  };
}

/** Without a sealer no secret can be opened: tasks that need one fail on their node. */
const cannotOpen: OpenSecret = () => undefined;

export function buildNodeView(nodeId: string, s: ClusterSnapshot, shared: SharedView = sharedView(s), open: OpenSecret = cannotOpen): NodeView {
  const node = s.nodes.find((n) => n.ID === nodeId);
  const tasks = s.tasks.filter((t) => t.NodeID === nodeId && taskMattersToNode(t)).sort((a, b) => compare(a.ID, b.ID));
  const payloads = taskPayloads(tasks, shared.payloadSources, open);
  return {
    nodeId,
    tasks,
    networks: shared.networks,
    nodes: shared.nodes,
    endpoints: shared.endpoints,
    ...(node?.BerthIngress ? { ingress: { NetworkID: node.BerthIngress.NetworkID, Address: node.BerthIngress.Address } } : {}),
    ...(payloads ? { payloads } : {}),
  };
}

/**
 * A short string that changes whenever the view does (objects are identified by their store revision),
 * so deciding whether to push costs no serialization of the whole view.
 */
export function sharedSignature(shared: SharedView): string {
  return JSON.stringify([shared.networks.map((n) => `${n.ID}@${n.Version.Index}`), shared.nodes, shared.endpoints]);
}

export function viewSignature(view: NodeView, shared: string): string {
  return `${shared}|${view.tasks.map((t) => `${t.ID}@${t.Version.Index}`).join(',')}|${view.ingress ? `${view.ingress.NetworkID}/${view.ingress.Address}` : ''}|${payloadSignature(view.payloads)}`;
}
