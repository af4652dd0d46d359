import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { isLogLevel, type LogLevel } from '../lib/log.js';
import { checkDaemonLogConfig, DEFAULT_LOG_DRIVER } from '../containers/log-drivers/config.js';
import { DEFAULT_TLS_HOST, defaultCertDir, resolveTls, type TlsSettings } from './tls.js';
import { DEFAULT_PLUGIN_DIRS } from '../plugins/discovery.js';
import { validateRegistryOptions, type RegistrySettings } from '../distribution/endpoints.js';

/** The daemon's settings after flags and daemon.json are merged. */
export interface DaemonConfig extends RegistrySettings {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  configFile: string;
  pidfile: string;
  debug: boolean;
  logLevel: LogLevel;
  liveRestore: boolean;
  labels: string[];
  /** --userns-remap: '' (off), 'default' (the berth user) or 'user[:group]' (runtime/userns.ts). */
  usernsRemap: string;
  /** Networking (networks/): default bridge name (also the tag of the daemon's links and chains). */
  bridge: string;
  bip?: string;
  fixedCidr?: string;
  /** --ipv6 and --fixed-cidr-v6: IPv6 on the default bridge, and its IPv6 subnet. */
  ipv6: boolean;
  fixedCidrV6?: string;
  iptables: boolean;
  ipForward: boolean;
  userlandProxy: boolean;
  /** TLS for tcp:// listeners: --tls, --tlsverify, --tlscacert, --tlscert, --tlskey (daemon/tls.ts). */
  tls: TlsSettings;
  /** Containers' default log driver and options: --log-driver, --log-opt (containers/log-drivers/). */
  logDriver: string;
  logOpts: Record<string, string>;
  /** Legacy plugins (plugins/): where to find them, and the authorization plugins every request passes. */
  pluginDirs: string[];
  authorizationPlugins: string[];
  /** Deadline of each authorization plugin call (Berth's own, hidden; default 30 s as dockerd's). */
  authorizationPluginTimeoutMs: number;
}

export const DEFAULTS = {
  dataRoot: '/var/lib/berth',
  execRoot: '/run/berth',
  configFile: '/etc/berth/daemon.json',
  socket: 'unix:///run/berth/berth.sock',
  registryCertsDir: '/etc/berth/certs.d',
};

/**
 * Each option: its flag (as node's parseArgs takes it) and its daemon.json key, as dockerd names them.
 * Adding an option here makes it available in both places and subject to the flag-vs-file check.
 */
const OPTIONS = {
  host: { flag: { type: 'string', short: 'H', multiple: true }, key: 'hosts' },
  'data-root': { flag: { type: 'string' }, key: 'data-root' },
  'exec-root': { flag: { type: 'string' }, key: 'exec-root' },
  pidfile: { flag: { type: 'string', short: 'p' }, key: 'pidfile' },
  debug: { flag: { type: 'boolean', short: 'D' }, key: 'debug' },
  'log-level': { flag: { type: 'string', short: 'l' }, key: 'log-level' },
  'live-restore': { flag: { type: 'boolean' }, key: 'live-restore' },
  label: { flag: { type: 'string', multiple: true }, key: 'labels' },
  'userns-remap': { flag: { type: 'string' }, key: 'userns-remap' },
  bridge: { flag: { type: 'string', short: 'b' }, key: 'bridge' },
  bip: { flag: { type: 'string' }, key: 'bip' },
  'fixed-cidr': { flag: { type: 'string' }, key: 'fixed-cidr' },
  ipv6: { flag: { type: 'boolean' }, key: 'ipv6' },
  'fixed-cidr-v6': { flag: { type: 'string' }, key: 'fixed-cidr-v6' },
  iptables: { flag: { type: 'boolean' }, key: 'iptables' },
  'ip-forward': { flag: { type: 'boolean' }, key: 'ip-forward' },
  'userland-proxy': { flag: { type: 'boolean' }, key: 'userland-proxy' },
  tls: { flag: { type: 'boolean' }, key: 'tls' },
  tlsverify: { flag: { type: 'boolean' }, key: 'tlsverify' },
  tlscacert: { flag: { type: 'string' }, key: 'tlscacert' },
  tlscert: { flag: { type: 'string' }, key: 'tlscert' },
  tlskey: { flag: { type: 'string' }, key: 'tlskey' },
  'log-driver': { flag: { type: 'string' }, key: 'log-driver' },
  'log-opt': { flag: { type: 'string', multiple: true }, key: 'log-opts' },
  // Registries (distribution/): as dockerd's, plus mirrors of any registry and the certs.d directory.
  'insecure-registry': { flag: { type: 'string', multiple: true }, key: 'insecure-registries' },
  'registry-mirror': { flag: { type: 'string', multiple: true }, key: 'registry-mirrors' },
  'registry-mirrors-for': { flag: { type: 'string', multiple: true }, key: 'registry-mirrors-for' },
  'registry-certs-dir': { flag: { type: 'string' }, key: 'registry-certs-dir' },
  'max-concurrent-downloads': { flag: { type: 'string' }, key: 'max-concurrent-downloads' },
  'max-concurrent-uploads': { flag: { type: 'string' }, key: 'max-concurrent-uploads' },
  'max-download-attempts': { flag: { type: 'string' }, key: 'max-download-attempts' },
  // Plugins (plugins/): --plugin-dir is Berth's (hidden; tests use their own directories).
  'plugin-dir': { flag: { type: 'string', multiple: true }, key: 'plugin-dirs' },
  'authorization-plugin': { flag: { type: 'string', multiple: true }, key: 'authorization-plugins' },
  'authorization-plugin-timeout': { flag: { type: 'string' }, key: 'authorization-plugin-timeout' },
} as const;

/** Boolean flags also take Go's --flag=false form, which node's parseArgs does not. */
function splitBoolValues(argv: string[]): { args: string[]; values: Record<string, boolean> } {
  const values: Record<string, boolean> = {};
  const args = argv.filter((a) => {
    const m = /^--([a-z-]+)=(true|false|1|0)$/.exec(a);
    const o = m ? (OPTIONS as Record<string, { flag: { type: string } }>)[m[1]!] : undefined;
    if (!m || o?.flag.type !== 'boolean') return true;
    values[m[1]!] = m[2] === 'true' || m[2] === '1';
    return false;
  });
  return { args, values };
}

export class ConfigError extends Error {}

export function loadConfig(argv: string[]): DaemonConfig | 'help' | 'version' {
  let parsed;
  const bools = splitBoolValues(argv);
  try {
    parsed = parseArgs({
      args: bools.args,
      options: {
        ...Object.fromEntries(Object.entries(OPTIONS).map(([name, o]) => [name, o.flag])),
        'config-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const flags = { ...(parsed.values as Record<string, unknown>), ...bools.values };
  if (flags.help) return 'help';
  if (flags.version) return 'version';

  const configFile = (flags['config-file'] as string | undefined) ?? DEFAULTS.configFile;
  const file = readConfigFile(configFile, flags['config-file'] !== undefined);

  const known = new Set(Object.values(OPTIONS).map((o) => o.key));
  const unknown = Object.keys(file).filter((k) => !known.has(k as never));
  if (unknown.length) {
    throw new ConfigError(`unable to configure the Berth daemon with file ${configFile}: the following directives don't match any configuration option: ${unknown.join(', ')}`);
  }
  const both = Object.entries(OPTIONS)
    .filter(([name, o]) => flags[name] !== undefined && file[o.key] !== undefined)
    .map(([name, o]) => `${o.key}: (from flag: ${show(flags[name])}, from file: ${show(file[o.key])})`);
  if (both.length) {
    throw new ConfigError(`unable to configure the Berth daemon with file ${configFile}: the following directives are specified both as a flag and in the configuration file: ${both.join(', ')}`);
  }

  const pick = <T>(name: keyof typeof OPTIONS): T | undefined => (flags[name] ?? file[OPTIONS[name].key]) as T | undefined;
  const execRoot = pick<string>('exec-root') ?? DEFAULTS.execRoot;
  const logLevel = pick<string>('log-level') ?? 'info';
  if (!isLogLevel(logLevel)) throw new ConfigError(`unable to parse logging level: ${logLevel}`);
  const hosts = pick<string[]>('host') ?? [];
  const bool = (name: keyof typeof OPTIONS) => (typeof pick(name) === 'boolean' ? pick<boolean>(name) : undefined);
  const logDriver = pick<string>('log-driver') || DEFAULT_LOG_DRIVER;
  const logOpts = logOptsOf(pick<unknown>('log-opt'));
  try {
    checkDaemonLogConfig({ Type: logDriver, Config: logOpts });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  let registries: RegistrySettings;
  try {
    registries = validateRegistryOptions({
      insecureRegistries: stringList(pick<unknown>('insecure-registry'), 'insecure-registries'),
      registryMirrors: stringList(pick<unknown>('registry-mirror'), 'registry-mirrors'),
      registryMirrorsFor: mirrorsFor(pick<unknown>('registry-mirrors-for')),
      registryCertsDir: pick<string>('registry-certs-dir') ?? DEFAULTS.registryCertsDir,
      maxConcurrentDownloads: positive(pick<unknown>('max-concurrent-downloads'), 'max-concurrent-downloads', 3),
      maxConcurrentUploads: positive(pick<unknown>('max-concurrent-uploads'), 'max-concurrent-uploads', 5),
      maxDownloadAttempts: positive(pick<unknown>('max-download-attempts'), 'max-download-attempts', 3),
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const tls = resolveTls({ tls: bool('tls'), tlsverify: bool('tlsverify'), tlscacert: pick('tlscacert'), tlscert: pick('tlscert'), tlskey: pick('tlskey') });
  return {
    // With TLS and no host, dockerd listens on tcp://localhost:2376 (its ParseHost default).
    hosts: hosts.length ? hosts : [tls.enabled ? DEFAULT_TLS_HOST : `unix://${execRoot}/berth.sock`],
    dataRoot: pick<string>('data-root') ?? DEFAULTS.dataRoot,
    execRoot,
    configFile,
    pidfile: pick<string>('pidfile') ?? `${execRoot}/berthd.pid`,
    debug: pick<boolean>('debug') ?? false,
    logLevel: pick<boolean>('debug') ? 'debug' : logLevel,
    liveRestore: pick<boolean>('live-restore') ?? false,
    labels: pick<string[]>('label') ?? [],
    usernsRemap: pick<string>('userns-remap') ?? '',
    bridge: pick<string>('bridge') ?? 'berth0',
    bip: pick<string>('bip'),
    fixedCidr: pick<string>('fixed-cidr'),
    ipv6: pick<boolean>('ipv6') ?? false,
    fixedCidrV6: pick<string>('fixed-cidr-v6'),
    iptables: pick<boolean>('iptables') ?? true,
    ipForward: pick<boolean>('ip-forward') ?? true,
    userlandProxy: pick<boolean>('userland-proxy') ?? true,
    tls,
    logDriver,
    logOpts,
    pluginDirs: pick<unknown>('plugin-dir') === undefined ? [...DEFAULT_PLUGIN_DIRS] : stringList(pick<unknown>('plugin-dir'), 'plugin-dirs'),
    authorizationPlugins: stringList(pick<unknown>('authorization-plugin'), 'authorization-plugins'),
    authorizationPluginTimeoutMs: seconds(pick<unknown>('authorization-plugin-timeout'), 'authorization-plugin-timeout', 30) * 1000,
    ...registries,
  };
}

/** A positive integer option (flag text or daemon.json number), as dockerd checks them. */
function positive(v: unknown, key: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) throw new ConfigError(`invalid ${key.replace(/-/g, ' ')}: ${String(v)}`);
  return n;
}

/** A positive number of seconds (flag text or daemon.json number; fractions allowed). */
function seconds(v: unknown, key: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !(n > 0)) throw new ConfigError(`invalid ${key.replace(/-/g, ' ')}: ${String(v)}`);
  return n;
}

function stringList(v: unknown, key: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ConfigError(`${key}: expected a list of strings`);
  return v as string[];
}

/** "registry-mirrors-for": {"host:port": ["http://mirror"]}; the flag form is host=url (repeatable). */
function mirrorsFor(v: unknown): Record<string, string[]> {
  if (v === undefined) return {};
  if (Array.isArray(v)) {
    const out: Record<string, string[]> = {};
    for (const kv of v as string[]) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new ConfigError(`invalid value "${kv}" for flag --registry-mirrors-for: expected host=mirror-url`);
      (out[kv.slice(0, i)] ??= []).push(kv.slice(i + 1));
    }
    return out;
  }
  if (!v || typeof v !== 'object') throw new ConfigError('registry-mirrors-for: expected an object of host: [mirror URLs]');
  return v as Record<string, string[]>;
}

/** --log-opt k=v (repeated) or daemon.json's "log-opts": {"k": "v"} (strings, as dockerd wants). */
function logOptsOf(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (Array.isArray(v)) {
    const out: Record<string, string> = {};
    for (const kv of v as string[]) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new ConfigError(`invalid value "${kv}" for flag --log-opt: bad format for log-opt, expected key=value`);
      out[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return out;
  }
  if (!v || typeof v !== 'object' || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new ConfigError('log-opts: the values must be strings');
  }
  return { ...(v as Record<string, string>) };
}

/** daemon.json keys that SIGHUP applies to a running daemon, as dockerd's reload does. */
const RELOADABLE = [
  'debug',
  'log-level',
  'live-restore',
  'labels',
  'insecure-registries',
  'registry-mirrors',
  'registry-mirrors-for',
  'max-concurrent-downloads',
  'max-concurrent-uploads',
  'max-download-attempts',
  'authorization-plugins',
] as const;

/**
 * Re-reads the configuration (flags still win, and a conflict is still an error) and applies the
 * reloadable options to `current` in place. Returns the names of the options that changed.
 */
export function reloadConfig(current: DaemonConfig, argv: string[]): string[] {
  const next = loadConfig(argv);
  if (typeof next !== 'object') return [];
  const changed: string[] = [];
  for (const key of RELOADABLE) {
    const field = (
      {
        debug: 'debug',
        'log-level': 'logLevel',
        'live-restore': 'liveRestore',
        labels: 'labels',
        'insecure-registries': 'insecureRegistries',
        'registry-mirrors': 'registryMirrors',
        'registry-mirrors-for': 'registryMirrorsFor',
        'max-concurrent-downloads': 'maxConcurrentDownloads',
        'max-concurrent-uploads': 'maxConcurrentUploads',
        'max-download-attempts': 'maxDownloadAttempts',
        'authorization-plugins': 'authorizationPlugins',
      } as const
    )[key];
    if (JSON.stringify(current[field]) !== JSON.stringify(next[field])) {
      (current as unknown as Record<string, unknown>)[field] = next[field];
      changed.push(key);
    }
  }
  return changed;
}

function readConfigFile(file: string, explicit: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new ConfigError(`unable to configure the Berth daemon with file ${file}: ${(err as Error).message}`);
  }
  if (!text.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`unable to configure the Berth daemon with file ${file}: ${(err as Error).message}`);
  }
}

function show(v: unknown): string {
  return Array.isArray(v) ? `[${v.join(' ')}]` : String(v);
}

export const USAGE = `Usage:	berthd [OPTIONS]

A self-sufficient runtime for containers that serves the Docker Engine API.

Options:
  -b, --bridge string        Attach containers to a network bridge (default "berth0")
      --authorization-plugin list  Authorization plugins to load
      --bip string           Specify default-bridge IPv4 network
      --config-file string   Daemon configuration file (default "${DEFAULTS.configFile}")
      --data-root string     Root directory of persistent Berth state (default "${DEFAULTS.dataRoot}")
  -D, --debug                Enable debug mode
      --exec-root string     Root directory for execution state files (default "${DEFAULTS.execRoot}")
      --fixed-cidr string    IPv4 subnet for the default bridge network
      --fixed-cidr-v6 string IPv6 subnet for the default bridge network
  -H, --host list            Daemon socket(s) to connect to (default ${DEFAULTS.socket})
      --ip-forward           Enable IP forwarding in system configuration (default true)
      --iptables             Enable addition of iptables rules (default true)
      --ipv6                 Enable IPv6 networking on the default bridge
      --label list           Set key=value labels to the daemon
      --live-restore         Enable live restore of containers when the daemon stops
      --log-driver string    Default driver for container logs (default "json-file")
      --log-opt map          Default log driver options for containers (default map[])
  -l, --log-level string     Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
  -p, --pidfile string       Path to use for daemon PID file (default "${DEFAULTS.execRoot}/berthd.pid")
      --tls                  Use TLS; implied by --tlsverify
      --tlscacert string     Trust certs signed only by this CA (default "${defaultCertDir()}/ca.pem")
      --tlscert string       Path to TLS certificate file (default "${defaultCertDir()}/cert.pem")
      --tlskey string        Path to TLS key file (default "${defaultCertDir()}/key.pem")
      --tlsverify            Use TLS and verify the remote
      --userland-proxy       Use userland proxy for loopback traffic (default true)
      --userns-remap string  User/Group setting for user namespaces
      --insecure-registry list  Enable insecure registry communication (host[:port] or CIDR)
      --max-concurrent-downloads int  Maximum concurrent downloads for each pull (default 3)
      --max-concurrent-uploads int    Maximum concurrent uploads for each push (default 5)
      --max-download-attempts int     Maximum download attempts for each pull (default 3)
      --registry-mirror list    Preferred Docker registry mirror
      --registry-mirrors-for list  Mirror of any registry, host=mirror-url (daemon.json: "registry-mirrors-for")
      --registry-certs-dir string  Registry certificates, as Docker's certs.d (default "/etc/berth/certs.d")
  -v, --version              Print version information and quit
`;
