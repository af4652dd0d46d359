/**
 * Adapter for iproute2's `ip`: the only module that runs it. Links, addresses, routes and named network
 * namespaces (/run/netns/<name>). Commands that belong together go through `ip -batch -` (one process
 * for many changes); what `ip` writes to stderr becomes the error the user sees.
 *
 * Lifecycle: stateless functions; callers decide what to create and undo.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { execFileText, ExecFileError } from '../lib/exec-file.js';
import { internal } from '../lib/errors.js';

const IP = 'ip';

/** Where `ip netns add` puts namespaces. */
export const NETNS_DIR = '/run/netns';

export class IpError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'IpError';
  }
}

async function run(args: string[], input?: string): Promise<string> {
  try {
    return await execFileText(IP, args, { input, timeoutMs: 30_000 });
  } catch (err) {
    if (err instanceof ExecFileError) throw new IpError(`ip ${args.filter((a) => a !== '-batch' && a !== '-').join(' ')}: ${cleanStderr(err.stderr) || err.detail}`, err.stderr);
    throw err;
  }
}

/** ip's batch errors come as "Command failed -:3" after the cause; keep the cause. */
function cleanStderr(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Command failed -:\d+$/.test(l))
    .join('; ');
}

/**
 * Runs several `ip` commands (each without the leading "ip") in one process, optionally inside a named
 * network namespace. `force` goes on after a failing line (for cleanup); the error still reports it.
 */
export async function batch(commands: string[], opts: { netns?: string; force?: boolean; family?: 4 | 6 } = {}): Promise<void> {
  if (!commands.length) return;
  const args = [...(opts.netns ? ['-n', opts.netns] : []), ...(opts.family ? [`-${opts.family}`] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  await run(args, commands.join('\n') + '\n');
}

export interface LinkInfo {
  ifname: string;
  ifindex: number;
  master?: string;
  ifalias?: string;
  link_type?: string;
  operstate?: string;
  mtu?: number;
  /** With -d: the kind and, for VXLAN devices, their settings (id, port, local, learning). */
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

export async function links(opts: { master?: string } = {}): Promise<LinkInfo[]> {
  const out = await run(['-j', '-d', 'link', 'show', ...(opts.master ? ['master', opts.master] : [])]);
  return out.trim() ? (JSON.parse(out) as LinkInfo[]) : [];
}

export async function linkExists(name: string): Promise<LinkInfo | undefined> {
  try {
    const out = await run(['-j', '-d', 'link', 'show', 'dev', name]);
    return (JSON.parse(out) as LinkInfo[])[0];
  } catch (err) {
    if (err instanceof IpError && /does not exist|Cannot find device/.test(err.stderr)) return undefined;
    throw err;
  }
}

export interface AddrInfo {
  ifname: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number }>;
}

export async function addresses(dev: string): Promise<Array<{ local: string; prefixlen: number }>> {
  const out = await run(['-j', '-4', 'addr', 'show', 'dev', dev]);
  const parsed = out.trim() ? (JSON.parse(out) as AddrInfo[]) : [];
  return parsed.flatMap((a) => a.addr_info.filter((i) => i.family === 'inet').map((i) => ({ local: i.local, prefixlen: i.prefixlen })));
}

/** The interface's IPv6 addresses (link-local ones with scope "link"). */
export async function addresses6(dev: string): Promise<Array<{ local: string; prefixlen: number; scope: string }>> {
  const out = await run(['-j', '-6', 'addr', 'show', 'dev', dev]);
  const parsed = out.trim() ? (JSON.parse(out) as Array<{ addr_info: Array<{ family: string; local: string; prefixlen: number; scope: string }> }>) : [];
  return parsed.flatMap((a) => a.addr_info.filter((i) => i.family === 'inet6').map((i) => ({ local: i.local, prefixlen: i.prefixlen, scope: i.scope })));
}

export interface RouteInfo {
  dst: string;
  dev?: string;
  gateway?: string;
}

/** IPv4 routes of the main table (what a new subnet must not overlap). */
export async function routes(): Promise<RouteInfo[]> {
  const out = await run(['-j', '-4', 'route', 'show']);
  return out.trim() ? (JSON.parse(out) as RouteInfo[]) : [];
}

/** IPv6 routes of the main table (what a new IPv6 subnet must not overlap). */
export async function routes6(): Promise<RouteInfo[]> {
  const out = await run(['-j', '-6', 'route', 'show']);
  return out.trim() ? (JSON.parse(out) as RouteInfo[]) : [];
}

/** Names of the namespaces under /run/netns. */
export async function netnsList(): Promise<string[]> {
  const out = await run(['-j', 'netns', 'list']);
  if (!out.trim()) return [];
  return (JSON.parse(out) as Array<{ name: string }>).map((n) => n.name);
}

/**
 * Starts a program inside a named network namespace (`ip netns exec`), with the stdio the caller asks
 * for (an 'ipc' entry lets a Node child hand sockets back). Failure to start shows in the child's exit.
 */
export function spawnInNetns(netns: string, argv: string[], stdio: StdioOptions): ChildProcess {
  if (!argv.length) throw internal('spawnInNetns: empty command');
  return spawn(IP, ['netns', 'exec', netns, ...argv], { stdio });
}
