import http from 'node:http';
import type { Readable } from 'node:stream';
import { busyboxRootfsTar, BUSYBOX_CHANGES } from './busybox-rootfs.js';

/**
 * Imports a root filesystem tar as image `ref` into a running berthd through the API, as
 * `docker import` would, with Dockerfile-style `changes`. Resolves with the image ID. API 1.41, so a
 * Debian dockerd (20.10) beside Berth takes it too (the build equality test and bench load it there).
 */
export async function importRootfs(host: string, rootfs: Readable, ref: string, changes: string[]): Promise<string> {
  const socketPath = host.replace(/^unix:\/\//, '');
  const colon = ref.lastIndexOf(':');
  const [repo, tag] = colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
  const query = new URLSearchParams({ fromSrc: '-', repo, tag });
  for (const c of changes) query.append('changes', c);
  const body = await new Promise<string>((resolve, reject) => {
    const req = http.request({ socketPath, method: 'POST', path: `/v1.41/images/create?${query}`, headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`import failed (${res.statusCode}): ${text}`))));
    });
    req.on('error', reject);
    rootfs.on('error', (err) => req.destroy(err));
    rootfs.pipe(req);
  });
  const last = JSON.parse(body.trim().split('\n').at(-1)!) as { status?: string; error?: string };
  if (last.error || !last.status) throw new Error(`import failed: ${body}`);
  return last.status;
}

/**
 * Imports busybox:latest into a running berthd through the API, as `docker import` would.
 * Usage: node make-busybox-image.js [unix:///path/to/berth.sock] [/bin/busybox]
 */
export async function makeBusyboxImage(host: string, binary = '/bin/busybox', ref = 'busybox:latest'): Promise<string> {
  return importRootfs(host, busyboxRootfsTar(binary), ref, BUSYBOX_CHANGES);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const host = process.argv[2] ?? process.env.BERTH_HOST ?? 'unix:///run/berth/berth.sock';
  makeBusyboxImage(host, process.argv[3]).then(
    (id) => console.log(`busybox:latest ${id}`),
    (err) => {
      console.error(String(err.message ?? err));
      process.exit(1);
    },
  );
}
