import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

import { openDb, type Db } from '../../src/store/db.js';
import { ContentStore } from '../../src/content/store.js';
import { LayerStore } from '../../src/layers/store.js';
import { EventBus, type EngineEvent } from '../../src/events/bus.js';
import { ImageService } from '../../src/images/service.js';
import { loadArchive, type LoadMessage } from '../../src/images/archive-load.js';
import { saveArchive } from '../../src/images/archive-save.js';
import { BerthError } from '../../src/lib/errors.js';

// ---- helpers -----------------------------------------------------------------------------------

type TarEntry =
  | { name: string; data: string | Buffer; mode?: number }
  | { name: string; type: 'directory' }
  | { name: string; type: 'symlink'; linkname: string }
  | { name: string; type: 'link'; linkname: string };

async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      const header = { name: e.name, mtime: new Date(1_700_000_000_000) };
      if ('data' in e) pack.entry({ ...header, mode: e.mode ?? 0o644 }, typeof e.data === 'string' ? Buffer.from(e.data) : e.data, cb);
      else if (e.type === 'directory') pack.entry({ ...header, type: 'directory', mode: 0o755 }, cb);
      else pack.entry({ ...header, type: e.type, linkname: e.linkname }, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function readTar(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  Readable.from([buf]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(entry.header.name, Buffer.concat(chunks));
  }
  return out;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const digest = (b: Buffer | string) => `sha256:${sha(b)}`;

interface Layer {
  tar: Buffer;
  diffId: string;
}

async function layer(files: Record<string, string>): Promise<Layer> {
  const t = await makeTar(Object.entries(files).map(([name, data]) => ({ name, data })));
  return { tar: t, diffId: digest(t) };
}

function config(layers: Layer[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-02T03:04:05Z',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'test' })),
      ...extra,
    }),
  );
}

interface TestImage {
  config: Buffer;
  id: string;
  layers: Layer[];
  tags: string[];
}

function image(layers: Layer[], tags: string[], extra: Record<string, unknown> = {}): TestImage {
  const c = config(layers, extra);
  return { config: c, id: digest(c), layers, tags };
}

/** Docker <= 24 `docker save`: <v1 id>/layer.tar (+json, VERSION), <config hex>.json, manifest.json, repositories. */
async function legacyArchive(images: TestImage[], opts: { gzipLayers?: boolean } = {}): Promise<Buffer> {
  const entries: TarEntry[] = [];
  const dirOf = new Map<string, string>();
  const written = new Set<string>();
  const manifest = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const img of images) {
    const layerPaths: string[] = [];
    let parent = '';
    for (const [i, l] of img.layers.entries()) {
      // As Docker: a v1 id depends on the parent chain, and the top layer's also on the image config.
      const v1 = sha(parent + l.diffId + (i === img.layers.length - 1 ? img.id : ''));
      parent = v1;
      layerPaths.push(`${v1}/layer.tar`);
      if (written.has(v1)) continue;
      written.add(v1);
      const existing = dirOf.get(l.diffId);
      entries.push({ name: `${v1}/`, type: 'directory' });
      entries.push({ name: `${v1}/VERSION`, data: '1.0' });
      entries.push({ name: `${v1}/json`, data: JSON.stringify({ id: v1 }) });
      if (existing) entries.push({ name: `${v1}/layer.tar`, type: 'symlink', linkname: `../${existing}/layer.tar` });
      else {
        entries.push({ name: `${v1}/layer.tar`, data: opts.gzipLayers ? gzipSync(l.tar) : l.tar });
        dirOf.set(l.diffId, v1);
      }
    }
    entries.push({ name: `${img.id.slice(7)}.json`, data: img.config });
    manifest.push({ Config: `${img.id.slice(7)}.json`, RepoTags: img.tags.length ? img.tags : null, Layers: layerPaths });
    for (const t of img.tags) {
      const [repo, tag] = t.split(':') as [string, string];
      (repositories[repo] ??= {})[tag] = parent;
    }
  }
  entries.push({ name: 'manifest.json', data: JSON.stringify(manifest) });
  entries.push({ name: 'repositories', data: JSON.stringify(repositories) });
  return makeTar(entries);
}

interface OciOptions {
  /** Per image, the annotations of its index.json entry. */
  annotations?: Array<Record<string, string> | undefined>;
  gzipLayers?: boolean;
  withDockerManifest?: boolean;
}

/** An OCI image layout (optionally with Docker 25's manifest.json next to it). */
async function ociArchive(images: TestImage[], opts: OciOptions = {}): Promise<{ tar: Buffer; blobs: Map<string, Buffer>; manifests: string[] }> {
  const blobs = new Map<string, Buffer>();
  const manifests: string[] = [];
  const put = (b: Buffer) => {
    const d = digest(b);
    blobs.set(d, b);
    return d;
  };
  const index = [];
  const dockerManifest = [];
  for (const [i, img] of images.entries()) {
    put(img.config);
    const layerDescs = img.layers.map((l) => {
      const data = opts.gzipLayers ? gzipSync(l.tar) : l.tar;
      return {
        mediaType: opts.gzipLayers ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
        digest: put(data),
        size: data.length,
      };
    });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: img.id, size: img.config.length },
        layers: layerDescs,
      }),
    );
    const md = put(manifest);
    manifests.push(md);
    const annotations = opts.annotations?.[i];
    index.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: manifest.length, ...(annotations ? { annotations } : {}) });
    dockerManifest.push({ Config: `blobs/sha256/${img.id.slice(7)}`, RepoTags: img.tags, Layers: layerDescs.map((l) => `blobs/sha256/${l.digest.slice(7)}`) });
  }
  const entries: TarEntry[] = [{ name: 'blobs/', type: 'directory' }, { name: 'blobs/sha256/', type: 'directory' }];
  for (const [d, b] of blobs) entries.push({ name: `blobs/sha256/${d.slice(7)}`, data: b });
  entries.push({ name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) });
  entries.push({ name: 'index.json', data: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index }) });
  if (opts.withDockerManifest) entries.push({ name: 'manifest.json', data: JSON.stringify(dockerManifest) });
  return { tar: await makeTar(entries), blobs, manifests };
}

// ---- fixture -----------------------------------------------------------------------------------

let root: string;
let tmpDir: string;
let db: Db;
let images: ImageService;
let events: EngineEvent[];

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-archive-test-'));
  tmpDir = path.join(root, 'tmp');
  db = openDb(path.join(root, 'berth.db'));
  const content = new ContentStore(path.join(root, 'content'));
  await content.init();
  const layers = new LayerStore(root, db, content);
  const bus = new EventBus();
  events = [];
  bus.subscribe((e) => events.push(e));
  images = new ImageService(content, layers, bus, db, { imageUses: () => [] });
  await images.init();
});

afterEach(async () => {
  db.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function load(archive: Buffer, opts: { platform?: string } = {}): Promise<string[]> {
  const messages: LoadMessage[] = [];
  await loadArchive(images, Readable.from([archive]), (m) => messages.push(m), { ...opts, tmpDir });
  return messages.map((m) => m.stream ?? '');
}

function tagsOf(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const img of images.store.all()) for (const t of img.tags) out[t] = img.id;
  return out;
}

async function assertNothingLoaded(): Promise<void> {
  assert.equal(images.store.all().length, 0, 'no image');
  assert.deepEqual(tagsOf(), {}, 'no tag');
  assert.deepEqual(await fs.readdir(tmpDir).catch(() => []), [], 'temp dir cleaned');
}

async function assertInvalid(archive: Buffer, pattern: RegExp, opts: { platform?: string } = {}): Promise<void> {
  await assert.rejects(load(archive, opts), (err: unknown) => {
    assert.ok(err instanceof BerthError, `expected BerthError, got ${String(err)}`);
    assert.equal(err.kind, 'InvalidArgument', err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

// ---- tests -------------------------------------------------------------------------------------

describe('loadArchive: Docker legacy format (<= 24)', () => {
  it('loads images with shared layers (symlinked layer.tar), tags and messages', async () => {
    const base = await layer({ 'etc/os-release': 'NAME=test\n' });
    const top = await layer({ 'app/run.sh': 'echo hi\n' });
    const a = image([base], ['busybox:latest']);
    const b = image([base, top], ['myapp:1.0', 'registry.example.com:5000/team/app:v2']);
    const messages = await load(await legacyArchive([a, b]));
    assert.deepEqual(messages, [
      'Loaded image: busybox:latest\n',
      'Loaded image: myapp:1.0\n',
      'Loaded image: registry.example.com:5000/team/app:v2\n',
    ]);
    assert.deepEqual(tagsOf(), {
      'docker.io/library/busybox:latest': a.id,
      'docker.io/library/myapp:1.0': b.id,
      'registry.example.com:5000/team/app:v2': b.id,
    });
    assert.equal(images.layers.all().length, 2);
    const chain = images.layers.chainIds([base.diffId, top.diffId]);
    assert.equal(images.resolve('myapp:1.0').topChainId, chain[1]);
    assert.equal(await fs.readFile(path.join(images.layers.diffDir(chain[1]!), 'app/run.sh'), 'utf8'), 'echo hi\n');
    assert.deepEqual((await collect(await images.layers.tarStream(top.diffId))).equals(top.tar), true);
    assert.deepEqual(
      events.filter((e) => e.Action === 'load').map((e) => [e.Actor.ID, e.Actor.Attributes.name]),
      [
        [a.id, 'busybox:latest'],
        [b.id, 'myapp:1.0'],
      ],
    );
    assert.deepEqual(await fs.readdir(tmpDir), []);
  });

  it('accepts gzip-compressed layers and a gzip-compressed archive', async () => {
    const l = await layer({ 'hello.txt': 'hello\n' });
    const img = image([l], ['gz:latest']);
    const messages = await load(gzipSync(await legacyArchive([img], { gzipLayers: true })));
    assert.deepEqual(messages, ['Loaded image: gz:latest\n']);
    assert.equal(images.resolve('gz').id, img.id);
    assert.equal(images.layers.all()[0]!.diffId, l.diffId);
  });

  it('reports untagged images by id and tag moves', async () => {
    const l1 = await layer({ a: '1' });
    const l2 = await layer({ a: '2' });
    const untagged = image([l1], []);
    assert.deepEqual(await load(await legacyArchive([untagged])), [`Loaded image ID: ${untagged.id}\n`]);
    assert.equal(events.at(-1)!.Actor.Attributes.name, untagged.id);

    const first = image([l1], ['app:latest'], { comment: 'one' });
    const second = image([l2], ['app:latest'], { comment: 'two' });
    await load(await legacyArchive([first]));
    assert.deepEqual(await load(await legacyArchive([second])), [
      `The image app:latest already exists, renaming the old one with ID ${first.id} to empty string\n`,
      'Loaded image: app:latest\n',
    ]);
    assert.equal(images.resolve('app:latest').id, second.id);
    assert.deepEqual(images.store.get(first.id)!.tags, []);
    // Loading the same archive again changes nothing and says so plainly.
    assert.deepEqual(await load(await legacyArchive([second])), ['Loaded image: app:latest\n']);
  });

  it('loads an image without layers', async () => {
    const img = image([], ['empty:latest']);
    assert.deepEqual(await load(await legacyArchive([img])), ['Loaded image: empty:latest\n']);
    assert.equal(images.resolve('empty').topChainId, null);
  });
});

describe('loadArchive: Docker 25+ and OCI layouts', () => {
  it('loads a Docker 25+ archive through manifest.json', async () => {
    const l = await layer({ 'x.txt': 'x' });
    const img = image([l], ['new:latest']);
    const { tar: archive } = await ociArchive([img], {
      withDockerManifest: true,
      annotations: [{ 'io.containerd.image.name': 'docker.io/library/other:tag', 'org.opencontainers.image.ref.name': 'tag' }],
    });
    assert.deepEqual(await load(archive), ['Loaded image: new:latest\n']); // manifest.json wins
    assert.equal(images.resolve('new:latest').id, img.id);
  });

  it('loads a plain OCI layout, naming images from annotations', async () => {
    const l = await layer({ 'x.txt': 'x' });
    const l2 = await layer({ 'y.txt': 'y' });
    const named = image([l], []);
    const refName = image([l2], [], { comment: 'ref name' });
    const bareTag = image([l, l2], [], { comment: 'bare tag' });
    const { tar: archive } = await ociArchive([named, refName, bareTag], {
      gzipLayers: true,
      annotations: [
        { 'io.containerd.image.name': 'docker.io/library/alpine:3.19', 'org.opencontainers.image.ref.name': '3.19' },
        { 'org.opencontainers.image.ref.name': 'localhost:5000/tools:v1' },
        { 'org.opencontainers.image.ref.name': 'latest' },
      ],
    });
    assert.deepEqual(await load(gzipSync(archive)), [
      'Loaded image: alpine:3.19\n',
      'Loaded image: localhost:5000/tools:v1\n',
      `Loaded image ID: ${bareTag.id}\n`,
    ]);
    assert.equal(images.resolve('alpine:3.19').id, named.id);
    assert.equal(images.resolve('localhost:5000/tools:v1').id, refName.id);
    assert.deepEqual(images.store.get(bareTag.id)!.tags, []);
  });

  it('follows a multi-platform index and picks the platform', async () => {
    const lAmd = await layer({ arch: 'amd64' });
    const lArm = await layer({ arch: 'arm64' });
    const amd = image([lAmd], [], { architecture: 'amd64' });
    const arm = image([lArm], [], { architecture: 'arm64', variant: 'v8' });
    const { blobs, manifests } = await ociArchive([amd, arm]);
    const attestation = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
    blobs.set(digest(attestation), attestation);
    const nested = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifests[1], size: blobs.get(manifests[1]!)!.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifests[0], size: blobs.get(manifests[0]!)!.length, platform: { os: 'linux', architecture: 'amd64' } },
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: digest(attestation),
            size: attestation.length,
            platform: { os: 'unknown', architecture: 'unknown' },
            annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
          },
        ],
      }),
    );
    blobs.set(digest(nested), nested);
    const entries: TarEntry[] = [...blobs].map(([d, b]) => ({ name: `blobs/sha256/${d.slice(7)}`, data: b }));
    entries.push({ name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' });
    entries.push({
      name: 'index.json',
      data: JSON.stringify({
        schemaVersion: 2,
        manifests: [
          { mediaType: 'application/vnd.oci.image.index.v1+json', digest: digest(nested), size: nested.length, annotations: { 'io.containerd.image.name': 'docker.io/library/multi:latest' } },
        ],
      }),
    });
    const archive = await makeTar(entries);

    await load(archive, { platform: 'linux/arm64' });
    assert.equal(images.resolve('multi').id, arm.id);
    if (process.arch === 'x64') {
      await load(archive);
      assert.equal(images.resolve('multi').id, amd.id);
    }
    await assertInvalid(archive, /requested platform \(linux\/s390x\) not found/, { platform: 'linux/s390x' });
    await assertInvalid(archive, /operating system is not supported/, { platform: 'windows/amd64' });
  });

  it('refuses zstd and foreign layers with a clear message', async () => {
    const l = await layer({ a: 'a' });
    const img = image([l], []);
    for (const [mediaType, pattern] of [
      ['application/vnd.oci.image.layer.v1.tar+zstd', /zstd-compressed layer .* not supported/],
      ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', /foreign layer .* not supported/],
      ['application/x-something', /unsupported layer media type application\/x-something/],
    ] as const) {
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: img.id, size: img.config.length },
          layers: [{ mediaType, digest: l.diffId, size: l.tar.length }],
        }),
      );
      const archive = await makeTar([
        { name: `blobs/sha256/${img.id.slice(7)}`, data: img.config },
        { name: `blobs/sha256/${l.diffId.slice(7)}`, data: l.tar },
        { name: `blobs/sha256/${sha(manifest)}`, data: manifest },
        { name: 'index.json', data: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(manifest), size: manifest.length }] }) },
      ]);
      await assertInvalid(archive, pattern);
    }
    await assertNothingLoaded();
  });
});

describe('saveArchive', () => {
  async function loadFixture(): Promise<{ a: TestImage; b: TestImage; base: Layer; top: Layer }> {
    const base = await layer({ 'etc/os-release': 'NAME=test\n' });
    const top = await layer({ 'app/run.sh': 'echo hi\n' });
    const a = image([base], ['busybox:latest', 'busybox:1.36']);
    const b = image([base, top], ['myapp:1.0']);
    await load(await legacyArchive([a, b]));
    return { a, b, base, top };
  }

  it('writes an OCI layout plus manifest.json and repositories, each blob once', async () => {
    const { a, b, base, top } = await loadFixture();
    const bytes = await collect(await saveArchive(images, ['busybox:latest', 'myapp:1.0']));
    const files = await readTar(bytes);
    const blobNames = [...files.keys()].filter((n) => n.startsWith('blobs/sha256/') && n !== 'blobs/sha256/');
    // 2 configs + 2 layers (base shared) + 2 manifests
    assert.equal(blobNames.length, 6);
    assert.deepEqual([...files.keys()], [...files.keys()].sort(), 'sorted entries');
    for (const name of blobNames) assert.equal(sha(files.get(name)!), name.slice('blobs/sha256/'.length));
    assert.ok(files.get(`blobs/sha256/${base.diffId.slice(7)}`)!.equals(base.tar));
    assert.deepEqual(JSON.parse(files.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
    assert.deepEqual(JSON.parse(files.get('manifest.json')!.toString()), [
      { Config: `blobs/sha256/${a.id.slice(7)}`, RepoTags: ['busybox:latest'], Layers: [`blobs/sha256/${base.diffId.slice(7)}`] },
      { Config: `blobs/sha256/${b.id.slice(7)}`, RepoTags: ['myapp:1.0'], Layers: [`blobs/sha256/${base.diffId.slice(7)}`, `blobs/sha256/${top.diffId.slice(7)}`] },
    ]);
    assert.deepEqual(JSON.parse(files.get('repositories')!.toString()), { busybox: { latest: a.id.slice(7) }, myapp: { '1.0': b.id.slice(7) } });
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.equal(index.schemaVersion, 2);
    assert.deepEqual(
      index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations),
      [
        { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' },
        { 'io.containerd.image.name': 'docker.io/library/myapp:1.0', 'org.opencontainers.image.ref.name': '1.0' },
      ],
    );
    const manifest = JSON.parse(files.get(`blobs/sha256/${index.manifests[1].digest.slice(7)}`)!.toString());
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.config.digest, b.id);
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string; digest: string; size: number }) => [l.mediaType, l.digest, l.size]),
      [
        ['application/vnd.oci.image.layer.v1.tar', base.diffId, base.tar.length],
        ['application/vnd.oci.image.layer.v1.tar', top.diffId, top.tar.length],
      ],
    );
    assert.deepEqual(
      events.filter((e) => e.Action === 'save').map((e) => e.Actor.ID),
      [a.id, b.id],
    );
    // Deterministic.
    const again = await collect(await saveArchive(images, ['busybox:latest', 'myapp:1.0']));
    assert.ok(again.equals(bytes));
  });

  it('round-trips through load (manifest.json path and OCI path)', async () => {
    const { a, b } = await loadFixture();
    images.tag(b.id, 'untagged-later', 'x');
    const saved = await collect(await saveArchive(images, ['busybox', 'myapp:1.0', a.id]));
    const files = await readTar(saved);
    assert.deepEqual(
      JSON.parse(files.get('manifest.json')!.toString()).map((m: { RepoTags: string[] }) => m.RepoTags),
      [['busybox:1.36', 'busybox:latest'], ['myapp:1.0']],
    );

    const wipe = async () => {
      for (const img of images.store.all()) await images.remove(img.id, { force: true });
      assert.equal(images.store.all().length, 0);
      assert.equal(images.layers.all().length, 0);
    };
    const expected = {
      'docker.io/library/busybox:1.36': a.id,
      'docker.io/library/busybox:latest': a.id,
      'docker.io/library/myapp:1.0': b.id,
    };

    await wipe();
    assert.deepEqual(await load(saved), ['Loaded image: busybox:1.36\n', 'Loaded image: busybox:latest\n', 'Loaded image: myapp:1.0\n']);
    assert.deepEqual(tagsOf(), expected);

    await wipe();
    const ociOnly = await makeTar(
      [...files]
        .filter(([name]) => name !== 'manifest.json' && name !== 'repositories')
        .map(([name, data]) => (name.endsWith('/') ? { name, type: 'directory' as const } : { name, data })),
    );
    assert.deepEqual(await load(ociOnly), ['Loaded image: busybox:1.36\n', 'Loaded image: busybox:latest\n', 'Loaded image: myapp:1.0\n']);
    assert.deepEqual(tagsOf(), expected);
    assert.equal(images.resolve('myapp:1.0').topChainId, images.layers.chainIds(b.layers.map((l) => l.diffId)).at(-1));
  });

  it('saves an image named by id without names, as Docker does', async () => {
    const { a } = await loadFixture();
    const files = await readTar(await collect(await saveArchive(images, [a.id.slice(7, 19)])));
    assert.deepEqual(JSON.parse(files.get('manifest.json')!.toString()), [{ Config: `blobs/sha256/${a.id.slice(7)}`, RepoTags: null, Layers: JSON.parse(a.config.toString()).rootfs.diff_ids.map((d: string) => `blobs/sha256/${d.slice(7)}`) }]);
    assert.equal(files.has('repositories'), false);
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].annotations, undefined);
  });

  it('throws NotFound before producing anything', async () => {
    await loadFixture();
    await assert.rejects(saveArchive(images, ['busybox:latest', 'nope:latest']), (err: unknown) => err instanceof BerthError && err.kind === 'NotFound');
    assert.equal(events.filter((e) => e.Action === 'save').length, 0);
  });

  it('stops and releases files when the reader goes away', async () => {
    const big = await layer({ big: 'x'.repeat(4 * 1024 * 1024) });
    await load(await legacyArchive([image([big], ['big:latest'])]));
    // A full read goes through backpressure many times and gives the exact layer back.
    const full = await readTar(await collect(await saveArchive(images, ['big'])));
    assert.ok(full.get(`blobs/sha256/${big.diffId.slice(7)}`)!.equals(big.tar));
    events.length = 0;

    const fds = async () => (await fs.readdir('/proc/self/fd')).length;
    const before = await fds();
    const stream = await saveArchive(images, ['big']);
    assert.ok((await fds()) > before, 'blobs are opened before streaming');
    await new Promise<void>((resolve) => stream.once('readable', () => resolve()));
    stream.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(events.filter((e) => e.Action === 'save').length, 0);
    assert.equal(await fds(), before, 'blob files are closed');
  });
});

describe('loadArchive: hostile and malformed archives', () => {
  let outside: string;
  beforeEach(async () => {
    outside = path.join(root, 'outside');
    await fs.mkdir(outside);
    await fs.writeFile(path.join(outside, 'secret'), 'secret');
  });

  async function assertRejected(archive: Buffer, pattern: RegExp): Promise<void> {
    await assertInvalid(archive, pattern);
    await assertNothingLoaded();
    assert.deepEqual(await fs.readdir(outside), ['secret']);
    const allowed = new Set(['berth.db', 'berth.db-shm', 'berth.db-wal', 'content', 'layers', 'outside', 'tmp']);
    assert.deepEqual((await fs.readdir(root)).filter((n) => !allowed.has(n)), []);
  }

  it('refuses path traversal and absolute names', async () => {
    const l = await layer({ a: 'a' });
    const good = await legacyArchive([image([l], ['x:1'])]);
    const files = await readTar(good);
    const base: TarEntry[] = [...files].filter(([name]) => !name.endsWith('/')).map(([name, data]) => ({ name, data }));
    await assertRejected(await makeTar([...base, { name: '../outside/evil', data: 'evil' }]), /leaves the archive/);
    await assertRejected(await makeTar([...base, { name: 'a/../../outside/evil', data: 'evil' }]), /leaves the archive/);
    await assertRejected(await makeTar([...base, { name: `${path.join(outside, 'evil')}`, data: 'evil' }]), /absolute path/);
    await assertRejected(await makeTar([...base, { name: 'dev', type: 'symlink', linkname: '/dev' }]), /points outside the archive/);
    await assertRejected(await makeTar([...base, { name: 'esc', type: 'symlink', linkname: '../outside' }]), /points outside the archive/);
    // A symlink that is fine lexically but would escape if followed by the kernel ("x/.." with x -> ".").
    await assertRejected(
      await makeTar([...base, { name: 'self', type: 'symlink', linkname: '.' }, { name: 'up', type: 'symlink', linkname: 'self/..' }, { name: 'up/outside/evil', data: 'evil' }]),
      /below a symlink/,
    );
    await assertRejected(await makeTar([...base, { name: 'd', type: 'directory' }, { name: 'l', type: 'link', linkname: '../outside/secret' }]), /leaves the archive/);
  });

  it('refuses manifests pointing outside the archive, also through symlinks', async () => {
    const l = await layer({ a: 'a' });
    const img = image([l], ['x:1']);
    const cfgName = `${img.id.slice(7)}.json`;
    const manifestWith = (m: unknown) => JSON.stringify([m]);
    const entries: TarEntry[] = [
      { name: cfgName, data: img.config },
      { name: 'l/layer.tar', data: l.tar },
    ];
    await assertRejected(await makeTar([...entries, { name: 'manifest.json', data: manifestWith({ Config: '../../etc/passwd', RepoTags: ['x:1'], Layers: ['l/layer.tar'] }) }]), /leaves the archive/);
    await assertRejected(await makeTar([...entries, { name: 'manifest.json', data: manifestWith({ Config: '/etc/passwd', RepoTags: ['x:1'], Layers: ['l/layer.tar'] }) }]), /absolute/);
    await assertRejected(await makeTar([...entries, { name: 'manifest.json', data: manifestWith({ Config: cfgName, RepoTags: ['x:1'], Layers: ['../../../etc/passwd'] }) }]), /leaves the archive/);
    await assertRejected(
      await makeTar([
        ...entries,
        { name: 'self', type: 'symlink', linkname: '.' },
        { name: 'up', type: 'symlink', linkname: 'self/..' },
        { name: 'manifest.json', data: manifestWith({ Config: cfgName, RepoTags: ['x:1'], Layers: ['up/../outside/secret'] }) },
      ]),
      /leaves the archive/,
    );
    await assertRejected(await makeTar([...entries, { name: 'manifest.json', data: manifestWith({ Config: cfgName, RepoTags: ['x:1'], Layers: ['missing/layer.tar'] }) }]), /not in the archive/);
    await assertRejected(await makeTar([...entries, { name: 'manifest.json', data: manifestWith({ Config: cfgName, RepoTags: ['x:1'], Layers: [] }) }]), /layers length mismatch/);
    await assertRejected(await makeTar([...entries, { name: 'manifest.json', data: manifestWith({ Config: cfgName, RepoTags: ['Bad:Tag'], Layers: ['l/layer.tar'] }) }]), /invalid tag/);
    await assertRejected(await makeTar([...entries, { name: 'manifest.json', data: '{not json' }]), /not valid JSON/);
  });

  it('refuses a config whose digest does not match, and a layer whose diffID does not match', async () => {
    const l = await layer({ a: 'a' });
    const other = await layer({ a: 'b' });
    const img = image([l], ['x:1']);
    const wrongConfigName = `${'0'.repeat(64)}.json`;
    await assertRejected(
      await makeTar([
        { name: wrongConfigName, data: img.config },
        { name: 'l/layer.tar', data: l.tar },
        { name: 'manifest.json', data: JSON.stringify([{ Config: wrongConfigName, RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]) },
      ]),
      /does not match its digest/,
    );
    const cfgName = `${img.id.slice(7)}.json`;
    await assertRejected(
      await makeTar([
        { name: cfgName, data: img.config },
        { name: 'l/layer.tar', data: other.tar },
        { name: 'manifest.json', data: JSON.stringify([{ Config: cfgName, RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]) },
      ]),
      /does not match diff_id/,
    );
    // A good image before a bad one in the same archive: neither becomes visible.
    const good = image([other], ['good:1']);
    await assertRejected(
      await makeTar([
        { name: `${good.id.slice(7)}.json`, data: good.config },
        { name: 'g/layer.tar', data: other.tar },
        { name: cfgName, data: img.config },
        { name: 'l/layer.tar', data: other.tar },
        {
          name: 'manifest.json',
          data: JSON.stringify([
            { Config: `${good.id.slice(7)}.json`, RepoTags: ['good:1'], Layers: ['g/layer.tar'] },
            { Config: cfgName, RepoTags: ['x:1'], Layers: ['l/layer.tar'] },
          ]),
        },
      ]),
      /does not match diff_id/,
    );
  });

  it('refuses OCI blobs whose content does not match their digest or size', async () => {
    const l = await layer({ a: 'a' });
    const img = image([l], []);
    const { blobs, manifests } = await ociArchive([img], { annotations: [{ 'io.containerd.image.name': 'docker.io/library/x:1' }] });
    const build = async (mutate: (b: Map<string, Buffer>) => void, index?: unknown) => {
      const copy = new Map(blobs);
      mutate(copy);
      return makeTar([
        ...[...copy].map(([d, b]) => ({ name: `blobs/sha256/${d.slice(7)}`, data: b })),
        { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
        {
          name: 'index.json',
          data: JSON.stringify(index ?? { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifests[0], size: blobs.get(manifests[0]!)!.length, annotations: { 'io.containerd.image.name': 'docker.io/library/x:1' } }] }),
        },
      ]);
    };
    await assertRejected(await build((b) => b.set(img.id, Buffer.concat([img.config, Buffer.from(' ')]))), /does not match its digest/);
    await assertRejected(await build((b) => b.set(l.diffId, Buffer.from('not the layer'))), /does not match its digest/);
    await assertRejected(await build((b) => b.delete(l.diffId)), /is missing/);
    await assertRejected(
      await build(() => {}, { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifests[0], size: 3 }] }),
      /descriptor says 3/,
    );
    await assertRejected(await build(() => {}, { schemaVersion: 2 }), /no list of manifests/);
    await assertRejected(await makeTar([{ name: 'oci-layout', data: '{"imageLayoutVersion":"9.0.0"}' }, { name: 'index.json', data: '{"manifests":[]}' }]), /unsupported OCI image layout version/);
  });

  it('refuses things that are not image archives', async () => {
    await assertRejected(await makeTar([{ name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' }]), /no manifest.json or index.json/);
    await assertRejected(Buffer.from('this is not a tar archive at all, just some text that goes on and on'.repeat(20)), /invalid tar archive/);
    const good = await legacyArchive([image([await layer({ a: 'a' })], ['x:1'])]);
    await assertRejected(good.subarray(0, 1000), /invalid tar archive/);
    await assertRejected(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(100)]), /zstd/);
    await assertRejected(await makeTar([{ name: 'dev', type: 'directory' }, { name: 'repositories', data: '{}' }]), /Docker before 1.10/);
  });
});
