/**
 * A service spec as dockerd stores it: what its conversion to swarmkit's spec adds or refuses
 * (daemon/cluster/convert/service.go), then swarmkit's own validation (manager/controlapi/service.go),
 * with their words. Pure functions; the checks that need the store (networks, names, ports) are in
 * service-api.ts and endpoint.ts.
 */
import { invalidArgument } from '../../lib/errors.js';
import { parseReference } from '../../images/reference.js';
import type { ContainerSpec, EndpointSpec, PortConfig, ServiceMode, ServiceSpec, TaskSpec, UpdateConfig } from '../types.js';
import { rpcError } from './rpc-errors.js';

const SECOND = 1e9;
const MINIMUM_DURATION = 1e6; // 1 ms
const VALID_DNS_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

/** What the decoder hands over: a ServiceSpec whose parts may all be missing. */
export type ServiceSpecInput = Partial<Omit<ServiceSpec, 'TaskTemplate' | 'Mode'>> & { TaskTemplate?: TaskSpec; Mode?: ServiceMode } & Record<string, unknown>;

/**
 * dockerd's conversion of a client's spec: defaults it fills (Labels {}, Runtime "container",
 * Isolation "default", ForceUpdate 0, replicated 1, RestartPolicy/UpdateConfig/EndpointSpec enums) and
 * the errors it gives for values it cannot convert. `randomName` names a service sent without one.
 */
export function normalizeSpec(input: ServiceSpecInput, randomName: () => string): ServiceSpec {
  const spec = structuredClone(input);
  const task: TaskSpec = spec.TaskTemplate ?? {};
  // The deprecated top-level Networks count when the task template has none.
  if (!task.Networks?.length && spec.Networks?.length) task.Networks = spec.Networks;
  if (!task.Networks?.length) delete task.Networks;
  const runtime = task.Runtime || 'container';
  if (runtime !== 'container') {
    if (runtime === 'plugin') throw invalidArgument(`runtime type "plugin" only supported in experimental`);
    throw invalidArgument('unsupported runtime');
  }
  if (!task.ContainerSpec) throw invalidArgument('mismatched Runtime and *Spec fields');
  task.ContainerSpec.Isolation ||= 'default';
  task.Runtime = 'container';
  task.ForceUpdate ??= 0;

  const res = task.Resources as (TaskSpec['Resources'] & { SwapBytes?: number }) | undefined;
  if (res?.SwapBytes !== undefined && !res.Limits?.MemoryBytes) throw invalidArgument('memory swap provided, but no memory-limit was set');

  if (task.RestartPolicy) {
    const c = task.RestartPolicy.Condition as string | undefined;
    if (c && c !== 'none' && c !== 'on-failure' && c !== 'any') throw invalidArgument(`invalid RestartCondition: "${c}"`);
    task.RestartPolicy.Condition = (c || 'any') as 'any';
    task.RestartPolicy.MaxAttempts ??= 0;
  }

  const out: ServiceSpec = {
    Name: spec.Name || randomName(),
    Labels: spec.Labels ?? {},
    TaskTemplate: task,
    Mode: normalizeMode(spec.Mode ?? {}),
  };
  const update = normalizeUpdateConfig(spec.UpdateConfig);
  if (update) out.UpdateConfig = update;
  const rollback = normalizeUpdateConfig(spec.RollbackConfig);
  if (rollback) out.RollbackConfig = rollback;
  if (spec.EndpointSpec) out.EndpointSpec = normalizeEndpointSpec(spec.EndpointSpec);
  return out;
}

function normalizeMode(mode: ServiceMode): ServiceMode {
  const set = (['Global', 'Replicated', 'ReplicatedJob', 'GlobalJob'] as const).filter((k) => mode[k] !== undefined);
  if (set.length > 1) throw invalidArgument('must specify only one service mode');
  if (mode.Global) return { Global: {} };
  if (mode.GlobalJob) return { GlobalJob: {} };
  if (mode.ReplicatedJob) {
    const maxConcurrent = mode.ReplicatedJob.MaxConcurrent ?? 1;
    return { ReplicatedJob: { MaxConcurrent: maxConcurrent, TotalCompletions: mode.ReplicatedJob.TotalCompletions ?? maxConcurrent } };
  }
  return { Replicated: { Replicas: mode.Replicated?.Replicas ?? 1 } };
}

function normalizeUpdateConfig(u: UpdateConfig | undefined): UpdateConfig | undefined {
  if (!u) return undefined;
  const action = u.FailureAction as string | undefined;
  if (action && !['pause', 'continue', 'rollback'].includes(action)) throw invalidArgument(`unrecognized update failure action ${action}`);
  const order = u.Order as string | undefined;
  if (order && order !== 'stop-first' && order !== 'start-first') throw invalidArgument(`unrecognized update order ${order}`);
  // Key order and omitted zero durations as dockerd's JSON shows them.
  const out: UpdateConfig = { Parallelism: u.Parallelism ?? 0 };
  if (u.Delay) out.Delay = u.Delay;
  out.FailureAction = (action || 'pause') as UpdateConfig['FailureAction'];
  if (u.Monitor) out.Monitor = u.Monitor;
  out.MaxFailureRatio = u.MaxFailureRatio ?? 0;
  out.Order = (order || 'stop-first') as UpdateConfig['Order'];
  return out;
}

function normalizeEndpointSpec(e: EndpointSpec): EndpointSpec {
  const mode = e.Mode as string | undefined;
  if (mode && mode !== 'vip' && mode !== 'dnsrr') throw invalidArgument(`invalid resolution mode: "${mode}"`);
  const out: EndpointSpec = { Mode: (mode || 'vip') as 'vip' };
  // swarmkit's enums read an unknown protocol or publish mode as their first value (tcp, ingress).
  if (e.Ports?.length) out.Ports = e.Ports.map(normalizePort);
  return out;
}

export function normalizePort(p: PortConfig): PortConfig {
  const protocol = String(p.Protocol ?? '').toLowerCase();
  const mode = String(p.PublishMode ?? '').toLowerCase();
  const out: PortConfig = {};
  if (p.Name) out.Name = p.Name;
  out.Protocol = (['udp', 'sctp'].includes(protocol) ? protocol : 'tcp') as PortConfig['Protocol'];
  // Zero ports are omitted as in dockerd's JSON (omitempty).
  if (p.TargetPort) out.TargetPort = p.TargetPort;
  if (p.PublishedPort) out.PublishedPort = p.PublishedPort;
  out.PublishMode = mode === 'host' ? 'host' : 'ingress';
  return out;
}

// ---------------------------------------------------------------- swarmkit's validation

const invalid = (desc: string) => rpcError('InvalidArgument', desc);

/** swarmkit's validateServiceSpec on a normalized spec. */
export function validateSpec(spec: ServiceSpec): void {
  validateName(spec.Name);
  const task = spec.TaskTemplate;
  for (const r of [task.Resources?.Limits, task.Resources?.Reservations]) {
    if (!r) continue;
    if (r.NanoCPUs && r.NanoCPUs < 1e6) throw invalid(`invalid cpu value ${goFloat(r.NanoCPUs / 1e9)}: Must be at least 0.001`);
    if (r.MemoryBytes && r.MemoryBytes < 4 * 1024 * 1024) throw invalid(`invalid memory value ${r.MemoryBytes}: Must be at least 4MiB`);
  }
  if ((task.RestartPolicy?.Delay ?? 0) < 0) throw invalid('TaskSpec: restart-delay cannot be negative');
  if ((task.RestartPolicy?.Window ?? 0) < 0) throw invalid('TaskSpec: restart-window cannot be negative');
  validateConstraints(task.Placement?.Constraints ?? []);
  validateRefs(task.ContainerSpec?.Secrets, 'secret');
  validateRefs(task.ContainerSpec?.Configs, 'config');
  validateContainerSpec(task.ContainerSpec!);
  const isJob = Boolean(spec.Mode.ReplicatedJob || spec.Mode.GlobalJob);
  if (isJob) {
    if (spec.UpdateConfig) throw invalid('Jobs may not have an update config');
  } else if (spec.UpdateConfig) {
    const u = spec.UpdateConfig;
    if ((u.Delay ?? 0) < 0) throw invalid('TaskSpec: update-delay cannot be negative');
    if ((u.Monitor ?? 0) < 0) throw invalid('TaskSpec: update-monitor cannot be negative');
    if ((u.MaxFailureRatio ?? 0) < 0 || (u.MaxFailureRatio ?? 0) > 1) throw invalid('TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1');
  }
  validateEndpointSpec(spec.EndpointSpec);
}

export function validateName(name: string): void {
  if (!name) throw invalid('meta: name must be provided');
  if (!VALID_DNS_NAME.test(name)) throw invalid('name must be valid as a DNS name component');
  if (name.length > 63) throw invalid('name must be 63 characters or fewer');
}

/** swarmkit's constraint.Parse; its errors are plain Go errors, which gRPC reports as Unknown. */
export function validateConstraints(constraints: string[]): void {
  const key = /^[a-z_][a-z0-9\-_.]+$/i;
  const value = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
  for (const c of constraints) {
    const op = ['==', '!='].find((o) => c.includes(o));
    if (!op) throw rpcError('Unknown', 'constraint expected one operator from ==, !=');
    const i = c.indexOf(op);
    const k = c.slice(0, i).trim();
    const v = c.slice(i + op.length).trim();
    if (!key.test(k)) throw rpcError('Unknown', `key '${k}' is invalid`);
    if (!value.test(v)) throw rpcError('Unknown', `value '${v}' is invalid`);
  }
}

interface ObjectRef {
  SecretID?: string;
  SecretName?: string;
  ConfigID?: string;
  ConfigName?: string;
  File?: { Name?: string };
  Runtime?: unknown;
}

/** swarmkit's validateSecretRefsSpec / validateConfigRefsSpec: IDs, names, targets, no two on one file. */
function validateRefs(refs: unknown[] | undefined, kind: 'secret' | 'config'): void {
  const targets = new Map<string, string>();
  for (const raw of refs ?? []) {
    const r = (raw ?? {}) as ObjectRef;
    const id = kind === 'secret' ? r.SecretID : r.ConfigID;
    const name = (kind === 'secret' ? r.SecretName : r.ConfigName) ?? '';
    if (!id || !name) throw invalid(`malformed ${kind} reference`);
    if (!r.File && !(kind === 'config' && r.Runtime)) throw invalid(`malformed ${kind} reference, no target provided`);
    if (r.File) {
      const file = r.File.Name ?? '';
      if (!file) throw invalid(`malformed file ${kind} reference, invalid target file name provided`);
      const prev = targets.get(file);
      if (prev !== undefined) throw invalid(`${kind} references '${prev}' and '${name}' have a conflicting target: '${file}'`);
      targets.set(file, name);
    }
  }
}

function validateContainerSpec(c: ContainerSpec): void {
  if (!c.Image) throw invalid('ContainerSpec: image reference must be provided');
  try {
    parseReference(c.Image);
  } catch {
    throw invalid(`ContainerSpec: "${c.Image}" is not a valid repository/tag`);
  }
  const targets = new Set<string>();
  for (const m of c.Mounts ?? []) {
    const target = String((m as { Target?: unknown }).Target ?? '');
    if (targets.has(target)) throw invalid(`ContainerSpec: duplicate mount point: ${target}`);
    targets.add(target);
  }
  const hc = c.Healthcheck;
  if (hc) {
    for (const f of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
      const v = hc[f];
      if (v && v < MINIMUM_DURATION) throw invalid(`ContainerSpec: ${f} in HealthConfig cannot be less than 1ms`);
    }
    if ((hc.Retries ?? 0) < 0) throw invalid('ContainerSpec: Retries in HealthConfig cannot be negative');
  }
}

function validateEndpointSpec(e: EndpointSpec | undefined): void {
  if (!e) return;
  const seen = new Set<string>();
  for (const p of e.Ports ?? []) {
    if (e.Mode === 'dnsrr' && p.PublishMode === 'ingress') throw invalid("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
    if (!p.PublishedPort) continue;
    const key = `${p.Protocol}/${p.PublishedPort}`;
    if (seen.has(key)) throw invalid('EndpointSpec: duplicate published ports provided');
    seen.add(key);
  }
}

/** Go's %g for the small floats of the cpu message. */
function goFloat(n: number): string {
  const s = String(n);
  return /e-/.test(s) ? n.toExponential().replace(/e-(\d)$/, 'e-0$1') : s;
}

// ---------------------------------------------------------------- defaults (?insertDefaults)

/**
 * The spec with swarmkit's defaults filled in where the spec says nothing (defaults.InterpolateService),
 * as `GET /services/{id}?insertDefaults=true` shows it and as the orchestrator should read it.
 */
export function withDefaults(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  const t = s.TaskTemplate;
  if (t.ContainerSpec) {
    t.ContainerSpec.StopGracePeriod ??= 10 * SECOND;
    t.ContainerSpec.DNSConfig ??= {};
  }
  t.Resources ??= {};
  if (!t.RestartPolicy) t.RestartPolicy = { Condition: 'any', Delay: 5 * SECOND, MaxAttempts: 0 };
  else t.RestartPolicy.Delay ??= 5 * SECOND;
  t.Placement ??= {};
  const defaultsOf = (u: UpdateConfig | undefined): UpdateConfig => {
    if (!u) return { Parallelism: 1, FailureAction: 'pause', Monitor: 5 * SECOND, MaxFailureRatio: 0, Order: 'stop-first' };
    const out: UpdateConfig = { Parallelism: u.Parallelism ?? 0 };
    if (u.Delay) out.Delay = u.Delay;
    out.FailureAction = u.FailureAction ?? 'pause';
    out.Monitor = u.Monitor || 5 * SECOND;
    out.MaxFailureRatio = u.MaxFailureRatio ?? 0;
    out.Order = u.Order ?? 'stop-first';
    return out;
  };
  s.UpdateConfig = defaultsOf(s.UpdateConfig);
  s.RollbackConfig = defaultsOf(s.RollbackConfig);
  return s;
}

/** "replicated", "global", "replicated-job" or "global-job" (the list's mode filter). */
export function modeName(mode: ServiceMode): string {
  if (mode.Global) return 'global';
  if (mode.ReplicatedJob) return 'replicated-job';
  if (mode.GlobalJob) return 'global-job';
  return 'replicated';
}
