/**
 * `berth build` (POST /build with the structured progress Berth's daemon offers) and `berth builder prune`
 * (POST /build/prune), with docker's flags.
 */
import { promises as fs } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { CommandDef, FlagDef } from '../args.js';
import { CliError } from '../errors.js';
import { jsonValues } from '../jsonstream.js';
import type { Cli } from '../streams.js';
import { humanSize, ramInBytes } from '../units.js';
import { contextFromDirectory, contextFromStdin, locateDockerfile, type IgnoreRules, type PreparedContext } from '../build-context.js';
import { BuildProgress, type ProgressMode, type WireEvent } from '../build-progress.js';
import { confirm, filtersParam, filterFlag } from './common.js';
import { loadIgnoreRules } from '../build-ignore.js';

/** The aux id under which the daemon sends build events (api/streams/build.ts). */
const EVENT_ID = 'berth.build.event';

const BUILD_FLAGS: FlagDef[] = [
  { name: 'add-host', type: 'list', usage: 'Add a custom host-to-IP mapping ("host:ip")' },
  { name: 'build-arg', type: 'list', usage: 'Set build-time variables' },
  { name: 'cache-from', type: 'list', usage: 'Images to consider as cache sources' },
  { name: 'file', short: 'f', type: 'string', usage: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
  { name: 'force-rm', type: 'bool', usage: 'Always remove intermediate containers' },
  { name: 'iidfile', type: 'string', usage: 'Write the image ID to the file' },
  { name: 'label', type: 'list', usage: 'Set metadata for an image' },
  { name: 'network', type: 'string', default: 'default', usage: 'Set the networking mode for the RUN instructions during build' },
  { name: 'no-cache', type: 'bool', usage: 'Do not use cache when building the image' },
  { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
  { name: 'progress', type: 'string', default: 'auto', usage: 'Set type of progress output ("auto", "plain", "tty", "quiet")' },
  { name: 'pull', type: 'bool', usage: 'Always attempt to pull a newer version of the image' },
  { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the build output and print image ID on success' },
  { name: 'rm', type: 'bool', default: true, usage: 'Remove intermediate containers after a successful build' },
  { name: 'shm-size', type: 'string', valueName: 'bytes', usage: 'Size of "/dev/shm"' },
  { name: 'tag', short: 't', type: 'list', usage: 'Name and optionally a tag in the "name:tag" format' },
  { name: 'target', type: 'string', usage: 'Set the target build stage to build.' },
];

/** `--build-arg KEY` takes KEY's value from the environment, and is sent as null when unset (docker's ValidateEnv). */
export function buildArgsParam(args: string[], env: NodeJS.ProcessEnv): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq >= 0) out[a.slice(0, eq)] = a.slice(eq + 1);
    else out[a] = env[a] ?? null;
  }
  return out;
}

/** `--label k=v` (a bare `k` is an empty value, as docker's ConvertKVStringsToMap). */
export function labelsParam(labels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) {
    const eq = l.indexOf('=');
    out[eq >= 0 ? l.slice(0, eq) : l] = eq >= 0 ? l.slice(eq + 1) : '';
  }
  return out;
}

/** The context and Dockerfile the arguments name, as a tar ready to send. */
export async function prepareContext(cli: Cli, contextArg: string, fileFlag: string): Promise<PreparedContext> {
  if (contextArg === '-') {
    if (fileFlag === '-') throw new CliError("invalid argument: can't use stdin for both build context and dockerfile");
    return contextFromStdin(cli.in, fileFlag);
  }
  if (/^(https?:\/\/|git@|git:\/\/|github\.com\/)/.test(contextArg)) {
    throw new CliError(`unable to prepare context: remote build contexts are not supported by berth: ${contextArg}`);
  }
  const st = await fs.stat(contextArg).catch(() => undefined);
  if (!st) throw new CliError(`unable to prepare context: path ${JSON.stringify(contextArg)} not found`);
  if (fileFlag === '-') {
    const chunks: Buffer[] = [];
    for await (const c of cli.in) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks);
    const ignore = await loadIgnoreRules(contextArg, null);
    return contextFromDirectory(contextArg, { dockerfileRel: '', dockerfileText: text, ignore });
  }
  const df = await locateDockerfile(contextArg, fileFlag);
  const ignore: IgnoreRules | undefined = await loadIgnoreRules(contextArg, df.outside ? null : df.rel);
  if (df.outside) return contextFromDirectory(contextArg, { dockerfileRel: df.rel, dockerfileText: await fs.readFile(df.abs), ignore });
  return contextFromDirectory(contextArg, { dockerfileRel: df.rel, ignore });
}

function progressMode(cli: Cli, flag: string, quiet: boolean): ProgressMode {
  if (quiet) return 'quiet';
  switch (flag) {
    case 'auto':
      return cli.err.isTTY ? 'tty' : 'plain';
    case 'plain':
    case 'tty':
    case 'quiet':
      return flag;
    case 'rawjson':
      return 'plain';
    default:
      throw new CliError(`invalid progress mode ${JSON.stringify(flag)}: expected one of auto, plain, tty, quiet`);
  }
}

export const buildCommand = (name: string): CommandDef => ({
  name,
  usage: '[OPTIONS] PATH | URL | -',
  short: 'Build an image from a Dockerfile',
  aliasPaths: ['image build', 'build', 'builder build'],
  group: name === 'build' ? 'common' : undefined,
  args: { min: 1, max: 1 },
  flags: BUILD_FLAGS,
  run: async (inv, cli) => {
    const f = inv.flags;
    const quiet = f.bool('quiet');
    const mode = progressMode(cli, f.string('progress'), quiet);
    let shmSize: number | undefined;
    if (f.string('shm-size')) {
      try {
        shmSize = ramInBytes(f.string('shm-size'));
      } catch (err) {
        throw new CliError(`invalid argument "${f.string('shm-size')}" for "--shm-size" flag: ${(err as Error).message}`);
      }
    }
    const context = await prepareContext(cli, inv.args[0]!, f.string('file'));
    const network = f.string('network');
    const res = await cli.client().request('POST', '/build', {
      query: {
        t: f.list('tag'),
        dockerfile: context.dockerfile,
        buildargs: JSON.stringify(buildArgsParam(f.list('build-arg'), cli.env)),
        labels: JSON.stringify(labelsParam(f.list('label'))),
        cachefrom: JSON.stringify(f.list('cache-from')),
        target: f.string('target') || undefined,
        nocache: f.bool('no-cache') || undefined,
        pull: f.bool('pull') || undefined,
        rm: f.bool('rm') ? '1' : '0',
        forcerm: f.bool('force-rm') || undefined,
        q: quiet || undefined,
        networkmode: network && network !== 'default' ? network : undefined,
        extrahosts: f.list('add-host'),
        shmsize: shmSize,
        platform: f.string('platform') || undefined,
        version: '1',
        berthprogress: '1',
      },
      body: context.body,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    const { imageId, error } = await showBuild(res, new BuildProgress(cli.err, mode, () => cli.now()));
    if (error !== undefined) throw new CliError(error);
    if (!imageId) throw new CliError('the daemon did not report an image id');
    if (quiet || mode === 'quiet') cli.out.write(`${imageId}\n`);
    if (f.string('iidfile')) await fs.writeFile(f.string('iidfile'), imageId);
  },
});

/** Reads the daemon's answer, feeding the progress display; the final image id or the error. */
export async function showBuild(res: IncomingMessage, progress: BuildProgress): Promise<{ imageId?: string; error?: string }> {
  let imageId: string | undefined;
  let error: string | undefined;
  try {
    for await (const raw of jsonValues(res, { messagesOnly: true })) {
      const m = JSON.parse(raw) as { id?: string; aux?: unknown; stream?: string; error?: string; errorDetail?: { message?: string } };
      if (m.id === EVENT_ID && m.aux && typeof m.aux === 'object') progress.event(m.aux as WireEvent);
      else if (m.aux && typeof m.aux === 'object' && typeof (m.aux as { ID?: unknown }).ID === 'string') imageId = (m.aux as { ID: string }).ID;
      else if (m.error !== undefined || m.errorDetail) error = m.errorDetail?.message ?? m.error;
      else if (typeof m.stream === 'string' && /^sha256:[0-9a-f]{64}\s*$/.test(m.stream)) imageId = m.stream.trim();
    }
  } finally {
    progress.finish();
  }
  return { imageId, error };
}

export const builderPruneCommand: CommandDef = {
  name: 'prune',
  usage: '[OPTIONS]',
  short: 'Remove build cache',
  aliasPaths: ['builder prune'],
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused build cache, not just dangling ones' },
    filterFlag('Provide filter values (e.g. "until=24h")', null),
    { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
    { name: 'keep-storage', type: 'string', valueName: 'bytes', usage: 'Amount of disk space to keep for cache' },
  ],
  run: async (inv, cli) => {
    const f = inv.flags;
    const all = f.bool('all');
    if (!f.bool('force')) {
      const warning = all
        ? 'WARNING! This will remove all build cache.'
        : 'WARNING! This will remove all dangling build cache.';
      if (!(await confirm(cli, warning))) return;
    }
    let keep: number | undefined;
    if (f.string('keep-storage')) {
      try {
        keep = ramInBytes(f.string('keep-storage'));
      } catch (err) {
        throw new CliError(`invalid argument "${f.string('keep-storage')}" for "--keep-storage" flag: ${(err as Error).message}`);
      }
    }
    const report = await cli.client().json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/build/prune', {
      query: { all: all || undefined, filters: filtersParam(f.list('filter')), 'keep-storage': keep },
    });
    if (report.CachesDeleted?.length) cli.out.write(`Deleted build cache objects:\n${report.CachesDeleted.join('\n')}\n\n`);
    cli.out.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
  },
};

export const builderCommand: CommandDef = {
  name: 'builder',
  short: 'Manage builds',
  group: 'management',
  subcommands: [buildCommand('build'), builderPruneCommand],
};
