import { execFileSync } from 'node:child_process';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pack, type Pack } from 'tar-stream';
import { importRootfs } from './make-busybox-image.js';

/**
 * The `registry:2` image of the classic tutorial, made from Debian's docker-registry
 * (Distribution 2.8) as busybox is made from busybox-static: the binary, the shared libraries
 * `ldd` lists with the dynamic loader, and the upstream image's config, ports and volume.
 * Usage: node make-registry-image.js [unix:///path/to/berth.sock] [/usr/bin/docker-registry]
 */
export const REGISTRY_BINARY = '/usr/bin/docker-registry';
export const REGISTRY_REF = 'registry:2';

/** The upstream image's /etc/docker/registry/config.yml: filesystem storage, plain HTTP on :5000. */
export const REGISTRY_CONFIG = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`;

export const REGISTRY_CHANGES = [
  'ENTRYPOINT ["/usr/bin/docker-registry","serve"]',
  'CMD ["/etc/docker/registry/config.yml"]',
  'EXPOSE 5000/tcp',
  'VOLUME ["/var/lib/registry"]',
];

const DIRS: Array<[string, number]> = [
  ['etc', 0o755],
  ['etc/docker', 0o755],
  ['etc/docker/registry', 0o755],
  ['tmp', 0o1777],
  ['usr', 0o755],
  ['usr/bin', 0o755],
  ['var', 0o755],
  ['var/lib', 0o755],
  ['var/lib/registry', 0o755],
];

/** The files a dynamically linked program needs, as `ldd` lists them (loader included). */
export function sharedLibraries(binary: string): string[] {
  let text: string;
  try {
    text = execFileSync('ldd', [binary], { encoding: 'utf8' });
  } catch {
    return []; // "not a dynamic executable": a static binary needs nothing
  }
  const paths = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (m) paths.add(m[1]!);
  }
  return [...paths];
}

/** Every directory above `file` ("lib/x86_64-linux-gnu/libc.so.6" -> lib, lib/x86_64-linux-gnu). */
function parents(file: string): string[] {
  const parts = file.split('/').slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

export function registryRootfsTar(binary = REGISTRY_BINARY): Readable {
  const mtime = new Date(Math.floor(statSync(binary).mtimeMs / 1000) * 1000);
  const tar = pack();
  // Libraries go at the path the loader looks for (symlinks followed to their content).
  const files: Array<[string, string, number]> = [
    ['usr/bin/docker-registry', binary, 0o755],
    ...sharedLibraries(binary).map((lib): [string, string, number] => [lib.replace(/^\//, ''), realpathSync(lib), 0o755]),
  ];
  void (async () => {
    try {
      const dirs = new Map(DIRS);
      for (const [name] of files) for (const dir of parents(name)) if (!dirs.has(dir)) dirs.set(dir, 0o755);
      for (const [name, mode] of [...dirs].sort(([a], [b]) => a.localeCompare(b))) {
        await entry(tar, { name: `${name}/`, type: 'directory', mode, mtime });
      }
      for (const [name, source, mode] of files) await fileEntry(tar, name, source, mode, mtime);
      await entry(tar, { name: 'etc/docker/registry/config.yml', mode: 0o644, mtime }, REGISTRY_CONFIG);
      // Go's user lookups and name resolution read these when present.
      await entry(tar, { name: 'etc/passwd', mode: 0o644, mtime }, 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
      await entry(tar, { name: 'etc/group', mode: 0o644, mtime }, 'root:x:0:\nnogroup:x:65534:\n');
      await entry(tar, { name: 'etc/nsswitch.conf', mode: 0o644, mtime }, 'hosts: files dns\n');
      tar.finalize();
    } catch (err) {
      tar.destroy(err as Error);
    }
  })();
  return tar as unknown as Readable;
}

function fileEntry(tar: Pack, name: string, source: string, mode: number, mtime: Date): Promise<void> {
  return new Promise((resolve, reject) => {
    const e = tar.entry({ name, size: statSync(source).size, mode, mtime }, (err) => (err ? reject(err) : resolve()));
    createReadStream(source).on('error', reject).pipe(e);
  });
}

function entry(tar: Pack, header: Parameters<Pack['entry']>[0], body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.entry(header, body ?? '', (err) => (err ? reject(err) : resolve()));
  });
}

/** Imports registry:2 into a running berthd; resolves with the image ID. */
export function makeRegistryImage(host: string, binary = REGISTRY_BINARY, ref = REGISTRY_REF): Promise<string> {
  return importRootfs(host, registryRootfsTar(binary), ref, REGISTRY_CHANGES);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const host = process.argv[2] ?? process.env.BERTH_HOST ?? 'unix:///run/berth/berth.sock';
  makeRegistryImage(host, process.argv[3]).then(
    (id) => console.log(`${REGISTRY_REF} ${id}`),
    (err) => {
      console.error(String(err.message ?? err));
      process.exit(1);
    },
  );
}
