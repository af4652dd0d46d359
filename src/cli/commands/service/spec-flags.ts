/**
 * The flags of `service create` and `service update` and what they make of a ServiceSpec, as the docker
 * CLI's cli/command/service/opts.go and update.go do: create builds a spec from the flags; update
 * changes only what a flag that was given names (`--env-add`, `--publish-rm`, ...).
 */
import { keyValuePairs } from '../common.js';
import type { FlagDef, FlagValues } from '../../args.js';
import { CliError } from '../../errors.js';
import { parseGoDuration } from '../../gotime.js';
import { ramInBytes } from '../../units.js';
import { checkBytes, parseKeyValueFile, parseNanoCpus } from '../run.js';
import { parseMountSpec, readCsvRecord } from '../run-mounts.js';
import type { EndpointSpec, NetworkAttachmentConfig, PortConfig, ServiceSpec, UpdateConfig } from '../../../swarm/types.js';
import { checkConfigFlag, checkSecretFlag, parseConfigRef, parseSecretRef, resolveRefs, updatedRefs, type ListByName } from './file-refs.js';

const durationCheck = (v: string) => (parseGoDuration(v) === undefined ? `time: invalid duration "${v}"` : undefined);
const d = (name: string, usage: string): FlagDef => ({ name, type: 'string', usage, check: durationCheck, valueName: 'duration' });

/** Flags both commands take (docker's addServiceFlags). */
export function serviceFlags(): FlagDef[] {
  return [
    { name: 'detach', short: 'd', type: 'bool', usage: 'Exit immediately instead of waiting for the service to converge' },
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress progress output' },
    { name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' },
    { name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: <name|uid>[:<group|gid>])' },
    { name: 'hostname', type: 'string', usage: 'Container hostname' },
    { name: 'entrypoint', type: 'string', usage: 'Overwrite the default ENTRYPOINT of the image', valueName: 'command' },
    { name: 'limit-cpu', type: 'string', usage: 'Limit CPUs', valueName: 'decimal' },
    { name: 'limit-memory', type: 'string', usage: 'Limit Memory', check: checkBytes, valueName: 'bytes' },
    { name: 'reserve-cpu', type: 'string', usage: 'Reserve CPUs', valueName: 'decimal' },
    { name: 'reserve-memory', type: 'string', usage: 'Reserve Memory', check: checkBytes, valueName: 'bytes' },
    { name: 'limit-pids', type: 'int', usage: 'Limit maximum number of processes (default 0 = unlimited)' },
    d('stop-grace-period', 'Time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)'),
    { name: 'replicas', type: 'string', usage: 'Number of tasks', valueName: 'uint' },
    { name: 'max-concurrent', type: 'string', usage: 'Number of job tasks to run concurrently (default equal to --replicas)', valueName: 'uint' },
    { name: 'replicas-max-per-node', type: 'string', usage: 'Maximum number of tasks per node (default 0 = unlimited)', valueName: 'uint' },
    { name: 'restart-condition', type: 'string', usage: 'Restart when condition is met ("none", "on-failure", "any") (default "any")' },
    d('restart-delay', 'Delay between restart attempts (ns|us|ms|s|m|h) (default 5s)'),
    { name: 'restart-max-attempts', type: 'string', usage: 'Maximum number of restarts before giving up', valueName: 'uint' },
    d('restart-window', 'Window used to evaluate the restart policy (ns|us|ms|s|m|h)'),
    { name: 'update-parallelism', type: 'string', usage: 'Maximum number of tasks updated simultaneously (0 to update all at once)', valueName: 'uint' },
    d('update-delay', 'Delay between updates (ns|us|ms|s|m|h) (default 0s)'),
    d('update-monitor', 'Duration after each task update to monitor for failure (ns|us|ms|s|m|h) (default 5s)'),
    { name: 'update-failure-action', type: 'string', usage: 'Action on update failure ("pause", "continue", "rollback") (default "pause")' },
    { name: 'update-max-failure-ratio', type: 'string', usage: 'Failure rate to tolerate during an update (default 0)', valueName: 'float' },
    { name: 'update-order', type: 'string', usage: 'Update order ("start-first", "stop-first") (default "stop-first")' },
    { name: 'rollback-parallelism', type: 'string', usage: 'Maximum number of tasks rolled back simultaneously (0 to roll back all at once)', valueName: 'uint' },
    d('rollback-delay', 'Delay between task rollbacks (ns|us|ms|s|m|h) (default 0s)'),
    d('rollback-monitor', 'Duration after each task rollback to monitor for failure (ns|us|ms|s|m|h) (default 5s)'),
    { name: 'rollback-failure-action', type: 'string', usage: 'Action on rollback failure ("pause", "continue") (default "pause")' },
    { name: 'rollback-max-failure-ratio', type: 'string', usage: 'Failure rate to tolerate during a rollback (default 0)', valueName: 'float' },
    { name: 'rollback-order', type: 'string', usage: 'Rollback order ("start-first", "stop-first") (default "stop-first")' },
    { name: 'endpoint-mode', type: 'string', usage: 'Endpoint mode (vip or dnsrr) (default "vip")' },
    { name: 'with-registry-auth', type: 'bool', usage: 'Send registry authentication details to swarm agents' },
    { name: 'no-resolve-image', type: 'bool', usage: 'Do not query the registry to resolve image digest and supported platforms' },
    { name: 'log-driver', type: 'string', usage: 'Logging driver for service' },
    { name: 'log-opt', type: 'list', usage: 'Logging driver options' },
    { name: 'health-cmd', type: 'string', usage: 'Command to run to check health' },
    d('health-interval', 'Time between running the check (ms|s|m|h)'),
    d('health-timeout', 'Maximum time to allow one check to run (ms|s|m|h)'),
    { name: 'health-retries', type: 'int', usage: 'Consecutive failures needed to report unhealthy' },
    d('health-start-period', 'Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)'),
    d('health-start-interval', 'Time between running the check during the start period (ms|s|m|h)'),
    { name: 'no-healthcheck', type: 'bool', usage: 'Disable any container-specified HEALTHCHECK' },
    { name: 'tty', short: 't', type: 'bool', usage: 'Allocate a pseudo-TTY' },
    { name: 'read-only', type: 'bool', usage: "Mount the container's root filesystem as read only" },
    { name: 'stop-signal', type: 'string', usage: 'Signal to stop the container' },
    { name: 'init', type: 'bool', usage: 'Use an init inside each service container to forward signals and reap processes' },
  ];
}

/** Flags only `service create` has (list flags `update` spells with -add/-rm). */
export function createOnlyFlags(): FlagDef[] {
  return [
    { name: 'name', type: 'string', usage: 'Service name' },
    { name: 'mode', type: 'string', default: 'replicated', usage: 'Service mode ("replicated", "global", "replicated-job", "global-job")' },
    { name: 'label', short: 'l', type: 'list', usage: 'Service labels' },
    { name: 'container-label', type: 'list', usage: 'Container labels' },
    { name: 'env', short: 'e', type: 'list', usage: 'Set environment variables' },
    { name: 'env-file', type: 'list', usage: 'Read in a file of environment variables' },
    { name: 'publish', short: 'p', type: 'list', usage: 'Publish a port as a node port', valueName: 'port' },
    { name: 'mount', type: 'list', usage: 'Attach a filesystem mount to the service', valueName: 'mount' },
    { name: 'network', type: 'list', usage: 'Network attachments', valueName: 'network' },
    { name: 'constraint', type: 'list', usage: 'Placement constraints' },
    { name: 'placement-pref', type: 'list', usage: 'Add a placement preference', valueName: 'pref' },
    { name: 'group', type: 'list', usage: 'Set one or more supplementary user groups for the container' },
    { name: 'dns', type: 'list', usage: 'Set custom DNS servers' },
    { name: 'dns-option', type: 'list', usage: 'Set DNS options' },
    { name: 'dns-search', type: 'list', usage: 'Set custom DNS search domains' },
    { name: 'host', type: 'list', usage: 'Set one or more custom host-to-IP mappings (host:ip)' },
    { name: 'cap-add', type: 'list', usage: 'Add Linux capabilities' },
    { name: 'cap-drop', type: 'list', usage: 'Drop Linux capabilities' },
    { name: 'sysctl', type: 'list', usage: 'Sysctl options' },
    { name: 'secret', type: 'list', usage: 'Specify secrets to expose to the service', valueName: 'secret', check: checkSecretFlag },
    { name: 'config', type: 'list', usage: 'Specify configurations to expose to the service', valueName: 'config', check: checkConfigFlag },
  ];
}

/** Flags only `service update` has. */
export function updateOnlyFlags(): FlagDef[] {
  const addRm = (base: string, what: string): FlagDef[] => [
    { name: `${base}-add`, type: 'list', usage: `Add or update ${what}` },
    { name: `${base}-rm`, type: 'list', usage: `Remove ${what}` },
  ];
  return [
    { name: 'image', type: 'string', usage: 'Service image tag' },
    { name: 'args', type: 'string', usage: 'Service command args', valueName: 'command' },
    { name: 'force', type: 'bool', usage: 'Force update even if no changes require it' },
    { name: 'rollback', type: 'bool', usage: 'Rollback to previous specification' },
    ...addRm('env', 'an environment variable'),
    ...addRm('label', 'a service label'),
    ...addRm('container-label', 'a container label'),
    ...addRm('publish', 'a published port'),
    ...addRm('mount', 'a mount by its target path'),
    ...addRm('network', 'a network'),
    ...addRm('constraint', 'a placement constraint'),
    ...addRm('placement-pref', 'a placement preference'),
    ...addRm('group', 'a supplementary user group from the container'),
    ...addRm('dns', 'a custom DNS server'),
    ...addRm('dns-option', 'a DNS option'),
    ...addRm('dns-search', 'a DNS search domain'),
    ...addRm('host', 'a custom host-to-IP mapping ("host:ip")'),
    { name: 'cap-add', type: 'list', usage: 'Add Linux capabilities' },
    { name: 'cap-drop', type: 'list', usage: 'Drop Linux capabilities' },
    ...addRm('sysctl', 'a Sysctl option'),
    { name: 'secret-add', type: 'list', usage: 'Add or update a secret on a service', valueName: 'secret', check: checkSecretFlag },
    { name: 'secret-rm', type: 'list', usage: 'Remove a secret' },
    { name: 'config-add', type: 'list', usage: 'Add or update a config file on a service', valueName: 'config', check: checkConfigFlag },
    { name: 'config-rm', type: 'list', usage: 'Remove a configuration file' },
  ];
}

const ns = (f: FlagValues, name: string): number => parseGoDuration(f.string(name)) ?? 0;

function uint(f: FlagValues, name: string): number {
  const v = f.string(name);
  if (!/^\d+$/.test(v)) throw new CliError(`invalid argument "${v}" for "--${name}" flag: strconv.ParseUint: parsing "${v}": invalid syntax`);
  return Number(v);
}


/** `--publish 8080:80[/udp]`, `--publish 80`, or the long form `published=8080,target=80,mode=host,protocol=udp`. */
export function parsePublish(value: string): PortConfig {
  if (value.includes('=')) {
    const p: PortConfig = { Protocol: 'tcp', PublishMode: 'ingress' };
    for (const field of readCsvRecord(value)) {
      const [k, v = ''] = field.split('=', 2) as [string, string?];
      switch (k.toLowerCase()) {
        case 'published': p.PublishedPort = Number(v); break;
        case 'target': p.TargetPort = Number(v); break;
        case 'mode':
          if (v !== 'ingress' && v !== 'host') throw new CliError(`invalid publish mode value (${v}): must be either "ingress" or "host"`);
          p.PublishMode = v;
          break;
        case 'protocol':
          if (v !== 'tcp' && v !== 'udp' && v !== 'sctp') throw new CliError(`invalid protocol value '${v}'`);
          p.Protocol = v;
          break;
        default: throw new CliError(`invalid field key ${k}`);
      }
    }
    if (!p.TargetPort) throw new CliError('missing mandatory field "target"');
    return p;
  }
  const [spec, proto = 'tcp'] = value.split('/') as [string, string?];
  const parts = spec.split(':');
  const target = Number(parts[parts.length - 1]);
  const published = parts.length > 1 ? Number(parts[parts.length - 2]) : 0;
  if (!Number.isInteger(target) || target < 1 || target > 65535 || !Number.isInteger(published)) throw new CliError(`invalid port format: ${value}`);
  return { Protocol: proto as PortConfig['Protocol'], TargetPort: target, PublishedPort: published || undefined, PublishMode: 'ingress' };
}

/** `--network name` or `--network name=x,alias=y,driver-opt=k=v`. */
export function parseNetwork(value: string): NetworkAttachmentConfig {
  if (!value.includes('=')) return { Target: value };
  const n: NetworkAttachmentConfig = { Target: '' };
  for (const field of readCsvRecord(value)) {
    const i = field.indexOf('=');
    const k = field.slice(0, i).toLowerCase();
    const v = field.slice(i + 1);
    if (k === 'name') n.Target = v;
    else if (k === 'alias') (n.Aliases ??= []).push(v);
    else if (k === 'driver-opt') Object.assign((n.DriverOpts ??= {}), keyValuePairs([v]));
    else throw new CliError(`invalid field key ${k}`);
  }
  return n;
}

function placementPref(value: string): { Spread: { SpreadDescriptor: string } } {
  const [strategy, arg] = value.split('=', 2);
  if (strategy !== 'spread' || !arg) throw new CliError(`unsupported placement preference ${strategy ?? value} (only spread is supported)`);
  return { Spread: { SpreadDescriptor: arg } };
}

/** "host:ip" (docker's flag order) -> "ip host" (the Hosts file order the API takes). */
const hostEntry = (v: string): string => {
  const i = v.indexOf(':');
  if (i < 0) throw new CliError(`bad format for add-host: "${v}"`);
  return `${v.slice(i + 1)} ${v.slice(0, i)}`;
};

function healthcheck(f: FlagValues): Record<string, unknown> | undefined {
  const anyHealth = ['health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'health-start-interval'].some((n) => f.changed(n));
  if (f.bool('no-healthcheck')) {
    if (anyHealth) throw new CliError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!anyHealth) return undefined;
  const h: Record<string, unknown> = {};
  if (f.changed('health-cmd')) h.Test = ['CMD-SHELL', f.string('health-cmd')];
  if (f.changed('health-interval')) h.Interval = ns(f, 'health-interval');
  if (f.changed('health-timeout')) h.Timeout = ns(f, 'health-timeout');
  if (f.changed('health-retries')) h.Retries = f.int('health-retries');
  if (f.changed('health-start-period')) h.StartPeriod = ns(f, 'health-start-period');
  if (f.changed('health-start-interval')) h.StartInterval = ns(f, 'health-start-interval');
  return h;
}

function updateConfig(f: FlagValues, prefix: 'update' | 'rollback', base: UpdateConfig = {}): UpdateConfig {
  const c: UpdateConfig = { ...base };
  if (f.changed(`${prefix}-parallelism`)) c.Parallelism = uint(f, `${prefix}-parallelism`);
  else c.Parallelism ??= 1;
  if (f.changed(`${prefix}-delay`)) c.Delay = ns(f, `${prefix}-delay`);
  if (f.changed(`${prefix}-monitor`)) c.Monitor = ns(f, `${prefix}-monitor`);
  if (f.changed(`${prefix}-failure-action`)) {
    const a = f.string(`${prefix}-failure-action`);
    const allowed = prefix === 'update' ? ['pause', 'continue', 'rollback'] : ['pause', 'continue'];
    if (!allowed.includes(a)) throw new CliError(`invalid ${prefix}-failure-action: ${a}`);
    c.FailureAction = a as UpdateConfig['FailureAction'];
  }
  if (f.changed(`${prefix}-max-failure-ratio`)) c.MaxFailureRatio = Number(f.string(`${prefix}-max-failure-ratio`));
  if (f.changed(`${prefix}-order`)) {
    const o = f.string(`${prefix}-order`);
    if (o !== 'start-first' && o !== 'stop-first') throw new CliError(`invalid ${prefix}-order: ${o}`);
    c.Order = o;
  }
  return c;
}

/** The flags both commands share, applied onto a spec (create: a fresh one; update: the current one). */
function applyCommon(spec: ServiceSpec, f: FlagValues): void {
  const tt = spec.TaskTemplate;
  const cs = (tt.ContainerSpec ??= { Image: '' });
  if (f.changed('workdir')) cs.Dir = f.string('workdir');
  if (f.changed('user')) cs.User = f.string('user');
  if (f.changed('hostname')) cs.Hostname = f.string('hostname');
  if (f.changed('entrypoint')) cs.Command = f.string('entrypoint') ? f.string('entrypoint').split(/\s+/) : undefined;
  if (f.changed('tty')) cs.TTY = f.bool('tty');
  if (f.changed('read-only')) cs.ReadOnly = f.bool('read-only');
  if (f.changed('stop-signal')) cs.StopSignal = f.string('stop-signal');
  if (f.changed('stop-grace-period')) cs.StopGracePeriod = ns(f, 'stop-grace-period');
  if (f.changed('init')) cs.Init = f.bool('init');
  const hc = healthcheck(f);
  if (hc) cs.Healthcheck = { ...(hc.Test?.toString() === 'NONE' ? {} : cs.Healthcheck), ...hc };
  const res = (tt.Resources ??= {});
  if (f.changed('limit-cpu')) (res.Limits ??= {}).NanoCPUs = Number(parseNanoCpus(f.string('limit-cpu')));
  if (f.changed('limit-memory')) (res.Limits ??= {}).MemoryBytes = ramInBytes(f.string('limit-memory'));
  if (f.changed('limit-pids')) (res.Limits ??= {}).Pids = f.int('limit-pids');
  if (f.changed('reserve-cpu')) (res.Reservations ??= {}).NanoCPUs = Number(parseNanoCpus(f.string('reserve-cpu')));
  if (f.changed('reserve-memory')) (res.Reservations ??= {}).MemoryBytes = ramInBytes(f.string('reserve-memory'));
  if (['restart-condition', 'restart-delay', 'restart-max-attempts', 'restart-window'].some((n) => f.changed(n))) {
    const rp = (tt.RestartPolicy ??= {});
    if (f.changed('restart-condition')) {
      const c = f.string('restart-condition');
      if (!['none', 'on-failure', 'any'].includes(c)) throw new CliError(`invalid restart condition: ${c}`);
      rp.Condition = c as 'none' | 'on-failure' | 'any';
    }
    if (f.changed('restart-delay')) rp.Delay = ns(f, 'restart-delay');
    if (f.changed('restart-max-attempts')) rp.MaxAttempts = uint(f, 'restart-max-attempts');
    if (f.changed('restart-window')) rp.Window = ns(f, 'restart-window');
  }
  if (f.changed('replicas-max-per-node')) (tt.Placement ??= {}).MaxReplicas = uint(f, 'replicas-max-per-node');
  if (f.changed('log-driver') || f.changed('log-opt')) tt.LogDriver = { Name: f.string('log-driver') || tt.LogDriver?.Name, Options: { ...tt.LogDriver?.Options, ...keyValuePairs(f.list('log-opt')) } };
  spec.UpdateConfig = updateConfig(f, 'update', spec.UpdateConfig);
  spec.RollbackConfig = updateConfig(f, 'rollback', spec.RollbackConfig);
  if (f.changed('endpoint-mode')) {
    const m = f.string('endpoint-mode');
    if (m !== 'vip' && m !== 'dnsrr') throw new CliError(`invalid endpoint mode: ${m}`);
    spec.EndpointSpec = { ...spec.EndpointSpec, Mode: m };
  }
  if (f.changed('replicas')) {
    const n = uint(f, 'replicas');
    if (spec.Mode.Replicated) spec.Mode.Replicated.Replicas = n;
    else if (spec.Mode.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = n;
    else throw new CliError('replicas can only be used with replicated or replicated-job mode');
  }
  if (f.changed('max-concurrent')) {
    if (!spec.Mode.ReplicatedJob) throw new CliError('max-concurrent can only be used with replicated-job mode');
    spec.Mode.ReplicatedJob.MaxConcurrent = uint(f, 'max-concurrent');
  }
}

/** `service create [OPTIONS] IMAGE [COMMAND] [ARG...]` -> the spec POST /services/create takes. */
export function specFromCreateFlags(f: FlagValues, image: string, args: string[], cwd: string): ServiceSpec {
  const mode = f.string('mode') || 'replicated';
  const Mode: ServiceSpec['Mode'] =
    mode === 'replicated' ? { Replicated: {} }
      : mode === 'global' ? { Global: {} }
        : mode === 'replicated-job' ? { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } }
          : mode === 'global-job' ? { GlobalJob: {} }
            : (() => { throw new CliError(`invalid replicated mode: ${mode}`); })();
  if (f.changed('replicas') && (Mode.Global || Mode.GlobalJob)) throw new CliError('replicas can only be used with replicated or replicated-job mode');
  const env = [...f.list('env-file').flatMap((file) => parseKeyValueFile(file)), ...f.list('env')];
  const spec: ServiceSpec = {
    Name: f.string('name'),
    Labels: keyValuePairs(f.list('label')),
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Labels: keyValuePairs(f.list('container-label')),
        Args: args.length ? args : undefined,
        Env: env.length ? env : undefined,
        Groups: f.list('group').length ? f.list('group') : undefined,
        Mounts: f.list('mount').length ? f.list('mount').map((m) => parseMountSpec(m, cwd).mount as never) : undefined,
        Hosts: f.list('host').length ? f.list('host').map(hostEntry) : undefined,
        DNSConfig: { Nameservers: f.list('dns').length ? f.list('dns') : undefined, Search: f.list('dns-search').length ? f.list('dns-search') : undefined, Options: f.list('dns-option').length ? f.list('dns-option') : undefined },
        CapabilityAdd: f.list('cap-add').length ? f.list('cap-add') : undefined,
        CapabilityDrop: f.list('cap-drop').length ? f.list('cap-drop') : undefined,
        Sysctls: f.list('sysctl').length ? keyValuePairs(f.list('sysctl')) : undefined,
      },
      Resources: { Limits: {}, Reservations: {} },
      Placement: {
        Constraints: f.list('constraint').length ? f.list('constraint') : undefined,
        Preferences: f.list('placement-pref').length ? f.list('placement-pref').map(placementPref) : undefined,
      },
      Networks: f.list('network').length ? f.list('network').map(parseNetwork) : undefined,
      ForceUpdate: 0,
    },
    Mode,
    EndpointSpec: { Mode: 'vip', Ports: f.list('publish').length ? f.list('publish').map(parsePublish) : undefined } as EndpointSpec,
  };
  applyCommon(spec, f);
  return spec;
}

function addRm(current: string[] | undefined, add: string[], rm: string[], key: (v: string) => string = (v) => v): string[] | undefined {
  const gone = new Set(rm.map(key));
  const kept = (current ?? []).filter((v) => !gone.has(key(v)) && !add.some((a) => key(a) === key(v)));
  const out = [...kept, ...add];
  return out.length ? out : undefined;
}

function mapAddRm(current: Record<string, string> | undefined, add: string[], rm: string[]): Record<string, string> {
  const out = { ...current };
  for (const k of rm) delete out[k.split('=')[0]!];
  return Object.assign(out, keyValuePairs(add));
}

/** `service update`: the current spec changed by the flags given. */
export function applyUpdateFlags(current: ServiceSpec, f: FlagValues, cwd: string): ServiceSpec {
  const spec = structuredClone(current);
  const tt = spec.TaskTemplate;
  const cs = (tt.ContainerSpec ??= { Image: '' });
  if (f.changed('image')) cs.Image = f.string('image');
  if (f.changed('args')) cs.Args = f.string('args') ? f.string('args').split(/\s+/) : undefined;
  const envKey = (v: string) => v.split('=')[0]!;
  if (f.changed('env-add') || f.changed('env-rm')) cs.Env = addRm(cs.Env, f.list('env-add'), f.list('env-rm'), envKey);
  if (f.changed('label-add') || f.changed('label-rm')) spec.Labels = mapAddRm(spec.Labels, f.list('label-add'), f.list('label-rm'));
  if (f.changed('container-label-add') || f.changed('container-label-rm')) cs.Labels = mapAddRm(cs.Labels, f.list('container-label-add'), f.list('container-label-rm'));
  if (f.changed('group-add') || f.changed('group-rm')) cs.Groups = addRm(cs.Groups, f.list('group-add'), f.list('group-rm'));
  if (f.changed('host-add') || f.changed('host-rm')) cs.Hosts = addRm(cs.Hosts, f.list('host-add').map(hostEntry), f.list('host-rm').map((h) => (h.includes(':') ? hostEntry(h) : h)), (v) => v.split(' ').slice(1).join(' ') || v);
  if (f.changed('cap-add')) cs.CapabilityAdd = addRm(cs.CapabilityAdd, f.list('cap-add'), []);
  if (f.changed('cap-drop')) cs.CapabilityDrop = addRm(cs.CapabilityDrop, f.list('cap-drop'), []);
  if (f.changed('sysctl-add') || f.changed('sysctl-rm')) cs.Sysctls = mapAddRm(cs.Sysctls, f.list('sysctl-add'), f.list('sysctl-rm'));
  for (const [flag, key] of [['dns', 'Nameservers'], ['dns-option', 'Options'], ['dns-search', 'Search']] as const) {
    if (f.changed(`${flag}-add`) || f.changed(`${flag}-rm`)) {
      const dns = (cs.DNSConfig ??= {});
      dns[key] = addRm(dns[key], f.list(`${flag}-add`), f.list(`${flag}-rm`));
    }
  }
  if (f.changed('mount-add') || f.changed('mount-rm')) {
    const added = f.list('mount-add').map((m) => parseMountSpec(m, cwd).mount as unknown as { Target?: string });
    const drop = new Set([...f.list('mount-rm'), ...added.map((m) => m.Target ?? '')]);
    const mounts = [...(cs.Mounts ?? []).filter((m) => !drop.has(m.Target ?? '')), ...(added as never[])];
    cs.Mounts = mounts.length ? mounts : undefined;
  }
  if (f.changed('constraint-add') || f.changed('constraint-rm')) {
    const p = (tt.Placement ??= {});
    p.Constraints = addRm(p.Constraints, f.list('constraint-add'), f.list('constraint-rm'));
  }
  if (f.changed('placement-pref-add') || f.changed('placement-pref-rm')) {
    const p = (tt.Placement ??= {});
    const rm = new Set(f.list('placement-pref-rm').map((v) => placementPref(v).Spread.SpreadDescriptor));
    p.Preferences = [...(p.Preferences ?? []).filter((x) => !rm.has(x.Spread?.SpreadDescriptor ?? '')), ...f.list('placement-pref-add').map(placementPref)];
  }
  if (f.changed('network-add') || f.changed('network-rm')) {
    const rm = new Set(f.list('network-rm'));
    const nets = [...(tt.Networks ?? spec.Networks ?? []).filter((n) => !rm.has(n.Target)), ...f.list('network-add').map(parseNetwork)];
    tt.Networks = nets.length ? nets : undefined;
    delete spec.Networks;
  }
  if (f.changed('publish-add') || f.changed('publish-rm')) {
    const ep = (spec.EndpointSpec ??= {});
    const added = f.list('publish-add').map(parsePublish);
    // --publish-rm takes the target port (8080, 80/udp) or a full spec; it removes by target port and protocol.
    const rm = f.list('publish-rm').map((v) => (v.includes('=') || v.includes(':') ? parsePublish(v) : { TargetPort: Number(v.split('/')[0]), Protocol: (v.split('/')[1] ?? 'tcp') as PortConfig['Protocol'] }));
    const same = (a: PortConfig, b: PortConfig) => a.TargetPort === b.TargetPort && (a.Protocol ?? 'tcp') === (b.Protocol ?? 'tcp');
    const ports = [...(ep.Ports ?? []).filter((p) => !rm.some((r) => same(p, r)) && !added.some((a) => same(p, a) && a.PublishedPort === p.PublishedPort)), ...added];
    ep.Ports = ports.length ? ports : undefined;
  }
  if (f.bool('force')) tt.ForceUpdate = (tt.ForceUpdate ?? 0) + 1;
  applyCommon(spec, f);
  return spec;
}

/** `--secret`/`--config` of create: the spec's references, names resolved to IDs (docker's ParseSecrets/ParseConfigs). */
export async function resolveCreateRefs(spec: ServiceSpec, f: FlagValues, list: ListByName): Promise<void> {
  const cs = (spec.TaskTemplate.ContainerSpec ??= { Image: '' });
  try {
    if (f.list('secret').length) cs.Secrets = await resolveRefs('secret', f.list('secret').map(parseSecretRef), list);
    if (f.list('config').length) cs.Configs = await resolveRefs('config', f.list('config').map(parseConfigRef), list);
  } catch (err) {
    throw err instanceof Error && !(err instanceof CliError) && !('status' in err) ? new CliError(err.message) : err;
  }
}

/** `--secret-add/--secret-rm/--config-add/--config-rm` of update (getUpdatedSecrets/getUpdatedConfigs). */
export async function applyUpdateRefs(spec: ServiceSpec, f: FlagValues, list: ListByName): Promise<void> {
  const cs = (spec.TaskTemplate.ContainerSpec ??= { Image: '' });
  try {
    if (f.changed('secret-add') || f.changed('secret-rm')) {
      const refs = await updatedRefs('secret', cs.Secrets as never, f.list('secret-add').map(parseSecretRef), f.list('secret-rm'), list);
      cs.Secrets = refs;
    }
    if (f.changed('config-add') || f.changed('config-rm')) {
      const refs = await updatedRefs('config', cs.Configs as never, f.list('config-add').map(parseConfigRef), f.list('config-rm'), list);
      cs.Configs = refs;
    }
  } catch (err) {
    throw err instanceof Error && !(err instanceof CliError) && !('status' in err) ? new CliError(err.message) : err;
  }
}
