/**
 * Finding legacy plugins on disk, as Docker's pkg/plugins does: in each plugin directory a plugin
 * `name` is a socket `name.sock` or `name/name.sock`, or a `name.spec` file (one URL: unix://, tcp://,
 * http://, https://) or a `name.json` file ({Name, Addr, TLSConfig}) at the same two places.
 * Sockets win over spec files, and earlier directories over later ones.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BerthError } from '../lib/errors.js';

/** Docker's directories: sockets in /run/docker/plugins, spec files in the other two. */
export const DEFAULT_PLUGIN_DIRS = ['/run/docker/plugins', '/etc/docker/plugins', '/usr/lib/docker/plugins'];

/** TLS settings of a .json plugin file (Docker's tlsconfig.Options). */
export interface PluginTls {
  insecureSkipVerify: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Where a plugin answers: a unix socket, or an HTTP(S) host and port. */
export type PluginEndpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls?: PluginTls };

export interface PluginLocation {
  name: string;
  /** Socket path or URL, for messages and PluginHandle.address. */
  address: string;
  endpoint: PluginEndpoint;
  /** The file it was found through. */
  source: string;
}

const candidates = (dir: string, name: string, ext: string) => [path.join(dir, name + ext), path.join(dir, name, name + ext)];

async function isSocket(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isSocket();
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Plugin names must not walk out of the directories (`../x`). */
function validName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** The plugin `name` in `dirs`, or undefined when no file names it. Malformed files are errors. */
export async function locatePlugin(dirs: readonly string[], name: string): Promise<PluginLocation | undefined> {
  if (!validName(name)) return undefined;
  for (const dir of dirs) {
    for (const p of candidates(dir, name, '.sock')) {
      if (await isSocket(p)) return { name, address: p, endpoint: { kind: 'unix', socketPath: p }, source: p };
    }
  }
  for (const dir of dirs) {
    for (const ext of ['.spec', '.json']) {
      for (const p of candidates(dir, name, ext)) {
        if (!(await exists(p))) continue;
        return ext === '.json' ? readJsonFile(name, p) : readSpecFile(name, p);
      }
    }
  }
  return undefined;
}

function badFile(name: string, file: string, why: string): BerthError {
  return new BerthError('Internal', `plugin "${name}": invalid plugin file ${file}: ${why}`);
}

async function readSpecFile(name: string, file: string): Promise<PluginLocation> {
  const addr = (await fs.readFile(file, 'utf8')).trim();
  return { ...endpointOf(name, file, addr), name, source: file };
}

async function readJsonFile(name: string, file: string): Promise<PluginLocation> {
  let spec: { Addr?: unknown; TLSConfig?: Record<string, unknown> | null };
  try {
    spec = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw badFile(name, file, (err as Error).message);
  }
  if (!spec || typeof spec !== 'object' || typeof spec.Addr !== 'string') throw badFile(name, file, 'no Addr');
  let tls: PluginTls | undefined;
  const t = spec.TLSConfig;
  if (t && typeof t === 'object') {
    const str = (k: string) => (typeof t[k] === 'string' && t[k] !== '' ? (t[k] as string) : undefined);
    // As Docker: without a CA file the plugin's certificate is not verified.
    tls = { insecureSkipVerify: t.InsecureSkipVerify === true || !str('CAFile'), caFile: str('CAFile'), certFile: str('CertFile'), keyFile: str('KeyFile') };
  }
  const loc = endpointOf(name, file, spec.Addr, tls);
  return { ...loc, name, source: file };
}

/** unix:///path, tcp://host:port, http://host:port, https://host:port. */
function endpointOf(name: string, file: string, addr: string, tls?: PluginTls): Pick<PluginLocation, 'address' | 'endpoint'> {
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    throw badFile(name, file, `Unknown protocol in address "${addr}"`);
  }
  if (url.protocol === 'unix:') {
    const socketPath = decodeURIComponent(url.host + url.pathname);
    if (!socketPath) throw badFile(name, file, `no socket path in "${addr}"`);
    return { address: addr, endpoint: { kind: 'unix', socketPath } };
  }
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!host) throw badFile(name, file, `no host in "${addr}"`);
    // https:// always means TLS; tcp:// means TLS when the .json file gives a TLSConfig.
    const useTls = url.protocol === 'https:' ? (tls ?? { insecureSkipVerify: true }) : url.protocol === 'tcp:' ? tls : undefined;
    return { address: addr, endpoint: { kind: 'tcp', host, port, ...(useTls ? { tls: useTls } : {}) } };
  }
  throw badFile(name, file, `Unknown protocol "${url.protocol.replace(/:$/, '')}"`);
}

/** The names of every plugin in `dirs` (each once), in discovery order. */
export async function scanPluginNames(dirs: readonly string[]): Promise<string[]> {
  const names: string[] = [];
  const add = (n: string) => {
    if (validName(n) && !names.includes(n)) names.push(n);
  };
  for (const dir of dirs) {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      continue; // a missing or unreadable directory has no plugins
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        for (const ext of ['.sock', '.spec', '.json']) {
          const p = path.join(dir, e.name, e.name + ext);
          if (ext === '.sock' ? await isSocket(p) : await exists(p)) {
            add(e.name);
            break;
          }
        }
        continue;
      }
      const ext = path.extname(e.name);
      if (ext === '.sock' && e.isSocket()) add(e.name.slice(0, -ext.length));
      else if ((ext === '.spec' || ext === '.json') && e.isFile()) add(e.name.slice(0, -ext.length));
    }
  }
  return names;
}
