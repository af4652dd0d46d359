/**
 * `docker push`: send an image's layers (skipping what the registry has, mounting what another
 * repository of the same registry has), its config and its manifest. The manifest is the one the image
 * was pulled or last pushed as when its blobs are all here, so the digest stays the same; otherwise a
 * Docker schema 2 manifest with gzip layers is made, and the compressed layers are kept so the next push
 * makes the same digest.
 */
import { constants, createGzip, deflateRaw } from 'node:zlib';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import type { ImageService } from '../images/service.js';
import type { Image } from '../images/model.js';
import { familiarName, familiarString, fullString, type ImageReference } from '../images/reference.js';
import type { DistributionMetadata } from './metadata.js';
import { endpointsFor, type RegistrySettings } from './endpoints.js';
import { openRepository, type RepositoryClient } from './client.js';
import type { Credentials } from './auth.js';
import { counter } from './blobs.js';
import { idStatus, progressOf, throttled, type ProgressSink } from './progress.js';
import { RegistryResponseError } from './errors.js';
import { MediaType } from '../oci/media-types.js';
import { parseManifest } from '../oci/manifest.js';
import { BerthError, internal, invalidArgument, notFound } from '../lib/errors.js';

export interface PushDeps {
  images: ImageService;
  meta: DistributionMetadata;
  settings: () => RegistrySettings;
}

export interface PushOptions {
  /** With a tag: that tag; without: every tag of the repository (push --all-tags). */
  ref: ImageReference;
  creds: Credentials;
  signal?: AbortSignal;
}

/** Parallel layer uploads, as dockerd's max-concurrent-uploads default. */
const UPLOAD_CONCURRENCY = 5;
const GZIP_TYPES = new Set<string>([MediaType.dockerLayer, MediaType.ociLayerGzip]);

interface PushBlob {
  digest: string;
  size: number;
  mediaType: string;
  diffId?: string;
}

interface PushPlan {
  bytes: Buffer;
  mediaType: string;
  config: PushBlob;
  layers: PushBlob[];
}

/** Checks that there is something to push; throws (before anything is streamed) when not. */
export function pushTargets(images: ImageService, ref: ImageReference): Array<{ tag: string; image: Image }> {
  if (ref.digest) throw invalidArgument('cannot push a digest reference');
  const repo = `${ref.domain}/${ref.path}`;
  if (ref.tag) {
    const image = images.store.byRef(fullString(ref));
    if (!image) throw notFound(`An image does not exist locally with the tag: ${familiarName(ref)}`);
    return [{ tag: ref.tag, image }];
  }
  const out: Array<{ tag: string; image: Image }> = [];
  for (const image of images.store.all()) {
    for (const t of image.tags) {
      if (t.startsWith(`${repo}:`)) out.push({ tag: t.slice(repo.length + 1), image });
    }
  }
  if (!out.length) throw notFound(`An image does not exist locally with the tag: ${familiarName(ref)}`);
  return out.sort((a, b) => a.tag.localeCompare(b.tag));
}

export async function push(deps: PushDeps, o: PushOptions, out: ProgressSink): Promise<void> {
  const targets = pushTargets(deps.images, o.ref);
  out({ status: `The push refers to repository [${o.ref.domain}/${o.ref.path}]` });
  try {
    const endpoints = await endpointsFor(o.ref.domain, deps.settings(), 'push');
    const { client } = await openRepository(endpoints, o.ref.path, o.creds, ['pull', 'push'], o.signal);
    // Blobs compressed for the push are collected only after the manifest that names them is recorded.
    for (const { tag, image } of targets) await deps.images.writing(() => pushTag(deps, client, o, tag, image, out));
  } catch (err) {
    throw translate(err, o.ref);
  }
}

async function pushTag(deps: PushDeps, client: RepositoryClient, o: PushOptions, tag: string, image: Image, out: ProgressSink): Promise<void> {
  const { images, meta } = deps;
  const plan = await planManifest(deps, image);
  const diffIds = image.config.rootfs.diff_ids;
  const blobs: Array<PushBlob | undefined> = plan ? plan.layers : [];
  const ids = diffIds.map((d) => d.slice(7, 19));
  // dockerd lists the layers top first.
  const order = diffIds.map((_, i) => i).reverse();
  for (const i of order) out(idStatus(ids[i]!, 'Preparing'));

  let running = 0;
  const queue: Array<() => void> = [];
  const seen = new Map<string, Promise<void>>();
  const compressions = new Map<string, Promise<PushBlob>>();
  const pushLayer = async (i: number): Promise<void> => {
    const id = ids[i]!;
    if (running >= (deps.settings().maxConcurrentUploads ?? UPLOAD_CONCURRENCY)) {
      out(idStatus(id, 'Waiting'));
      await new Promise<void>((resolve) => queue.push(resolve));
    } else running++;
    try {
      // A layer compressed for this push goes up as soon as it is compressed, while others still compress.
      // (One compression per diff_id: an image may hold the same layer twice.)
      let compressing = compressions.get(diffIds[i]!);
      if (!blobs[i] && !compressing) compressions.set(diffIds[i]!, (compressing = compressedLayer(deps, diffIds[i]!)));
      const blob = (blobs[i] ??= await compressing!);
      // The same blob twice in one image goes up once.
      const earlier = seen.get(blob.digest);
      if (earlier) {
        await earlier;
        out(idStatus(id, 'Layer already exists'));
        return;
      }
      const done = sendLayer(deps, client, o, blob, id, out);
      seen.set(blob.digest, done);
      await done;
    } finally {
      const next = queue.shift();
      if (next) next();
      else running--;
    }
  };
  const results = await Promise.allSettled(order.map((i) => pushLayer(i)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const manifest = plan ?? (await freshManifest(deps, image, blobs as PushBlob[]));

  if (!(await client.hasBlob(manifest.config.digest))) {
    await client.uploadBlob(manifest.config.digest, manifest.config.size, () => images.content.stream(manifest.config.digest));
  }

  const digest = await client.putManifest(tag, manifest.bytes, manifest.mediaType);
  await images.content.put(manifest.bytes, digest);
  meta.recordManifest({
    imageId: image.id,
    repo: `${o.ref.domain}/${o.ref.path}`,
    digest,
    mediaType: manifest.mediaType,
    blobs: [manifest.config.digest, ...manifest.layers.map((l) => l.digest)],
  });
  images.setTag({ domain: o.ref.domain, path: o.ref.path, digest }, image.id);
  images.events.publish('image', 'push', familiarString({ ...o.ref, tag }), { name: familiarString({ ...o.ref, tag }) });
  out({ status: `${tag}: digest: ${digest} size: ${manifest.bytes.length}` });
  out({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifest.bytes.length } });
}

async function sendLayer(deps: PushDeps, client: RepositoryClient, o: PushOptions, blob: PushBlob, id: string, out: ProgressSink): Promise<void> {
  const { images, meta } = deps;
  const record = () => blob.diffId && meta.recordBlob({ diffId: blob.diffId, digest: blob.digest, mediaType: blob.mediaType, size: blob.size, registry: o.ref.domain, repo: o.ref.path });
  if (await client.hasBlob(blob.digest)) {
    record();
    out(idStatus(id, 'Layer already exists'));
    return;
  }
  let session: URL | undefined;
  const source = blob.diffId ? meta.blobsFor(blob.diffId).find((s) => s.digest === blob.digest && s.registry === o.ref.domain && s.repo !== o.ref.path) : undefined;
  if (source) {
    const mounted = await client.mountBlob(blob.digest, source.repo);
    if (mounted === true) {
      record();
      out(idStatus(id, `Mounted from ${source.repo}`));
      return;
    }
    session = mounted;
  }
  const report = throttled(blob.size, (n) => out(progressOf(id, 'Pushing', n, blob.size)));
  await client.uploadBlob(blob.digest, blob.size, () => images.content.stream(blob.digest).pipe(counter(blob.size, report)), session);
  record();
  out(idStatus(id, 'Pushed'));
}

/** The manifest the image came in, when all its blobs are here; undefined when a new one must be made. */
async function planManifest(deps: PushDeps, image: Image): Promise<PushPlan | undefined> {
  const { images, meta } = deps;
  const diffIds = image.config.rootfs.diff_ids;
  for (const m of meta.manifestsOf(image.id)) {
    if (!(await images.content.has(m.digest))) continue;
    if (!(await everyBlobHeld(images, m.blobs))) continue;
    const bytes = await images.content.get(m.digest);
    let parsed;
    try {
      parsed = parseManifest(bytes, m.mediaType);
    } catch {
      continue; // a record that no longer reads as a manifest: make a new one
    }
    if (parsed.kind !== 'manifest' || parsed.manifest.layers.length !== diffIds.length || parsed.manifest.config.digest !== image.id) continue;
    return {
      bytes,
      mediaType: parsed.mediaType,
      config: parsed.manifest.config,
      layers: parsed.manifest.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: diffIds[i] })),
    };
  }
  return undefined;
}

/** A new Docker schema 2 manifest for layers compressed for this push. */
async function freshManifest(deps: PushDeps, image: Image, layers: PushBlob[]): Promise<PushPlan> {
  const configSize = await deps.images.content.size(image.id);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, size: configSize, digest: image.id },
    layers: layers.map((l) => ({ mediaType: MediaType.dockerLayer, size: l.size, digest: l.digest })),
  };
  // dockerd indents its schema 2 manifests with three spaces.
  const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
  return { bytes, mediaType: MediaType.dockerManifest, config: { digest: image.id, size: configSize, mediaType: MediaType.dockerConfig }, layers };
}

async function everyBlobHeld(images: ImageService, digests: string[]): Promise<boolean> {
  for (const d of digests) if (!(await images.content.has(d))) return false;
  return true;
}

/** A gzip blob of the layer: one already known (pulled or compressed before), or a new one, remembered. */
async function compressedLayer(deps: PushDeps, diffId: string): Promise<PushBlob> {
  const { images, meta } = deps;
  for (const s of meta.blobsFor(diffId)) {
    if (GZIP_TYPES.has(s.mediaType) && (await images.content.has(s.digest))) return { digest: s.digest, size: s.size, mediaType: s.mediaType, diffId };
  }
  // Huffman-only deflate builds its trees once per block of buffered symbols: memLevel 9 makes the blocks
  // twice as long (32 Ki symbols), so random data gzips in ~80 ms per 25 MB instead of ~128, as small.
  const huffmanOnly = await looksIncompressible(await images.layers.tarStream(diffId));
  const gzip = createGzip(huffmanOnly ? { level: 1, strategy: constants.Z_HUFFMAN_ONLY, memLevel: 9, chunkSize: 256 * 1024 } : { level: 1, chunkSize: 256 * 1024 });
  const tar = await images.layers.tarStream(diffId);
  tar.on('error', (err) => gzip.destroy(err));
  const blob = await images.content.putStream(tar.pipe(gzip));
  meta.recordBlob({ diffId, digest: blob.digest, mediaType: MediaType.dockerLayer, size: blob.size, registry: '', repo: '' });
  // Keep it until a manifest names it: recorded under no repository, as a pushed-nowhere manifest would.
  return { digest: blob.digest, size: blob.size, mediaType: MediaType.dockerLayer, diffId };
}

/** Bytes of a layer tried before it is compressed. */
const SAMPLE_BYTES = 1024 * 1024;

/**
 * Whether a layer's first MiB gains (almost) nothing from deflate: then the layer is gzipped with Huffman
 * coding only, four times quicker and as small on such data (random or already-compressed files), as
 * Go's deflate (dockerd's) skips ahead when it finds no matches. Other layers use level 1: several times
 * cheaper than the default level for a few percent of size; any level decompresses the same way.
 */
async function looksIncompressible(tar: Readable): Promise<boolean> {
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of tar) {
      parts.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= SAMPLE_BYTES) break;
    }
  } finally {
    tar.destroy();
  }
  const sample = Buffer.concat(parts).subarray(0, SAMPLE_BYTES);
  if (sample.length < 64 * 1024) return false;
  // On the thread pool, not the event loop.
  const packed = await promisify(deflateRaw)(sample, { level: 1 });
  return packed.length > sample.length * 0.97;
}

function translate(err: unknown, ref: ImageReference): Error {
  if (err instanceof BerthError) return err.kind === 'Unauthorized' ? internal(err.message, err) : err;
  if (err instanceof RegistryResponseError) {
    if (err.has('UNAUTHORIZED', 'DENIED') || err.status === 401 || err.status === 403) {
      return internal(err.request ? `${err.request}: ${err.message}` : err.message, err);
    }
    return internal(err.message, err);
  }
  void ref;
  return internal((err as Error)?.message ?? String(err), err);
}
