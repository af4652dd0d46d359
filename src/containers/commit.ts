/**
 * `docker commit`: a new image from a container's writable layer on top of its image, as dockerd's
 * CreateImageFromContainer + CommitImage do:
 *  - the container is paused for the commit unless pause=false (and only if it runs and is not paused);
 *  - the config is the given one (API body) or the container's, with `changes` (Dockerfile lines) applied,
 *    then completed from the container's config (dockerd's merge);
 *  - the layer is the upper dir as an OCI changeset (whiteouts as `.wh.` entries), without the mount
 *    points runc made (changes.ts); an empty changeset adds no layer and marks its history entry empty;
 *  - history gets {created, created_by: the container's Cmd joined by spaces, author, comment};
 *  - the image is tagged (an image `tag` event) and the container emits `commit` with comment, imageID
 *    and imageRef.
 * The layer is read through a ScopedRoot, so a running container that is not paused cannot make the commit
 * read files outside its upper dir by swapping directories for symlinks.
 */
import type { ContainerService } from './service.js';
import type { Container } from './model.js';
import type { ContainerConfig } from '../runtime/spec/index.js';
import type { ImageConfigJson } from '../images/model.js';
import type { Layer } from '../layers/store.js';
import { applyChanges, type ImageRunConfig } from '../images/changes.js';
import { familiarString, parseReference, validateTag, type ImageReference } from '../images/reference.js';
import { listOpaqueDirs } from '../layers/overlay-tools.js';
import { ScopedRoot } from './scoped-fs.js';
import { tarTarget } from './tar-writer.js';
import { RuntimeArtifacts, lowerLayersOf } from './changes.js';
import { ownerMaps } from './archive.js';
import { conflict, invalidArgument, messageOf } from '../lib/errors.js';
import { log } from '../lib/log.js';

/** The diffID of an empty tar (1024 zero bytes): Docker's layer.EmptyLayer. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  pause: boolean;
  changes: string[];
  /** Container config overrides from the request body (null/undefined: the container's own). */
  config?: ContainerConfig | null;
}

export async function commitContainer(svc: ContainerService, opts: CommitOptions): Promise<string> {
  const c = svc.resolve(opts.container);
  const target = opts.repo ? commitTarget(opts.repo, opts.tag) : undefined;
  if (c.state.Dead) throw conflict(`You cannot commit container ${c.id} which is Dead`);
  if (c.state.Status === 'removing') throw conflict(`You cannot commit container ${c.id} which is being removed`);
  // Fails on bad change lines before anything is paused or written.
  const config = commitConfig(c, opts.config ?? null, opts.changes);

  let paused = false;
  if (opts.pause && c.state.Running && !c.state.Restarting && !c.state.Paused) {
    try {
      await svc.pause(c.id);
      paused = true;
    } catch (err) {
      log.debug('commit: pausing the container failed', { id: c.id, error: messageOf(err) });
    }
  }
  let id: string;
  let emptyLayer = false;
  try {
    id = await svc.images.writing(async () => {
      const diffId = await registerLayer(svc, c);
      emptyLayer = diffId === EMPTY_LAYER_DIFF_ID;
      const image = buildImageConfig(svc, c, config, diffId, opts);
      // dockerd records the container's image as the new image's parent (inspect, history).
      return svc.images.register(image, { parent: svc.images.store.get(c.imageId) ? c.imageId : undefined });
    });
  } finally {
    if (paused) await svc.unpause(c.id).catch((err) => log.warn('commit: unpausing the container failed', { id: c.id, error: messageOf(err) }));
  }
  // An empty changeset was registered as a layer that the image does not use: let it go.
  if (emptyLayer) await svc.images.collectGarbage().catch((err) => log.warn('commit: collecting an unused layer failed', { error: messageOf(err) }));
  let imageRef = '';
  if (target) {
    svc.images.tag(id, repositoryOf(target), target.tag);
    imageRef = familiarString(target);
  }
  svc.emit(c, 'commit', { comment: opts.comment ?? '', imageID: id, imageRef });
  return id;
}

/** The repo/tag to tag the image with, checked as dockerd's RepoTagReference does. */
function commitTarget(repo: string, tag?: string): ImageReference {
  const ref = parseReference(repo);
  if (ref.digest) throw invalidArgument('cannot commit to a digest reference');
  if (tag) validateTag(tag);
  return { domain: ref.domain, path: ref.path, tag: tag || ref.tag || 'latest' };
}

function repositoryOf(r: ImageReference): string {
  return familiarString({ domain: r.domain, path: r.path });
}

/**
 * dockerd's BuildFromConfig (changes applied to the given config, or to the container's) followed by its
 * merge with the container's config.
 */
export function commitConfig(c: Container, given: ContainerConfig | null, changes: string[]): ContainerConfig {
  const base = structuredClone(given ?? c.config) as ImageRunConfig;
  const changed = applyChanges(base, changes) as ContainerConfig;
  const instructions = changes.map((l) => l.trim().split(/\s+/)[0]?.toUpperCase());
  // An ENTRYPOINT without a CMD among the changes clears the command, as in a Dockerfile.
  if (instructions.includes('ENTRYPOINT') && !instructions.includes('CMD')) changed.Cmd = null;
  return mergeContainerConfig(changed, c.config);
}

/** dockerd's daemon/commit.go merge: fills what `user` leaves empty from the container's config. */
export function mergeContainerConfig(user: ContainerConfig, ctr: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = { ...user };
  if (!out.User) out.User = ctr.User;
  const ports = (out.ExposedPorts ?? {}) as Record<string, object>;
  if (!Object.keys(ports).length) out.ExposedPorts = ctr.ExposedPorts;
  else out.ExposedPorts = { ...((ctr.ExposedPorts ?? {}) as Record<string, object>), ...ports };
  if (!out.Env?.length) out.Env = ctr.Env;
  else {
    const keys = new Set(out.Env.map((e) => e.split('=')[0]));
    out.Env = [...out.Env, ...(ctr.Env ?? []).filter((e) => !keys.has(e.split('=')[0]))];
  }
  out.Labels = { ...(ctr.Labels ?? {}), ...(out.Labels ?? {}) };
  if (!out.Entrypoint?.length) {
    if (!out.Cmd?.length) out.Cmd = ctr.Cmd;
    if (out.Entrypoint === undefined || out.Entrypoint === null) out.Entrypoint = ctr.Entrypoint;
  }
  if (out.Healthcheck === undefined || out.Healthcheck === null) out.Healthcheck = ctr.Healthcheck;
  if (!out.WorkingDir) out.WorkingDir = ctr.WorkingDir;
  const volumes = (out.Volumes ?? {}) as Record<string, object>;
  if (!Object.keys(volumes).length) out.Volumes = ctr.Volumes;
  else out.Volumes = { ...volumes, ...((ctr.Volumes ?? {}) as Record<string, object>) };
  if (!out.StopSignal) out.StopSignal = ctr.StopSignal;
  return out;
}

/** Registers the writable layer on top of the container's image layers; returns its diffID. */
async function registerLayer(svc: ContainerService, c: Container): Promise<string> {
  return (await registerContainerLayer(svc, c)).diffId;
}

/**
 * The container's writable layer as an OCI changeset, registered on top of its image's layers (commit,
 * and the builder's RUN steps). An empty changeset still registers the empty layer: callers that do not
 * use it leave it to garbage collection.
 */
export async function registerContainerLayer(svc: ContainerService, c: Container): Promise<Layer> {
  const upper = svc.runner.paths(c.id).upper;
  const opaque = await listOpaqueDirs(upper);
  const scoped = await ScopedRoot.open(upper);
  try {
    const artifacts = new RuntimeArtifacts(scoped, lowerLayersOf(svc, c));
    const tar = tarTarget(scoped, { kind: 'dir', dir: scoped.root, path: '/' }, {
      prefix: '',
      opaque,
      skip: (rel, st, parent) => artifacts.hidden(parent, rel, st),
      // The layer store shifts a new layer's owners itself under --userns-remap: the tar holds the container's.
      owners: ownerMaps(svc).toContainer,
    });
    try {
      return await svc.images.layers.register(tar, c.topChainId);
    } finally {
      tar.destroy();
      await tar.settled;
    }
  } finally {
    await scoped.close();
  }
}

function buildImageConfig(svc: ContainerService, c: Container, config: ContainerConfig, diffId: string, opts: CommitOptions): ImageConfigJson {
  const parent = svc.images.store.get(c.imageId)?.config;
  const empty = diffId === EMPTY_LAYER_DIFF_ID;
  const created = new Date().toISOString();
  const diffIds = parent ? [...parent.rootfs.diff_ids] : chainDiffIds(svc, c.topChainId);
  if (!empty) diffIds.push(diffId);
  const history: NonNullable<ImageConfigJson['history']> = [
    ...(parent?.history ?? []),
    {
      created,
      ...(opts.author ? { author: opts.author } : {}),
      created_by: (c.config.Cmd ?? []).join(' '),
      ...(opts.comment ? { comment: opts.comment } : {}),
      ...(empty ? { empty_layer: true } : {}),
    },
  ];
  return {
    architecture: parent?.architecture ?? 'amd64',
    ...(parent?.variant ? { variant: parent.variant } : {}),
    ...(opts.author ? { author: opts.author } : {}),
    config: stripUndefined(config) as ImageRunConfig,
    container: c.id,
    created,
    history,
    os: parent?.os ?? 'linux',
    ...(parent?.['os.version'] ? { 'os.version': parent['os.version'] } : {}),
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
}

/** Diff ids of a layer chain, bottom first (when the image itself was removed). */
function chainDiffIds(svc: ContainerService, top: string | null): string[] {
  const out: string[] = [];
  for (let l = top ? svc.images.layers.get(top) : undefined; l; l = l.parent ? svc.images.layers.get(l.parent) : undefined) out.unshift(l.diffId);
  return out;
}

function stripUndefined<T extends object>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}
