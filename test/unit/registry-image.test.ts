/** The registry:2 root filesystem: docker-registry, what ldd lists, and the upstream config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { extract } from 'tar-stream';

const { registryRootfsTar, sharedLibraries, REGISTRY_CHANGES, REGISTRY_CONFIG, REGISTRY_BINARY } = await import('../../src/tools/make-registry-image.js');

const hasRegistry = existsSync(REGISTRY_BINARY);

async function entries(): Promise<Map<string, { type: string; mode: number; size: number; body: string }>> {
  const found = new Map<string, { type: string; mode: number; size: number; body: string }>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      const body = header.size && header.size < 4096 ? Buffer.concat(chunks).toString() : '';
      found.set(header.name, { type: header.type ?? 'file', mode: header.mode ?? 0, size: Buffer.concat(chunks).length, body });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  registryRootfsTar().pipe(ex);
  await done;
  return found;
}

test('the rootfs holds docker-registry, its libraries at the paths ldd names, and the upstream config', { skip: !hasRegistry && 'no docker-registry' }, async () => {
  const files = await entries();
  const binary = files.get('usr/bin/docker-registry');
  assert.ok(binary, 'the binary');
  assert.equal(binary.size, statSync(REGISTRY_BINARY).size);
  assert.equal(binary.mode, 0o755);
  const libs = sharedLibraries(REGISTRY_BINARY);
  assert.ok(libs.some((l) => /ld-linux/.test(l)), `the loader is listed: ${libs.join(' ')}`);
  for (const lib of libs) {
    const e = files.get(lib.slice(1));
    assert.ok(e && e.type === 'file' && e.size > 0, `${lib} is a regular file in the image`);
  }
  assert.equal(files.get('etc/docker/registry/config.yml')?.body, REGISTRY_CONFIG);
  assert.match(REGISTRY_CONFIG, /rootdirectory: \/var\/lib\/registry\n/);
  assert.match(REGISTRY_CONFIG, /addr: :5000\n/);
  assert.equal(files.get('var/lib/registry/')?.type, 'directory');
  assert.equal(files.get('tmp/')?.mode, 0o1777);
  // every directory comes before what it holds
  const names = [...files.keys()];
  for (const [i, name] of names.entries()) {
    const parent = name.replace(/\/?[^/]+\/?$/, '');
    if (parent) assert.ok(names.indexOf(`${parent}/`) < i, `${parent}/ before ${name}`);
  }
});

test('the image config is the upstream image shape', () => {
  assert.deepEqual(REGISTRY_CHANGES, [
    'ENTRYPOINT ["/usr/bin/docker-registry","serve"]',
    'CMD ["/etc/docker/registry/config.yml"]',
    'EXPOSE 5000/tcp',
    'VOLUME ["/var/lib/registry"]',
  ]);
  assert.deepEqual(sharedLibraries('/bin/busybox'), [], 'a static binary needs nothing');
});
