/** `version`: the client's build plus GET /version, in docker's Client/Server layout. */
import type { CommandDef } from '../args.js';
import { MAX_API_VERSION } from '../client.js';
import { formatANSIC, localZone, parseRFC3339 } from '../gotime.js';
import type { Cli } from '../streams.js';
import { tabwrite } from '../tabwriter.js';
import { CLIENT_BUILD_TIME, CLIENT_COMMIT, CLIENT_RUNTIME, CLIENT_VERSION } from '../version.js';
import { inspectFormatFlag, renderSingle, type TemplateErrors } from './common.js';

const FORMAT_ERRORS: TemplateErrors = {
  parse: { prefix: 'template parsing error: ', exitCode: 64 },
  exec: { prefix: '', exitCode: 1 },
  name: 'version',
};

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string> | null;
}

export interface ServerVersion {
  Platform?: { Name: string };
  Components?: ComponentVersion[] | null;
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

export interface ClientVersion {
  Version: string;
  ApiVersion: string;
  DefaultAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  BuildTime: string;
  Context: string;
}

function goArch(): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386' };
  return map[process.arch] ?? process.arch;
}

/** Go exposes APIVersion as a field whose JSON name is ApiVersion; templates may use either. */
function withApiVersionAlias<T extends { ApiVersion?: string }>(obj: T): T {
  Object.defineProperty(obj, 'APIVersion', { get: () => obj.ApiVersion, enumerable: false });
  return obj;
}

/** The Client section's data; `apiVersion` is the negotiated one. */
export function clientVersion(apiVersion: string, buildTime = CLIENT_BUILD_TIME): ClientVersion {
  const sec = Math.floor(buildTime.getTime() / 1000);
  return withApiVersionAlias({
    Version: CLIENT_VERSION,
    ApiVersion: apiVersion,
    DefaultAPIVersion: MAX_API_VERSION,
    GitCommit: CLIENT_COMMIT,
    GoVersion: CLIENT_RUNTIME,
    Os: process.platform,
    Arch: goArch(),
    BuildTime: formatANSIC({ sec, nsec: 0, ...localZone(sec * 1000) }),
    Context: 'default',
  });
}

/** docker rewrites the Engine's RFC 3339 build time as ANSIC, in the zone it was given in. */
function reformatDate(s: string): string {
  const t = parseRFC3339(s);
  return t ? formatANSIC(t) : s;
}

/** The server data as docker presents it: an Engine component always present, dates reformatted. */
export function normalizeServer(sv: ServerVersion): ServerVersion {
  let components = sv.Components ?? [];
  if (components.length === 0) {
    components = [
      {
        Name: 'Engine',
        Version: sv.Version ?? '',
        Details: {
          ApiVersion: sv.ApiVersion ?? '',
          MinAPIVersion: sv.MinAPIVersion ?? '',
          GitCommit: sv.GitCommit ?? '',
          GoVersion: sv.GoVersion ?? '',
          Os: sv.Os ?? '',
          Arch: sv.Arch ?? '',
          BuildTime: sv.BuildTime ?? '',
          Experimental: String(!!sv.Experimental),
        },
      },
    ];
  }
  components = components.map((c) =>
    c.Name === 'Engine' && c.Details?.BuildTime ? { ...c, Details: { ...c.Details, BuildTime: reformatDate(c.Details.BuildTime) } } : c,
  );
  return withApiVersionAlias({ ...sv, Components: components });
}

/** The default (non --format) output; `server` is undefined when the daemon could not be asked. */
export function formatVersion(client: ClientVersion, server?: ServerVersion): string {
  const lines: string[] = ['Client:'];
  const downgraded = client.ApiVersion !== client.DefaultAPIVersion ? ` (downgraded from ${client.DefaultAPIVersion})` : '';
  lines.push(
    ` Version:\t${client.Version}`,
    ` API version:\t${client.ApiVersion}${downgraded}`,
    ` Go version:\t${client.GoVersion}`,
    ` Git commit:\t${client.GitCommit}`,
    ` Built:\t${client.BuildTime}`,
    ` OS/Arch:\t${client.Os}/${client.Arch}`,
    ` Context:\t${client.Context}`,
  );
  if (server) {
    const sv = normalizeServer(server);
    lines.push('', `Server:${sv.Platform?.Name ? ' ' + sv.Platform.Name : ''}`);
    for (const c of sv.Components ?? []) {
      const d = c.Details ?? {};
      lines.push(` ${c.Name}:`);
      if (c.Name === 'Engine') {
        lines.push(
          `  Version:\t${c.Version}`,
          `  API version:\t${d.ApiVersion ?? ''} (minimum version ${d.MinAPIVersion ?? ''})`,
          `  Go version:\t${d.GoVersion ?? ''}`,
          `  Git commit:\t${d.GitCommit ?? ''}`,
          `  Built:\t${d.BuildTime ?? ''}`,
          `  OS/Arch:\t${d.Os ?? ''}/${d.Arch ?? ''}`,
          `  Experimental:\t${d.Experimental ?? ''}`,
        );
      } else {
        lines.push(`  Version:\t${c.Version}`);
        for (const key of Object.keys(d).sort()) lines.push(`  ${key}:\t${d[key]}`);
      }
    }
  }
  return tabwrite(lines.join('\n') + '\n', { minWidth: 20, tabWidth: 1, padding: 1 });
}

async function runVersion(format: string, cli: Cli): Promise<void> {
  const client = cli.client();
  let server: ServerVersion | undefined;
  let failure: unknown;
  try {
    server = await client.json<ServerVersion>('GET', '/version');
  } catch (err) {
    failure = err;
  }
  const info = clientVersion(client.currentVersion);
  if (format === '') cli.out.write(formatVersion(info, server));
  else cli.out.write(renderSingle(format, { Client: info, Server: server ? normalizeServer(server) : null }, FORMAT_ERRORS));
  if (failure) throw failure;
}

export const versionCommand: CommandDef = {
  name: 'version',
  usage: '[OPTIONS]',
  short: 'Show the Berth version information',
  group: 'common',
  args: { max: 0 },
  flags: [inspectFormatFlag('f')],
  run: (inv, cli) => runVersion(inv.flags.string('format'), cli),
};

/** `berth --version`. */
export function versionLine(): string {
  return `Berth version ${CLIENT_VERSION}, build ${CLIENT_COMMIT}\n`;
}
