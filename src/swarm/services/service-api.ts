/**
 * The /services API on the cluster store: what dockerd's daemon/cluster/services.go and swarmkit's
 * controlapi/service.go do between them (defaults, validation, name and port conflicts, endpoint
 * allocation, PreviousSpec and rollback), with their words. Tasks are the orchestrator's business: it
 * watches services and makes, updates and removes their tasks.
 */
import { forbidden, invalidArgument, isKind, notFound } from '../../lib/errors.js';
import { Filters } from '../../lib/filters.js';
import { KeyedMutex } from '../../lib/mutex.js';
import { generateName } from '../../containers/names.js';
import type { SwarmStore } from '../contracts.js';
import type { Service, ServiceSpec, SwarmNode, Task } from '../types.js';
import { allocateEndpoint, checkPortConflicts, settleEndpoint } from './endpoint.js';
import { newSwarmId } from './ids.js';
import { isIngress, needsIngress } from './networks.js';
import { rpcError } from './rpc-errors.js';
import { modeName, normalizeSpec, validateSpec, withDefaults, type ServiceSpecInput } from './spec.js';
import { serviceView, type ServiceStatus } from './views.js';

export interface ServiceApiDeps {
  /** The cluster store (the manager's managerStore(): throws 503 on a node that is no manager). */
  store: () => SwarmStore;
  /**
   * The name of a local (non-swarm) network `ref` names, if any: a service cannot use one, and dockerd
   * says so rather than "not found".
   */
  localNetworkName?: (ref: string) => string | undefined;
  /** Issue 16: the secrets and configs a spec references exist (secrets/references.ts). */
  references?: { check(spec: ServiceSpec): Promise<void> };
}

export interface UpdateOptions {
  /** ?version: the Version.Index the client read. */
  version: number;
  /** ?rollback: "", "none" or "previous". */
  rollback?: string;
  /** X-Registry-Auth. */
  registryAuth?: string;
  /** ?registryAuthFrom: "spec" (default) or "previous-spec". */
  registryAuthFrom?: string;
}

const now = () => new Date().toISOString();
type ContainerWithAuth = { BerthRegistryAuth?: string };

export class ServiceApi {
  /** Create and update run one at a time in this process, so their name/port/address checks hold. */
  private readonly lock = new KeyedMutex();

  constructor(private readonly deps: ServiceApiDeps) {}

  private get store(): SwarmStore {
    return this.deps.store();
  }

  async create(input: ServiceSpecInput, registryAuth?: string): Promise<{ ID: string; Warnings?: string[] }> {
    const store = this.store;
    return this.lock.run('services', async () => {
      const services = await store.services.list();
      const spec = normalizeSpec(input, () => generateName((n) => services.some((s) => s.Spec.Name === n)));
      await this.resolveNetworks(store, spec);
      validateSpec(spec);
      await this.refuseIngressAttachment(store, spec);
      checkPortConflicts(spec, services);
      await this.deps.references?.check(spec);
      if (registryAuth) (spec.TaskTemplate.ContainerSpec as ContainerWithAuth).BerthRegistryAuth = registryAuth;
      await this.requireIngress(store, spec);
      // swarmkit indexes names in lower case: "Web" and "web" conflict.
      if (services.some((s) => s.Spec.Name.toLowerCase() === spec.Name.toLowerCase())) {
        throw rpcError('AlreadyExists', `name conflicts with an existing object: service ${spec.Name} already exists`);
      }
      const service: Service = {
        ID: newSwarmId(),
        Version: { Index: 0 },
        CreatedAt: '',
        UpdatedAt: '',
        Spec: spec,
        Endpoint: await allocateEndpoint(store, spec),
      };
      if (spec.Mode.ReplicatedJob || spec.Mode.GlobalJob) service.JobStatus = { JobIteration: { Index: 0 }, LastExecution: now() };
      const created = await store.services.create(service);
      await settleEndpoint(store, created.ID);
      return { ID: created.ID };
    });
  }

  /** By full ID, full name, then unique ID prefix (dockerd's getService). */
  async resolve(ref: string): Promise<Service> {
    const services = await this.store.services.list();
    return resolveIn(services, ref, 'service', (s) => s.Spec.Name);
  }

  async inspect(ref: string, insertDefaults = false): Promise<Record<string, unknown>> {
    const s = await this.resolve(ref);
    if (insertDefaults) s.Spec = withDefaults(s.Spec);
    return serviceView(s);
  }

  async list(filtersRaw?: string, withStatus = false): Promise<Array<Record<string, unknown>>> {
    const f = Filters.parse(filtersRaw, ['id', 'label', 'mode', 'name', 'runtime']);
    const store = this.store;
    const services = (await store.services.list())
      .filter((s) => !f.has('id') || f.get('id').some((p) => s.ID.startsWith(p)))
      .filter((s) => !f.has('name') || f.get('name').some((p) => s.Spec.Name.startsWith(p)))
      .filter((s) => matchLabels(s.Spec.Labels, f.get('label')))
      .filter((s) => !f.has('mode') || f.get('mode').includes(modeName(s.Spec.Mode)))
      .filter((s) => !f.has('runtime') || f.get('runtime').includes(s.Spec.TaskTemplate.Runtime ?? 'container'))
      .sort((a, b) => (a.ID < b.ID ? -1 : 1));
    if (!withStatus) return services.map((s) => serviceView(s));
    const [tasks, nodes] = await Promise.all([store.tasks.list(), store.nodes.list()]);
    return services.map((s) => serviceView(s, serviceStatus(s, tasks, nodes)));
  }

  async update(ref: string, input: ServiceSpecInput, opts: UpdateOptions): Promise<{ Warnings?: string[] }> {
    const store = this.store;
    return this.lock.run('services', async () => {
      const spec = normalizeSpec(input, () => generateName(() => false));
      await this.resolveNetworks(store, spec);
      validateSpec(spec);
      await this.refuseIngressAttachment(store, spec);
      const current = await this.resolve(ref);
      const container = spec.TaskTemplate.ContainerSpec as ContainerWithAuth;
      if (opts.registryAuth) container.BerthRegistryAuth = opts.registryAuth;
      else {
        // Without new credentials the service keeps the ones it had (dockerd's registryAuthFrom).
        let from: ServiceSpec | undefined;
        if (!opts.registryAuthFrom || opts.registryAuthFrom === 'spec') from = current.Spec;
        else if (opts.registryAuthFrom === 'previous-spec') {
          if (!current.PreviousSpec) throw invalidArgument('service does not have a previous spec');
          from = current.PreviousSpec;
        } else throw invalidArgument(`invalid registryAuthFrom '${opts.registryAuthFrom}'`);
        const auth = (from.TaskTemplate.ContainerSpec as ContainerWithAuth | undefined)?.BerthRegistryAuth;
        if (auth) container.BerthRegistryAuth = auth;
      }
      const rollback = opts.rollback ?? '';
      if (!['', 'none', 'previous'].includes(rollback)) throw invalidArgument(`unrecognized rollback option ${rollback}`);

      const services = await store.services.list();
      if (JSON.stringify(spec.EndpointSpec) !== JSON.stringify(current.Spec.EndpointSpec)) checkPortConflicts(spec, services, current.ID);
      if (modeName(current.Spec.Mode) !== modeName(spec.Mode)) throw rpcError('Unimplemented', 'service mode change is not allowed');
      if (current.Spec.Name !== spec.Name) throw rpcError('Unimplemented', 'renaming services is not supported');
      if (current.Version.Index !== opts.version) throw rpcError('Unknown', 'update out of sequence');
      if (rollback !== 'previous') await this.deps.references?.check(spec);

      const next: Service = structuredClone(current);
      if (next.JobStatus) next.JobStatus = { JobIteration: { Index: next.JobStatus.JobIteration.Index + 1 }, LastExecution: now() };
      if (rollback === 'previous') {
        if (!current.PreviousSpec) throw rpcError('FailedPrecondition', `service ${current.ID} does not have a previous spec`);
        next.Spec = current.PreviousSpec;
        next.PreviousSpec = current.Spec;
        next.UpdateStatus = { State: 'rollback_started', StartedAt: now(), Message: 'manually requested rollback' };
      } else {
        next.PreviousSpec = current.Spec;
        next.Spec = spec;
        delete next.UpdateStatus;
      }
      await this.requireIngress(store, next.Spec);
      next.Endpoint = await allocateEndpoint(store, next.Spec, current);
      try {
        await store.services.update(next);
      } catch (err) {
        if (isKind(err, 'Conflict')) throw rpcError('Unknown', 'update out of sequence');
        if (isKind(err, 'NotFound')) throw rpcError('NotFound', `service ${current.ID} not found`);
        throw err;
      }
      await settleEndpoint(store, current.ID);
      return {};
    });
  }

  async remove(ref: string): Promise<void> {
    const s = await this.resolve(ref);
    try {
      await this.store.services.delete(s.ID);
    } catch (err) {
      if (isKind(err, 'NotFound')) throw rpcError('NotFound', `service ${s.ID} not found`);
      throw err;
    }
  }

  /** dockerd's populateNetworkID: each attachment's Target becomes the cluster network's ID. */
  private async resolveNetworks(store: SwarmStore, spec: ServiceSpec): Promise<void> {
    const attachments = spec.TaskTemplate.Networks ?? [];
    if (!attachments.length) return;
    const networks = await store.networks.list();
    for (const a of attachments) {
      const n = networks.find((x) => x.ID === a.Target) ?? networks.find((x) => x.Spec.Name.toLowerCase() === a.Target.toLowerCase()) ?? uniquePrefix(networks, a.Target);
      if (n) {
        a.Target = n.ID;
        continue;
      }
      const local = this.deps.localNetworkName?.(a.Target);
      if (local !== undefined) {
        throw forbidden(`The network ${local} cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.`);
      }
      throw notFound(`network ${a.Target} not found`);
    }
  }

  private async refuseIngressAttachment(store: SwarmStore, spec: ServiceSpec): Promise<void> {
    const targets = (spec.TaskTemplate.Networks ?? []).map((a) => a.Target);
    if (!targets.length) return;
    const ingress = (await store.networks.list()).find(isIngress);
    if (ingress && targets.includes(ingress.ID)) {
      throw rpcError('InvalidArgument', `Service cannot be explicitly attached to the ingress network "${ingress.Spec.Name}"`);
    }
  }

  private async requireIngress(store: SwarmStore, spec: ServiceSpec): Promise<void> {
    if (!needsIngress({ Spec: spec })) return;
    if (!(await store.networks.list()).some(isIngress)) {
      throw rpcError('FailedPrecondition', 'service needs ingress network, but no ingress network is present');
    }
  }
}

function uniquePrefix<T extends { ID: string }>(items: T[], prefix: string): T | undefined {
  if (!prefix) return undefined;
  const found = items.filter((x) => x.ID.startsWith(prefix));
  return found.length === 1 ? found[0] : undefined;
}

/** dockerd's lookup: full ID, then full name, then ID prefix; "<kind> X not found" / "is ambiguous". */
export function resolveIn<T extends { ID: string }>(items: T[], ref: string, kind: string, nameOf: (x: T) => string | undefined): T {
  const byId = items.find((x) => x.ID === ref);
  if (byId) return byId;
  // Names match without regard to case, as swarmkit's name index.
  let found = ref ? items.filter((x) => nameOf(x)?.toLowerCase() === ref.toLowerCase()) : [];
  if (!found.length && ref) found = items.filter((x) => x.ID.startsWith(ref));
  if (!found.length) throw notFound(`${kind} ${ref} not found`);
  if (found.length > 1) throw invalidArgument(`${kind} ${ref} is ambiguous (${found.length} matches found)`);
  return found[0]!;
}

/** swarmkit's label filter: key, or key=value; every one given must match. */
export function matchLabels(labels: Record<string, string> | undefined, conds: string[]): boolean {
  return conds.every((c) => {
    const i = c.indexOf('=');
    const k = i < 0 ? c : c.slice(0, i);
    if (!labels || !(k in labels)) return false;
    return i < 0 || c.slice(i + 1) === '' || labels[k] === c.slice(i + 1);
  });
}

/**
 * ServiceStatus as swarmkit's ListServiceStatuses counts it, with running tasks counted only on nodes
 * that are ready (a task on a node that stopped answering is not running for the user).
 */
export function serviceStatus(s: Service, allTasks: Task[], nodes: SwarmNode[]): ServiceStatus {
  const ready = new Set(nodes.filter((n) => n.Status.State === 'ready').map((n) => n.ID));
  const status: ServiceStatus = { RunningTasks: 0, DesiredTasks: 0, CompletedTasks: 0 };
  let global = false;
  if (s.Spec.Mode.Replicated) status.DesiredTasks = s.Spec.Mode.Replicated.Replicas ?? 1;
  else if (s.Spec.Mode.ReplicatedJob) status.DesiredTasks = s.Spec.Mode.ReplicatedJob.MaxConcurrent ?? 1;
  else global = true;
  const iteration = s.JobStatus?.JobIteration.Index;
  for (const t of allTasks) {
    if (t.ServiceID !== s.ID) continue;
    if (iteration !== undefined) {
      if (t.JobIteration?.Index !== iteration) continue;
      if (t.Status.State === 'complete') status.CompletedTasks++;
    }
    if (t.Status.State === 'running' && t.NodeID && ready.has(t.NodeID)) status.RunningTasks++;
    if (global && t.DesiredState === 'running') status.DesiredTasks++;
    if (global && t.Status.State !== 'complete' && t.DesiredState === 'complete') status.DesiredTasks++;
  }
  return status;
}
