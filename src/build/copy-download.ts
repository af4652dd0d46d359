/**
 * ADD of a URL, as moby's downloadSource: an http(s) GET (redirects followed), a status of 400 or more is
 * an error with the server's text, the file name comes from the URL's path or else Content-Disposition,
 * the file is 0600 with Last-Modified as its mtime, and it is never unpacked. `--checksum` (BuildKit) is
 * verified before anything is copied.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { invalidArgument } from '../lib/errors.js';

const UNNAMED = '__unnamed__';

export function isURL(s: string): boolean {
  return s.startsWith('http://') || s.startsWith('https://');
}

export interface Downloaded {
  name: string;
  hostPath: string;
  root: string;
  stat: Stats;
  mtime: Date;
}

export async function downloadSource(
  url: string,
  tempDir: string,
  opts: { checksum?: string; destIsDir: boolean; signal: AbortSignal },
): Promise<Downloaded> {
  let expected: { algorithm: string; hex: string } | undefined;
  if (opts.checksum) {
    const m = /^(sha256|sha384|sha512):([a-f0-9]+)$/.exec(opts.checksum);
    if (!m || m[2]!.length !== { sha256: 64, sha384: 96, sha512: 128 }[m[1] as 'sha256']) {
      throw invalidArgument(`invalid checksum digest format: ${opts.checksum}`);
    }
    expected = { algorithm: m[1]!, hex: m[2]! };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidArgument(`parse ${JSON.stringify(url)}: invalid URL`);
  }
  let resp: Response;
  try {
    resp = await fetch(parsed, { signal: opts.signal, redirect: 'follow' });
  } catch (err) {
    opts.signal.throwIfAborted();
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw invalidArgument(`Get ${JSON.stringify(url)}: ${cause ?? (err as Error).message}`);
  }
  if (resp.status >= 400) {
    const body = (await resp.text().catch(() => '')).trim();
    throw invalidArgument(`failed to GET ${url} with status ${resp.status} ${resp.statusText}: ${body}`);
  }
  let name = filenameFor(parsed.pathname, resp.headers.get('content-disposition'));
  if (name === '') {
    if (opts.destIsDir) {
      await resp.body?.cancel().catch(() => {});
      throw invalidArgument(`cannot determine filename for source ${url}`);
    }
    name = UNNAMED;
  }
  const dir = await fs.mkdtemp(path.join(tempDir, 'url-'));
  const hostPath = path.join(dir, name);
  const hash = createHash(expected?.algorithm ?? 'sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const body = resp.body ? Readable.fromWeb(resp.body as unknown as WebReadableStream<Uint8Array>) : Readable.from([]);
  await pipeline(body, hashing, createWriteStream(hostPath, { mode: 0o600, flags: 'wx' }), { signal: opts.signal });
  if (expected) {
    const got = hash.digest('hex');
    if (got !== expected.hex) throw invalidArgument(`digest mismatch ${opts.checksum}: ${expected.algorithm}:${got}`);
  }
  const lastModified = resp.headers.get('last-modified');
  const parsedTime = lastModified ? new Date(lastModified) : undefined;
  const mtime = parsedTime && !Number.isNaN(parsedTime.getTime()) ? parsedTime : new Date();
  await fs.utimes(hostPath, mtime, mtime);
  return { name, hostPath, root: dir, stat: await fs.lstat(hostPath), mtime };
}

/** moby's getFilenameForDownload: the URL path's last element, else Content-Disposition's filename. */
function filenameFor(urlPath: string, disposition: string | null): string {
  const decoded = safeDecode(urlPath);
  if (decoded !== '' && !decoded.endsWith('/')) {
    const base = path.posix.basename(decoded);
    if (base !== '' && base !== '.' && base !== '..' && base !== '/') return base;
  }
  if (disposition) {
    const m = /filename\*?=(?:"([^"]*)"|([^;]*))/i.exec(disposition);
    const f = (m?.[1] ?? m?.[2] ?? '').trim();
    if (f !== '' && !f.endsWith('/')) {
      const base = path.posix.basename(f);
      if (base !== '' && base !== '.' && base !== '..') return base;
    }
  }
  return '';
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
