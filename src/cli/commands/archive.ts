/**
 * Moving images in and out as tar archives: `image save` (GET /images/get), `image load`
 * (POST /images/load) and `image import` (POST /images/create?fromSrc=...).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import type { CommandDef } from '../args.js';
import { CliError, fsErrorMessage } from '../errors.js';
import { displayJsonMessages } from '../jsonstream.js';
import { InvalidReferenceError, parseNormalizedNamed } from '../reference.js';
import type { Cli } from '../streams.js';
import { platformParam } from './common.js';

const platformFlag = (verb: string) => ({
  name: 'platform',
  type: 'string' as const,
  usage: `${verb} only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`,
});

/** Opens a file for reading, failing the way Go's os.Open reports it. */
async function openInput(file: string): Promise<Readable> {
  try {
    const handle = await fs.open(file, 'r');
    return handle.createReadStream();
  } catch (err) {
    throw new CliError(fsErrorMessage('open', file, err));
  }
}

/**
 * Writes a stream to a temporary file beside `file` and renames it into place, as docker's
 * CopyToFile does, so an interrupted save never leaves a truncated archive under the name.
 */
async function saveToFile(file: string, body: IncomingMessage): Promise<void> {
  const tmp = path.join(path.dirname(file), `.tmp-${path.basename(file)}${randomInt(1e9, 1e10)}`);
  let handle;
  try {
    handle = await fs.open(tmp, 'wx', 0o600);
  } catch (err) {
    body.resume();
    throw new CliError(`failed to save image: ${fsErrorMessage('open', tmp, err)}`);
  }
  try {
    await pipeline(body, handle.createWriteStream());
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new CliError(`failed to save image: ${fsErrorMessage('write', tmp, err)}`);
  }
}

/** --output must be in an existing directory; checked before asking the daemon. */
async function checkOutputPath(file: string): Promise<void> {
  const dir = path.dirname(file);
  let isDir: boolean;
  try {
    isDir = (await fs.stat(dir)).isDirectory();
  } catch (err) {
    throw new CliError(`failed to save image: invalid output path: ${fsErrorMessage('stat', dir, err)}`);
  }
  if (!isDir) throw new CliError(`failed to save image: invalid output path: stat ${dir}: not a directory`);
}

/** Shows a load/import answer: progress messages when it is JSON, else the body as is. */
async function showResponse(cli: Cli, res: IncomingMessage): Promise<void> {
  if (String(res.headers['content-type'] ?? '').startsWith('application/json')) {
    await displayJsonMessages(res, cli.out, { tty: !!cli.out.isTTY });
  } else {
    for await (const chunk of res) cli.out.write(chunk as Buffer);
  }
}

export function saveCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] IMAGE [IMAGE...]',
    short: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
    aliasPaths: ['image save', 'save'],
    args: { min: 1 },
    flags: [{ name: 'output', short: 'o', type: 'string', usage: 'Write to a file, instead of STDOUT' }, platformFlag('Save')],
    run: async (inv, cli) => {
      const output = inv.flags.string('output');
      if (output === '' && cli.rawOut.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
      if (output !== '') await checkOutputPath(output);
      const res = await cli.client().request('GET', '/images/get', {
        query: { names: inv.args, platform: platformParam(inv.flags.string('platform')) },
      });
      if (output !== '') await saveToFile(output, res);
      else await pipeline(res, cli.rawOut, { end: false });
    },
  };
}

export function loadCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS]',
    short: 'Load an image from a tar archive or STDIN',
    aliasPaths: ['image load', 'load'],
    args: { max: 0 },
    flags: [
      { name: 'input', short: 'i', type: 'string', usage: 'Read from tar archive file, instead of STDIN' },
      platformFlag('Load'),
      { name: 'quiet', short: 'q', type: 'bool', usage: 'Suppress the load output' },
    ],
    run: async (inv, cli) => {
      const input = inv.flags.string('input');
      let body: Readable;
      if (input !== '') body = await openInput(input);
      else if (cli.in.isTTY) throw new CliError('requested load from stdin, but stdin is empty');
      else body = cli.in;
      // Docker asks for the quiet form whenever there is no terminal to draw progress on.
      const quiet = inv.flags.bool('quiet') || !cli.out.isTTY;
      const res = await cli.client().request('POST', '/images/load', {
        query: { quiet: quiet ? '1' : '0', platform: platformParam(inv.flags.string('platform')) },
        body,
        headers: { 'Content-Type': 'application/x-tar' },
      });
      await showResponse(cli, res);
    },
  };
}

function isUrl(s: string): boolean {
  return s.startsWith('http://') || s.startsWith('https://');
}

export function importCommand(name: string): CommandDef {
  return {
    name,
    usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
    short: 'Import the contents from a tarball to create a filesystem image',
    aliasPaths: ['image import', 'import'],
    args: { min: 1 },
    flags: [
      { name: 'change', short: 'c', type: 'list', usage: 'Apply Dockerfile instruction to the created image' },
      { name: 'message', short: 'm', type: 'string', usage: 'Set commit message for imported image' },
      { name: 'platform', type: 'string', usage: 'Set platform if server is multi-platform capable' },
    ],
    run: async (inv, cli) => {
      const [source, ref = ''] = inv.args as [string, string?];
      if (ref !== '') {
        try {
          parseNormalizedNamed(ref);
        } catch (err) {
          if (err instanceof InvalidReferenceError) throw new CliError(err.message);
          throw err;
        }
      }
      let body: Readable | undefined;
      let fromSrc = '-';
      if (source === '-') body = cli.in;
      else if (isUrl(source)) fromSrc = source;
      else body = await openInput(source);
      const changes = inv.flags.list('change');
      const res = await cli.client().request('POST', '/images/create', {
        // As docker's client: the reference goes whole in `repo`; the daemon splits the tag.
        query: {
          fromSrc,
          repo: ref || undefined,
          message: inv.flags.string('message') || undefined,
          changes: changes.length ? changes : undefined,
          platform: inv.flags.string('platform') || undefined,
        },
        ...(body && { body, headers: { 'Content-Type': 'text/plain' } }),
      });
      await showResponse(cli, res);
    },
  };
}
