/**
 * `swarm init|join|join-token|leave|update|ca|unlock|unlock-key`: the docker CLI's grammar, flags,
 * output and error texts over /swarm*, /nodes and /info. The commands the output tells users to run
 * name this program (`berth swarm join ...`, or `docker ...` as the docker CLI plugin), since that is
 * where they are pasted.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { PROGRAM, type CommandDef, type FlagDef, type FlagValues } from '../args.js';
import { pathName } from '../client.js';
import { CliError, fsErrorMessage } from '../errors.js';
import { parseGoDuration } from '../gotime.js';
import { displayJsonMessages, type JsonMessage } from '../jsonstream.js';
import type { Cli } from '../streams.js';

// ---------------------------------------------------------------- API shapes (the fields read here)

export interface SwarmSpec {
  Name?: string;
  Labels?: Record<string, string> | null;
  Orchestration?: { TaskHistoryRetentionLimit?: number };
  Raft?: { SnapshotInterval?: number; KeepOldSnapshots?: number; LogEntriesForSlowFollowers?: number; ElectionTick?: number; HeartbeatTick?: number };
  Dispatcher?: { HeartbeatPeriod?: number };
  CAConfig?: { NodeCertExpiry?: number; ExternalCAs?: ExternalCA[]; SigningCACert?: string; SigningCAKey?: string; ForceRotate?: number };
  TaskDefaults?: Record<string, unknown>;
  EncryptionConfig?: { AutoLockManagers?: boolean };
  [k: string]: unknown;
}

export interface ExternalCA {
  Protocol: string;
  URL: string;
  Options?: Record<string, string>;
  CACert?: string;
}

export interface SwarmInspect {
  ID: string;
  Version: { Index: number };
  Spec: SwarmSpec;
  TLSInfo?: { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string };
  RootRotationInProgress?: boolean;
  JoinTokens?: { Worker: string; Manager: string };
}

interface InfoSwarm {
  Swarm?: { NodeID?: string; LocalNodeState?: string; ControlAvailable?: boolean };
}

interface NodeBrief {
  ID: string;
  ManagerStatus?: { Addr?: string } | null;
  Description?: { TLSInfo?: { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string } };
}

// ---------------------------------------------------------------- flag values

export const DEFAULT_LISTEN_ADDR = '0.0.0.0:2377';

/** Go's net.SplitHostPort; undefined when `s` has no port (or too many colons). */
function splitHostPort(s: string): [string, string] | undefined {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || s[end + 1] !== ':') return undefined;
    return [s.slice(1, end), s.slice(end + 2)];
  }
  const i = s.lastIndexOf(':');
  if (i < 0 || s.indexOf(':') !== i) return undefined;
  return [s.slice(0, i), s.slice(i + 1)];
}

const joinHostPort = (host: string, port: string) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * docker's NodeAddrOption (opts.ParseTCPAddr): "<ip|interface>[:port]", missing parts from
 * `current`. Throws the reason pflag reports.
 */
export function parseNodeAddr(value: string, current = DEFAULT_LISTEN_ADDR): string {
  if (value === '' || value === 'tcp://') return current;
  let addr = value.replace(/^tcp:\/\//, '');
  if (addr.includes('://') || addr === '') throw new Error(`invalid proto, expected tcp: ${value}`);
  const [defHost, defPort] = splitHostPort(current) ?? ['0.0.0.0', '2377'];
  if (addr.endsWith(']:')) addr += defPort;
  const slash = addr.indexOf('/');
  const hostPart = slash < 0 ? addr : addr.slice(0, slash);
  const rest = slash < 0 ? '' : addr.slice(slash);
  const hp = splitHostPort(hostPart) ?? splitHostPort(joinHostPort(hostPart, defPort));
  if (!hp) throw new Error(`invalid bind address format: ${value}`);
  const host = hp[0] || defHost;
  const port = hp[1] || defPort;
  if (!/^\d+$/.test(port)) throw new Error(`invalid bind address format: ${value}`);
  return joinHostPort(host, port) + rest;
}

const why = (f: () => unknown) => {
  try {
    f();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};

function durationNs(value: string): number {
  const ns = parseGoDuration(value);
  if (ns === undefined) throw new Error(`time: invalid duration ${JSON.stringify(value)}`);
  return ns;
}

const uintCheck = (v: string) => (/^\+?\d+$/.test(v) ? undefined : `strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);

/** net.ParseCIDR, for --default-addr-pool (pflag's ipNetSlice). */
function checkCidrs(value: string): string | undefined {
  for (const s of value.split(',').map((x) => x.trim())) {
    const [ip, bits, extra] = s.split('/');
    const max = net.isIPv4(ip ?? '') ? 32 : net.isIPv6(ip ?? '') ? 128 : -1;
    if (max < 0 || extra !== undefined || !/^\d+$/.test(bits ?? '') || Number(bits) > max) return `invalid string being converted to CIDR: ${s}`;
  }
  return undefined;
}

function readPem(path: string, notPem: string): string {
  let contents: string;
  try {
    contents = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(fsErrorMessage('open', path, err));
  }
  if (!/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/.test(contents)) throw new Error(notPem);
  return contents;
}

/** A --external-ca value: "protocol=cfssl,url=https://...[,cacert=FILE][,k=v...]" (CSV). */
export function parseExternalCA(spec: string): ExternalCA {
  const fields = splitCsv(spec);
  const ca: ExternalCA = { Protocol: '', URL: '', Options: {} };
  let hasProtocol = false;
  let hasUrl = false;
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new Error(`invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq);
    const value = field.slice(eq + 1);
    switch (key.toLowerCase()) {
      case 'protocol':
        hasProtocol = true;
        if (value.toLowerCase() !== 'cfssl') throw new Error(`unrecognized external CA protocol ${value}`);
        ca.Protocol = 'cfssl';
        break;
      case 'url':
        hasUrl = true;
        ca.URL = value;
        break;
      case 'cacert':
        try {
          ca.CACert = readPem(value, 'CA cert for external CA must be in PEM format');
        } catch (err) {
          const m = (err as Error).message;
          throw new Error(m.startsWith('CA cert') ? m : `unable to read CA cert for external CA: ${m}`);
        }
        break;
      default:
        ca.Options![key] = value;
    }
  }
  if (!hasProtocol) throw new Error('the external-ca option needs a protocol= parameter');
  if (!hasUrl) throw new Error('the external-ca option needs a url= parameter');
  return ca;
}

/** One CSV record (encoding/csv): commas separate, double quotes quote. */
function splitCsv(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

// ---------------------------------------------------------------- flags

const listenAddrFlag: FlagDef = {
  name: 'listen-addr', type: 'string', valueName: 'node-addr',
  usage: 'Listen address (format: "<ip|interface>[:port]") (default 0.0.0.0:2377)',
  check: (v) => why(() => parseNodeAddr(v)),
};
const advertiseAddrFlag: FlagDef = { name: 'advertise-addr', type: 'string', usage: 'Advertised address (format: "<ip|interface>[:port]")' };
const dataPathAddrFlag: FlagDef = { name: 'data-path-addr', type: 'string', usage: 'Address or interface to use for data path traffic (format: "<ip|interface>")' };
const availabilityFlag: FlagDef = { name: 'availability', type: 'string', default: 'active', usage: 'Availability of the node ("active", "pause", "drain")' };
const certExpiryFlag: FlagDef = {
  name: 'cert-expiry', type: 'string', valueName: 'duration', usage: 'Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)',
  check: (v) => why(() => durationNs(v)),
};
const externalCaFlag: FlagDef = {
  name: 'external-ca', type: 'list', valueName: 'external-ca', usage: 'Specifications of one or more certificate signing endpoints',
  check: (v) => why(() => parseExternalCA(v)),
};

/** docker's addSwarmCAFlags + addSwarmFlags. */
const swarmFlags: FlagDef[] = [
  { name: 'task-history-limit', type: 'int', valueName: 'int', usage: 'Task history retention limit (default 5)' },
  {
    name: 'dispatcher-heartbeat', type: 'string', valueName: 'duration', usage: 'Dispatcher heartbeat period (ns|us|ms|s|m|h) (default 5s)',
    check: (v) => why(() => durationNs(v)),
  },
  { name: 'max-snapshots', type: 'int', valueName: 'uint', usage: 'Number of additional Raft snapshots to retain', check: uintCheck },
  { name: 'snapshot-interval', type: 'int', valueName: 'uint', usage: 'Number of log entries between Raft snapshots (default 10000)', check: uintCheck },
  certExpiryFlag,
  externalCaFlag,
];

/** The availability flag's value, when given, checked as docker does. */
function availabilityOf(f: FlagValues): string {
  if (!f.changed('availability')) return '';
  const a = f.string('availability').toLowerCase();
  if (a !== 'active' && a !== 'pause' && a !== 'drain') throw new CliError(`invalid availability ${JSON.stringify(f.string('availability'))}, only active, pause and drain are supported`);
  return a;
}

/** docker's swarmOptions.mergeSwarmSpec: only the flags given change the spec. */
export function mergeSwarmSpec(spec: SwarmSpec, f: FlagValues, trustRoot?: string): SwarmSpec {
  const has = (n: string) => f.defs.some((d) => d.name === n) && f.changed(n);
  if (has('task-history-limit')) spec.Orchestration = { ...spec.Orchestration, TaskHistoryRetentionLimit: f.int('task-history-limit') };
  if (has('dispatcher-heartbeat')) spec.Dispatcher = { ...spec.Dispatcher, HeartbeatPeriod: durationNs(f.string('dispatcher-heartbeat')) };
  if (has('max-snapshots')) spec.Raft = { ...spec.Raft, KeepOldSnapshots: f.int('max-snapshots') };
  if (has('snapshot-interval')) spec.Raft = { ...spec.Raft, SnapshotInterval: f.int('snapshot-interval') };
  if (has('autolock')) spec.EncryptionConfig = { ...spec.EncryptionConfig, AutoLockManagers: f.bool('autolock') };
  mergeCaFlags(spec, f, trustRoot);
  return spec;
}

function mergeCaFlags(spec: SwarmSpec, f: FlagValues, trustRoot?: string): void {
  if (f.changed('cert-expiry')) spec.CAConfig = { ...spec.CAConfig, NodeCertExpiry: durationNs(f.string('cert-expiry')) };
  if (f.changed('external-ca')) {
    const cas = f.list('external-ca').map(parseExternalCA);
    if (trustRoot !== undefined) for (const ca of cas) if (!ca.CACert) ca.CACert = trustRoot;
    spec.CAConfig = { ...spec.CAConfig, ExternalCAs: cas };
  }
}

/** What Go's encoding/json makes of an empty swarm.Spec, the base of `swarm init`'s spec. */
function emptySpec(): SwarmSpec {
  return { Labels: null, Orchestration: {}, Raft: { ElectionTick: 0, HeartbeatTick: 0 }, Dispatcher: {}, CAConfig: {}, TaskDefaults: {}, EncryptionConfig: { AutoLockManagers: false } };
}

// ---------------------------------------------------------------- shared output

export function unlockKeyText(key: string): string {
  if (!key) return '';
  return (
    `To unlock a swarm manager after it restarts, run the \`${PROGRAM} swarm unlock\`\ncommand and provide the following key:\n\n    ${key}\n\n` +
    'Remember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n'
  );
}

export function joinCommandText(sw: SwarmInspect, node: NodeBrief, worker: boolean, manager: boolean): string {
  if (!node.ManagerStatus) return '';
  const addr = node.ManagerStatus.Addr ?? '';
  let out = '';
  if (worker) out += `To add a worker to this swarm, run the following command:\n\n    ${PROGRAM} swarm join --token ${sw.JoinTokens?.Worker ?? ''} ${addr}\n\n`;
  if (manager) out += `To add a manager to this swarm, run the following command:\n\n    ${PROGRAM} swarm join --token ${sw.JoinTokens?.Manager ?? ''} ${addr}\n\n`;
  return out;
}

async function printJoinCommand(cli: Cli, nodeId: string, worker: boolean, manager: boolean): Promise<void> {
  const node = await cli.client().json<NodeBrief>('GET', `/nodes/${pathName(nodeId)}`);
  const sw = await inspectSwarm(cli);
  cli.out.write(joinCommandText(sw, node, worker, manager));
}

const inspectSwarm = (cli: Cli) => cli.client().json<SwarmInspect>('GET', '/swarm');

async function fetchUnlockKey(cli: Cli): Promise<string> {
  try {
    const res = await cli.client().json<{ UnlockKey?: string }>('GET', '/swarm/unlockkey');
    return res?.UnlockKey ?? '';
  } catch (err) {
    if (err instanceof CliError) throw new CliError(`could not fetch unlock key: ${err.message}`);
    throw err;
  }
}

/** POST /swarm/update as docker's client sends it (every rotate flag spelled out). */
async function updateSwarm(cli: Cli, sw: SwarmInspect, rotate: { worker?: boolean; manager?: boolean; unlockKey?: boolean } = {}): Promise<void> {
  const res = await cli.client().request('POST', '/swarm/update', {
    query: {
      version: String(sw.Version.Index),
      rotateWorkerToken: String(!!rotate.worker),
      rotateManagerToken: String(!!rotate.manager),
      rotateManagerUnlockKey: String(!!rotate.unlockKey),
    },
    json: sw.Spec,
  });
  res.resume();
}

// ---------------------------------------------------------------- commands

const initCommand: CommandDef = {
  name: 'init',
  usage: '[OPTIONS]',
  short: 'Initialize a swarm',
  args: { max: 0 },
  flags: [
    advertiseAddrFlag,
    { name: 'autolock', type: 'bool', usage: 'Enable manager autolocking (requiring an unlock key to start a stopped manager)' },
    availabilityFlag,
    dataPathAddrFlag,
    {
      name: 'data-path-port', type: 'int', valueName: 'uint32',
      usage: 'Port number to use for data path traffic (1024 - 49151). If no value is set or is set to 0, the default port (4789) is used.', check: uintCheck,
    },
    { name: 'default-addr-pool', type: 'strings', valueName: 'ipNetSlice', usage: 'default address pool in CIDR format (default [])', check: checkCidrs },
    { name: 'default-addr-pool-mask-length', type: 'int', valueName: 'uint32', default: 24, usage: 'default address pool subnet mask length', check: uintCheck },
    { name: 'force-new-cluster', type: 'bool', usage: 'Force create a new cluster from current state' },
    listenAddrFlag,
    ...swarmFlags,
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const availability = availabilityOf(f);
    const autolock = f.bool('autolock');
    const body = {
      ListenAddr: f.changed('listen-addr') ? parseNodeAddr(f.string('listen-addr')) : DEFAULT_LISTEN_ADDR,
      AdvertiseAddr: f.string('advertise-addr'),
      DataPathAddr: f.string('data-path-addr'),
      DataPathPort: f.int('data-path-port'),
      ForceNewCluster: f.bool('force-new-cluster'),
      Spec: mergeSwarmSpec(emptySpec(), f),
      AutoLockManagers: autolock,
      Availability: availability,
      DefaultAddrPool: f.changed('default-addr-pool') ? f.list('default-addr-pool').map((s) => s.trim()) : null,
      SubnetSize: f.int('default-addr-pool-mask-length'),
    };
    let nodeId: string;
    try {
      nodeId = await cli.client().json<string>('POST', '/swarm/init', { json: body });
    } catch (err) {
      if (err instanceof CliError && /could not choose an IP address to advertise|could not find the system's IP address/.test(err.message)) {
        throw new CliError(`${err.message} - specify one with --advertise-addr`);
      }
      throw err;
    }
    cli.out.write(`Swarm initialized: current node (${nodeId}) is now a manager.\n\n`);
    await printJoinCommand(cli, nodeId, true, false);
    cli.out.write(`To add a manager to this swarm, run '${PROGRAM} swarm join-token manager' and follow the instructions.\n`);
    if (autolock) cli.out.write(unlockKeyText(await fetchUnlockKey(cli)));
  },
};

const joinCommand: CommandDef = {
  name: 'join',
  usage: '[OPTIONS] HOST:PORT',
  short: 'Join a swarm as a node and/or manager',
  args: { min: 1, max: 1 },
  flags: [advertiseAddrFlag, availabilityFlag, dataPathAddrFlag, listenAddrFlag, { name: 'token', type: 'string', usage: 'Token for entry into the swarm' }],
  run: async (inv, cli) => {
    const f = inv.flags;
    const availability = availabilityOf(f);
    const body = {
      ListenAddr: f.changed('listen-addr') ? parseNodeAddr(f.string('listen-addr')) : DEFAULT_LISTEN_ADDR,
      AdvertiseAddr: f.string('advertise-addr'),
      DataPathAddr: f.string('data-path-addr'),
      RemoteAddrs: [inv.args[0]!],
      JoinToken: f.string('token'),
      Availability: availability,
    };
    (await cli.client().request('POST', '/swarm/join', { json: body })).resume();
    const info = await cli.client().json<InfoSwarm>('GET', '/info');
    cli.out.write(info?.Swarm?.ControlAvailable ? 'This node joined a swarm as a manager.\n' : 'This node joined a swarm as a worker.\n');
  },
};

const joinTokenCommand: CommandDef = {
  name: 'join-token',
  usage: '[OPTIONS] (worker|manager)',
  short: 'Manage join tokens',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display token' },
    { name: 'rotate', type: 'bool', usage: 'Rotate join token' },
  ],
  run: async (inv, cli) => {
    const role = inv.args[0]!;
    const worker = role === 'worker';
    const manager = role === 'manager';
    if (!worker && !manager) throw new CliError(`unknown role ${role}`);
    const quiet = inv.flags.bool('quiet');
    if (inv.flags.bool('rotate')) {
      await updateSwarm(cli, await inspectSwarm(cli), { worker, manager });
      if (!quiet) cli.out.write(`Successfully rotated ${role} join token.\n\n`);
    }
    const sw = await inspectSwarm(cli);
    if (quiet) {
      cli.out.write(`${worker ? sw.JoinTokens?.Worker ?? '' : sw.JoinTokens?.Manager ?? ''}\n`);
      return;
    }
    const info = await cli.client().json<InfoSwarm>('GET', '/info');
    await printJoinCommand(cli, info?.Swarm?.NodeID ?? '', worker, manager);
  },
};

const leaveCommand: CommandDef = {
  name: 'leave',
  usage: '[OPTIONS]',
  short: 'Leave the swarm',
  args: { max: 0 },
  flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force this node to leave the swarm, ignoring warnings' }],
  run: async (inv, cli) => {
    (await cli.client().request('POST', '/swarm/leave', { query: { force: inv.flags.bool('force') ? '1' : undefined } })).resume();
    cli.out.write('Node left the swarm.\n');
  },
};

const updateCommand: CommandDef = {
  name: 'update',
  usage: '[OPTIONS]',
  short: 'Update the swarm',
  args: { max: 0 },
  flags: [{ name: 'autolock', type: 'bool', usage: 'Change manager autolocking setting (true|false)' }, ...swarmFlags],
  run: async (inv, cli) => {
    const f = inv.flags;
    if (!f.defs.some((d) => f.changed(d.name))) {
      // docker shows the command's help when no flag is given (and succeeds).
      const { renderHelp } = await import('../help.js');
      const { rootCommand } = await import('./index.js');
      cli.out.write(renderHelp(rootCommand, [swarmCommand, updateCommand]) + '\n');
      return;
    }
    const sw = await inspectSwarm(cli);
    const before = !!sw.Spec.EncryptionConfig?.AutoLockManagers;
    mergeSwarmSpec(sw.Spec, f, sw.TLSInfo?.TrustRoot ?? '');
    const after = !!sw.Spec.EncryptionConfig?.AutoLockManagers;
    await updateSwarm(cli, sw);
    cli.out.write('Swarm updated.\n');
    if (after && !before) cli.out.write(unlockKeyText(await fetchUnlockKey(cli)));
  },
};

// ---------------------------------------------------------------- ca

export function trustRootText(sw: SwarmInspect): string {
  const root = sw.TLSInfo?.TrustRoot ?? '';
  if (!root) throw new CliError('no CA information available');
  return root.trim() + '\n';
}

const CERTS_ROTATED = '  rotated TLS certificates';
const ROOTS_ROTATED = '  rotated CA certificates';

/**
 * One round of docker's root rotation progress: the messages to draw and whether every node has a
 * certificate of the new root and trusts it.
 */
export function rotationProgress(sw: SwarmInspect, nodes: NodeBrief[]): { messages: JsonMessage[]; done: boolean } {
  const want = sw.TLSInfo ?? {};
  const digest = 'sha256:' + createHash('sha256').update(want.TrustRoot ?? '').digest('hex');
  let certs = 0;
  let roots = 0;
  for (const n of nodes) {
    const t = n.Description?.TLSInfo ?? {};
    if ((t.CertIssuerPublicKey ?? '') === (want.CertIssuerPublicKey ?? '') && (t.CertIssuerSubject ?? '') === (want.CertIssuerSubject ?? '')) certs++;
    if ((t.TrustRoot ?? '') === (want.TrustRoot ?? '')) roots++;
  }
  const total = nodes.length;
  const certsDone = certs === total && !sw.RootRotationInProgress;
  return {
    messages: [
      { id: 'desired root digest', status: digest },
      { id: CERTS_ROTATED, status: '', progressDetail: { current: certs, total, units: 'nodes' } },
      { id: ROOTS_ROTATED, status: ' ', progressDetail: { current: certsDone ? roots : 0, total, units: 'nodes' } },
    ],
    done: certsDone && roots === total,
  };
}

async function* rotationMessages(cli: Cli, intervalMs: number): AsyncGenerator<string> {
  yield JSON.stringify({ id: 'desired root digest', status: '' });
  yield JSON.stringify({ id: CERTS_ROTATED, status: '' });
  yield JSON.stringify({ id: ROOTS_ROTATED, status: ' ' });
  // Ctrl-C stops watching, not the rotation (docker's words, swarmctl and all).
  let interrupted = false;
  let wake: (() => void) | undefined;
  const onInt = () => {
    interrupted = true;
    wake?.();
  };
  cli.signals?.on('SIGINT', onInt);
  try {
    for (;;) {
      const sw = await inspectSwarm(cli);
      const nodes = (await cli.client().json<NodeBrief[] | null>('GET', '/nodes')) ?? [];
      const round = rotationProgress(sw, nodes);
      for (const m of round.messages) yield JSON.stringify(m);
      if (round.done) return;
      if (!interrupted) await new Promise<void>((r) => ((wake = r), setTimeout(r, intervalMs)));
      if (interrupted) {
        yield JSON.stringify({ status: 'Operation continuing in background.' });
        yield JSON.stringify({ status: 'Use `swarmctl cluster inspect default` to check progress.' });
        return;
      }
    }
  } finally {
    cli.signals?.off('SIGINT', onInt);
  }
}

const caCommand: CommandDef = {
  name: 'ca',
  usage: '[OPTIONS]',
  short: 'Display and rotate the root CA',
  args: { max: 0 },
  flags: [
    {
      name: 'ca-cert', type: 'string', valueName: 'pem-file', usage: 'Path to the PEM-formatted root CA certificate to use for the new cluster',
      check: (v) => why(() => readPem(v, 'file contents must be in PEM format')),
    },
    {
      name: 'ca-key', type: 'string', valueName: 'pem-file', usage: 'Path to the PEM-formatted root CA key to use for the new cluster',
      check: (v) => why(() => readPem(v, 'file contents must be in PEM format')),
    },
    certExpiryFlag,
    { name: 'detach', short: 'd', type: 'bool', usage: 'Exit immediately instead of waiting for the root rotation to converge' },
    externalCaFlag,
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress progress output' },
    { name: 'rotate', type: 'bool', usage: 'Rotate the swarm CA - if no certificate or key are provided, new ones will be generated' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const sw = await inspectSwarm(cli);
    if (!f.bool('rotate')) {
      for (const name of ['ca-cert', 'ca-key', 'cert-expiry', 'external-ca']) {
        if (f.changed(name)) throw new CliError(`\`--${name}\` flag requires the \`--rotate\` flag to update the CA`);
      }
      cli.out.write(trustRootText(sw));
      return;
    }
    const externalCAs = f.list('external-ca');
    if (f.changed('external-ca') && externalCAs.length > 0 && !f.changed('ca-cert')) {
      throw new CliError(
        'rotating to an external CA requires the `--ca-cert` flag to specify the external CA\'s cert - to add an external CA with the current root CA certificate, use the `update` command instead',
      );
    }
    if (f.changed('ca-cert') && externalCAs.length === 0 && !f.changed('ca-key')) {
      throw new CliError('the --ca-cert flag requires that a --ca-key flag and/or --external-ca flag be provided as well');
    }
    const caCert = f.changed('ca-cert') ? readPem(f.string('ca-cert'), 'file contents must be in PEM format') : '';
    const caKey = f.changed('ca-key') ? readPem(f.string('ca-key'), 'file contents must be in PEM format') : '';
    mergeCaFlags(sw.Spec, f, caCert);
    const ca = { ...sw.Spec.CAConfig, SigningCACert: caCert || undefined, SigningCAKey: caKey || undefined };
    if (!caCert && !caKey) ca.ForceRotate = (ca.ForceRotate ?? 0) + 1;
    sw.Spec.CAConfig = ca;
    await updateSwarm(cli, sw);
    if (f.bool('detach')) return;
    const stream = Readable.from(rotationMessages(cli, 200));
    if (f.bool('quiet')) {
      for await (const _ of stream) void _;
      return;
    }
    await displayJsonMessages(stream, cli.out, { tty: !!cli.out.isTTY });
    cli.out.write(trustRootText(await inspectSwarm(cli)));
  },
};

// ---------------------------------------------------------------- unlock

/** The unlock key: without echo from a terminal, else the first line of stdin. */
async function readKey(cli: Cli, prompt: string): Promise<string> {
  const input = cli.in as Cli['in'] & { setRawMode?: (raw: boolean) => void };
  if (input.isTTY && input.setRawMode) {
    cli.out.write(prompt);
    input.setRawMode(true);
    try {
      return await new Promise<string>((resolve, reject) => {
        let key = '';
        const onData = (chunk: Buffer | string) => {
          for (const ch of chunk.toString()) {
            if (ch === '\r' || ch === '\n') return finish(() => resolve(key));
            if (ch === '\x03') return finish(() => reject(new CliError('', 130)));
            if (ch === '\x7f' || ch === '\b') key = key.slice(0, -1);
            else key += ch;
          }
        };
        const finish = (then: () => void) => {
          input.off('data', onData);
          input.pause();
          then();
        };
        input.on('data', onData);
        input.resume();
      });
    } finally {
      input.setRawMode(false);
      cli.out.write('\n');
    }
  }
  let text = '';
  for await (const chunk of cli.in) {
    text += chunk.toString();
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!.trim();
}

const unlockCommand: CommandDef = {
  name: 'unlock',
  short: 'Unlock swarm',
  args: { max: 0 },
  run: async (_inv, cli) => {
    const info = await cli.client().json<InfoSwarm>('GET', '/info');
    const state = info?.Swarm?.LocalNodeState ?? 'inactive';
    if (state === 'inactive') throw new CliError('error: this node is not part of a swarm');
    if (state !== 'locked') throw new CliError('error: swarm is not locked');
    const key = await readKey(cli, 'Enter unlock key: ');
    (await cli.client().request('POST', '/swarm/unlock', { json: { UnlockKey: key } })).resume();
  },
};

const unlockKeyCommand: CommandDef = {
  name: 'unlock-key',
  usage: '[OPTIONS]',
  short: 'Manage the unlock key',
  args: { max: 0 },
  flags: [
    { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display token' },
    { name: 'rotate', type: 'bool', usage: 'Rotate unlock key' },
  ],
  run: async (inv, cli) => {
    const quiet = inv.flags.bool('quiet');
    if (inv.flags.bool('rotate')) {
      const sw = await inspectSwarm(cli);
      if (!sw.Spec.EncryptionConfig?.AutoLockManagers) throw new CliError('cannot rotate because autolock is not turned on');
      await updateSwarm(cli, sw, { unlockKey: true });
      if (!quiet) cli.out.write('Successfully rotated manager unlock key.\n');
    }
    const key = await fetchUnlockKey(cli);
    if (!key) throw new CliError('no unlock key is set');
    cli.out.write(quiet ? `${key}\n` : unlockKeyText(key));
  },
};

export const swarmCommand: CommandDef = {
  name: 'swarm',
  short: 'Manage Swarm',
  group: 'management',
  subcommands: [caCommand, initCommand, joinCommand, joinTokenCommand, leaveCommand, unlockCommand, unlockKeyCommand, updateCommand],
};

