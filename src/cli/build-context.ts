/**
 * The build context as the docker CLI sends it to /build: a tar of the context directory without what
 * .dockerignore excludes (the Dockerfile and .dockerignore always go, the daemon drops them if ignored),
 * owners 0:0; or stdin (a tar as is, or a Dockerfile alone); and a Dockerfile from outside the context
 * (or from stdin) added under a random name that .dockerignore then names.
 */
import { promises as fs, createReadStream } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { CliError } from './errors.js';

/** What decides which paths of the context are left out (build/dockerignore.ts's IgnoreMatcher). */
export interface IgnoreRules {
  matches(relPath: string): boolean;
  /** An excluded directory must still be walked because an exception could bring back something under it. */
  mayReinclude(dirRelPath: string): boolean;
}

export interface PreparedContext {
  /** The tar to send as the request body. */
  body: Readable;
  /** The `dockerfile` query parameter. */
  dockerfile: string;
}

/** One entry of a tar being written: its header, and the file's content for regular files. */
interface PackEntry {
  header: Partial<tar.Header> & { name: string };
  file?: string;
  content?: Buffer;
}

/** A tar stream of `entries` (written lazily, one at a time). */
export function packEntries(entries: AsyncIterable<PackEntry> | Iterable<PackEntry>): Readable {
  const pack = tar.pack();
  void (async () => {
    try {
      for await (const e of entries) {
        if (e.file !== undefined) {
          const sink = pack.entry(e.header);
          await pipeline(createReadStream(e.file), sink);
        } else {
          await new Promise<void>((resolve, reject) => pack.entry(e.header, e.content ?? '', (err) => (err ? reject(err) : resolve())));
        }
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  // tar-stream's streams are streamx ones; the HTTP client wants a Node stream.
  const out = new PassThrough();
  pack.on('error', (err: Error) => out.destroy(err));
  pack.pipe(out);
  return out;
}

/**
 * The entries of a context directory in Go's filepath.Walk order (lexical), leaving out what `ignore`
 * matches except the names in `keep`. Devices, fifos and sockets are skipped.
 */
export async function* walkContext(root: string, ignore: IgnoreRules | undefined, keep: string[]): AsyncGenerator<PackEntry> {
  async function* walk(dirRel: string): AsyncGenerator<PackEntry> {
    const names = (await fs.readdir(dirRel ? path.join(root, dirRel) : root)).sort();
    for (const name of names) {
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const full = path.join(root, rel);
      const st = await fs.lstat(full);
      const excluded = !keep.includes(rel) && !!ignore?.matches(rel);
      if (st.isDirectory()) {
        if (excluded && !ignore!.mayReinclude(rel)) continue;
        if (!excluded) yield { header: header(rel + '/', 'directory', st) };
        yield* walk(rel);
        continue;
      }
      if (excluded) continue;
      if (st.isFile()) yield { header: { ...header(rel, 'file', st), size: st.size }, file: full };
      else if (st.isSymbolicLink()) yield { header: { ...header(rel, 'symlink', st), linkname: await fs.readlink(full) } };
    }
  }
  yield* walk('');
}

function header(name: string, type: 'file' | 'directory' | 'symlink', st: import('node:fs').Stats): PackEntry['header'] {
  return { name, type, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0, uname: '', gname: '' };
}

/** `.dockerfile.<20 hex>`: the name a Dockerfile from outside the context gets inside it. */
export function randomDockerfileName(): string {
  return `.dockerfile.${randomBytes(10).toString('hex')}`;
}

/**
 * Where the Dockerfile is relative to the context: `-f` is taken relative to the current directory,
 * unset means <context>/Dockerfile (or dockerfile). `outside` when it is not within the context.
 */
export async function locateDockerfile(contextDir: string, given: string): Promise<{ rel: string; abs: string; outside: boolean }> {
  const absContext = path.resolve(contextDir);
  let abs = given ? path.resolve(given) : path.join(absContext, 'Dockerfile');
  if (!given) {
    const lower = path.join(absContext, 'dockerfile');
    if (!(await exists(abs)) && (await exists(lower))) abs = lower;
  }
  if (!(await exists(abs))) throw new CliError(`unable to prepare context: Cannot locate specified Dockerfile: ${given || 'Dockerfile'}`);
  const rel = path.relative(absContext, abs);
  return { rel: rel.split(path.sep).join('/'), abs, outside: rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel) };
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * A context directory as a tar: .dockerignore rules from `ignoreText` (already chosen: <Dockerfile>.dockerignore
 * or .dockerignore), the Dockerfile from outside the context or stdin (`dockerfileText`) added under a random name.
 */
export async function contextFromDirectory(
  contextDir: string,
  opts: { dockerfileRel: string; dockerfileText?: Buffer; ignore?: IgnoreRules },
): Promise<PreparedContext> {
  const st = await fs.stat(contextDir).catch(() => undefined);
  if (!st) throw new CliError(`unable to prepare context: path ${JSON.stringify(contextDir)} not found`);
  if (!st.isDirectory()) throw new CliError(`unable to prepare context: context must be a directory: ${contextDir}`);
  const keep = ['.dockerignore'];
  if (opts.dockerfileText === undefined) keep.push(opts.dockerfileRel);
  const walked = walkContext(contextDir, opts.ignore, keep);
  if (opts.dockerfileText === undefined) return { body: packEntries(walked), dockerfile: opts.dockerfileRel };
  return addDockerfile(walked, opts.dockerfileText);
}

/** The docker CLI's AddDockerfileToBuildContext: the Dockerfile under a random name that .dockerignore excludes. */
function addDockerfile(entries: AsyncIterable<PackEntry>, dockerfile: Buffer): PreparedContext {
  const name = randomDockerfileName();
  const now = new Date();
  async function* withDockerfile(): AsyncGenerator<PackEntry> {
    let ignore: Buffer | undefined;
    for await (const e of entries) {
      if (e.header.name === '.dockerignore' && e.file) {
        ignore = await fs.readFile(e.file);
        continue;
      }
      yield e;
    }
    const ignoreText = Buffer.concat([ignore ?? Buffer.from('.dockerignore'), Buffer.from(`\n${name}\n`)]);
    yield { header: { name: '.dockerignore', type: 'file', mode: 0o600, mtime: now, size: ignoreText.length }, content: ignoreText };
    yield { header: { name, type: 'file', mode: 0o600, mtime: now, size: dockerfile.length }, content: dockerfile };
  }
  return { body: packEntries(withDockerfile()), dockerfile: name };
}

/**
 * `berth build -`: stdin is either a tar (plain or gzip: sent as is) or a Dockerfile alone (sent as a tar
 * holding only `Dockerfile`), as the docker CLI's GetContextFromReader.
 */
export async function contextFromStdin(input: Readable, dockerfileFlag: string): Promise<PreparedContext> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(c as Buffer);
  const data = Buffer.concat(chunks);
  if (isArchive(data)) {
    const body = new PassThrough();
    body.end(data);
    return { body, dockerfile: dockerfileFlag };
  }
  if (dockerfileFlag === '-') throw new CliError('unable to prepare context from STDIN: build context is not an archive');
  if (dockerfileFlag !== '') throw new CliError('unable to prepare context from STDIN: ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles');
  return { body: packEntries([{ header: { name: 'Dockerfile', type: 'file', mode: 0o600, mtime: new Date(), size: data.length }, content: data }]), dockerfile: 'Dockerfile' };
}

/** Compressed data (gzip, bzip2, xz, zstd) or a tar header with a valid checksum. */
export function isArchive(data: Buffer): boolean {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      return isTarHeader(gunzipSync(data).subarray(0, 512));
    } catch {
      return false;
    }
  }
  if (data.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  if (data.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return true;
  return isTarHeader(data.subarray(0, 512));
}

function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  const stored = parseInt(block.subarray(148, 156).toString('latin1').replace(/\0.*$/, '').trim(), 8);
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum === stored;
}
