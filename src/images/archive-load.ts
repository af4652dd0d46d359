/**
 * `docker load`: images from a `docker save` archive (the legacy format of Docker <= 24 or the OCI-layout
 * based one of Docker 25+) or from a plain OCI image layout tar, plain or gzip-compressed.
 *
 * The archive is untrusted. It is unpacked into a private temporary directory by lib/safe-extract.ts
 * (symlinks never touch the disk and cannot lead out of the archive), then loaded in three phases so that
 * a bad archive leaves nothing visible:
 *   1. plan: read and check every manifest, config and blob reference (digests, sizes, media types,
 *      platforms, names) without changing any state;
 *   2. layers: register every layer with the LayerStore, which verifies the diffIDs from the configs;
 *   3. images: record the configs as images, point the tags at them, report and publish events.
 * Layers registered in phase 2 by a load that fails later belong to no image and are removed by the next
 * garbage collection.
 */
import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageService } from './service.js';
import type { ImageConfigJson } from './model.js';
import { familiarString, fullString, parseReference, withDefaultTag, type ImageReference } from './reference.js';
import { chainIdOf } from '../layers/store.js';
import { extractArchive, type ExtractedArchive } from '../lib/safe-extract.js';
import { BerthError, invalidArgument, messageOf } from '../lib/errors.js';
import { DIGEST_RE, sha256Digest } from '../lib/ids.js';

export interface LoadMessage {
  stream?: string;
  error?: string;
  errorDetail?: { message: string };
}

export interface LoadOptions {
  /** `os[/arch[/variant]]`: which variant of a multi-platform image to load; others are refused. */
  platform?: string;
  /** Where the archive is unpacked (a private directory is made inside and always removed). */
  tmpDir?: string;
}

/** Largest JSON document (manifest, index, config) read into memory. */
const MAX_JSON_BYTES = 64 * 1024 * 1024;
/** Deepest chain of nested image indexes followed. */
const MAX_INDEX_DEPTH = 8;

const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

const MANIFEST_TYPES = new Set<string>([MT.ociManifest, MT.dockerManifest]);
const INDEX_TYPES = new Set<string>([MT.ociIndex, MT.dockerList]);
const CONFIG_TYPES = new Set<string>([MT.ociConfig, MT.dockerConfig]);
/** Layer media types whose blobs are tar, plain or gzip (LayerStore.register takes both). */
const LAYER_TYPES = new Set<string>([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
]);

interface PlannedLayer {
  /** On-disk path of the layer file inside the extraction directory. */
  file: string;
  /** How the archive names it, for messages. */
  label: string;
  diffId: string;
}

interface PlannedImage {
  id: string;
  configBytes: Buffer;
  config: ImageConfigJson;
  layers: PlannedLayer[];
  names: ImageReference[];
}

interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/**
 * Loads every image of a `docker save` archive (legacy or Docker 25+ format) or a plain OCI image layout
 * tar (plain or gzip-compressed), reporting Docker's messages through `onMessage`. Throws InvalidArgument
 * for a malformed archive; nothing of a failed load becomes visible.
 */
export async function loadArchive(
  images: ImageService,
  input: Readable,
  onMessage: (m: LoadMessage) => void,
  opts: LoadOptions = {},
): Promise<void> {
  const wanted = opts.platform ? parsePlatform(opts.platform) : undefined;
  const tmpBase = opts.tmpDir ?? os.tmpdir();
  await fs.mkdir(tmpBase, { recursive: true });
  const dir = await fs.mkdtemp(path.join(tmpBase, 'berth-load-'));
  try {
    const archive = await extractArchive(input, dir, { hashFiles: true });
    let plans: PlannedImage[];
    if (archive.hasFile('manifest.json')) plans = await planDockerArchive(archive, wanted);
    else if (archive.hasFile('index.json')) plans = await planOciLayout(archive, wanted, opts.platform);
    else if (archive.hasFile('repositories')) {
      throw invalidArgument('invalid archive: archives without manifest.json (Docker before 1.10) are not supported');
    } else {
      throw invalidArgument('invalid archive: no manifest.json or index.json found; is this an image archive from `docker save`?');
    }
    plans = mergeDuplicates(plans);

    for (const plan of plans) await registerLayers(images, plan);

    for (const plan of plans) {
      const id = await images.register(plan.configBytes);
      for (const ref of plan.names) {
        const previous = images.setTag(ref, id);
        const name = familiarString(ref);
        if (previous) {
          onMessage({ stream: `The image ${name} already exists, renaming the old one with ID ${previous} to empty string\n` });
        }
        onMessage({ stream: `Loaded image: ${name}\n` });
      }
      if (!plan.names.length) onMessage({ stream: `Loaded image ID: ${id}\n` });
      images.events.publish('image', 'load', id, { name: plan.names.length ? familiarString(plan.names[0]!) : id });
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// ---- Docker `docker save` archives (manifest.json) ----------------------------------------------------

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function planDockerArchive(archive: ExtractedArchive, wanted: Platform | undefined): Promise<PlannedImage[]> {
  const manifest = await readJson(archive, 'manifest.json');
  if (!Array.isArray(manifest)) throw invalidArgument('invalid archive: manifest.json is not a list of images');
  const plans: PlannedImage[] = [];
  for (const [i, raw] of manifest.entries()) {
    const entry = raw as Partial<DockerManifestEntry> | null;
    if (!entry || typeof entry !== 'object' || typeof entry.Config !== 'string' || !isStringArray(entry.Layers)) {
      throw invalidArgument(`invalid archive: manifest.json entry ${i} needs a Config path and a list of Layers`);
    }
    if (entry.RepoTags != null && !isStringArray(entry.RepoTags)) {
      throw invalidArgument(`invalid archive: manifest.json entry ${i} has invalid RepoTags`);
    }
    const configInfo = archive.fileInfo(entry.Config);
    const expected = digestFromPath(entry.Config);
    if (expected && configInfo.digest !== expected) {
      throw invalidArgument(`invalid archive: image config ${entry.Config} does not match its digest (got ${configInfo.digest})`);
    }
    const configBytes = await archive.readFile(entry.Config, MAX_JSON_BYTES);
    const id = sha256Digest(configBytes);
    const config = parseConfig(configBytes, entry.Config);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== entry.Layers.length) {
      throw invalidArgument(`invalid manifest, layers length mismatch: expected ${entry.Layers.length}, got ${diffIds.length}`);
    }
    if (wanted && !platformMatches(configPlatform(config), wanted)) {
      throw invalidArgument(`requested platform (${formatPlatform(wanted)}) not found: image ${id} is for ${formatPlatform(configPlatform(config))}`);
    }
    const layers = entry.Layers.map((label, j): PlannedLayer => {
      const info = archive.fileInfo(label);
      const blobDigest = digestFromPath(label);
      if (blobDigest && info.digest !== blobDigest) {
        throw invalidArgument(`invalid archive: layer ${label} does not match its digest (got ${info.digest})`);
      }
      return { file: info.path, label, diffId: diffIds[j]! };
    });
    const names = (entry.RepoTags ?? []).map((tag) => {
      let ref: ImageReference;
      try {
        ref = parseReference(tag);
      } catch (err) {
        throw invalidArgument(`invalid tag ${JSON.stringify(tag)} in manifest.json: ${messageOf(err)}`);
      }
      if (!ref.tag || ref.digest) throw invalidArgument(`invalid tag ${JSON.stringify(tag)}`);
      return ref;
    });
    plans.push({ id, configBytes, config, layers, names });
  }
  return plans;
}

/** `blobs/sha256/<hex>` and `<hex>.json` name their content's digest; other paths (`<id>/layer.tar`) do not. */
function digestFromPath(p: string): string | undefined {
  const m = /^(?:\.\/)?(?:blobs\/sha256\/([a-f0-9]{64})|([a-f0-9]{64})\.json)$/.exec(p);
  return m ? `sha256:${m[1] ?? m[2]}` : undefined;
}

// ---- OCI image layouts (index.json) -----------------------------------------------------------------

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

async function planOciLayout(archive: ExtractedArchive, wanted: Platform | undefined, requested: string | undefined): Promise<PlannedImage[]> {
  if (archive.hasFile('oci-layout')) {
    const layout = (await readJson(archive, 'oci-layout')) as { imageLayoutVersion?: unknown } | null;
    if (!layout || typeof layout !== 'object' || typeof layout.imageLayoutVersion !== 'string') {
      throw invalidArgument('invalid archive: oci-layout has no imageLayoutVersion');
    }
    if (!/^1\.\d+\.\d+$/.test(layout.imageLayoutVersion)) {
      throw invalidArgument(`invalid archive: unsupported OCI image layout version ${layout.imageLayoutVersion}`);
    }
  }
  const index = (await readJson(archive, 'index.json')) as { manifests?: unknown } | null;
  if (!index || typeof index !== 'object' || !Array.isArray(index.manifests)) {
    throw invalidArgument('invalid archive: index.json has no list of manifests');
  }
  const plans: PlannedImage[] = [];
  for (const raw of index.manifests) {
    const desc = checkDescriptor(raw, 'index.json');
    const names = namesFromAnnotations(desc.annotations);
    const chosen = await chooseManifest(archive, desc, wanted, requested, 0);
    const plan = await planOciImage(archive, chosen.manifest, chosen.desc, names);
    if (wanted && !chosen.byPlatform && !platformMatches(configPlatform(plan.config), wanted)) {
      throw invalidArgument(`requested platform (${formatPlatform(wanted)}) not found: image ${plan.id} is for ${formatPlatform(configPlatform(plan.config))}`);
    }
    plans.push(plan);
  }
  return plans;
}

/** Follows image indexes down to one image manifest, picking the platform variant to load. */
async function chooseManifest(
  archive: ExtractedArchive,
  desc: Descriptor,
  wanted: Platform | undefined,
  requested: string | undefined,
  depth: number,
): Promise<{ desc: Descriptor; manifest: Record<string, unknown>; byPlatform: boolean }> {
  if (depth > MAX_INDEX_DEPTH) throw invalidArgument('invalid archive: image indexes are nested too deeply');
  const body = await readBlobJson(archive, desc);
  const mediaType = desc.mediaType ?? (typeof body.mediaType === 'string' ? body.mediaType : undefined);
  const isIndex = mediaType ? INDEX_TYPES.has(mediaType) : Array.isArray(body.manifests);
  const isManifest = mediaType ? MANIFEST_TYPES.has(mediaType) : body.config !== undefined;
  if (isManifest) return { desc, manifest: body, byPlatform: false };
  if (!isIndex) throw invalidArgument(`invalid archive: unsupported manifest media type ${mediaType ?? '(none)'} for ${desc.digest}`);
  if (!Array.isArray(body.manifests)) throw invalidArgument(`invalid archive: image index ${desc.digest} has no manifests`);

  const candidates = body.manifests
    .map((m) => checkDescriptor(m, `image index ${desc.digest}`))
    .filter((m) => !isAttestation(m) && (!m.mediaType || MANIFEST_TYPES.has(m.mediaType) || INDEX_TYPES.has(m.mediaType)));
  const target = wanted ?? hostPlatform();
  const matching = candidates
    .filter((m) => m.platform && platformMatches(descPlatform(m.platform), target))
    .sort((a, b) => variantRank(a, target) - variantRank(b, target));
  if (matching.length) {
    const chosen = await chooseManifest(archive, matching[0]!, wanted, requested, depth + 1);
    return { ...chosen, byPlatform: true };
  }
  if (wanted) throw invalidArgument(`requested platform (${requested ?? formatPlatform(wanted)}) not found in image index ${desc.digest}`);
  if (candidates.length === 1) return chooseManifest(archive, candidates[0]!, wanted, requested, depth + 1);
  throw invalidArgument(
    `no image for ${formatPlatform(target)} in image index ${desc.digest} (it has ${candidates.map((c) => (c.platform ? formatPlatform(descPlatform(c.platform)) : 'unknown')).join(', ') || 'no images'}); use --platform`,
  );
}

async function planOciImage(archive: ExtractedArchive, manifest: Record<string, unknown>, desc: Descriptor, names: ImageReference[]): Promise<PlannedImage> {
  const where = `manifest ${desc.digest}`;
  const configDesc = checkDescriptor(manifest.config, where);
  if (configDesc.mediaType && !CONFIG_TYPES.has(configDesc.mediaType)) {
    throw invalidArgument(`invalid archive: ${where} is not a container image (config media type ${configDesc.mediaType})`);
  }
  if (!Array.isArray(manifest.layers)) throw invalidArgument(`invalid archive: ${where} has no list of layers`);
  const layerDescs = manifest.layers.map((l) => checkDescriptor(l, where));
  const configBytes = await readBlob(archive, configDesc, MAX_JSON_BYTES);
  const config = parseConfig(configBytes, configDesc.digest);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layerDescs.length) {
    throw invalidArgument(`invalid archive: ${where} has ${layerDescs.length} layers but its config has ${diffIds.length} diff_ids`);
  }
  const layers = layerDescs.map((l, i): PlannedLayer => {
    const mediaType = l.mediaType ?? '';
    if (!LAYER_TYPES.has(mediaType)) {
      if (mediaType.includes('foreign')) throw invalidArgument(`invalid archive: foreign layer ${l.digest} (${mediaType}) is not supported`);
      if (mediaType.endsWith('+zstd') || mediaType.endsWith('.zstd')) throw invalidArgument(`invalid archive: zstd-compressed layer ${l.digest} is not supported`);
      throw invalidArgument(`invalid archive: unsupported layer media type ${mediaType || '(none)'} for ${l.digest}`);
    }
    return { file: blobFile(archive, l).path, label: l.digest, diffId: diffIds[i]! };
  });
  return { id: configDesc.digest, configBytes, config, layers, names };
}

/** Names from a descriptor's annotations; a bare tag in org.opencontainers.image.ref.name is no name. */
function namesFromAnnotations(annotations: Record<string, string> | undefined): ImageReference[] {
  const full = annotations?.['io.containerd.image.name'];
  const refName = annotations?.['org.opencontainers.image.ref.name'];
  let candidate: string | undefined;
  if (typeof full === 'string' && full) candidate = full;
  else if (typeof refName === 'string' && /[:/]/.test(refName)) candidate = refName;
  if (!candidate) return [];
  let ref: ImageReference;
  try {
    ref = parseReference(candidate);
  } catch (err) {
    throw invalidArgument(`invalid image name ${JSON.stringify(candidate)} in index.json: ${messageOf(err)}`);
  }
  if (ref.digest && !ref.tag) return []; // A digest alone is no tag to set.
  return [withDefaultTag({ domain: ref.domain, path: ref.path, ...(ref.tag ? { tag: ref.tag } : {}) })];
}

function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || d.platform?.os === 'unknown';
}

function checkDescriptor(raw: unknown, where: string): Descriptor {
  const d = raw as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string') throw invalidArgument(`invalid archive: bad descriptor in ${where}`);
  if (!DIGEST_RE.test(d.digest)) {
    throw invalidArgument(`invalid archive: unsupported digest ${JSON.stringify(d.digest)} in ${where} (only sha256 is supported)`);
  }
  if (d.mediaType !== undefined && typeof d.mediaType !== 'string') throw invalidArgument(`invalid archive: bad media type in ${where}`);
  if (d.size !== undefined && (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)) {
    throw invalidArgument(`invalid archive: bad size for ${d.digest} in ${where}`);
  }
  if (d.annotations !== undefined && (typeof d.annotations !== 'object' || d.annotations === null)) {
    throw invalidArgument(`invalid archive: bad annotations for ${d.digest} in ${where}`);
  }
  return d as Descriptor;
}

/** The blob a descriptor points to, checked against the descriptor's digest and size. */
function blobFile(archive: ExtractedArchive, d: Descriptor): { path: string; size: number } {
  const name = `blobs/sha256/${d.digest.slice('sha256:'.length)}`;
  if (!archive.hasFile(name)) throw invalidArgument(`invalid archive: blob ${d.digest} is missing`);
  const info = archive.fileInfo(name);
  if (info.digest !== d.digest) throw invalidArgument(`invalid archive: blob ${d.digest} does not match its digest (got ${info.digest})`);
  if (d.size !== undefined && info.size !== d.size) {
    throw invalidArgument(`invalid archive: blob ${d.digest} has ${info.size} bytes, its descriptor says ${d.size}`);
  }
  return info;
}

async function readBlob(archive: ExtractedArchive, d: Descriptor, limit: number): Promise<Buffer> {
  const info = blobFile(archive, d);
  if (info.size > limit) throw invalidArgument(`invalid archive: blob ${d.digest} is too large (${info.size} bytes)`);
  return fs.readFile(info.path);
}

async function readBlobJson(archive: ExtractedArchive, d: Descriptor): Promise<Record<string, unknown>> {
  const bytes = await readBlob(archive, d, MAX_JSON_BYTES);
  const value = parseJson(bytes, d.digest);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`invalid archive: ${d.digest} is not a JSON object`);
  return value as Record<string, unknown>;
}

// ---- shared ----------------------------------------------------------------------------------------

async function readJson(archive: ExtractedArchive, name: string): Promise<unknown> {
  return parseJson(await archive.readFile(name, MAX_JSON_BYTES), name);
}

function parseJson(bytes: Buffer, label: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalidArgument(`invalid archive: ${label} is not valid JSON: ${messageOf(err)}`);
  }
}

function parseConfig(bytes: Buffer, label: string): ImageConfigJson {
  const value = parseJson(bytes, `image config ${label}`) as Partial<ImageConfigJson> | null;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`invalid archive: image config ${label} is not a JSON object`);
  const rootfs = value.rootfs as { type?: unknown; diff_ids?: unknown } | undefined;
  if (!rootfs || typeof rootfs !== 'object' || rootfs.type !== 'layers' || !isStringArray(rootfs.diff_ids)) {
    throw invalidArgument(`invalid archive: image config ${label} has no valid rootfs`);
  }
  const bad = rootfs.diff_ids.find((d) => !DIGEST_RE.test(d));
  if (bad !== undefined) throw invalidArgument(`invalid archive: image config ${label} has an unsupported diff_id ${JSON.stringify(bad)}`);
  if (value.os !== undefined && value.os !== '' && value.os !== 'linux') {
    throw invalidArgument(`cannot load ${String(value.os)} image on linux`);
  }
  return value as ImageConfigJson;
}

/** One image listed twice (two tags, or twice in index.json) is loaded once with all its names. */
function mergeDuplicates(plans: PlannedImage[]): PlannedImage[] {
  const byId = new Map<string, PlannedImage>();
  for (const plan of plans) {
    const seen = byId.get(plan.id);
    if (!seen) {
      byId.set(plan.id, { ...plan, names: uniqueRefs(plan.names) });
      continue;
    }
    seen.names = uniqueRefs([...seen.names, ...plan.names]);
  }
  return [...byId.values()];
}

function uniqueRefs(refs: ImageReference[]): ImageReference[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const key = fullString(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Registers an image's layers bottom-up; a chain already in the store is reused without reading. */
async function registerLayers(images: ImageService, plan: PlannedImage): Promise<void> {
  let parent: string | null = null;
  for (const [i, layer] of plan.layers.entries()) {
    const chainId = chainIdOf(parent, layer.diffId);
    if (images.layers.get(chainId) && (await images.content.has(layer.diffId))) {
      parent = chainId;
      continue;
    }
    const source = createReadStream(layer.file);
    try {
      const registered = await images.layers.register(source, parent, layer.diffId);
      parent = registered.chainId;
    } catch (err) {
      if (err instanceof BerthError && err.kind === 'InvalidArgument') {
        const detail = /digest mismatch/.test(err.message)
          ? `its content does not match diff_id ${layer.diffId} of image config ${plan.id}`
          : err.message;
        throw invalidArgument(`invalid archive: layer ${i} (${layer.label}): ${detail}`);
      }
      throw err;
    } finally {
      source.destroy();
    }
  }
}

// ---- platforms -------------------------------------------------------------------------------------

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

function normalizeArch(arch: string): string {
  const a = arch.toLowerCase();
  return ARCH_ALIASES[a] ?? a;
}

function normalizeVariant(arch: string, variant: string | undefined): string | undefined {
  if (arch === 'arm64' && (!variant || variant === '8')) return 'v8';
  if (arch === 'arm' && !variant) return 'v7';
  if (variant && /^\d+$/.test(variant)) return `v${variant}`;
  return variant || undefined;
}

export function parsePlatform(s: string): Platform {
  const [osName, arch, variant, ...rest] = s.toLowerCase().split('/');
  if (!osName || rest.length) throw invalidArgument(`invalid platform ${JSON.stringify(s)}: expected os[/arch[/variant]]`);
  if (osName !== 'linux') throw invalidArgument(`operating system is not supported: ${s}`);
  const architecture = arch ? normalizeArch(arch) : hostPlatform().architecture;
  return { os: osName, architecture, ...(variant ? { variant } : {}) };
}

function hostPlatform(): Platform {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: map[process.arch] ?? process.arch };
}

function descPlatform(p: NonNullable<Descriptor['platform']>): Platform {
  return { os: p.os ?? '', architecture: p.architecture ?? '', ...(p.variant ? { variant: p.variant } : {}) };
}

export function configPlatform(c: ImageConfigJson): Platform {
  return { os: c.os || 'linux', architecture: c.architecture ?? '', ...(c.variant ? { variant: c.variant } : {}) };
}

/** `have` satisfies `want`: same os and architecture, and the same variant when `want` names one. */
export function platformMatches(have: Platform, want: Platform): boolean {
  if ((have.os || 'linux') !== want.os) return false;
  const arch = normalizeArch(have.architecture);
  if (arch !== want.architecture) return false;
  if (!want.variant) return true;
  return normalizeVariant(arch, have.variant) === normalizeVariant(want.architecture, want.variant);
}

/** Prefers the variant the platform implies (arm64 → v8, arm → v7) when none was asked for. */
function variantRank(d: Descriptor, want: Platform): number {
  if (want.variant || !d.platform) return 0;
  const arch = normalizeArch(d.platform.architecture ?? '');
  return normalizeVariant(arch, d.platform.variant) === normalizeVariant(arch, undefined) ? 0 : 1;
}

export function formatPlatform(p: Platform): string {
  return [p.os || 'unknown', p.architecture || 'unknown', ...(p.variant ? [p.variant] : [])].join('/');
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
