/**
 * ADD of a local archive: a file is one when, once decompressed (gzip, bzip2, xz, zstd: told by content,
 * as moby's DecompressStream), it starts with a valid tar header (moby's IsArchivePath). Its entries are
 * read into planned entries under the destination, with the archive's owners, modes and times; regular
 * files wait in a temp dir under numbered names (never under the archive's names), so a hostile archive
 * cannot write anywhere but there. Names that would leave the destination fail as Docker's untar does.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { invalidArgument } from '../lib/errors.js';
import { tarEntryOwner } from '../lib/tar-header.js';
import type { EntryType, PlannedEntry } from './copy-layer.js';
import { openInRoot } from './copy-paths.js';

type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

function compressionOf(head: Buffer): Compression {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 4 && head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  return 'none';
}

/** The file's content, decompressed. */
async function openDecompressed(root: string, hostPath: string): Promise<Readable> {
  const { handle } = await openInRoot(root, hostPath);
  const head = Buffer.alloc(6);
  const { bytesRead } = await handle.read(head, 0, 6, 0);
  const kind = compressionOf(head.subarray(0, bytesRead));
  const raw = handle.createReadStream({ start: 0, autoClose: true });
  if (kind === 'none') return raw;
  if (kind === 'gzip') {
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    raw.on('error', (err) => gunzip.destroy(err));
    gunzip.on('close', () => raw.destroy()); // the file handle goes with the stream, read to the end or not
    return raw.pipe(gunzip);
  }
  const program = kind === 'bzip2' ? 'bzip2' : kind === 'xz' ? 'xz' : 'zstd';
  const child = spawn(program, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => {}); // the program may stop reading early: its exit status tells
  raw.on('error', (err) => out.destroy(err));
  raw.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('error', (err) => out.destroy(err));
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`${program}: ${stderr.trim() || `exit status ${code}`}`));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    raw.destroy();
  });
  return out;
}

/** Whether the file is a tar archive, possibly compressed. */
export async function isArchiveFile(root: string, hostPath: string): Promise<boolean> {
  let input: Readable;
  try {
    input = await openDecompressed(root, hostPath);
  } catch {
    return false;
  }
  try {
    const block = await readUpTo(input, 512);
    return block.length === 512 && validTarHeader(block);
  } catch {
    return false;
  } finally {
    input.destroy();
  }
}

async function readUpTo(input: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of input) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total >= n) break;
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/** Go's archive/tar accepts a header whose checksum (unsigned or signed sum) matches; zeros mean the end. */
function validTarHeader(block: Buffer): boolean {
  if (block.every((b) => b === 0)) return false;
  const field = block.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

/**
 * The archive's entries, paths relative to the destination (hard link targets too); regular files' content
 * written to `tempDir`. Whiteout names (`.wh.*`) are left out: a layer would read them as deletions.
 */
export async function readArchive(root: string, hostPath: string, tempDir: string, signal: AbortSignal): Promise<PlannedEntry[]> {
  const input = await openDecompressed(root, hostPath);
  const extract = tar.extract();
  const entries: PlannedEntry[] = [];
  let n = 0;
  const onAbort = (): void => {
    extract.destroy(new Error('copy aborted'));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  extract.on('entry', (header: tar.Header, stream, next) => {
    void (async () => {
      const name = localName(header.name, 'entry name');
      const type = header.type;
      if (name === null || path.posix.basename(name).startsWith('.wh.') || !isKept(type)) {
        stream.resume();
        await new Promise<void>((r) => stream.once('end', r));
        return;
      }
      const { uid, gid } = tarEntryOwner(header);
      const e: PlannedEntry = {
        path: name,
        type: type === 'contiguous-file' ? 'file' : (type as EntryType),
        mode: (header.mode ?? 0o644) & 0o7777,
        uid,
        gid,
        mtime: new Date(Math.floor((header.mtime?.getTime() ?? 0) / 1000) * 1000),
        size: 0,
      };
      if (e.type === 'file') {
        const file = path.join(tempDir, `a${n++}`);
        const hash = createHash('sha256');
        let size = 0;
        stream.on('data', (d: unknown) => {
          hash.update(d as Buffer);
          size += (d as Buffer).length;
        });
        await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
        e.size = size;
        e.digest = hash.digest('hex');
        e.content = { hostPath: file, root: tempDir };
      } else {
        stream.resume();
        await new Promise<void>((r) => stream.once('end', r));
      }
      if (e.type === 'symlink') e.linkname = header.linkname ?? '';
      if (e.type === 'link') {
        const target = localName(header.linkname ?? '', 'hardlink target');
        if (target === null) throw invalidArgument(`invalid hardlink target ${JSON.stringify(header.linkname ?? '')}`);
        e.linkname = target;
      }
      if (e.type === 'character-device' || e.type === 'block-device') {
        e.devmajor = header.devmajor ?? 0;
        e.devminor = header.devminor ?? 0;
      }
      entries.push(e);
    })().then(
      () => next(),
      (err: unknown) => next(err instanceof Error ? err : new Error(String(err))),
    );
  });
  try {
    await pipeline(input, extract);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  signal.throwIfAborted();
  return entries;
}

function isKept(type: string | null | undefined): boolean {
  return ['file', 'contiguous-file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo'].includes(type ?? '');
}

/** A tar name made relative and clean; null for the root itself; throws for one that leaves it. */
function localName(raw: string, what: string): string | null {
  const clean = path.posix.normalize(raw.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (clean === '.' || clean === '') return null;
  if (clean === '..' || clean.startsWith('../')) throw invalidArgument(`invalid ${what} ${JSON.stringify(raw)}`);
  return clean;
}
