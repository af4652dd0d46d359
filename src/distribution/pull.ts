/**
 * `docker pull`: resolve a reference to one image manifest (through an index by platform), fetch the
 * config and the layers (three at a time, as dockerd), verify every blob while it streams, unpack the
 * layers in order as they arrive, then record the image, its tag and its repo digest. Reports dockerd's
 * progress messages. Nothing becomes visible before it is verified; verified blobs stay in the content
 * store, so a pull that failed or was interrupted goes faster the next time.
 */
import type { ImageService } from '../images/service.js';
import type { ImageConfigJson } from '../images/model.js';
import { familiarName, familiarString, type ImageReference } from '../images/reference.js';
import type { DistributionMetadata } from './metadata.js';
import { endpointsFor, type RegistrySettings, type Endpoint } from './endpoints.js';
import { openRepository, type RepositoryClient } from './client.js';
import type { Credentials } from './auth.js';
import { BlobDownload, layerInput, counter, checkZstd } from './blobs.js';
import { idStatus, progressOf, throttled, type ProgressSink } from './progress.js';
import { asSpec, formatPlatform, hostPlatform, normalizePlatform, parsePlatformSpec, platformMatches, selectManifest, type PlatformSpec } from './platform.js';
import { RegistryResponseError } from './errors.js';
import { parseManifest, ManifestError, type ImageManifest, type Descriptor } from '../oci/manifest.js';
import { MediaType, layerCompression } from '../oci/media-types.js';
import { BerthError, internal, invalidArgument, notFound } from '../lib/errors.js';
import { readBody } from './transport.js';
import type { Readable } from 'node:stream';
import { decompressed } from '../lib/compression.js';
import type { UnpackedLayer } from '../layers/store.js';
import { pullTrace } from './pull-trace.js';

export interface PullDeps {
  images: ImageService;
  /** Where partial downloads wait (<data-root>/tmp: emptied at start, on the content store's filesystem). */
  scratchDir: string;
  meta: DistributionMetadata;
  settings: () => RegistrySettings;
}

export interface PullOptions {
  /** With a tag or digest: that image; with neither: every tag of the repository (pull --all-tags). */
  ref: ImageReference;
  platform?: string;
  creds: Credentials;
  signal?: AbortSignal;
}

/** Parallel layer downloads, as dockerd's max-concurrent-downloads default. */
const DOWNLOAD_CONCURRENCY = 3;
/** Tries per blob when the connection breaks (dockerd makes 5, pausing 5 s more each time; Berth is quicker). */
const DOWNLOAD_ATTEMPTS = 3;
/** Layers gunzipped and unpacked at once (zlib and the file writes share node's thread pool). */
const UNPACK_CONCURRENCY = 3;
const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
const CONFIG_TYPES = new Set<string>([MediaType.dockerConfig, MediaType.ociConfig]);

export async function pull(deps: PullDeps, o: PullOptions, out: ProgressSink): Promise<void> {
  const want = o.platform ? parsePlatformSpec(o.platform) : undefined;
  try {
    const endpoints = await endpointsFor(o.ref.domain, deps.settings(), 'pull');
    if (!o.ref.tag && !o.ref.digest) {
      const { client } = await openRepository(endpoints, o.ref.path, o.creds, ['pull'], o.signal);
      const tags = await client.listTags();
      if (!tags.length) throw notFound(`no tags found for ${familiarName(o.ref)}`);
      let anyNew = false;
      for (const tag of tags) {
        const status = await pullOne(deps, endpoints, { ...o, ref: { ...o.ref, tag } }, want, out);
        anyNew ||= status.startsWith('Status: Downloaded');
      }
      out({ status: `Status: ${anyNew ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarName(o.ref)}` });
      return;
    }
    const status = await pullOne(deps, endpoints, o, want, out);
    out({ status });
  } catch (err) {
    throw translate(err, o.ref);
  }
}

/** Pulls one tag or digest; returns the final status line. */
async function pullOne(deps: PullDeps, endpoints: Endpoint[], o: PullOptions, want: PlatformSpec | undefined, out: ProgressSink): Promise<string> {
  const reference = o.ref.digest ?? o.ref.tag!;
  // Mirrors first; when one fails, the next endpoint (finally the registry itself) is tried.
  let lastError: unknown;
  let remaining = endpoints;
  while (remaining.length) {
    const { client, rest } = await openRepository(remaining, o.ref.path, o.creds, ['pull'], o.signal);
    try {
      return await pullFrom(deps, client, o, reference, want, out);
    } catch (err) {
      if (!client.endpoint.mirror || o.signal?.aborted) throw err;
      lastError = err;
      remaining = rest;
    }
  }
  throw lastError ?? new Error('no registry endpoint answered');
}

async function pullFrom(deps: PullDeps, client: RepositoryClient, o: PullOptions, reference: string, want: PlatformSpec | undefined, out: ProgressSink): Promise<string> {
  const images = deps.images;
  const top = await client.getManifest(reference);
  const topParsed = parse(top.bytes, top.contentType);
  let manifestBytes = top.bytes;
  let manifestDigest = top.digest;
  let manifest: ImageManifest;
  let mediaType = topParsed.mediaType;
  if (topParsed.kind === 'index') {
    const chosen = selectManifest(topParsed.index.manifests, want ?? hostPlatform());
    const child = await client.getManifest(chosen.digest);
    const parsed = parse(child.bytes, child.contentType || chosen.mediaType);
    if (parsed.kind !== 'manifest') throw new Error(`manifest ${chosen.digest} in the manifest list is itself a list; nested lists are not supported`);
    manifest = parsed.manifest;
    manifestBytes = child.bytes;
    manifestDigest = child.digest;
    mediaType = parsed.mediaType;
  } else {
    manifest = topParsed.manifest;
  }
  checkManifest(manifest);
  out({ status: `Pulling from ${o.ref.path}`, id: reference });

  const target = manifest.config;
  const fullRepo = `${o.ref.domain}/${o.ref.path}`;
  const repoDigestRef: ImageReference = { domain: o.ref.domain, path: o.ref.path, digest: top.digest };
  const tagRef: ImageReference | undefined = o.ref.tag ? { domain: o.ref.domain, path: o.ref.path, tag: o.ref.tag } : undefined;
  const shown = familiarString(tagRef ?? repoDigestRef);

  return images.writing(async () => {
    let imageId = target.digest;
    const held = images.store.get(imageId);
    let fresh = !held;
    if (!held) {
      const configBytes = await fetchConfig(images, client, target);
      const config = parseConfig(configBytes);
      if (config.rootfs.diff_ids.length !== manifest.layers.length) {
        throw new Error(`layers from manifest don't match image configuration (${manifest.layers.length} layers, ${config.rootfs.diff_ids.length} diff_ids)`);
      }
      const have = normalizePlatform(asSpec({ os: config.os ?? 'linux', architecture: config.architecture ?? '', variant: config.variant }));
      if (want && !platformMatches(have, want)) {
        throw invalidArgument(`image with reference ${shown} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have)}`);
      }
      await pullLayers(deps, client, manifest.layers, config.rootfs.diff_ids, o, out);
      imageId = await images.register(configBytes);
    }
    // The manifest is kept so a push of this image sends the same bytes (and so the same digest).
    await images.content.put(manifestBytes, manifestDigest);
    deps.meta.recordManifest({ imageId, repo: fullRepo, digest: manifestDigest, mediaType, blobs: [target.digest, ...manifest.layers.map((l) => l.digest)] });
    let upToDate = false;
    if (tagRef) {
      const before = images.store.byRef(`${fullRepo}:${tagRef.tag}`);
      upToDate = before?.id === imageId;
      images.setTag(tagRef, imageId);
    }
    images.setTag(repoDigestRef, imageId);
    if (!tagRef && held) upToDate = true;
    fresh = fresh || !upToDate;
    images.events.publish('image', 'pull', shown, { name: shown });
    out({ status: `Digest: ${top.digest}` });
    return fresh ? `Status: Downloaded newer image for ${shown}` : `Status: Image is up to date for ${shown}`;
  });
}

function parse(bytes: Buffer, contentType: string) {
  try {
    return parseManifest(bytes, contentType || undefined);
  } catch (err) {
    if (err instanceof ManifestError) throw new Error(`invalid manifest: ${err.message}`);
    throw err;
  }
}

function checkManifest(m: ImageManifest): void {
  if (!CONFIG_TYPES.has(m.config.mediaType)) {
    throw invalidArgument(`Encountered remote "${m.config.mediaType}"(unknown) when fetching: this is not a container image`);
  }
  for (const l of m.layers) {
    if (layerCompression(l.mediaType) === undefined) throw invalidArgument(`unsupported layer media type ${l.mediaType} for ${l.digest}`);
    if (l.mediaType === MediaType.dockerForeignLayer) throw invalidArgument(`foreign layer ${l.digest} is not supported`);
    if (layerCompression(l.mediaType) === 'zstd') checkZstd();
  }
}

async function fetchConfig(images: ImageService, client: RepositoryClient, d: Descriptor): Promise<Buffer> {
  if (d.size > MAX_CONFIG_BYTES) throw new Error(`image config ${d.digest} is too large: ${d.size} bytes`);
  if (!(await images.content.has(d.digest))) {
    const res = await client.getBlob(d.digest);
    const bytes = await readBody(res, MAX_CONFIG_BYTES, 'image config');
    try {
      await images.content.put(bytes, d.digest);
    } catch {
      throw new Error(`image config verification failed for digest ${d.digest}`);
    }
  }
  return images.content.get(d.digest);
}

function parseConfig(bytes: Buffer): ImageConfigJson {
  let c: ImageConfigJson;
  try {
    c = JSON.parse(bytes.toString('utf8')) as ImageConfigJson;
  } catch {
    throw new Error('invalid image config: not JSON');
  }
  const ids = c?.rootfs?.diff_ids;
  if (!c || typeof c !== 'object' || !Array.isArray(ids) || !ids.every((x) => typeof x === 'string' && /^sha256:[a-f0-9]{64}$/.test(x))) {
    throw new Error('invalid image config: no valid rootfs.diff_ids');
  }
  return c;
}

/**
 * Downloads missing layers in parallel and registers them bottom-up as each becomes available (a layer's
 * parent must exist first). One failure stops the rest; the downloads in flight are aborted.
 */
async function pullLayers(deps: PullDeps, client: RepositoryClient, layers: Descriptor[], diffIds: string[], o: PullOptions, out: ProgressSink): Promise<void> {
  const { images, meta } = deps;
  const trace = pullTrace();
  const chainIds = images.layers.chainIds(diffIds);
  const ids = layers.map((l) => l.digest.slice(7, 19));
  const missing = layers.map((_, i) => !images.layers.get(chainIds[i]!));
  for (const [i] of layers.entries()) out(idStatus(ids[i]!, missing[i] ? 'Pulling fs layer' : 'Already exists'));

  const abort = new AbortController();
  const onAbort = () => abort.abort();
  o.signal?.addEventListener('abort', onAbort);
  let running = 0;
  const queue: Array<() => void> = [];
  const slot = async (id: string): Promise<void> => {
    if (running < (deps.settings().maxConcurrentDownloads ?? DOWNLOAD_CONCURRENCY)) {
      running++;
      return;
    }
    out(idStatus(id, 'Waiting'));
    await new Promise<void>((resolve) => queue.push(resolve));
  };
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else running--;
  };

  const unpacked: Array<UnpackedLayer | undefined> = [];
  const unpackSlots = limiter(UNPACK_CONCURRENCY);
  const download = async (i: number): Promise<void> => {
    const d = layers[i]!;
    const id = ids[i]!;
    await slot(id);
    trace.mark(i, 'slot');
    let released = false;
    try {
      if (abort.signal.aborted) throw new Error('pull cancelled');
      const blob = new BlobDownload(images.content, deps.scratchDir, d.digest, d.size);
      const report = throttled(d.size, (n) => out(progressOf(id, 'Downloading', n, d.size)));
      try {
        for (let attempt = 1; !(await images.content.has(d.digest)); attempt++) {
          try {
            // A retry asks only for what is missing.
            const res = await client.getBlob(d.digest, blob.offset);
            const stop = () => res.body.destroy(new Error('pull cancelled'));
            abort.signal.addEventListener('abort', stop);
            try {
              await blob.append(res.body, res.from, report);
            } finally {
              abort.signal.removeEventListener('abort', stop);
            }
            await blob.commit();
          } catch (err) {
            // As dockerd: a broken connection is retried (with a pause); a wrong blob or a refusal is not.
            if (attempt >= (deps.settings().maxDownloadAttempts ?? DOWNLOAD_ATTEMPTS) || abort.signal.aborted || !retryable(err)) throw err;
            for (let left = attempt; left > 0; left--) {
              out(idStatus(id, `Retrying in ${left} second${left > 1 ? 's' : ''}`));
              await pause(1000, abort.signal);
            }
          }
        }
      } finally {
        await blob.discard();
      }
      // The next download starts now; unpacking has slots of its own.
      trace.mark(i, 'downloaded');
      released = true;
      release();
      out(idStatus(id, 'Verifying Checksum'));
      out(idStatus(id, 'Download complete'));
      // Unpacked into the content store now, beside the other downloads; registering (in order) then
      // only has to apply the tar.
      await unpackSlots.run(async () => {
        const extracting = throttled(d.size, (n) => out(progressOf(id, 'Extracting', n, d.size)));
        if (abort.signal.aborted) throw new Error('pull cancelled');
        trace.mark(i, 'unpackSlot');
        // Each layer unpacks into its own directory beside the others; they become visible in order below.
        unpacked[i] = await stageAndUnpack(images, d, diffIds[i]!, extracting);
        trace.mark(i, 'unpacked');
      });
    } finally {
      if (!released) release();
    }
  };

  const downloads = layers.map((_, i) => (missing[i] ? download(i) : Promise.resolve()));
  // A failure ends the pull; the others are told to stop and are awaited so nothing is left writing.
  downloads.forEach((p) => p.catch(() => abort.abort()));
  try {
    let parent: string | null = null;
    for (const [i, d] of layers.entries()) {
      if (!missing[i]) {
        parent = chainIds[i]!;
        continue;
      }
      await downloads[i];
      const id = ids[i]!;
      let layer;
      try {
        layer = await images.layers.commit(unpacked[i]!, parent);
      } catch (err) {
        throw new Error(`failed to register layer: ${(err as Error).message}`);
      }
      parent = layer.chainId;
      meta.recordBlob({ diffId: diffIds[i]!, digest: d.digest, mediaType: d.mediaType, size: d.size, registry: o.ref.domain, repo: o.ref.path });
      trace.mark(i, 'committed');
      out(idStatus(id, 'Pull complete'));
    }
    trace.done();
  } catch (err) {
    abort.abort();
    await Promise.allSettled(downloads);
    throw err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    // Whatever was unpacked but not committed (a failure, or a chain registered meanwhile) goes.
    await Promise.allSettled(unpacked.map((u) => u?.discard()));
  }
}

/** Docker's wording for what went wrong, with the status it answers. */
function translate(err: unknown, ref: ImageReference): Error {
  // A token server's refusal is a 500 as in dockerd: a 401 would make the docker CLI prompt for a login.
  if (err instanceof BerthError) return err.kind === 'Unauthorized' ? internal(err.message, err) : err;
  if (err instanceof RegistryResponseError) {
    const shown = familiarString(ref.tag || ref.digest ? ref : { ...ref, tag: undefined });
    if (err.has('MANIFEST_UNKNOWN') || (err.status === 404 && !err.errors.length)) {
      return notFound(`manifest for ${shown} not found: ${err.message}`);
    }
    if (err.has('NAME_UNKNOWN')) return notFound(`repository ${familiarName(ref)} not found: ${err.message}`);
    if (err.has('DENIED') || err.status === 403) {
      return notFound(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${err.message}`);
    }
    // dockerd answers 500 here, not 401: a 401 would make the docker CLI prompt for a login.
    if (err.has('UNAUTHORIZED') || err.status === 401) return internal(`${err.request}: ${err.message}`, err);
    return internal(err.message, err);
  }
  return internal((err as Error)?.message ?? String(err), err);
}

function retryable(err: unknown): boolean {
  if (err instanceof BerthError) return false;
  if (err instanceof RegistryResponseError) return err.status >= 500 || err.status === 429;
  const msg = (err as Error)?.message ?? '';
  return !/verification failed|larger than|descriptor says|too large/.test(msg);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/**
 * Decompresses a downloaded layer once, into a not yet visible layer directory, hashing the tar on the
 * way: only when it is the tar the config's diff_id names is the blob recorded as that tar's source
 * (`save` and `push` make the tar from it; it is not stored a second time). A failure leaves no directory.
 */
async function stageAndUnpack(images: ImageService, d: Descriptor, diffId: string, onBytes: (n: number) => void): Promise<UnpackedLayer> {
  const failed = (err: unknown) => {
    const msg = (err as Error).message;
    if (/digest mismatch/.test(msg)) return new Error(`failed to register layer: layer ${d.digest} does not match diff_id ${diffId} of the image config`);
    return new Error(`failed to register layer: ${msg}`);
  };
  if (await images.layers.hasTar(diffId)) {
    onBytes(d.size);
    return images.layers.unpack(diffId).catch((err) => Promise.reject(failed(err)));
  }
  // Progress in compressed bytes, as dockerd tells Extracting.
  const file = images.content.stream(d.digest);
  const compressed = file.pipe(counter(Number.MAX_SAFE_INTEGER, onBytes));
  file.on('error', (err) => compressed.destroy(err));
  const compression = layerCompression(d.mediaType) ?? 'gzip';
  let tar: Readable;
  try {
    tar = await decompressed(layerInput(compressed, compression));
  } catch (err) {
    file.destroy();
    compressed.destroy();
    throw failed(err);
  }
  let unpacked: UnpackedLayer & { tarSize: number };
  try {
    unpacked = await images.layers.unpackVerified(diffId, tar);
  } catch (err) {
    file.destroy();
    throw failed(err);
  }
  try {
    // An uncompressed layer blob is the tar itself, already stored under its digest: no record needed.
    if (diffId !== d.digest) await images.content.setTarSource(diffId, { blob: d.digest, compression: compression === 'zstd' ? 'zstd' : 'gzip', size: unpacked.tarSize });
  } catch (err) {
    await unpacked.discard();
    throw failed(err);
  }
  return unpacked;
}

/** Runs at most `n` tasks at once, the rest in arrival order. */
function limiter(n: number): { run<T>(task: () => Promise<T>): Promise<T> } {
  let running = 0;
  const waiting: Array<() => void> = [];
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (running < n) running++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else running--;
      }
    },
  };
}
