/**
 * `login` and `logout` (POST /auth, credentials kept as the docker CLI keeps them), and the
 * X-Registry-Auth header pull and push send.
 */
import type { CommandDef } from '../args.js';
import {
  CredentialStore,
  INDEX_SERVER,
  authKeyForHost,
  configDir,
  convertToHostname,
  encodeAuthHeader,
  type AuthConfig,
} from '../credentials.js';
import { CliError, DaemonError } from '../errors.js';
import type { NamedRef } from '../reference.js';
import type { Cli } from '../streams.js';

async function credentialStore(cli: Cli): Promise<CredentialStore> {
  const store = await CredentialStore.load(configDir(cli.configDir, cli.env));
  if (store.loadError !== undefined) cli.err.write(`WARNING: Error parsing config file (${store.file}): ${store.loadError}\n`);
  return store;
}

/** What docker sends as X-Registry-Auth for an image on `ref`'s registry ("e30=" when none). */
export async function registryAuthHeader(cli: Cli, ref: NamedRef): Promise<string> {
  const store = await credentialStore(cli);
  const auth = await store.get(authKeyForHost(ref.domain));
  return encodeAuthHeader({
    username: auth.username,
    password: auth.password,
    serveraddress: auth.serveraddress,
    identitytoken: auth.identitytoken,
    registrytoken: auth.registrytoken,
  });
}

const UNENCRYPTED_WARNING = (file: string) =>
  `\nWARNING! Your credentials are stored unencrypted in '${file}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`;

/** docker's tui note, plain off a terminal. */
function infoNote(cli: Cli, text: string): string {
  if (!cli.err.isTTY) return ` Info -> ${text}\n`;
  return `\x1b[1m\x1b[106m\x1b[30mi\x1b[0m\x1b[0m \x1b[96mInfo \u2192 \x1b[0m\x1b[0m\x1b[3m${text}\x1b[0m\n`;
}

/** Reads everything on stdin (--password-stdin). */
async function readAll(cli: Cli): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of cli.in) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from a terminal; with `hidden`, echo is off (raw mode) as for passwords. */
function readLine(cli: Cli, hidden: boolean): Promise<string> {
  const input = cli.in as Cli['in'] & { setRawMode?: (raw: boolean) => void };
  const raw = hidden && !!input.setRawMode;
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (err?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      if (raw) input.setRawMode!(false);
      input.pause();
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      const text = String(chunk);
      for (let i = 0; i < text.length; i++) {
        const c = text[i]!;
        if (c === '\n' || c === '\r') {
          // What was typed ahead (a pasted "user\npassword\n") stays for the next prompt.
          let rest = text.slice(i + 1);
          if (c === '\r' && rest.startsWith('\n')) rest = rest.slice(1);
          done();
          if (rest !== '') input.unshift(Buffer.from(rest));
          return;
        }
        if (raw && c === '\x03') return done(new CliError('', 130));
        if (raw && (c === '\x7f' || c === '\b')) line = line.slice(0, -1);
        else line += c;
      }
    };
    const onEnd = () => done();
    if (raw) input.setRawMode!(true);
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}

/** docker's PromptUserForCredentials: asks for what the flags did not give. */
async function promptCredentials(cli: Cli, user: string, password: string, defaultUser: string, server: string): Promise<AuthConfig> {
  user = user.trim();
  if (user === '') {
    cli.out.write(defaultUser ? `Username (${defaultUser}): ` : 'Username: ');
    user = (await readLine(cli, false)).trim() || defaultUser;
    if (user === '') throw new CliError('Error: Non-null Username Required');
  }
  password = password.trim();
  if (password === '') {
    cli.out.write('Password: ');
    password = await readLine(cli, true);
    cli.out.write('\n');
    if (password === '') throw new CliError('Error: Password Required');
  }
  return { username: user, password, serveraddress: server };
}

interface AuthResponse {
  Status?: string;
  IdentityToken?: string;
}

async function postAuth(cli: Cli, auth: AuthConfig): Promise<AuthResponse> {
  const body: AuthConfig = {};
  for (const key of ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    if (auth[key]) body[key] = auth[key];
  }
  return (await cli.client().json<AuthResponse>('POST', '/auth', { json: body })) ?? {};
}

/** Keeps the login, swapping the password for the identity token when the daemon gave one. */
async function storeLogin(cli: Cli, store: CredentialStore, auth: AuthConfig, res: AuthResponse, warn: boolean): Promise<void> {
  const kept: AuthConfig = { ...auth };
  if (res.IdentityToken) {
    kept.password = '';
    kept.identitytoken = res.IdentityToken;
  }
  try {
    await store.store(kept);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Error saving credentials: /, '') : String(err);
    throw new CliError(`Error saving credentials: ${store.usesHelper(kept.serveraddress ?? '') ? `error storing credentials - err: ${why}, out: \`\`` : why}`);
  }
  if (warn && !store.usesHelper(kept.serveraddress ?? '')) cli.err.write(UNENCRYPTED_WARNING(store.file));
}

export function loginCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] [SERVER]',
    short: 'Authenticate to a registry',
    long: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
    args: { max: 1 },
    flags: [
      { name: 'password', short: 'p', type: 'string', usage: 'Password or Personal Access Token (PAT)' },
      { name: 'password-stdin', type: 'bool', usage: 'Take the Password or Personal Access Token (PAT) from stdin' },
      { name: 'username', short: 'u', type: 'string', usage: 'Username' },
    ],
    run: async (inv, cli) => {
      const user = inv.flags.string('username');
      let password = inv.flags.string('password');
      const passwordStdin = inv.flags.bool('password-stdin');
      if (password !== '' && passwordStdin) throw new CliError('conflicting options: cannot specify both --password and --password-stdin');
      if (passwordStdin && user === '') throw new CliError('the --password-stdin option requires --username to be set');
      if (password !== '') cli.err.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      if (passwordStdin) password = (await readAll(cli)).replace(/\n$/, '').replace(/\r$/, '');

      const given = inv.args[0] ?? '';
      const isDefault = given === '' || given === 'docker.io' || given === INDEX_SERVER;
      const server = isDefault ? INDEX_SERVER : convertToHostname(given);
      const store = await credentialStore(cli);

      // With no flags, stored credentials are tried first, as docker does.
      const stored = user === '' && password === '' ? await store.get(server) : {};
      if (stored.username && stored.password) {
        cli.err.write(`Authenticating with existing credentials... [Username: ${stored.username}]\n\n`);
        cli.err.write(infoNote(cli, "To login with a different account, run 'berth logout' followed by 'berth login'"));
        cli.err.write('\n\n');
        try {
          const res = await postAuth(cli, { ...stored, serveraddress: server });
          await storeLogin(cli, store, { username: stored.username, password: stored.password, serveraddress: server }, res, false);
          cli.out.write(`${res.Status ?? ''}\n`);
          return;
        } catch (err) {
          if (!(err instanceof DaemonError)) throw err;
          cli.err.write(err.status === 401 ? 'Stored credentials invalid or expired\n' : `Login did not succeed, error: ${err.message}\n`);
        }
      }
      if ((user === '' || password === '') && !cli.in.isTTY) throw new CliError('Error: Cannot perform an interactive login from a non TTY device');
      const auth = await promptCredentials(cli, user, password, stored.username ?? '', server);
      const res = await postAuth(cli, auth);
      await storeLogin(cli, store, auth, res, true);
      cli.out.write(`${res.Status ?? ''}\n`);
    },
  };
}

export function logoutCommand(name: string): CommandDef {
  return {
    name,
    usage: '[SERVER]',
    short: 'Log out from a registry',
    long: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
    args: { max: 1 },
    run: async (inv, cli) => {
      const given = inv.args[0] ?? '';
      const isDefault = given === '';
      const server = isDefault ? INDEX_SERVER : given;
      const hostname = isDefault ? server : convertToHostname(server);
      // Older clients kept some servers under a URL; those keys are removed as well.
      const keys = isDefault ? [server] : [...new Set([server, hostname, `http://${hostname}`, `https://${hostname}`])];
      const store = await credentialStore(cli);
      cli.out.write(`Removing login credentials for ${hostname}\n`);
      const failures: string[] = [];
      for (const key of keys) {
        try {
          await store.erase(key);
        } catch (err) {
          failures.push(`${key}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (failures.length === keys.length) cli.err.write(`WARNING: could not erase credentials:\n${failures.map((f) => `${f}\n`).join('')}`);
    },
  };
}
