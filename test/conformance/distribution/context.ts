/**
 * What every check shares: the client, the run's repository names, content made for the run, and the
 * few push/expect helpers the checks are written with. Nothing here knows which registry it talks to.
 */
import { createHash, randomBytes } from 'node:crypto';
import { RegistryClient, header, type Answer } from './client.js';

export type Category = 'Pull' | 'Push' | 'Content Discovery' | 'Content Management';
export type Level = 'MUST' | 'SHOULD' | 'MAY';

export interface Check {
  /** category-prefix/short-name, stable across runs (allow-lists name checks by it). */
  id: string;
  category: Category;
  level: Level;
  /** The spec's words the check tests. */
  requirement: string;
  run(ctx: Context): Promise<void>;
}

/** A check that found the registry not meeting the requirement. */
export class Failure extends Error {}
/** A check that cannot say (an optional feature absent, a precondition the registry does not offer). */
export class Skip extends Error {}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const ACCEPT_MANIFESTS = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');

export function digestOf(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

export interface Blob {
  digest: string;
  bytes: Buffer;
}

export function blob(bytes: Buffer): Blob {
  return { digest: digestOf(bytes), bytes };
}

export function randomBlob(size: number): Blob {
  return blob(randomBytes(size));
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function descriptor(mediaType: string, b: Blob, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: b.digest, size: b.bytes.length, ...extra };
}

export interface Manifest {
  mediaType: string;
  bytes: Buffer;
  digest: string;
}

export function manifest(value: object, mediaType: string): Manifest {
  const bytes = Buffer.from(JSON.stringify(value));
  return { mediaType, bytes, digest: digestOf(bytes) };
}

/** An OCI image: a config and layers (random bytes; registries do not look inside layers). */
export interface Image {
  config: Blob;
  layers: Blob[];
  manifest: Manifest;
}

export function ociImage(opts: { layers?: number; subject?: Descriptor; artifactType?: string; annotations?: Record<string, string>; configType?: string } = {}): Image {
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') })));
  const layers = Array.from({ length: opts.layers ?? 2 }, () => randomBlob(1024 + Math.floor(Math.random() * 4096)));
  const m: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(opts.configType ?? OCI_CONFIG, config),
    layers: layers.map((l) => descriptor(OCI_LAYER, l)),
  };
  if (opts.artifactType) m.artifactType = opts.artifactType;
  if (opts.subject) m.subject = opts.subject;
  if (opts.annotations) m.annotations = opts.annotations;
  return { config, layers, manifest: manifest(m, OCI_MANIFEST) };
}

export function dockerImage(): Image {
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') })));
  const layers = [randomBlob(2048)];
  const m = {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST,
    config: descriptor(DOCKER_CONFIG, config),
    layers: layers.map((l) => descriptor(DOCKER_LAYER, l)),
  };
  return { config, layers, manifest: manifest(m, DOCKER_MANIFEST) };
}

export function ociIndex(manifests: Array<{ m: Manifest; platform?: object }>, extra: Record<string, unknown> = {}): Manifest {
  return manifest(
    {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: manifests.map(({ m, platform }) => ({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, ...(platform ? { platform } : {}) })),
      ...extra,
    },
    OCI_INDEX,
  );
}

/** What the seed put in the pull repository, once, for the pull and discovery checks. */
export interface Seed {
  repo: string;
  image: Image;
  tag: string;
  docker: Image;
  dockerTag: string;
  index: Manifest;
  indexTag: string;
}

export class Context {
  /** A prefix unique to this run, so runs against one registry never meet. */
  readonly prefix = 'conformance/r' + randomBytes(4).toString('hex');
  private seeded?: Promise<Seed>;

  constructor(
    readonly client: RegistryClient,
    readonly target: { name: string; url: string },
  ) {}

  randomBlob(size: number): Blob {
    return randomBlob(size);
  }

  repo(name: string): string {
    return `${this.prefix}/${name}`;
  }

  req(method: string, path: string, o: Parameters<RegistryClient['request']>[2] = {}): Promise<Answer> {
    return this.client.request(method, path, o);
  }

  getManifest(repo: string, ref: string, method = 'GET'): Promise<Answer> {
    return this.req(method, `/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT_MANIFESTS } });
  }

  putManifest(repo: string, ref: string, m: Manifest, contentType = m.mediaType): Promise<Answer> {
    return this.req('PUT', `/v2/${repo}/manifests/${ref}`, { headers: { 'Content-Type': contentType }, body: m.bytes });
  }

  /** POST then PUT; fails the check if the registry does not take it. */
  async pushBlob(repo: string, b: Blob): Promise<void> {
    const post = await this.req('POST', `/v2/${repo}/blobs/uploads/`);
    expectStatus(post, 202);
    const loc = expectHeader(post, 'Location');
    const put = await this.req('PUT', withQuery(loc, { digest: b.digest }), { headers: { 'Content-Type': 'application/octet-stream' }, body: b.bytes });
    expectStatus(put, 201);
  }

  async pushImage(repo: string, img: Image, ref: string): Promise<Answer> {
    for (const b of [img.config, ...img.layers]) await this.pushBlob(repo, b);
    const a = await this.putManifest(repo, ref, img.manifest);
    expectStatus(a, 201);
    return a;
  }

  /** The pull repository with an OCI image, a Docker schema 2 image and an OCI index, each tagged. */
  seed(): Promise<Seed> {
    this.seeded ??= (async () => {
      const repo = this.repo('pull');
      const image = ociImage();
      const docker = dockerImage();
      await this.pushImage(repo, image, 'v1');
      await this.pushImage(repo, docker, 'docker');
      const index = ociIndex([
        { m: image.manifest, platform: { architecture: 'amd64', os: 'linux' } },
        { m: docker.manifest, platform: { architecture: 'arm64', os: 'linux' } },
      ]);
      expectStatus(await this.putManifest(repo, 'index', index), 201);
      return { repo, image, tag: 'v1', docker, dockerTag: 'docker', index, indexTag: 'index' };
    })().catch((e: unknown) => {
      throw new Failure(`setup (push of the pull repository) failed: ${(e as Error).message}`);
    });
    return this.seeded;
  }
}

export function withQuery(location: string, q: Record<string, string>): string {
  const u = new URL(location, 'http://placeholder');
  for (const [k, v] of Object.entries(q)) u.searchParams.append(k, v);
  // Keep a relative Location relative; the client resolves it against the registry.
  return /^[a-z]+:\/\//i.test(location) ? u.href : u.pathname + u.search;
}

function describe(a: Answer): string {
  const u = new URL(a.url);
  let body = a.body.subarray(0, 300).toString('utf8').replace(/\s+/g, ' ').trim();
  if (a.body.length > 300) body += '…';
  let where = u.pathname + u.search;
  if (where.length > 140) where = where.slice(0, 90) + '…' + where.slice(-40);
  return `${where} answered ${a.status}${body ? ` ${body}` : ''}`;
}

export function expectStatus(a: Answer, ...want: number[]): void {
  if (!want.includes(a.status)) throw new Failure(`expected ${want.join(' or ')}: ${describe(a)}`);
  if (a.truncated) throw new Failure(`${describe(a)}, but the body was cut short: ${a.truncated}`);
}

export function expectHeader(a: Answer, name: string): string {
  const v = header(a, name);
  if (!v) throw new Failure(`no ${name} header: ${describe(a)}`);
  return v;
}

export function expect(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Failure(what);
}

export function expectEqual<T>(got: T, want: T, what: string): void {
  if (got !== want) throw new Failure(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

/** The spec's error body: {"errors":[{"code","message"}]} with `code` among the expected ones. */
export function expectErrorCode(a: Answer, ...codes: string[]): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(a.body.toString('utf8'));
  } catch {
    throw new Failure(`expected a JSON error body with ${codes.join(' or ')}: ${describe(a)}`);
  }
  const errors = (parsed as { errors?: unknown }).errors;
  if (!Array.isArray(errors) || errors.length === 0) throw new Failure(`no "errors" array: ${describe(a)}`);
  const got = errors.map((e) => (e as { code?: unknown }).code);
  if (!got.some((c) => typeof c === 'string' && codes.includes(c))) throw new Failure(`expected error code ${codes.join(' or ')}, got ${JSON.stringify(got)}: ${describe(a)}`);
}

export function jsonOf<T>(a: Answer): T {
  try {
    return JSON.parse(a.body.toString('utf8')) as T;
  } catch {
    throw new Failure(`body is not JSON: ${describe(a)}`);
  }
}

export function mediaTypeOf(a: Answer): string {
  return header(a, 'Content-Type').split(';')[0]!.trim();
}

export { header, describe };
