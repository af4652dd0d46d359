/**
 * Which daemon a docker CLI plugin talks to, chosen as the docker CLI chooses it (cli/command/cli.go):
 * the context named by --context, else "default" when -H or DOCKER_HOST is given, else DOCKER_CONTEXT,
 * else config.json's currentContext, else "default". The default context is -H, then DOCKER_HOST, then
 * docker's own socket, with the global --tls* flags; any other context is read from the docker CLI's
 * context store (contexts/meta/<sha256 of the name>/meta.json, its TLS files under contexts/tls/).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FlagValues } from './args.js';
import { parseHost, type Endpoint } from './client.js';
import { configDir } from './credentials.js';
import { CliError, fsErrorMessage } from './errors.js';
import { clientTls, type ClientTls } from './tls.js';

export const DEFAULT_CONTEXT = 'default';
/** The docker CLI's default daemon address (not Berth's: `docker compose` must see what `docker ps` sees). */
export const DOCKER_DEFAULT_HOST = 'unix:///var/run/docker.sock';

interface ContextMeta {
  Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
}

function readConfigFile(dir: string): { currentContext?: string } {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { currentContext?: string };
  } catch {
    return {}; // no config file, or not JSON: the docker CLI then uses its defaults too
  }
}

/** resolveContextName. */
export function contextName(globals: FlagValues, env: NodeJS.ProcessEnv, dir: string): string {
  const given = globals.string('context');
  const hosts = globals.list('host');
  if (given && hosts.length) throw new CliError('conflicting options: cannot specify both --host and --context');
  if (given) return given;
  if (hosts.length || env.DOCKER_HOST) return DEFAULT_CONTEXT;
  if (env.DOCKER_CONTEXT) return env.DOCKER_CONTEXT;
  return readConfigFile(dir).currentContext || DEFAULT_CONTEXT;
}

/** The endpoint and TLS settings of a context the docker CLI stored with `docker context create`. */
function storedContext(dir: string, name: string): { endpoint: Endpoint; tls?: ClientTls } {
  const id = createHash('sha256').update(name).digest('hex');
  const metaFile = path.join(dir, 'contexts', 'meta', id, 'meta.json');
  let meta: ContextMeta;
  try {
    meta = JSON.parse(readFileSync(metaFile, 'utf8')) as ContextMeta;
  } catch (err) {
    const why = err instanceof SyntaxError ? `parsing ${metaFile}: ${err.message}` : fsErrorMessage('open', metaFile, err);
    throw new CliError(`context "${name}": context not found: ${why}`);
  }
  const docker = meta.Endpoints?.docker;
  if (!docker?.Host) throw new CliError(`context "${name}": no docker endpoint`);
  const tlsDir = path.join(dir, 'contexts', 'tls', id, 'docker');
  const file = (f: string) => (existsSync(path.join(tlsDir, f)) ? readFileSync(path.join(tlsDir, f)) : undefined);
  const ca = file('ca.pem');
  const cert = file('cert.pem');
  const key = file('key.pem');
  const hasTls = ca || (cert && key);
  const tls: ClientTls | undefined = hasTls
    ? { verify: !docker.SkipTLSVerify, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) }
    : undefined;
  return { endpoint: parseHost(docker.Host, tls !== undefined), tls };
}

/** The daemon a plugin run with these global flags and this environment talks to. */
export function dockerEndpoint(globals: FlagValues, env: NodeJS.ProcessEnv): { endpoint: Endpoint; tls?: ClientTls } {
  const dir = configDir(globals.changed('config') ? globals.string('config') : undefined, env);
  const name = contextName(globals, env, dir);
  if (name !== DEFAULT_CONTEXT) return storedContext(dir, name);
  const hosts = globals.list('host');
  if (hosts.length > 1) throw new CliError('Specify only one -H');
  const tls = clientTls(globals);
  const raw = hosts[0] || env.DOCKER_HOST || (tls ? 'tcp://localhost:2376' : DOCKER_DEFAULT_HOST);
  return { endpoint: parseHost(raw, tls !== undefined), tls };
}
