/**
 * One compose service as a swarm ServiceSpec, as the docker CLI's compose/convert/service.go makes it:
 * name `<stack>_<service>`, the namespace and image labels, the `deploy:` keys as service options,
 * networks with the service's name as an alias, secrets and configs as file references (by name: the
 * deployer fills in their IDs). Pure: everything it needs is in the project.
 */
import type { ComposeProject, ServiceConfig, VolumeMount } from '../compose/index.js';
import { parseDurationNs } from '../compose/duration.js';
import { parseNanoCpus } from '../compose/units.js';
import type { ContainerSpec, EndpointSpec, Mount, NetworkAttachmentConfig, Placement, PortConfig, RestartPolicy, ServiceMode, ServiceSpec, TaskSpec, UpdateConfig } from '../swarm/types.js';
import { StackError } from './errors.js';
import { LABEL_IMAGE, type StackNamespace } from './namespace.js';

type Dict = Record<string, unknown>;

/** A secret or config reference before its ID is known. */
export interface FileReference {
  File: { Name: string; UID: string; GID: string; Mode: number };
  SecretID?: string;
  SecretName?: string;
  ConfigID?: string;
  ConfigName?: string;
}

const DEFAULT_NETWORK = 'default';
/** Network modes every node has: no aliases there (docker's IsUserDefined). */
const PREDEFINED_NETWORKS = new Set(['default', 'bridge', 'host', 'none']);

const ns = (value: unknown, where: string): number | undefined =>
  value === undefined || value === null ? undefined : parseDurationNs(value as string | number, where);

/** The networks a service joins: its own, or the stack's default network. */
export function serviceNetworkKeys(svc: ServiceConfig): string[] {
  const keys = Object.keys(svc.networks ?? {});
  return keys.length ? keys : [DEFAULT_NETWORK];
}

export function convertService(namespace: StackNamespace, svc: ServiceConfig, project: ComposeProject): ServiceSpec {
  const deploy = (svc.deploy ?? {}) as Dict;
  const where = `services.${svc.name}`;
  const container: ContainerSpec = {
    Image: svc.image ?? '',
    Labels: namespace.labels(svc.labels),
  };
  if (svc.entrypoint) container.Command = svc.entrypoint;
  if (svc.command) container.Args = svc.command;
  if (svc.hostname) container.Hostname = svc.hostname;
  const hosts = extraHosts(svc.extra_hosts);
  if (hosts.length) container.Hosts = hosts;
  const dns = listOf(svc.dns);
  const search = listOf(svc.dns_search);
  const options = svc.dns_opt ?? [];
  if (dns.length || search.length || options.length) {
    container.DNSConfig = { ...(dns.length && { Nameservers: dns }), ...(search.length && { Search: search }), ...(options.length && { Options: options }) };
  }
  const health = healthcheck(svc, where);
  if (health) container.Healthcheck = health;
  const env = environment(svc.environment);
  if (env.length) container.Env = env;
  if (svc.working_dir) container.Dir = svc.working_dir;
  if (svc.user) container.User = svc.user;
  const mounts = (svc.volumes ?? []).map((v) => mountOf(v, project, namespace));
  if (mounts.length) container.Mounts = mounts;
  if (svc.stop_grace_period !== undefined) container.StopGracePeriod = ns(svc.stop_grace_period, `${where}.stop_grace_period`);
  if (svc.stop_signal) container.StopSignal = svc.stop_signal;
  if (svc.tty) container.TTY = true;
  if (svc.stdin_open) container.OpenStdin = true;
  if (svc.read_only) container.ReadOnly = true;
  if (svc.init !== undefined) container.Init = svc.init;
  if (svc.sysctls && Object.keys(svc.sysctls).length) container.Sysctls = Object.fromEntries(Object.entries(svc.sysctls).map(([k, v]) => [k, v ?? '']));
  const { add, drop } = effectiveCaps(svc.cap_add ?? [], svc.cap_drop ?? []);
  if (add.length) container.CapabilityAdd = add;
  if (drop.length) container.CapabilityDrop = drop;
  const ulimits = Object.entries(svc.ulimits ?? {})
    .map(([Name, u]) => (u.single !== undefined ? { Name, Soft: u.single, Hard: u.single } : { Name, Soft: u.soft ?? 0, Hard: u.hard ?? 0 }))
    .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  if (ulimits.length) container.Ulimits = ulimits;
  if (typeof svc.isolation === 'string' && svc.isolation) container.Isolation = svc.isolation;
  if (typeof svc.oom_score_adj === 'number') container.OomScoreAdj = svc.oom_score_adj;
  const secrets = fileReferences(svc.secrets, project.secrets, namespace, 'secret');
  if (secrets.length) container.Secrets = secrets;
  const configs = fileReferences(svc.configs, project.configs, namespace, 'config');
  if (configs.length) container.Configs = configs;

  const task: TaskSpec = { ContainerSpec: container };
  const resources = convertResources(deploy.resources as Dict | undefined, where);
  if (resources) task.Resources = resources;
  const restart = restartPolicy(svc.restart, deploy.restart_policy as Dict | undefined, where);
  if (restart) task.RestartPolicy = restart;
  const placement = convertPlacement(deploy.placement as Dict | undefined);
  if (placement) task.Placement = placement;
  task.Networks = networkAttachments(svc, project, namespace);
  if (svc.logging?.driver || svc.logging?.options) {
    task.LogDriver = { Name: svc.logging.driver ?? '', ...(svc.logging.options && { Options: Object.fromEntries(Object.entries(svc.logging.options).map(([k, v]) => [k, v === null ? '' : String(v)])) }) };
  }

  const labels = namespace.labels(deploy.labels as Record<string, string> | undefined);
  labels[LABEL_IMAGE] = svc.image ?? '';
  const spec: ServiceSpec = {
    Name: namespace.scope(svc.name),
    Labels: labels,
    TaskTemplate: task,
    Mode: serviceMode(deploy.mode as string | undefined, deploy.replicas as number | undefined),
    EndpointSpec: endpointSpec(deploy.endpoint_mode as string | undefined, svc),
  };
  const update = updateConfig(deploy.update_config as Dict | undefined, `${where}.deploy.update_config`);
  if (update) spec.UpdateConfig = update;
  const rollback = updateConfig(deploy.rollback_config as Dict | undefined, `${where}.deploy.rollback_config`);
  if (rollback) spec.RollbackConfig = rollback;
  return spec;
}

/** An object's name: as the file names it, else the key for external ones, else scoped to the stack. */
export function objectName(def: { name?: unknown; external?: unknown }, key: string, namespace: StackNamespace): string {
  if (typeof def.name === 'string' && def.name) return def.name;
  return def.external ? key : namespace.scope(key);
}

function listOf(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** `host=ip` (the loader's form) -> swarmkit's "ip host", order kept. */
function extraHosts(entries: string[] | undefined): string[] {
  return (entries ?? []).flatMap((h) => {
    const eq = h.indexOf('=');
    const i = eq >= 0 ? eq : h.indexOf(':');
    return i < 0 ? [] : [`${h.slice(i + 1)} ${h.slice(0, i)}`];
  });
}

/** KEY=VALUE sorted; a variable the environment did not set is passed by name alone. */
function environment(env: Record<string, string | null>): string[] {
  return Object.entries(env ?? {}).map(([k, v]) => (v === null ? k : `${k}=${v}`)).sort();
}

/** docker's EffectiveCapAddCapDrop: upper-cased with CAP_, sorted; ALL trumps the others; an added one is not dropped. */
function effectiveCaps(add: string[], drop: string[]): { add: string[]; drop: string[] } {
  const norm = (list: string[]) =>
    [...new Set(list.map((c) => {
      const u = c.trim().toUpperCase();
      return u === 'ALL' || u.startsWith('CAP_') ? u : `CAP_${u}`;
    }))].sort();
  let adds = norm(add);
  let drops = norm(drop);
  if (adds.includes('ALL')) adds = ['ALL'];
  if (drops.includes('ALL')) drops = ['ALL'];
  return { add: adds, drop: drops.filter((d) => !adds.includes(d)) };
}

function healthcheck(svc: ServiceConfig, where: string): ContainerSpec['Healthcheck'] | undefined {
  const h = svc.healthcheck;
  if (!h) return undefined;
  if (h.disable) {
    if (h.test?.length) throw new StackError(`service ${svc.name}: test and disable can't be set at the same time`);
    return { Test: ['NONE'] };
  }
  const out: NonNullable<ContainerSpec['Healthcheck']> = {};
  if (h.test) out.Test = h.test;
  if (h.interval) out.Interval = ns(h.interval, `${where}.healthcheck.interval`);
  if (h.timeout) out.Timeout = ns(h.timeout, `${where}.healthcheck.timeout`);
  if (h.start_period) out.StartPeriod = ns(h.start_period, `${where}.healthcheck.start_period`);
  if (h.start_interval) out.StartInterval = ns(h.start_interval, `${where}.healthcheck.start_interval`);
  if (h.retries !== undefined) out.Retries = h.retries;
  return out;
}

/** compose/convert/volume.go: named volumes scoped to the stack (labelled, with their driver) unless external. */
function mountOf(v: VolumeMount, project: ComposeProject, namespace: StackNamespace): Mount {
  const m: Mount = { Type: v.type as Mount['Type'], Target: v.target };
  if (v.source) m.Source = v.source;
  if (v.read_only) m.ReadOnly = true;
  if (v.consistency) m.Consistency = v.consistency;
  switch (v.type) {
    case 'volume': {
      if (hasOptions(v.tmpfs)) throw new StackError('tmpfs options are incompatible with type volume');
      if (hasOptions(v.bind, ['create_host_path'])) throw new StackError('bind options are incompatible with type volume');
      if (!v.source) return m;
      const def = project.volumes[v.source];
      if (!def) throw new StackError(`undefined volume ${JSON.stringify(v.source)}`);
      m.Source = objectName(def, v.source, namespace);
      const opts: Dict = {};
      if (v.volume?.nocopy) opts.NoCopy = true;
      if (v.volume?.subpath) opts.Subpath = v.volume.subpath;
      if (!def.external) {
        opts.Labels = namespace.labels(def.labels as Record<string, string> | undefined);
        if (def.driver || def.driver_opts) opts.DriverConfig = { Name: def.driver ?? '', ...(def.driver_opts ? { Options: def.driver_opts } : {}) };
      }
      m.VolumeOptions = opts;
      return m;
    }
    case 'bind':
      if (!v.source) throw new StackError('invalid bind source, source cannot be empty');
      if (hasOptions(v.volume)) throw new StackError('volume options are incompatible with type bind');
      if (hasOptions(v.tmpfs)) throw new StackError('tmpfs options are incompatible with type bind');
      if (v.bind?.propagation) m.BindOptions = { Propagation: v.bind.propagation };
      return m;
    case 'tmpfs': {
      if (v.source) throw new StackError('invalid tmpfs source, source must be empty');
      if (hasOptions(v.bind, ['create_host_path'])) throw new StackError('bind options are incompatible with type tmpfs');
      if (hasOptions(v.volume)) throw new StackError('volume options are incompatible with type tmpfs');
      const size = v.tmpfs?.size;
      if (size !== undefined) m.TmpfsOptions = { SizeBytes: typeof size === 'number' ? size : Number(size) };
      return m;
    }
    case 'npipe':
    case 'cluster':
      if (!v.source) throw new StackError(`invalid ${v.type} source, source cannot be empty`);
      return m;
    default:
      throw new StackError('volume type must be volume, bind, tmpfs, npipe, or cluster');
  }
}

/** Whether a type's option block says anything (the loader adds empty ones and create_host_path). */
function hasOptions(o: Dict | undefined, ignore: string[] = []): boolean {
  return Boolean(o && Object.keys(o).some((k) => !ignore.includes(k) && o[k] !== undefined));
}

/** Secret or config references: target defaults to the source's name, uid/gid "0", mode 0444; sorted by name. */
function fileReferences(refs: ServiceConfig['secrets'], defined: ComposeProject['secrets'], namespace: StackNamespace, kind: 'secret' | 'config'): FileReference[] {
  const out: FileReference[] = [];
  for (const r of refs ?? []) {
    const def = defined[r.source];
    if (!def) throw new StackError(`undefined ${kind} ${JSON.stringify(r.source)}`);
    const name = objectName(def, r.source, namespace);
    const file = { Name: r.target || r.source, UID: r.uid === undefined ? '0' : String(r.uid), GID: r.gid === undefined ? '0' : String(r.gid), Mode: fileMode(r.mode) };
    out.push(kind === 'secret' ? { File: file, SecretID: '', SecretName: name } : { File: file, ConfigID: '', ConfigName: name });
  }
  const key = (r: FileReference) => r.SecretName ?? r.ConfigName ?? '';
  // Sorted, so that the order in the file does not make a spec differ (docker sorts them too).
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function fileMode(mode: unknown): number {
  if (mode === undefined || mode === null) return 0o444;
  if (typeof mode === 'number') return mode;
  const s = String(mode);
  return /^0[0-7]*$/.test(s) ? parseInt(s, 8) : Number(s);
}

function convertResources(raw: Dict | undefined, where: string): TaskSpec['Resources'] | undefined {
  if (!raw) return undefined;
  const out: NonNullable<TaskSpec['Resources']> = {};
  const limits = raw.limits as Dict | undefined;
  if (limits) {
    out.Limits = {};
    if (limits.cpus !== undefined && limits.cpus !== '') out.Limits.NanoCPUs = parseNanoCpus(limits.cpus as string, `${where}.deploy.resources.limits.cpus`);
    if (limits.memory !== undefined) out.Limits.MemoryBytes = Number(limits.memory);
    if (limits.pids !== undefined) out.Limits.Pids = Number(limits.pids);
  }
  const reservations = raw.reservations as Dict | undefined;
  if (reservations) {
    out.Reservations = {};
    if (reservations.cpus !== undefined && reservations.cpus !== '') out.Reservations.NanoCPUs = parseNanoCpus(reservations.cpus as string, `${where}.deploy.resources.reservations.cpus`);
    if (reservations.memory !== undefined) out.Reservations.MemoryBytes = Number(reservations.memory);
    const generic = (reservations.generic_resources ?? []) as Array<{ discrete_resource_spec?: { kind?: string; value?: number } }>;
    if (generic.length) {
      out.Reservations.GenericResources = generic.map((g) => (g.discrete_resource_spec ? { DiscreteResourceSpec: { Kind: g.discrete_resource_spec.kind, Value: g.discrete_resource_spec.value } } : {}));
    }
  }
  return out;
}

/** deploy.restart_policy, else the legacy `restart:` (docker's convertRestartPolicy). */
function restartPolicy(restart: string | undefined, raw: Dict | undefined, where: string): RestartPolicy | undefined {
  if (raw) {
    const out: RestartPolicy = {};
    if (raw.condition) out.Condition = raw.condition as RestartPolicy['Condition'];
    const delay = ns(raw.delay, `${where}.deploy.restart_policy.delay`);
    if (delay !== undefined) out.Delay = delay;
    if (raw.max_attempts !== undefined) out.MaxAttempts = Number(raw.max_attempts);
    const window = ns(raw.window, `${where}.deploy.restart_policy.window`);
    if (window !== undefined) out.Window = window;
    return out;
  }
  if (!restart) return undefined;
  const [name, count] = restart.split(':', 2) as [string, string | undefined];
  const max = count === undefined ? 0 : Number(count);
  if (!Number.isInteger(max)) throw new StackError(`invalid restart policy format: maximum retry count must be an integer`);
  if (max < 0) throw new StackError('invalid restart policy: maximum retry count cannot be negative');
  const attempts = max > 0 ? { MaxAttempts: max } : {};
  switch (name) {
    case 'no':
    case '':
      return undefined;
    case 'always':
    case 'unless-stopped':
      return { Condition: 'any', ...attempts };
    case 'on-failure':
      return { Condition: 'on-failure', ...attempts };
    default:
      throw new StackError(`invalid restart policy: unknown policy '${name}' (must be one of 'no', 'always', 'on-failure', or 'unless-stopped')`);
  }
}

function convertPlacement(raw: Dict | undefined): Placement | undefined {
  if (!raw) return undefined;
  const out: Placement = {};
  const constraints = (raw.constraints ?? []) as string[];
  if (constraints.length) out.Constraints = constraints;
  const preferences = (raw.preferences ?? []) as Array<{ spread?: string }>;
  if (preferences.length) out.Preferences = preferences.map((p) => ({ Spread: { SpreadDescriptor: p.spread ?? '' } }));
  if (raw.max_replicas_per_node !== undefined) out.MaxReplicas = Number(raw.max_replicas_per_node);
  return Object.keys(out).length ? out : undefined;
}

/** Attachments sorted by target, each with the service's name as an alias on user-defined networks. */
function networkAttachments(svc: ServiceConfig, project: ComposeProject, namespace: StackNamespace): NetworkAttachmentConfig[] {
  const nets: NetworkAttachmentConfig[] = [];
  for (const key of serviceNetworkKeys(svc)) {
    const def = project.networks[key];
    if (!def && key !== DEFAULT_NETWORK) throw new StackError(`service ${svc.name}: undefined network ${JSON.stringify(key)}`);
    const cfg = svc.networks?.[key] ?? null;
    const target = def ? objectName(def, key, namespace) : namespace.scope(key);
    const aliases = [...(cfg?.aliases ?? [])];
    if (!PREDEFINED_NETWORKS.has(target) && !target.startsWith('container:')) aliases.push(svc.name);
    const att: NetworkAttachmentConfig = { Target: target };
    if (aliases.length) att.Aliases = aliases;
    if (cfg?.driver_opts) att.DriverOpts = cfg.driver_opts;
    nets.push(att);
  }
  return nets.sort((a, b) => (a.Target < b.Target ? -1 : a.Target > b.Target ? 1 : 0));
}

function serviceMode(mode: string | undefined, replicas: number | undefined): ServiceMode {
  switch (mode ?? '') {
    case 'global-job':
      if (replicas !== undefined) throw new StackError('replicas can only be used with replicated or replicated-job mode');
      return { GlobalJob: {} };
    case 'global':
      if (replicas !== undefined) throw new StackError('replicas can only be used with replicated or replicated-job mode');
      return { Global: {} };
    case 'replicated-job':
      return { ReplicatedJob: replicas === undefined ? {} : { MaxConcurrent: replicas, TotalCompletions: replicas } };
    case 'replicated':
    case '':
      return { Replicated: replicas === undefined ? {} : { Replicas: replicas } };
    default:
      throw new StackError(`unknown mode: ${mode}`);
  }
}

function endpointSpec(mode: string | undefined, svc: ServiceConfig): EndpointSpec {
  const ports: PortConfig[] = (svc.ports ?? []).map((p) => {
    const out: PortConfig = { Protocol: (p.protocol || 'tcp') as PortConfig['Protocol'], TargetPort: p.target };
    if (p.published !== undefined && p.published !== '') {
      const published = Number(p.published);
      if (!Number.isInteger(published)) throw new StackError(`service ${svc.name}: invalid published port ${JSON.stringify(p.published)}`);
      out.PublishedPort = published;
    }
    out.PublishMode = (p.mode || 'ingress') as PortConfig['PublishMode'];
    return out;
  });
  const key = (p: PortConfig) => [p.Protocol ?? '', String(p.TargetPort ?? 0).padStart(5, '0'), String(p.PublishedPort ?? 0).padStart(5, '0'), p.PublishMode ?? ''].join('/');
  ports.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const out: EndpointSpec = {};
  if (mode) out.Mode = mode.toLowerCase() as EndpointSpec['Mode'];
  if (ports.length) out.Ports = ports;
  return out;
}

/** update_config / rollback_config; parallelism defaults to 1 as docker's convertUpdateConfig has it. */
function updateConfig(raw: Dict | undefined, where: string): UpdateConfig | undefined {
  if (!raw) return undefined;
  const out: UpdateConfig = { Parallelism: raw.parallelism === undefined ? 1 : Number(raw.parallelism) };
  const delay = ns(raw.delay, `${where}.delay`);
  if (delay) out.Delay = delay;
  if (raw.failure_action) out.FailureAction = raw.failure_action as UpdateConfig['FailureAction'];
  const monitor = ns(raw.monitor, `${where}.monitor`);
  if (monitor) out.Monitor = monitor;
  if (raw.max_failure_ratio !== undefined) out.MaxFailureRatio = Number(raw.max_failure_ratio);
  if (raw.order) out.Order = raw.order as UpdateConfig['Order'];
  return out;
}
