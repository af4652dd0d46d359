/**
 * Secrets and configs without a file (`environment:`, `content:`) reach the container the way docker
 * compose puts them there: a tar with one entry per file, PUT to /containers/{id}/archive?path=/ after
 * create and before start (copyUIDGID when a uid or gid is set).
 */
import * as tar from 'tar-stream';
import type { InjectedFile } from './mounts.js';

export async function injectedFilesArchive(files: InjectedFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const f of files) {
    // Entry names are relative to `/`, the archive's destination.
    pack.entry({ name: f.path.replace(/^\/+/, ''), mode: f.mode, uid: f.uid, gid: f.gid, mtime: new Date() }, f.content);
  }
  pack.finalize();
  return done;
}

/** Whether the PUT should keep the entries' owners (?copyUIDGID=1). */
export function injectedFilesKeepOwner(files: InjectedFile[]): boolean {
  return files.some((f) => f.uid !== 0 || f.gid !== 0);
}

/** The part of the CLI's ApiClient this needs. */
interface ArchiveClient {
  request(method: string, path: string, opts: { query?: Record<string, string>; body?: Uint8Array; headers?: Record<string, string> }): Promise<{ resume(): unknown }>;
}

/**
 * Writes a created container's secrets and configs without a file (ContainerCreate.files); call after
 * create and before start, as docker compose does. Nothing to do when there are none.
 */
export async function injectFiles(client: ArchiveClient, containerId: string, files: InjectedFile[]): Promise<void> {
  if (files.length === 0) return;
  const query: Record<string, string> = { path: '/' };
  if (injectedFilesKeepOwner(files)) query.copyUIDGID = '1';
  const res = await client.request('PUT', `/containers/${encodeURIComponent(containerId)}/archive`, {
    query,
    body: await injectedFilesArchive(files),
    headers: { 'Content-Type': 'application/x-tar' },
  });
  res.resume();
}
