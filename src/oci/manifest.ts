/**
 * Image manifests and indexes (OCI image spec, Docker schema 2): their shapes and a parser that checks
 * what the client and the server rely on. A manifest's digest is the sha256 of its exact bytes, so the
 * bytes are always kept beside the parsed value and never re-serialised.
 */
import { createHash } from 'node:crypto';
import { isIndexMediaType, MAX_MANIFEST_BYTES, MediaType } from './media-types.js';

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  features?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; digest: string; bytes: Buffer; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; digest: string; bytes: Buffer; index: ImageIndex };

/** Why a manifest was refused; the message is meant for the user. */
export class ManifestError extends Error {}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** A digest in the OCI grammar; sha256 (the only algorithm Berth computes) must be well-formed. */
export function isDigest(value: unknown): value is string {
  if (typeof value !== 'string' || !DIGEST.test(value)) return false;
  return value.startsWith('sha256:') ? SHA256.test(value) : /^sha512:[a-f0-9]{128}$/.test(value);
}

export function sha256Digest(data: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

function isDescriptor(d: unknown): d is Descriptor {
  if (!d || typeof d !== 'object') return false;
  const v = d as Record<string, unknown>;
  return typeof v.mediaType === 'string' && isDigest(v.digest) && Number.isSafeInteger(v.size) && (v.size as number) >= 0;
}

/**
 * Parses manifest bytes. `declaredType` is the Content-Type the registry (or client) sent; the body's own
 * mediaType wins when present, and the two must agree when both are manifest types.
 */
export function parseManifest(bytes: Buffer, declaredType?: string): ParsedManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ManifestError(`manifest is too large: ${bytes.length} bytes (limit ${MAX_MANIFEST_BYTES})`);
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ManifestError('manifest is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ManifestError('manifest is not a JSON object');
  const m = body as Record<string, unknown>;
  const digest = sha256Digest(bytes);
  if (m.schemaVersion === 1 || declaredType === MediaType.dockerSchema1 || declaredType === MediaType.dockerSchema1Signed) {
    throw new ManifestError('schema 1 manifests are not supported (Docker Image manifest version 2, schema 1 was removed)');
  }
  if (m.schemaVersion !== 2) throw new ManifestError('manifest has no schemaVersion 2');
  const own = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  const mediaType = own ?? (Array.isArray(m.manifests) ? MediaType.ociIndex : declaredType && declaredType !== 'application/json' ? declaredType : MediaType.ociManifest);
  if (Array.isArray(m.manifests)) {
    if (!isIndexMediaType(mediaType)) throw new ManifestError(`manifest list has media type ${mediaType}`);
    if (!m.manifests.every(isDescriptor)) throw new ManifestError('manifest list has an invalid descriptor');
    if (m.subject !== undefined && !isDescriptor(m.subject)) throw new ManifestError('manifest list has an invalid subject');
    return { kind: 'index', mediaType, digest, bytes, index: m as unknown as ImageIndex };
  }
  if (isIndexMediaType(mediaType)) throw new ManifestError('manifest list has no manifests');
  if (!isDescriptor(m.config)) throw new ManifestError('manifest has no valid config descriptor');
  if (!Array.isArray(m.layers) || !m.layers.every(isDescriptor)) throw new ManifestError('manifest has an invalid layer descriptor');
  if (m.subject !== undefined && !isDescriptor(m.subject)) throw new ManifestError('manifest has an invalid subject');
  return { kind: 'manifest', mediaType, digest, bytes, manifest: m as unknown as ImageManifest };
}

/** The artifactType the referrers API lists for a manifest (OCI distribution-spec, "Listing Referrers"). */
export function referrerArtifactType(p: ParsedManifest): string | undefined {
  if (p.kind === 'index') return p.index.artifactType;
  return p.manifest.artifactType ?? (p.manifest.config.mediaType !== MediaType.ociEmpty ? p.manifest.config.mediaType : undefined);
}

/** The subject a manifest refers to, if any. */
export function subjectOf(p: ParsedManifest): Descriptor | undefined {
  return p.kind === 'index' ? p.index.subject : p.manifest.subject;
}
