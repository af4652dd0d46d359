/**
 * `berth registry serve` runs Berth's own OCI distribution registry in the foreground; `berth registry gc`
 * collects unreferenced blobs of a stopped one. Neither talks to berthd.
 */
import type { CommandDef, FlagValues } from '../args.js';
import { CliError } from '../errors.js';
import { parseGoDurationMs } from '../../lib/timestamps.js';
import { setLogLevel } from '../../lib/log.js';
import { collectGarbage, RootInUseError, startRegistryServer, type RegistryServerOptions } from '../../registry/index.js';

function duration(flags: FlagValues, name: string): number {
  const text = flags.string(name);
  const ms = text === '0' ? 0 : parseGoDurationMs(text);
  if (ms === undefined) throw new CliError(`invalid duration for --${name}: ${JSON.stringify(text)} (use Go's form, e.g. 30s, 10m, 24h)`);
  return ms;
}

/** host:port, [v6]:port or :port. */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m || Number(m[3]) > 65535) throw new CliError(`invalid --addr ${JSON.stringify(addr)}: use HOST:PORT, e.g. 127.0.0.1:5000`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

export function serveOptions(flags: FlagValues): RegistryServerOptions {
  const root = flags.string('root');
  if (!root) throw new CliError('--root is required: the directory the registry stores its content in');
  const { host, port } = parseAddr(flags.string('addr'));
  const opts: RegistryServerOptions = {
    root,
    host,
    port,
    uploadExpiryMs: duration(flags, 'upload-expiry'),
    gcIntervalMs: duration(flags, 'gc-interval'),
    gcGraceMs: duration(flags, 'gc-grace'),
  };
  if (flags.bool('read-only')) opts.readOnly = true;
  if (flags.string('htpasswd')) opts.htpasswd = flags.string('htpasswd');
  if (flags.bool('token-issue')) {
    opts.tokenIssue = true;
    opts.tokenService = flags.string('token-service');
    if (flags.string('token-realm')) opts.tokenRealm = flags.string('token-realm');
  }
  const cert = flags.string('tls-cert');
  const key = flags.string('tls-key');
  if (!!cert !== !!key) throw new CliError('--tls-cert and --tls-key go together');
  if (cert) opts.tls = { cert, key };
  const clientCa = flags.string('tls-client-ca');
  if (clientCa && !opts.tls) throw new CliError('--tls-client-ca needs --tls-cert and --tls-key');
  if (clientCa && opts.tls) opts.tls.clientCa = clientCa;
  const remote = flags.string('proxy-remote');
  if (remote) {
    if (!/^https?:\/\//.test(remote)) throw new CliError(`invalid --proxy-remote ${JSON.stringify(remote)}: use http://HOST[:PORT] or https://HOST[:PORT]`);
    opts.proxy = { remote, tagTtlMs: duration(flags, 'proxy-tag-ttl'), cacheTtlMs: duration(flags, 'proxy-cache-ttl') };
    if (flags.string('proxy-username')) opts.proxy.username = flags.string('proxy-username');
    if (flags.string('proxy-password')) opts.proxy.password = flags.string('proxy-password');
  }
  return opts;
}

const serveCommand: CommandDef = {
  name: 'serve',
  usage: '[OPTIONS]',
  short: 'Run an OCI distribution registry in the foreground',
  args: { max: 0 },
  flags: [
    { name: 'addr', type: 'string', default: '127.0.0.1:5000', usage: 'Address to listen on (port 0 picks a free one)' },
    { name: 'root', type: 'string', valueName: 'dir', usage: 'Directory to store content in (required)' },
    { name: 'upload-expiry', type: 'string', valueName: 'duration', default: '24h', usage: 'Remove upload sessions idle for longer than this' },
    { name: 'read-only', type: 'bool', usage: 'Refuse pushes and deletes (maintenance); pulls go on' },
    { name: 'htpasswd', type: 'string', valueName: 'file', usage: 'htpasswd file (bcrypt entries) of the users allowed in' },
    { name: 'token-issue', type: 'bool', usage: 'Serve a token endpoint at /token and require bearer tokens from it' },
    { name: 'token-service', type: 'string', default: 'berth-registry', usage: 'Service name in token challenges' },
    { name: 'token-realm', type: 'string', valueName: 'url', usage: "Token endpoint URL sent to clients (default: this server's /token)" },
    { name: 'tls-cert', type: 'string', valueName: 'file', usage: 'TLS certificate file' },
    { name: 'tls-key', type: 'string', valueName: 'file', usage: 'TLS key file' },
    { name: 'tls-client-ca', type: 'string', valueName: 'file', usage: 'Require client certificates signed by this CA' },
    { name: 'gc-interval', type: 'string', valueName: 'duration', default: '0', usage: 'Collect unreferenced blobs this often while serving (0: only on POST /admin/gc)' },
    { name: 'gc-grace', type: 'string', valueName: 'duration', default: '1h', usage: 'Never collect blobs younger than this' },
    { name: 'proxy-remote', type: 'string', valueName: 'url', usage: 'Be a pull-through cache of this registry URL' },
    { name: 'proxy-username', type: 'string', usage: 'Username for the upstream registry' },
    { name: 'proxy-password', type: 'string', usage: 'Password for the upstream registry' },
    { name: 'proxy-tag-ttl', type: 'string', valueName: 'duration', default: '5m', usage: 'Check a cached tag upstream again after this long' },
    { name: 'proxy-cache-ttl', type: 'string', valueName: 'duration', default: '168h', usage: 'Forget cached images not pulled for this long, at the next GC (0: never)' },
  ],
  run: async ({ flags }, cli) => {
    const opts = serveOptions(flags);
    if (cli.debug) setLogLevel('debug'); // `berth -D registry serve`: a line per request on stderr
    // A reader that closed our stderr must not take the registry down with the next log line.
    process.stderr.on('error', () => {});
    let running;
    try {
      running = await startRegistryServer(opts);
    } catch (err) {
      throw new CliError(`registry: ${err instanceof Error ? err.message : String(err)}`);
    }
    cli.out.write(`listening on ${running.url}\n`);
    const signals = cli.signals ?? process;
    await new Promise<void>((resolve) => {
      const stop = () => {
        signals.off('SIGTERM', stop);
        signals.off('SIGINT', stop);
        void running.close().then(resolve, resolve);
      };
      signals.on('SIGTERM', stop);
      signals.on('SIGINT', stop);
    });
  },
};

const gcCommand: CommandDef = {
  name: 'gc',
  usage: '[OPTIONS]',
  short: "Remove blobs no manifest refers to from a registry's storage",
  args: { max: 0 },
  flags: [
    { name: 'root', type: 'string', valueName: 'dir', usage: 'The registry storage directory (required)' },
    { name: 'gc-grace', type: 'string', valueName: 'duration', default: '0', usage: 'Keep unreferenced blobs younger than this' },
    { name: 'dry-run', type: 'bool', usage: 'Only list what would be deleted' },
  ],
  run: async ({ flags }, cli) => {
    const root = flags.string('root');
    if (!root) throw new CliError('--root is required');
    let r;
    try {
      r = await collectGarbage(root, duration(flags, 'gc-grace'), flags.bool('dry-run'));
    } catch (err) {
      if (err instanceof RootInUseError) throw new CliError(`${err.message}: a running server collects with POST /admin/gc`);
      throw err;
    }
    const dry = flags.bool('dry-run');
    for (const d of r.removed) cli.out.write(`${dry ? 'would delete' : 'deleted'} ${d}\n`);
    cli.out.write(`${r.marked} blobs marked, ${r.removed.length} ${dry ? 'would be removed' : 'removed'} (${r.bytesFreed} bytes), ${r.keptYoung} unreferenced kept as too young\n`);
  },
};

export const registryCommand: CommandDef = {
  name: 'registry',
  short: 'Run an OCI distribution registry',
  group: 'management',
  subcommands: [serveCommand, gcCommand],
};
