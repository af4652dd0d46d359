/**
 * `docker save`: an archive in the format of Docker 25+, which both old and new engines load: an OCI image
 * layout (oci-layout, index.json, blobs/sha256/...) plus the legacy manifest.json and repositories files
 * that point into the same blobs. Layers are stored uncompressed, byte for byte as they were registered
 * (so their blob digest is their diffID). Output is deterministic: entries sorted, fixed times and owners.
 */
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { ImageService } from './service.js';
import type { Image } from './model.js';
import { familiarName, familiarString, fullString, parseReference, repositoryName, type ImageReference } from './reference.js';
import { sha256Digest } from '../lib/ids.js';
import { log } from '../lib/log.js';

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** Every entry's mtime: fixed, so that saving the same images twice gives the same bytes. */
const MTIME = new Date(0);

interface Selected {
  image: Image;
  /** Tags to record for this image, in the order they were asked for. */
  tags: ImageReference[];
}

type BlobSource = { kind: 'bytes'; data: Buffer } | { kind: 'stream'; read: () => Readable | Promise<Readable>; size: number };

/**
 * Writes an archive of the named images (references or ids). Every name is resolved first, so an unknown
 * name throws the service's NotFound before any byte is produced. As in Docker, a tag saves that tag, a
 * repository name alone saves all its tags, and an id or digest saves the image without names.
 */
export async function saveArchive(images: ImageService, names: string[]): Promise<Readable> {
  const selected = new Map<string, Selected>();
  for (const name of names) {
    for (const { image, tag } of select(images, name)) {
      let entry = selected.get(image.id);
      if (!entry) selected.set(image.id, (entry = { image, tags: [] }));
      if (tag && !entry.tags.some((t) => fullString(t) === fullString(tag))) entry.tags.push(tag);
    }
  }

  // Open every blob now: what was resolved stays readable even if the image is removed while streaming.
  const blobs = new Map<string, BlobSource>();
  const handles: Array<{ close: () => Promise<void> }> = [];
  const indexEntries: unknown[] = [];
  const manifestJson: unknown[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  try {
    for (const { image, tags } of selected.values()) {
      const config = await images.content.get(image.id);
      blobs.set(image.id, { kind: 'bytes', data: config });
      const layerDescs: Array<{ mediaType: string; digest: string; size: number }> = [];
      for (const diffId of image.config.rootfs.diff_ids) {
        let source = blobs.get(diffId);
        if (!source) {
          // The stored tar, or the blob it was pulled as, decompressed as it is written (the same bytes).
          const tar = await images.layers.openTar(diffId);
          handles.push(tar);
          source = { kind: 'stream', read: tar.read, size: tar.size };
          blobs.set(diffId, source);
        }
        layerDescs.push({ mediaType: MEDIA.layer, digest: diffId, size: sizeOf(source) });
      }
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA.manifest,
          config: { mediaType: MEDIA.config, digest: image.id, size: config.length },
          layers: layerDescs,
        }),
      );
      const manifestDigest = sha256Digest(manifest);
      blobs.set(manifestDigest, { kind: 'bytes', data: manifest });

      const descriptor = { mediaType: MEDIA.manifest, digest: manifestDigest, size: manifest.length };
      if (!tags.length) indexEntries.push(descriptor);
      for (const tag of tags) {
        indexEntries.push({
          ...descriptor,
          annotations: { 'io.containerd.image.name': fullString(tag), 'org.opencontainers.image.ref.name': tag.tag! },
        });
        (repositories[familiarName(tag)] ??= {})[tag.tag!] = hexOf(image.id);
      }
      manifestJson.push({
        Config: blobPath(image.id),
        RepoTags: tags.length ? tags.map((t) => familiarString(t)) : null,
        Layers: image.config.rootfs.diff_ids.map(blobPath),
      });
    }
  } catch (err) {
    await closeAll(handles);
    throw err;
  }

  const files: Array<[string, BlobSource]> = [...blobs.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([digest, source]) => [blobPath(digest), source]);
  const json = (v: unknown): BlobSource => ({ kind: 'bytes', data: Buffer.from(JSON.stringify(v)) });
  files.push(['index.json', json({ schemaVersion: 2, mediaType: MEDIA.index, manifests: indexEntries })]);
  files.push(['manifest.json', json(manifestJson)]);
  files.push(['oci-layout', json({ imageLayoutVersion: '1.0.0' })]);
  if (Object.keys(repositories).length) files.push(['repositories', json(repositories)]);

  const pack = tar.pack();
  // When the client goes away the pack is destroyed with the reason; that is the end of the save, not
  // an error of the daemon (without a listener it would be an uncaught exception).
  pack.on('error', (err) => log.debug('image save stream ended early', { error: err.message }));
  const closed = new Promise<never>((_, reject) => pack.once('close', () => reject(new Error('archive stream closed'))));
  closed.catch(() => {}); // raced against the writes below; not an unhandled rejection meanwhile
  void (async () => {
    try {
      await writeEntry(pack, closed, { name: 'blobs/', type: 'directory', mode: 0o755 });
      await writeEntry(pack, closed, { name: 'blobs/sha256/', type: 'directory', mode: 0o755 });
      for (const [name, source] of files) await writeEntry(pack, closed, { name, type: 'file', mode: 0o644 }, source);
      for (const { image, tags } of selected.values()) {
        images.events.publish('image', 'save', image.id, { name: tags.length ? familiarString(tags[0]!) : image.id });
      }
      pack.finalize();
    } catch (err) {
      if (!pack.destroyed) {
        log.warn('image save failed', { error: String(err) });
        pack.destroy(err as Error);
      }
    } finally {
      await closeAll(handles);
    }
  })();
  // A Node Readable over the pack stream: destroying it stops the writer and closes the blobs. The
  // consumer's pipeline reports errors to its caller, but the stream may still emit one after the
  // pipeline has let go of it (a client that hung up): that one is only logged.
  const out = Readable.from(pack, { objectMode: false });
  out.on('error', (err) => log.debug('image save stream ended early', { error: err.message }));
  return out;
}

/** The images (and the tag, if any) a name designates for `save`, as Docker's exporter decides. */
function select(images: ImageService, name: string): Array<{ image: Image; tag?: ImageReference }> {
  if (/^sha256:/.test(name) || /^[a-f0-9]{64}$/.test(name)) return [{ image: images.resolve(name) }];
  let ref: ImageReference | undefined;
  try {
    ref = parseReference(name);
  } catch {
    ref = undefined;
  }
  if (!ref || ref.digest) return [{ image: images.resolve(name) }];
  if (ref.tag) return [{ image: images.resolve(name), tag: ref }];
  // A repository name alone: every tag of that repository.
  const repo = repositoryName(ref);
  const found: Array<{ image: Image; tag: ImageReference }> = [];
  for (const image of images.store.all()) {
    for (const t of image.tags) {
      const tagRef = parseReference(t);
      if (repositoryName(tagRef) === repo && tagRef.tag) found.push({ image, tag: tagRef });
    }
  }
  if (found.length) return found.sort((a, b) => (a.tag.tag! < b.tag.tag! ? -1 : a.tag.tag! > b.tag.tag! ? 1 : 0));
  // Not a repository: maybe an id prefix (resolve throws NotFound otherwise).
  return [{ image: images.resolve(name) }];
}

async function writeEntry(pack: tar.Pack, closed: Promise<never>, header: Pick<tar.Header, 'name' | 'type' | 'mode'>, source?: BlobSource): Promise<void> {
  const full: Partial<tar.Header> & Pick<tar.Header, 'name'> = { ...header, mtime: MTIME, uid: 0, gid: 0, uname: '', gname: '', size: source ? sizeOf(source) : 0 };
  if (!source || source.kind === 'bytes') {
    const data = source?.data;
    const done = new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      quiet(data ? pack.entry(full, data, cb) : pack.entry(full, cb));
    });
    await Promise.race([done, closed]);
    return;
  }
  let sink!: ReturnType<tar.Pack['entry']>;
  const done = new Promise<void>((resolve, reject) => {
    sink = quiet(pack.entry(full, (err) => (err ? reject(err) : resolve())));
  });
  done.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  for await (const chunk of (await source.read()) as AsyncIterable<Buffer>) {
    if (!sink.write(chunk)) await Promise.race([new Promise<void>((resolve) => sink.once('drain', () => resolve())), closed]);
  }
  sink.end(null);
  await Promise.race([done, closed]);
}

/**
 * An entry's stream is destroyed with the pack's error when the client goes away; its callback (and so
 * writeEntry) sees that error, and the 'error' event must not become an uncaught exception.
 */
function quiet<T extends { on(event: 'error', listener: (err: Error) => void): unknown }>(sink: T): T {
  sink.on('error', () => {}); // reported through the entry's callback
  return sink;
}

function sizeOf(source: BlobSource): number {
  return source.kind === 'bytes' ? source.data.length : source.size;
}

function blobPath(digest: string): string {
  return `blobs/sha256/${hexOf(digest)}`;
}

function hexOf(digest: string): string {
  return digest.replace(/^sha256:/, '');
}

async function closeAll(handles: Array<{ close: () => Promise<void> }>): Promise<void> {
  await Promise.all(handles.splice(0).map((h) => h.close().catch(() => {}))); // already closed: nothing to undo
}
