/**
 * Registry credentials kept as the docker CLI keeps them: ~/.docker/config.json (or
 * $DOCKER_CONFIG, or --config DIR) with "auths" entries ({"auth": base64(user:pass)} plus an
 * optional "identitytoken"), and "credsStore"/"credHelpers" naming docker-credential-<name>
 * programs that hold the secrets instead (get/store/erase over stdin/stdout).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CliError } from './errors.js';

/** Docker Hub's key in "auths", as the docker CLI writes it. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';
export const CONFIG_FILE_NAME = 'config.json';

/** What a registry login is (docker's registry.AuthConfig, in its JSON field order). */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface StoredAuth {
  auth?: string;
  email?: string;
  identitytoken?: string;
  registrytoken?: string;
  [key: string]: unknown;
}

interface ConfigJson {
  auths?: Record<string, StoredAuth>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** The directory docker reads its config from: --config, then $DOCKER_CONFIG, then ~/.docker. */
export function configDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return flag;
  if (env.DOCKER_CONFIG) return env.DOCKER_CONFIG;
  return path.join(env.HOME || os.homedir(), '.docker');
}

/** credentials.ConvertToHostname: "https://host:5000/v2/" -> "host:5000". */
export function convertToHostname(address: string): string {
  let s = address;
  if (s.startsWith('http://')) s = s.slice(7);
  else if (s.startsWith('https://')) s = s.slice(8);
  const slash = s.indexOf('/');
  return slash === -1 ? s : s.slice(0, slash);
}

/** The key credentials of a registry host are kept under (Docker Hub's is a URL). */
export function authKeyForHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? INDEX_SERVER : domain;
}

/** The X-Registry-Auth value docker sends: base64url of the AuthConfig JSON ("e30=" for none). */
export function encodeAuthHeader(auth: AuthConfig): string {
  const ordered: AuthConfig = {};
  for (const key of ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    if (auth[key]) ordered[key] = auth[key];
  }
  // Go's base64.URLEncoding: the URL alphabet, with padding.
  return Buffer.from(JSON.stringify(ordered)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function decodeAuth(auth: string): { username: string; password: string } {
  const bad = /[^A-Za-z0-9+/=]/.exec(auth);
  if (bad) throw new CliError(`illegal base64 data at input byte ${bad.index}`);
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon === -1) throw new CliError('Invalid auth configuration file');
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Runs docker-credential-<helper> <action> with `input` on stdin; resolves with its stdout. */
export type HelperRunner = (helper: string, action: 'get' | 'store' | 'erase' | 'list', input: string) => Promise<string>;

export const runHelper: HelperRunner = (helper, action, input) =>
  new Promise((resolve, reject) => {
    const program = `docker-credential-${helper}`;
    const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.resume();
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new CliError(`exec: "${program}": executable file not found in $PATH`));
      else reject(err);
    });
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString('utf8').trim();
      if (code === 0) resolve(text);
      else reject(new HelperError(text || `exit status ${code}`));
    });
    child.stdin.on('error', () => {}); // a helper that exits without reading
    child.stdin.end(input);
  });

export class HelperError extends Error {}

/**
 * One config file: loaded once, changed through store()/erase(), written back whole (other
 * settings kept) to a temporary file renamed into place, mode 0600.
 */
export class CredentialStore {
  private constructor(
    readonly dir: string,
    private config: ConfigJson,
    private readonly helper: HelperRunner,
  ) {}

  get file(): string {
    return path.join(this.dir, CONFIG_FILE_NAME);
  }

  /**
   * Why the file could not be read as docker reads it, if so. Docker warns and goes on; so
   * does Berth, but it will not write over a file that is not JSON (that would lose it).
   */
  loadError: string | undefined;
  private unparsable = false;

  static async load(dir: string, helper: HelperRunner = runHelper): Promise<CredentialStore> {
    const file = path.join(dir, CONFIG_FILE_NAME);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new CredentialStore(dir, {}, helper);
      const store = new CredentialStore(dir, {}, helper);
      store.loadError = (err as Error).message;
      store.unparsable = true;
      return store;
    }
    let config: unknown;
    let why: string | undefined;
    try {
      config = text.trim() === '' ? {} : JSON.parse(text);
      if (!config || typeof config !== 'object' || Array.isArray(config)) why = `json: cannot unmarshal ${Array.isArray(config) ? 'array' : typeof config} into Go value of type configfile.ConfigFile`;
    } catch (err) {
      why = (err as Error).message;
    }
    if (why !== undefined) {
      const store = new CredentialStore(dir, {}, helper);
      store.loadError = why;
      store.unparsable = true;
      return store;
    }
    const store = new CredentialStore(dir, config as ConfigJson, helper);
    // Entries are checked up front, as docker decodes them all when it loads the file.
    for (const entry of Object.values(store.auths())) {
      if (!entry || typeof entry !== 'object') {
        store.loadError = `json: cannot unmarshal ${typeof entry} into Go struct field ConfigFile.auths of type types.AuthConfig`;
        break;
      }
      if (typeof entry.auth === 'string' && entry.auth !== '') {
        try {
          decodeAuth(entry.auth);
        } catch (err) {
          store.loadError = (err as Error).message;
          break;
        }
      }
    }
    return store;
  }

  /** The helper that holds this server's credentials, if any (credHelpers first, then credsStore). */
  helperFor(server: string): string | undefined {
    const specific = this.config.credHelpers?.[server];
    if (typeof specific === 'string' && specific !== '') return specific;
    return typeof this.config.credsStore === 'string' && this.config.credsStore !== '' ? this.config.credsStore : undefined;
  }

  private auths(): Record<string, StoredAuth> {
    const auths = this.config.auths;
    if (auths && typeof auths === 'object' && !Array.isArray(auths)) return auths;
    return (this.config.auths = {});
  }

  /** The stored entry for `server`: exact key first, then any key with the same host name. */
  private findKey(server: string): string | undefined {
    const auths = this.auths();
    if (server in auths) return server;
    return Object.keys(auths).find((key) => convertToHostname(key) === server);
  }

  /** The credentials for `server` (an auths key); an empty config when there are none. */
  async get(server: string): Promise<AuthConfig> {
    const helper = this.helperFor(server);
    if (helper) {
      let text: string;
      // As docker: a helper that fails or is missing means no credentials, not a failed pull.
      let creds: { ServerURL?: string; Username?: string; Secret?: string };
      try {
        creds = JSON.parse(await this.helper(helper, 'get', server)) as typeof creds;
      } catch {
        return {};
      }
      if (!creds || typeof creds !== 'object') return {};
      const entry = this.auths()[server] ?? {};
      const auth: AuthConfig = { serveraddress: server, ...(typeof entry.email === 'string' && { email: entry.email }) };
      if (creds.Username === '<token>') auth.identitytoken = creds.Secret;
      else {
        auth.username = creds.Username;
        auth.password = creds.Secret;
      }
      return auth;
    }
    const key = this.findKey(server);
    if (key === undefined) return {};
    const entry = this.auths()[key]!;
    if (!entry || typeof entry !== 'object') return {};
    const auth: AuthConfig = { serveraddress: key };
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      try {
        Object.assign(auth, decodeAuth(entry.auth));
      } catch {
        return {}; // reported once by loadError
      }
    }
    if (typeof entry.identitytoken === 'string') auth.identitytoken = entry.identitytoken;
    if (typeof entry.registrytoken === 'string') auth.registrytoken = entry.registrytoken;
    if (typeof entry.email === 'string') auth.email = entry.email;
    return auth;
  }

  /** Whether the secrets go to a helper (no "stored unencrypted" warning then). */
  usesHelper(server: string): boolean {
    return this.helperFor(server) !== undefined;
  }

  /** Keeps the credentials of auth.serveraddress (in its helper, or base64 in the file). */
  async store(auth: AuthConfig): Promise<void> {
    const server = auth.serveraddress ?? '';
    const helper = this.helperFor(server);
    const auths = this.auths();
    if (helper) {
      const secret = auth.identitytoken ? { Username: '<token>', Secret: auth.identitytoken } : { Username: auth.username ?? '', Secret: auth.password ?? '' };
      await this.helper(helper, 'store', JSON.stringify({ ServerURL: server, ...secret }));
      // As docker: the file keeps an entry (without secrets) so that the server is listed.
      auths[server] = auth.email ? { email: auth.email } : {};
    } else {
      const entry: StoredAuth = { auth: Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64') };
      if (auth.email) entry.email = auth.email;
      if (auth.identitytoken) entry.identitytoken = auth.identitytoken;
      if (auth.registrytoken) entry.registrytoken = auth.registrytoken;
      // Unchanged credentials leave the file as it is (docker does not rewrite it either).
      if (JSON.stringify(auths[server]) === JSON.stringify(entry)) return;
      auths[server] = entry;
    }
    await this.save();
  }

  /** Forgets `server`; true when anything was removed. */
  async erase(server: string): Promise<boolean> {
    const helper = this.helperFor(server);
    let removed = false;
    if (helper) {
      try {
        await this.helper(helper, 'erase', server);
        removed = true;
      } catch {
        // not there, or no such helper: nothing to erase (docker says nothing either)
      }
    }
    const auths = this.auths();
    if (server in auths) {
      delete auths[server];
      removed = true;
      await this.save();
    }
    return removed;
  }

  /** Writes the config atomically: a 0600 temporary file beside it, renamed over it. */
  async save(): Promise<void> {
    const file = this.file;
    if (this.unparsable) throw new CliError(`Error saving credentials: ${file} could not be read (${this.loadError}); not overwriting it`);
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const auths = this.auths();
    const sorted: Record<string, StoredAuth> = {};
    for (const key of Object.keys(auths).sort()) sorted[key] = auths[key]!;
    // "auths" first, as docker's ConfigFile struct writes it.
    const config = { auths: sorted, ...this.config };
    config.auths = sorted;
    const tmp = path.join(this.dir, `.${CONFIG_FILE_NAME}.${randomBytes(6).toString('hex')}`);
    try {
      await fs.writeFile(tmp, JSON.stringify(config, null, '\t'), { mode: 0o600, flag: 'wx' });
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw new CliError(`Error saving credentials: ${(err as Error).message}`);
    }
  }
}
