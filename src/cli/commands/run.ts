/**
 * `create` and `run`: docker's container flags turned into the body docker 28 sends to
 * POST /containers/create (same fields, same order, same defaults), the image pull when the
 * image is missing, and for `run` the attach / wait / start sequence with the output copied
 * back and the container's exit status as ours.
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { PROGRAM, type CommandDef, type FlagDef, type Invocation } from '../args.js';
import { CliError, DaemonError, fsErrorMessage } from '../errors.js';
import { pullImage as pullMissing } from './pull-push.js';
import { InvalidReferenceError, familiarName, parseAnyReference, type NamedRef } from '../reference.js';
import type { Cli } from '../streams.js';
import { ramInBytes } from '../units.js';
import { platformParam } from './common.js';
import { checkUsernsFlag, parseDeviceFlag, parseSecurityOptFlags } from './security-flags.js';
import { attachStreams, type AttachOptions } from './attach.js';
import { checkMount, checkUlimit, logrusWarning, parseMountSpec, splitVolumes, tmpfsMap, ulimitList } from './run-mounts.js';
import { checkLink, isValidMac, parsePorts } from './run-ports.js';
import { healthcheckFromFlags, healthFlags } from './run-health.js';

// ---- flag values ------------------------------------------------------------------------

/** opts.MemBytes: a size as go-units RAMInBytes reads it. */
export function checkBytes(v: string): string | undefined {
  try {
    ramInBytes(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** opts.MemSwapBytes: like checkBytes, and -1 for unlimited. */
function checkSwap(v: string): string | undefined {
  return v === '-1' ? undefined : checkBytes(v);
}

/** The value of a bytes flag; 0 when unset. */
export function bytesValue(v: string): number {
  if (v === '') return 0;
  if (v === '-1') return -1;
  return ramInBytes(v);
}

/**
 * opts.NanoCPUs: a rational number of CPUs ("1.5", "3/2") in billionths, exactly; Go's
 * big.Rat does the parsing there, so does BigInt here.
 */
export function parseNanoCpus(v: string): bigint {
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(v);
  let num: bigint;
  let den: bigint;
  if (frac) {
    num = BigInt(frac[1]!);
    den = BigInt(frac[2]!);
    if (den === 0n) throw new Error(`failed to parse ${v} as a rational number`);
  } else {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(v);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`failed to parse ${v} as a rational number`);
    const digits = (m[2] ?? '') + (m[3] ?? '');
    let exp = Number(m[4] ?? '0') - (m[3] ?? '').length;
    num = BigInt(digits || '0') * (m[1] === '-' ? -1n : 1n);
    den = 1n;
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den = 10n ** BigInt(-exp);
    exp = 0;
  }
  const scaled = num * 1_000_000_000n;
  if (scaled % den !== 0n) throw new Error('value is too precise');
  return scaled / den;
}

function checkCpus(v: string): string | undefined {
  try {
    parseNanoCpus(v);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function checkEnv(v: string): string | undefined {
  return v.startsWith('=') ? `invalid environment variable: ${v}` : undefined;
}

function checkAttach(v: string): string | undefined {
  return ['stdin', 'stdout', 'stderr'].includes(v.toLowerCase()) ? undefined : 'valid streams are STDIN, STDOUT and STDERR';
}

/** opts.ParseRestartPolicy. */
export function parseRestartPolicy(policy: string): { Name: string; MaximumRetryCount: number } {
  if (policy === '') return { Name: '', MaximumRetryCount: 0 };
  const colon = policy.indexOf(':');
  if (colon === -1) return { Name: policy, MaximumRetryCount: 0 };
  const count = policy.slice(colon + 1);
  if (!/^[+-]?\d+$/.test(count)) throw new CliError('invalid restart policy format: maximum retry count must be an integer');
  return { Name: policy.slice(0, colon), MaximumRetryCount: Number(count) };
}

/**
 * docker's kvfile parser (--env-file, --label-file): comments and blank lines skipped,
 * leading blanks trimmed, "KEY=VALUE" kept as written, a bare "KEY" looked up with `lookup`
 * (and dropped when unset) or, without a lookup, kept as it is.
 */
export function parseKeyValueFile(file: string, lookup?: (key: string) => string | undefined): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(fsErrorMessage('open', file, err));
  }
  const out: string[] = [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  lines.forEach((raw, i) => {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (i === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    line = line.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq === -1 ? line : line.slice(0, eq);
    if (key === '') throw new CliError(`no variable name on line '${line}'`);
    if (/[ \t\n\v\f\r]/.test(key)) throw new CliError(`invalid env file (${file}): variable '${key}' contains whitespaces`);
    if (eq !== -1) out.push(line);
    else if (!lookup) out.push(line);
    else {
      const value = lookup(key);
      if (value !== undefined) out.push(`${key}=${value}`);
    }
  });
  return out;
}

/** opts.ValidateEnv for -e: "KEY" takes the client's value when it has one. */
export function expandEnv(entry: string, env: NodeJS.ProcessEnv): string {
  if (entry.includes('=')) return entry;
  const value = env[entry];
  return value === undefined ? entry : `${entry}=${value}`;
}

/** Linux capabilities as docker's client normalizes them ("net_admin" -> "CAP_NET_ADMIN"). */
function normalizeCaps(caps: string[]): string[] | null {
  if (caps.length === 0) return null;
  return caps.map((c) => {
    const u = c.toUpperCase();
    return u === 'ALL' || u.startsWith('CAP_') ? u : `CAP_${u}`;
  });
}

// ---- flags ------------------------------------------------------------------------------

const f = (def: FlagDef): FlagDef => def;

/** The flags `run` and `create` share, with docker's help texts. */
function sharedFlags(kind: 'run' | 'create'): FlagDef[] {
  return [
    f({ name: 'add-host', type: 'list', usage: 'Add a custom host-to-IP mapping (host:ip)' }),
    f({ name: 'attach', short: 'a', type: 'list', usage: 'Attach to STDIN, STDOUT or STDERR', check: checkAttach }),
    f({ name: 'cap-add', type: 'list', usage: 'Add Linux capabilities' }),
    f({ name: 'cap-drop', type: 'list', usage: 'Drop Linux capabilities' }),
    f({ name: 'cidfile', type: 'string', usage: 'Write the container ID to the file' }),
    f({ name: 'cpu-period', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) period' }),
    f({ name: 'cpu-quota', type: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) quota' }),
    f({ name: 'cpu-shares', short: 'c', type: 'int', usage: 'CPU shares (relative weight)' }),
    f({ name: 'cpus', type: 'string', valueName: 'decimal', usage: 'Number of CPUs', check: checkCpus }),
    f({ name: 'cpuset-cpus', type: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' }),
    f({ name: 'cpuset-mems', type: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' }),
    f({ name: 'device', type: 'list', usage: 'Add a host device to the container' }),
    f({ name: 'device-cgroup-rule', type: 'list', usage: 'Add a rule to the cgroup allowed devices list' }),
    f({ name: 'dns', type: 'list', usage: 'Set custom DNS servers' }),
    f({ name: 'dns-option', type: 'list', usage: 'Set DNS options' }),
    f({ name: 'dns-search', type: 'list', usage: 'Set custom DNS search domains' }),
    f({ name: 'domainname', type: 'string', usage: 'Container NIS domain name' }),
    f({ name: 'entrypoint', type: 'string', usage: 'Overwrite the default ENTRYPOINT of the image' }),
    f({ name: 'env', short: 'e', type: 'list', usage: 'Set environment variables', check: checkEnv }),
    f({ name: 'env-file', type: 'list', usage: 'Read in a file of environment variables' }),
    f({ name: 'expose', type: 'list', usage: 'Expose a port or a range of ports' }),
    f({ name: 'group-add', type: 'list', usage: 'Add additional groups to join' }),
    ...healthFlags(),
    f({ name: 'help', type: 'bool', usage: 'Print usage' }),
    f({ name: 'hostname', short: 'h', type: 'string', usage: 'Container host name' }),
    f({ name: 'init', type: 'bool', usage: 'Run an init inside the container that forwards signals and reaps processes' }),
    f({ name: 'interactive', short: 'i', type: 'bool', usage: 'Keep STDIN open even if not attached' }),
    f({ name: 'ip', type: 'string', usage: 'IPv4 address (e.g., 172.30.100.104)' }),
    f({ name: 'ip6', type: 'string', usage: 'IPv6 address (e.g., 2001:db8::33)' }),
    f({ name: 'ipc', type: 'string', usage: 'IPC mode to use' }),
    f({ name: 'label', short: 'l', type: 'list', usage: 'Set meta data on a container' }),
    f({ name: 'label-file', type: 'list', usage: 'Read in a line delimited file of labels' }),
    f({ name: 'link', type: 'list', usage: 'Add link to another container', check: checkLink }),
    f({ name: 'link-local-ip', type: 'list', usage: 'Container IPv4/IPv6 link-local addresses' }),
    f({ name: 'log-driver', type: 'string', usage: 'Logging driver for the container' }),
    f({ name: 'log-opt', type: 'list', usage: 'Log driver options' }),
    f({ name: 'mac-address', type: 'string', usage: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' }),
    f({ name: 'memory', short: 'm', type: 'string', valueName: 'bytes', usage: 'Memory limit', check: checkBytes }),
    f({ name: 'memory-reservation', type: 'string', valueName: 'bytes', usage: 'Memory soft limit', check: checkBytes }),
    f({
      name: 'memory-swap',
      type: 'string',
      valueName: 'bytes',
      usage: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
      check: checkSwap,
    }),
    f({ name: 'memory-swappiness', type: 'int', default: -1, usage: 'Tune container memory swappiness (0 to 100)' }),
    f({ name: 'mount', type: 'list', valueName: 'mount', usage: 'Attach a filesystem mount to the container', check: checkMount }),
    f({ name: 'name', type: 'string', usage: 'Assign a name to the container' }),
    f({ name: 'network', type: 'string', valueName: 'network', usage: 'Connect a container to a network' }),
    f({ name: 'network-alias', type: 'list', usage: 'Add network-scoped alias for the container' }),
    f({ name: 'oom-kill-disable', type: 'bool', usage: 'Disable OOM Killer' }),
    f({ name: 'oom-score-adj', type: 'int', usage: "Tune host's OOM preferences (-1000 to 1000)" }),
    f({ name: 'pid', type: 'string', usage: 'PID namespace to use' }),
    f({ name: 'pids-limit', type: 'int', usage: 'Tune container pids limit (set -1 for unlimited)' }),
    f({ name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' }),
    f({ name: 'privileged', type: 'bool', usage: 'Give extended privileges to this container' }),
    f({ name: 'publish', short: 'p', type: 'list', usage: "Publish a container's port(s) to the host" }),
    f({ name: 'publish-all', short: 'P', type: 'bool', usage: 'Publish all exposed ports to random ports' }),
    f({
      name: 'pull',
      type: 'string',
      default: 'missing',
      // docker 28's create help really has the stray "|".
      usage: kind === 'run' ? 'Pull image before running ("always", "missing", "never")' : 'Pull image before creating ("always", "|missing", "never")',
    }),
    f({ name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the pull output' }),
    f({ name: 'read-only', type: 'bool', usage: "Mount the container's root filesystem as read only" }),
    f({ name: 'restart', type: 'string', default: 'no', usage: 'Restart policy to apply when a container exits' }),
    f({ name: 'rm', type: 'bool', usage: 'Automatically remove the container and its associated anonymous volumes when it exits' }),
    f({ name: 'security-opt', type: 'list', usage: 'Security Options' }),
    f({ name: 'shm-size', type: 'string', valueName: 'bytes', usage: 'Size of /dev/shm', check: checkBytes }),
    f({ name: 'stop-signal', type: 'string', usage: 'Signal to stop the container' }),
    f({ name: 'stop-timeout', type: 'int', usage: 'Timeout (in seconds) to stop a container' }),
    f({ name: 'tmpfs', type: 'list', usage: 'Mount a tmpfs directory' }),
    f({ name: 'tty', short: 't', type: 'bool', usage: 'Allocate a pseudo-TTY' }),
    // A list flag; docker's help shows its empty default.
    f({ name: 'ulimit', type: 'list', valueName: 'ulimit', usage: 'Ulimit options (default [])', check: checkUlimit }),
    f({ name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: <name|uid>[:<group|gid>])' }),
    f({ name: 'userns', type: 'string', usage: 'User namespace to use' }),
    f({ name: 'uts', type: 'string', usage: 'UTS namespace to use' }),
    f({ name: 'volume', short: 'v', type: 'list', usage: 'Bind mount a volume' }),
    f({ name: 'volume-driver', type: 'string', usage: 'Optional volume driver for the container' }),
    f({ name: 'volumes-from', type: 'list', usage: 'Mount volumes from the specified container(s)' }),
    f({ name: 'workdir', short: 'w', type: 'string', usage: 'Working directory inside the container' }),
  ];
}

const RUN_ONLY: FlagDef[] = [
  { name: 'detach', short: 'd', type: 'bool', usage: 'Run container in background and print container ID' },
  { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
  { name: 'sig-proxy', type: 'bool', default: true, usage: 'Proxy received signals to the process' },
];

// ---- the create request -----------------------------------------------------------------

/** What `create`/`run` send, and what they do around it. */
export interface CreateRequest {
  name: string;
  /** --platform as given. */
  platform: string;
  pull: 'always' | 'missing' | 'never';
  quiet: boolean;
  cidfile: string;
  image: string;
  body: Record<string, unknown>;
}

const PULL_OPTIONS = ['always', 'missing', 'never'];

/** An endpoint settings object with every field zero, as Go marshals one. */
function emptyEndpoint(): Record<string, unknown> {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    MacAddress: '',
    DriverOpts: null,
    GwPriority: 0,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

/** Runs a flag parser, its failures (plain Errors with docker's text) made CliErrors. */
function asCliError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof Error && !(err instanceof CliError)) throw new CliError(err.message);
    throw err;
  }
}

/** The endpoint flags that apply to the (first) network. */
interface EndpointFlags {
  aliases: string[];
  links: string[];
  ipv4: string;
  ipv6: string;
  mac: string;
  linkLocalIps: string[];
}

/** container.NetworkMode.IsUserDefined: not default, bridge, host, none or container:<id>. */
function isUserDefinedNetwork(mode: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(mode) && !/^container:/.test(mode);
}

/**
 * NetworkingConfig.EndpointsConfig as docker's parseNetworkOpts builds it for one network:
 * --network-alias, --link (an endpoint option on user-defined networks only), --ip, --ip6,
 * --link-local-ip and --mac-address on it. An explicitly named network without any of them
 * gets no entry; the implicit "default" always does.
 */
function endpointsConfig(network: string, implicit: boolean, opts: EndpointFlags): Record<string, unknown> {
  if (network.trim() === '') throw new CliError('no name set for network');
  const userDefined = isUserDefinedNetwork(network);
  if (!userDefined && opts.aliases.length > 0) throw new CliError('network-scoped aliases are only supported for user-defined networks');
  const links = userDefined && opts.links.length > 0 ? opts.links : null;
  const ep = emptyEndpoint();
  if (opts.ipv4 !== '' || opts.ipv6 !== '' || opts.linkLocalIps.length > 0) {
    ep.IPAMConfig = {
      ...(opts.ipv4 !== '' && { IPv4Address: opts.ipv4 }),
      ...(opts.ipv6 !== '' && { IPv6Address: opts.ipv6 }),
      ...(opts.linkLocalIps.length > 0 && { LinkLocalIPs: opts.linkLocalIps }),
    };
  }
  ep.Links = links;
  if (opts.aliases.length > 0) ep.Aliases = opts.aliases;
  if (opts.mac !== '') {
    if (!isValidMac(opts.mac.trim())) throw new CliError(`${opts.mac} is not a valid mac address`);
    ep.MacAddress = opts.mac;
  }
  const empty = ep.IPAMConfig === null && ep.Links === null && ep.Aliases === null && ep.MacAddress === '';
  if (!implicit && empty) return {};
  return { [network]: ep };
}

/** Labels as a map with sorted keys, as Go marshals map[string]string. */
function labelMap(entries: string[]): Record<string, string> {
  const map = new Map<string, string>();
  for (const e of entries) {
    const eq = e.indexOf('=');
    map.set(eq === -1 ? e : e.slice(0, eq), eq === -1 ? '' : e.slice(eq + 1));
  }
  const out: Record<string, string> = {};
  for (const k of [...map.keys()].sort()) out[k] = map.get(k)!;
  return out;
}

/**
 * Builds the create request from the command line, validating as docker does. Errors are
 * CliErrors with docker's bare wording; the caller adds the "berth: ... Run '...'" framing.
 */
export function buildCreateRequest(inv: Invocation, env: NodeJS.ProcessEnv, opts: { detach: boolean; consoleSize?: [number, number] }): CreateRequest {
  const fl = inv.flags;
  const [image, ...cmd] = inv.args as [string, ...string[]];
  const pull = fl.string('pull');
  if (!PULL_OPTIONS.includes(pull)) throw new CliError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);

  const attach = new Set(fl.list('attach').map((a) => a.toLowerCase()));
  let attachStdin = attach.has('stdin');
  let attachStdout = attach.has('stdout');
  let attachStderr = attach.has('stderr');
  const interactive = fl.bool('interactive');
  if (interactive) attachStdin = true;
  if (attach.size === 0) {
    attachStdout = true;
    attachStderr = true;
  }
  if (opts.detach) {
    attachStdin = false;
    attachStdout = false;
    attachStderr = false;
  }

  // docker's parse order: the MAC address, volumes, ports, then the rest.
  const mac = fl.string('mac-address');
  if (mac !== '' && !isValidMac(mac.trim())) throw new CliError(`${mac} is not a valid mac address`);
  const cwd = process.cwd();
  const storage = asCliError(() => splitVolumes(fl.list('volume'), cwd));
  const tmpfs = tmpfsMap(fl.list('tmpfs'));
  const mounts = asCliError(() => fl.list('mount').map((m) => parseMountSpec(m, cwd)));
  const ports = asCliError(() => parsePorts(fl.list('publish'), fl.list('expose')));

  const lookup = (k: string) => env[k];
  const envList = [...fl.list('env-file').flatMap((file) => parseKeyValueFile(file, lookup)), ...fl.list('env').map((e) => expandEnv(e, env))];
  const labels = labelMap([...fl.list('label-file').flatMap((file) => parseKeyValueFile(file)), ...fl.list('label')]);

  const restart = parseRestartPolicy(fl.string('restart'));
  const autoRemove = fl.bool('rm');
  if (autoRemove && restart.Name !== '' && restart.Name !== 'no') throw new CliError('conflicting options: cannot specify both --restart and --rm');

  let entrypoint: string[] | null = null;
  if (fl.string('entrypoint') !== '') entrypoint = [fl.string('entrypoint')];
  else if (fl.changed('entrypoint')) entrypoint = [''];

  const logOpts = fl.list('log-opt');
  if (fl.string('log-driver') === 'none' && logOpts.length > 0) throw new CliError('invalid logging opts for driver none');

  const network = fl.changed('network') ? fl.string('network') : 'default';
  // Checked last, as docker does.
  const endpoints = () =>
    endpointsConfig(network, !fl.changed('network'), {
      aliases: fl.list('network-alias'),
      links: fl.list('link'),
      ipv4: fl.string('ip'),
      ipv6: fl.string('ip6'),
      mac,
      linkLocalIps: fl.list('link-local-ip'),
    });

  const healthcheck = healthcheckFromFlags(fl);
  const openStdin = interactive;
  const security = parseSecurityOptFlags(fl.list('security-opt'));
  const body: Record<string, unknown> = {
    Hostname: fl.string('hostname'),
    Domainname: fl.string('domainname'),
    User: fl.string('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ...(ports.exposed && { ExposedPorts: ports.exposed }),
    Tty: fl.bool('tty'),
    OpenStdin: openStdin,
    StdinOnce: openStdin && attachStdin,
    Env: envList.length ? envList : null,
    Cmd: cmd.length ? cmd : null,
    ...(healthcheck && { Healthcheck: healthcheck }),
    Image: image,
    Volumes: storage.volumes,
    WorkingDir: fl.string('workdir'),
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: labels,
    ...(fl.string('stop-signal') !== '' && { StopSignal: fl.string('stop-signal') }),
    ...(fl.changed('stop-timeout') && { StopTimeout: fl.int('stop-timeout') }),
    HostConfig: {
      Binds: storage.binds,
      ContainerIDFile: fl.string('cidfile'),
      LogConfig: { Type: fl.string('log-driver'), Config: labelMap(logOpts) },
      NetworkMode: network,
      PortBindings: ports.bindings,
      RestartPolicy: restart,
      AutoRemove: autoRemove,
      VolumeDriver: fl.string('volume-driver'),
      VolumesFrom: fl.list('volumes-from').length ? fl.list('volumes-from') : null,
      ConsoleSize: opts.consoleSize ?? [0, 0],
      CapAdd: normalizeCaps(fl.list('cap-add')),
      CapDrop: normalizeCaps(fl.list('cap-drop')),
      CgroupnsMode: '',
      Dns: fl.list('dns'),
      DnsOptions: fl.list('dns-option'),
      DnsSearch: fl.list('dns-search'),
      ExtraHosts: fl.list('add-host').length ? fl.list('add-host').map((h) => h.replace('=', ':')) : null,
      GroupAdd: fl.list('group-add').length ? fl.list('group-add') : null,
      IpcMode: fl.string('ipc'),
      Cgroup: '',
      Links: fl.list('link').length ? fl.list('link') : null,
      OomScoreAdj: fl.int('oom-score-adj'),
      PidMode: fl.string('pid'),
      Privileged: fl.bool('privileged'),
      PublishAllPorts: fl.bool('publish-all'),
      ReadonlyRootfs: fl.bool('read-only'),
      SecurityOpt: security.securityOpt,
      ...(tmpfs && { Tmpfs: tmpfs }),
      UTSMode: fl.string('uts'),
      UsernsMode: checkUsernsFlag(fl.string('userns')),
      ShmSize: bytesValue(fl.string('shm-size')),
      Isolation: '',
      CpuShares: fl.int('cpu-shares'),
      Memory: bytesValue(fl.string('memory')),
      NanoCpus: fl.string('cpus') === '' ? 0 : Number(parseNanoCpus(fl.string('cpus'))),
      CgroupParent: '',
      BlkioWeight: 0,
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: [],
      BlkioDeviceWriteBps: [],
      BlkioDeviceReadIOps: [],
      BlkioDeviceWriteIOps: [],
      CpuPeriod: fl.int('cpu-period'),
      CpuQuota: fl.int('cpu-quota'),
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: fl.string('cpuset-cpus'),
      CpusetMems: fl.string('cpuset-mems'),
      Devices: fl.list('device').map(parseDeviceFlag),
      DeviceCgroupRules: fl.list('device-cgroup-rule').length ? fl.list('device-cgroup-rule') : null,
      DeviceRequests: null,
      MemoryReservation: bytesValue(fl.string('memory-reservation')),
      MemorySwap: bytesValue(fl.string('memory-swap')),
      MemorySwappiness: fl.int('memory-swappiness'),
      OomKillDisable: fl.bool('oom-kill-disable'),
      PidsLimit: fl.int('pids-limit'),
      Ulimits: ulimitList(fl.list('ulimit')),
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      ...(mounts.length > 0 && { Mounts: mounts.map((m) => m.mount) }),
      MaskedPaths: security.maskedPaths,
      ReadonlyPaths: security.readonlyPaths,
      ...(fl.changed('init') && { Init: fl.bool('init') }),
    },
    NetworkingConfig: { EndpointsConfig: endpoints() },
  };
  return {
    name: fl.string('name'),
    platform: fl.string('platform'),
    pull: pull as CreateRequest['pull'],
    quiet: fl.bool('quiet'),
    cidfile: fl.string('cidfile'),
    image,
    body,
  };
}

// ---- creating ---------------------------------------------------------------------------

/**
 * --platform as docker sends it in the platform query parameter: "os/arch[/variant]",
 * normalized ("x86_64" is amd64), an explicit arm64 variant kept.
 */
export function platformText(spec: string): string {
  if (spec === '') return '';
  let p: { os: string; architecture: string; variant?: string };
  try {
    p = JSON.parse(platformParam(spec)!) as typeof p;
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    throw new CliError(`error parsing specified platform: ${JSON.stringify(spec)}: cannot parse platform specifier: invalid argument`);
  }
  const parts = spec.split('/');
  if (p.architecture === 'arm64' && !p.variant && parts[2]) p.variant = /^\d/.test(parts[2]) ? `v${parts[2]}` : parts[2].toLowerCase();
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** The reference docker pulls for a missing image (latest when untagged); undefined for an ID. */
function pullReference(image: string): NamedRef | undefined {
  const ref = parseAnyReference(image);
  if ('id' in ref) return undefined;
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

function familiarString(ref: NamedRef): string {
  return familiarName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** POST /images/create?fromImage=...: progress on stderr (unless quiet); errors as the daemon words them. */
async function pullImage(cli: Cli, ref: NamedRef, platform: string, quiet: boolean): Promise<void> {
  await pullMissing(cli, ref, { platform, out: quiet ? { write: () => true } : cli.err });
}

/** The cidfile docker writes: refused when it exists, created empty first, removed on failure. */
class CidFile {
  private written = false;
  constructor(private readonly path: string) {
    if (path === '') return;
    if (existsSync(path)) throw new CliError(`container ID file found, make sure the other container isn't running or delete ${path}`);
    try {
      writeFileSync(path, '', { flag: 'wx' });
    } catch (err) {
      throw new CliError(`failed to create the container ID file: ${fsErrorMessage('open', path, err)}`);
    }
  }
  write(id: string): void {
    if (this.path === '') return;
    try {
      writeFileSync(this.path, id);
      this.written = true;
    } catch (err) {
      throw new CliError(`failed to write the container ID to the file: ${(err as Error).message}`);
    }
  }
  close(): void {
    if (this.path !== '' && !this.written) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Creates the container as docker's createContainer does: the cidfile, a pull first with
 * --pull always, a pull and a second try when the image is missing with --pull missing,
 * warnings on stderr. Returns the new container's ID.
 */
export async function createContainer(cli: Cli, req: CreateRequest): Promise<string> {
  let ref: NamedRef | undefined;
  try {
    ref = pullReference(req.image);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new CliError(err.message);
    throw err;
  }
  const platform = platformText(req.platform);
  const cid = new CidFile(req.cidfile);
  try {
    if (req.pull === 'always' && ref) await pullImage(cli, ref, platform, req.quiet);
    const create = () =>
      cli.client().json<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', {
        query: { name: req.name || undefined, platform: platform || undefined },
        json: req.body,
      });
    let created: { Id: string; Warnings?: string[] | null };
    try {
      created = await create();
    } catch (err) {
      if (!(err instanceof DaemonError && err.status === 404 && ref && req.pull === 'missing')) throw err;
      // Quiet keeps every output but the container ID away, this line included (as docker).
      if (!req.quiet) cli.err.write(`Unable to find image '${familiarString(ref)}' locally\n`);
      await pullImage(cli, ref, platform, req.quiet);
      created = await create();
    }
    for (const w of created.Warnings ?? []) cli.err.write(`WARNING: ${w}\n`);
    cid.write(created.Id);
    return created.Id;
  } finally {
    cid.close();
  }
}

// ---- commands ---------------------------------------------------------------------------

/** docker's withHelp framing of run/create failures: "berth: msg\n\nRun 'berth run --help' ...". */
function framed(err: unknown, command: 'run' | 'create', exitCode = 125): never {
  if (!(err instanceof CliError)) throw err;
  throw new CliError(`${PROGRAM}: ${err.message}\n\nRun '${PROGRAM} ${command} --help' for more information`, exitCode);
}

/** Exit status of a failed start, from the daemon's message (docker's runStartContainerErr). */
export function startErrorStatus(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return 127;
  if (/permission denied|is a directory/.test(message)) return 126;
  return 125;
}

function consoleSize(cli: Cli, tty: boolean): [number, number] | undefined {
  const out = cli.out as { isTTY?: boolean; rows?: number; columns?: number };
  if (!tty || !out.isTTY || !out.rows || !out.columns) return undefined;
  return [out.rows, out.columns];
}

/** The warnings docker logs while it reads the flags (a deprecated --mount option), on stderr. */
function logFlagWarnings(inv: Invocation, cli: Cli): void {
  for (const m of inv.flags.list('mount')) {
    for (const w of parseMountSpec(m, process.cwd()).warnings) cli.err.write(logrusWarning(cli.now(), w));
  }
}

async function runCreate(inv: Invocation, cli: Cli): Promise<void> {
  logFlagWarnings(inv, cli);
  let req: CreateRequest;
  try {
    req = buildCreateRequest(inv, cli.env, { detach: false, consoleSize: consoleSize(cli, inv.flags.bool('tty')) });
  } catch (err) {
    framed(err, 'create');
  }
  const id = await createContainer(cli, req);
  cli.out.write(`${id}\n`);
}

async function runRun(inv: Invocation, cli: Cli): Promise<number> {
  const fl = inv.flags;
  logFlagWarnings(inv, cli);
  const detach = fl.bool('detach');
  if (detach && fl.changed('attach')) throw new CliError('conflicting options: cannot specify both --attach and --detach');
  let req: CreateRequest;
  try {
    req = buildCreateRequest(inv, cli.env, { detach, consoleSize: consoleSize(cli, fl.bool('tty')) });
  } catch (err) {
    framed(err, 'run');
  }
  const body = req.body as { Tty: boolean; AttachStdin: boolean; AttachStdout: boolean; AttachStderr: boolean; HostConfig: { AutoRemove: boolean } };
  if (body.Tty && body.AttachStdin && !cli.in.isTTY) throw new CliError('the input device is not a TTY');

  let id: string;
  try {
    id = await createContainer(cli, req);
  } catch (err) {
    framed(err, 'run');
  }
  const client = cli.client();
  if (detach) {
    try {
      (await client.request('POST', `/containers/${id}/start`)).resume();
    } catch (err) {
      framed(err, 'run', err instanceof DaemonError ? startErrorStatus(err.daemonMessage) : 125);
    }
    cli.out.write(`${id}\n`);
    return 0;
  }

  const attachOpts: AttachOptions = {
    stdin: body.AttachStdin,
    stdout: body.AttachStdout,
    stderr: body.AttachStderr,
    tty: body.Tty,
    detachKeys: fl.string('detach-keys'),
    sigProxy: fl.bool('sig-proxy') && !body.Tty,
  };
  const condition = body.HostConfig.AutoRemove ? 'removed' : 'next-exit';
  return attachAndStart(cli, id, attachOpts, condition, (err) => {
    framed(err, 'run', err instanceof DaemonError ? startErrorStatus(err.daemonMessage) : 125);
  });
}

/**
 * The attached part of `run` and `start -a`: attach, register the wait, start, copy the
 * output until the daemon closes it, and return the exit status the wait reports.
 */
export async function attachAndStart(
  cli: Cli,
  id: string,
  opts: AttachOptions,
  condition: string,
  onStartError: (err: unknown) => never,
  start = true,
): Promise<number> {
  const client = cli.client();
  const attached = opts.stdin || opts.stdout || opts.stderr ? await attachStreams(cli, id, opts) : undefined;
  let waitRes;
  let waitError: unknown;
  try {
    waitRes = await client.request('POST', `/containers/${id}/wait`, { query: { condition } });
  } catch (err) {
    waitError = err;
  }
  if (start) {
    try {
      (await client.request('POST', `/containers/${id}/start`)).resume();
    } catch (err) {
      attached?.close();
      waitRes?.destroy();
      onStartError(err);
    }
  }
  try {
    await attached?.done;
  } finally {
    attached?.close();
  }
  if (waitError !== undefined || !waitRes) {
    cli.err.write(`Error waiting for container: ${(waitError as Error)?.message ?? 'no answer'}\n`);
    return 125;
  }
  let text = '';
  for await (const chunk of waitRes) text += (chunk as Buffer).toString();
  try {
    const result = JSON.parse(text) as { StatusCode: number; Error?: { Message?: string } | null };
    if (result.Error?.Message) {
      cli.err.write(`Error waiting for container: ${result.Error.Message}\n`);
      return 125;
    }
    return result.StatusCode;
  } catch {
    cli.err.write(`Error waiting for container: unexpected answer ${JSON.stringify(text)}\n`);
    return 125;
  }
}

export function createCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
    short: 'Create a new container',
    aliasPaths: ['container create', 'create'],
    args: { min: 1 },
    noInterspersed: true,
    flags: sharedFlags('create'),
    run: runCreate,
  };
}

export function runCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
    short: 'Create and run a new container from an image',
    aliasPaths: ['container run', 'run'],
    args: { min: 1 },
    noInterspersed: true,
    flags: [...sharedFlags('run'), ...RUN_ONLY],
    run: runRun,
  };
}
