/** `info` (and `system info`): GET /info as docker's human summary, or through --format. */
import type { CommandDef } from '../args.js';
import type { Cli } from '../streams.js';
import { bytesSize } from '../units.js';
import { CLIENT_BUILD_TIME } from '../version.js';
import { inspectFormatFlag, renderSingle, type TemplateErrors } from './common.js';
import { swarmInfoLines } from './swarm-info.js';
import { clientVersion } from './version.js';

/** GET /info; loosely typed because docker prints whatever subset the daemon fills in. */
export type SystemInfo = Record<string, any>;

export interface ClientInfo {
  Debug: boolean;
  Version: string;
  DefaultAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  BuildTime: string;
  Context: string;
  Plugins: unknown[];
  Warnings: string[] | null;
}

export function clientInfo(debug: boolean, buildTime = CLIENT_BUILD_TIME): ClientInfo {
  const v = clientVersion('', buildTime);
  return {
    Debug: debug,
    Version: v.Version,
    DefaultAPIVersion: v.DefaultAPIVersion,
    GitCommit: v.GitCommit,
    GoVersion: v.GoVersion,
    Os: v.Os,
    Arch: v.Arch,
    BuildTime: v.BuildTime,
    Context: v.Context,
    Plugins: [],
    Warnings: null,
  };
}

/** The "Client:" block. */
export function formatClientInfo(ci: ClientInfo): string {
  return `Client:\n Version:    ${ci.Version}\n Context:    ${ci.Context}\n Debug Mode: ${ci.Debug}\n`;
}

/** "name=seccomp,profile=builtin" -> { name: 'seccomp', options: [['profile', 'builtin']] }. */
function decodeSecurityOption(opt: string): { name: string; options: Array<[string, string]> } {
  if (!opt.includes('=')) return { name: opt, options: [] }; // pre-1.25 daemons: bare names
  let name = '';
  const options: Array<[string, string]> = [];
  for (const kv of opt.split(',')) {
    const eq = kv.indexOf('=');
    const k = eq === -1 ? kv : kv.slice(0, eq);
    const v = eq === -1 ? '' : kv.slice(eq + 1);
    if (k === 'name') name = v;
    else options.push([k, v]);
  }
  return { name, options };
}

const FORMAT_ERRORS: TemplateErrors = {
  parse: { prefix: 'template parsing error: ', exitCode: 64 },
  exec: { prefix: '', exitCode: 1 },
};

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));

/**
 * The "Server:" block: lines follow docker's prettyPrintServerInfo, including which ones are
 * left out when empty. Daemon warnings go to stderr, so they are returned apart.
 */
export function formatServerInfo(info: SystemInfo, clientDebug: boolean): { out: string; warnings: string[] } {
  const lines: string[] = [];
  const line = (...parts: unknown[]) => lines.push(parts.map(str).join(' '));
  const nonEmpty = (label: string, v: unknown) => {
    if (str(v) !== '') line(label, v);
  };
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : []);

  line(' Containers:', info.Containers ?? 0);
  line('  Running:', info.ContainersRunning ?? 0);
  line('  Paused:', info.ContainersPaused ?? 0);
  line('  Stopped:', info.ContainersStopped ?? 0);
  line(' Images:', info.Images ?? 0);
  nonEmpty(' Server Version:', info.ServerVersion);
  nonEmpty(' Storage Driver:', info.Driver);
  for (const [k, v] of (info.DriverStatus ?? []) as string[][]) lines.push(`  ${k}: ${v}`);
  for (const [k, v] of (info.SystemStatus ?? []) as string[][]) lines.push(` ${k}: ${v}`);
  nonEmpty(' Logging Driver:', info.LoggingDriver);
  nonEmpty(' Cgroup Driver:', info.CgroupDriver);
  nonEmpty(' Cgroup Version:', info.CgroupVersion);
  const plugins = info.Plugins ?? {};
  line(' Plugins:');
  line('  Volume:', list(plugins.Volume).join(' '));
  line('  Network:', list(plugins.Network).join(' '));
  if (list(plugins.Authorization).length) line('  Authorization:', list(plugins.Authorization).join(' '));
  line('  Log:', list(plugins.Log).join(' '));
  if (list(info.CDISpecDirs).length) {
    line(' CDI spec directories:');
    for (const dir of list(info.CDISpecDirs)) lines.push(`  ${dir}`);
  }
  const devices = (info.DiscoveredDevices ?? []) as Array<{ Source?: string; ID?: string }>;
  if (devices.length) {
    line(' Discovered Devices:');
    for (const d of devices) lines.push(`  ${str(d.Source)}: ${str(d.ID)}`);
  }
  const swarm = info.Swarm ?? {};
  line(' Swarm:', swarm.LocalNodeState ?? '');
  lines.push(...swarmInfoLines(swarm));
  const runtimes = Object.keys(info.Runtimes ?? {});
  if (runtimes.length) {
    line(' Runtimes:', runtimes.join(' '));
    line(' Default Runtime:', info.DefaultRuntime);
  }
  if (info.OSType === 'linux') {
    line(' Init Binary:', info.InitBinary);
    line(' containerd version:', info.ContainerdCommit?.ID);
    line(' runc version:', info.RuncCommit?.ID);
    line(' init version:', info.InitCommit?.ID);
    const security = list(info.SecurityOptions);
    if (security.length) {
      line(' Security Options:');
      for (const so of security.map(decodeSecurityOption)) {
        lines.push(`  ${so.name}`);
        for (const [k, v] of so.options) if (k === 'profile') line('   Profile:', v);
      }
    }
  }
  if (info.OSType === 'windows') line(' Default Isolation:', info.Isolation);
  nonEmpty(' Kernel Version:', info.KernelVersion);
  nonEmpty(' Operating System:', info.OperatingSystem);
  nonEmpty(' OSType:', info.OSType);
  nonEmpty(' Architecture:', info.Architecture);
  line(' CPUs:', info.NCPU ?? 0);
  line(' Total Memory:', bytesSize(info.MemTotal ?? 0));
  nonEmpty(' Name:', info.Name);
  nonEmpty(' ID:', info.ID);
  line(' Docker Root Dir:', info.DockerRootDir);
  line(' Debug Mode:', !!info.Debug);
  if (info.Debug || clientDebug) {
    line('  File Descriptors:', info.NFd ?? 0);
    line('  Goroutines:', info.NGoroutines ?? 0);
    line('  System Time:', info.SystemTime);
    line('  EventsListeners:', info.NEventsListener ?? 0);
  }
  nonEmpty(' HTTP Proxy:', info.HttpProxy);
  nonEmpty(' HTTPS Proxy:', info.HttpsProxy);
  nonEmpty(' No Proxy:', info.NoProxy);
  if (list(info.Labels).length) {
    line(' Labels:');
    for (const l of list(info.Labels)) lines.push(`  ${l}`);
  }
  line(' Experimental:', !!info.ExperimentalBuild);
  const reg = info.RegistryConfig;
  const indexConfigs = Object.values(reg?.IndexConfigs ?? {}) as Array<{ Name?: string; Secure?: boolean }>;
  const cidrs = list(reg?.InsecureRegistryCIDRs);
  if (reg && (cidrs.length || indexConfigs.length)) {
    line(' Insecure Registries:');
    for (const c of indexConfigs) if (!c.Secure) lines.push(`  ${str(c.Name)}`);
    for (const cidr of cidrs) lines.push(`  ${cidr}`);
  }
  if (list(reg?.Mirrors).length) {
    line(' Registry Mirrors:');
    for (const m of list(reg.Mirrors)) lines.push(`  ${m}`);
  }
  line(' Live Restore Enabled:', !!info.LiveRestoreEnabled);
  if (info.ProductLicense) line(' Product License:', info.ProductLicense);
  const pools = (info.DefaultAddressPools ?? []) as Array<{ Base?: string; Size?: number }>;
  if (pools.length) {
    line(' Default Address Pools:');
    for (const p of pools) lines.push(`   Base: ${str(p.Base)}, Size: ${str(p.Size)}`);
  }
  lines.push('');
  return { out: lines.join('\n') + '\n', warnings: list(info.Warnings) };
}

async function runInfo(format: string, cli: Cli): Promise<void> {
  const ci = clientInfo(cli.debug);
  if (format !== '') {
    const info = await cli.client().json<SystemInfo>('GET', '/info');
    cli.out.write(renderSingle(format, { ...info, ClientInfo: ci }, FORMAT_ERRORS));
    return;
  }
  cli.out.write(formatClientInfo(ci) + '\nServer:\n');
  const info = await cli.client().json<SystemInfo>('GET', '/info');
  const { out, warnings } = formatServerInfo(info ?? {}, cli.debug);
  cli.out.write(out);
  for (const w of warnings) cli.err.write(w + '\n');
}

export function infoCommand(name: string, group?: 'common'): CommandDef {
  return {
    name,
    usage: '[OPTIONS]',
    short: 'Display system-wide information',
    aliasPaths: ['system info', 'info'],
    ...(group && { group }),
    args: { max: 0 },
    flags: [inspectFormatFlag('f')],
    run: (inv, cli) => runInfo(inv.flags.string('format'), cli),
  };
}
