/**
 * A service's volumes, secrets and configs as the container create body carries them, the way docker
 * compose v2 splits them (pkg/compose/create.go buildContainerVolumes): a bind whose options the old
 * `Binds` syntax can say (create_host_path, no propagation or recursive option) and a named volume
 * without nocopy/subpath/labels go to HostConfig.Binds as `source:target:rw|ro[,opts]`; everything else
 * (anonymous volumes, tmpfs, binds that must not create their source, secrets and configs) goes to
 * HostConfig.Mounts.
 *
 * Secrets and configs from files are read-only binds: secrets at /run/secrets/<target or key>,
 * configs at /<target or key>. Those from `environment:` or `content:` have no file: like docker
 * compose, the engine writes them into the container after create and before start (PUT archive at
 * `/`); they are returned as InjectedFile entries for that.
 */
import path from 'node:path';
import type { ComposeProject, FileObjectConfig, ServiceConfig, ServiceFileRef, VolumeMount } from '../types.js';
import { ComposeError } from '../errors.js';
import { parseBytes } from '../units.js';

export interface ApiMount {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean; NonRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Subpath?: string; Labels?: Record<string, string> };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** A secret or config file the engine copies into the created container (docker compose's injectSecrets). */
export interface InjectedFile {
  /** Absolute path in the container. */
  path: string;
  content: string;
  /** Default 0o444, as docker compose. */
  mode: number;
  uid: number;
  gid: number;
}

export interface ServiceMounts {
  binds: string[];
  mounts: ApiMount[];
  files: InjectedFile[];
}

function bindString(source: string, v: VolumeMount): string {
  const options = [v.read_only ? 'ro' : 'rw'];
  if (v.bind?.selinux) options.push(v.bind.selinux);
  if (v.bind?.propagation) options.push(v.bind.propagation);
  if (v.volume?.nocopy) options.push('nocopy');
  return `${source}:${v.target}:${options.join(',')}`;
}

function bindNeedsMountApi(v: VolumeMount): boolean {
  const bind = v.bind;
  if (!bind) return false;
  return bind.create_host_path === false || Boolean(bind.propagation) || (bind.recursive !== undefined && bind.recursive !== 'enabled');
}

function volumeNeedsMountApi(v: VolumeMount): boolean {
  const vol = v.volume;
  if (!vol) return false;
  return Boolean(vol.nocopy) || Boolean(vol.subpath) || (typeof vol.labels === 'object' && vol.labels !== null && Object.keys(vol.labels).length > 0);
}

function volumeMount(project: ComposeProject, service: ServiceConfig, v: VolumeMount): ApiMount | string {
  const where = `service "${service.name}"`;
  switch (v.type) {
    case 'bind': {
      const source = path.resolve(project.workingDir, v.source ?? '');
      if (!bindNeedsMountApi(v)) return bindString(source, v);
      const bindOptions: ApiMount['BindOptions'] = { CreateMountpoint: v.bind?.create_host_path !== false };
      if (v.bind?.propagation) bindOptions.Propagation = v.bind.propagation;
      if (v.bind?.recursive === 'disabled') bindOptions.NonRecursive = true;
      return { Type: 'bind', Source: source, Target: v.target, ...(v.read_only ? { ReadOnly: true } : {}), BindOptions: bindOptions };
    }
    case 'volume': {
      if (v.source) {
        const name = project.volumes[v.source]?.name ?? v.source;
        if (!volumeNeedsMountApi(v)) return bindString(name, v);
        const options: NonNullable<ApiMount['VolumeOptions']> = {};
        if (v.volume?.nocopy) options.NoCopy = true;
        if (v.volume?.subpath) options.Subpath = v.volume.subpath;
        if (v.volume?.labels) options.Labels = v.volume.labels as Record<string, string>;
        return { Type: 'volume', Source: name, Target: v.target, ...(v.read_only ? { ReadOnly: true } : {}), VolumeOptions: options };
      }
      // Anonymous: always the Mount API (a Binds entry needs a source).
      return { Type: 'volume', Source: '', Target: v.target, ...(v.volume?.nocopy ? { VolumeOptions: { NoCopy: true } } : {}) };
    }
    case 'tmpfs': {
      const options: NonNullable<ApiMount['TmpfsOptions']> = {};
      if (v.tmpfs?.size !== undefined) options.SizeBytes = parseBytes(v.tmpfs.size, `${where}: tmpfs size`);
      if (v.tmpfs?.mode !== undefined) options.Mode = Number(v.tmpfs.mode);
      return { Type: 'tmpfs', Target: v.target, ...(v.read_only ? { ReadOnly: true } : {}), ...(Object.keys(options).length ? { TmpfsOptions: options } : {}) };
    }
    default:
      // assertSupported refuses these before any request is made; this guards direct callers.
      throw new ComposeError(`service "${service.name}": volume type "${v.type}" is not supported by Berth`);
  }
}

function fileTarget(ref: ServiceFileRef, base: '/run/secrets/' | '/'): string {
  if (!ref.target) return base + ref.source;
  return ref.target.startsWith('/') ? ref.target : base + ref.target;
}

function idOf(value: string | undefined, what: string): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ComposeError(`invalid ${what} ${JSON.stringify(value)}`);
  return n;
}

function fileContent(project: ComposeProject, def: FileObjectConfig, kind: 'secret' | 'config'): string | undefined {
  if (typeof def.content === 'string') return def.content;
  if (typeof def.environment === 'string') {
    const value = project.environment[def.environment];
    if (value === undefined) throw new ComposeError(`environment variable ${JSON.stringify(def.environment)} required by ${kind} ${JSON.stringify(def.name)} is not set`);
    return value;
  }
  return undefined;
}

function fileObjectMounts(project: ComposeProject, service: ServiceConfig, kind: 'secret' | 'config', out: ServiceMounts, taken: Set<string>): void {
  const refs = (kind === 'secret' ? service.secrets : service.configs) ?? [];
  const defs = kind === 'secret' ? project.secrets : project.configs;
  const base = kind === 'secret' ? '/run/secrets/' : '/';
  for (const ref of refs) {
    const def = defs[ref.source];
    if (!def) throw new ComposeError(`service "${service.name}" refers to undefined ${kind} ${ref.source}: invalid compose project`);
    if (def.external) throw new ComposeError(`unsupported external ${kind} ${def.name}`);
    const target = fileTarget(ref, base);
    if (taken.has(target)) continue; // a volume at the same target wins, as in docker compose
    taken.add(target);
    const content = fileContent(project, def, kind);
    if (content !== undefined) {
      if (service.read_only) {
        throw new ComposeError(`cannot create ${kind} ${JSON.stringify(def.name)} in read-only service ${service.name}: \`file\` is the sole supported option`);
      }
      out.files.push({ path: target, content, mode: ref.mode ?? 0o444, uid: idOf(ref.uid, 'uid'), gid: idOf(ref.gid, 'gid') });
      continue;
    }
    if (typeof def.file !== 'string') throw new ComposeError(`${kind} ${JSON.stringify(def.name)} has neither file, environment nor content`);
    out.mounts.push({ Type: 'bind', Source: def.file, Target: target, ReadOnly: true, BindOptions: { CreateMountpoint: false } });
  }
}

/** Binds, Mounts and files to inject for one container of `service`. */
export function serviceMounts(project: ComposeProject, service: ServiceConfig): ServiceMounts {
  const out: ServiceMounts = { binds: [], mounts: [], files: [] };
  const taken = new Set<string>();
  for (const v of service.volumes) {
    taken.add(v.target);
    const m = volumeMount(project, service, v);
    if (typeof m === 'string') out.binds.push(m);
    else out.mounts.push(m);
  }
  fileObjectMounts(project, service, 'secret', out, taken);
  fileObjectMounts(project, service, 'config', out, taken);
  return out;
}

/** HostConfig.Tmpfs from the `tmpfs:` key (`/path[:options]`). */
export function tmpfsMap(entries: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf(':');
    if (at < 0) out[entry] = '';
    else out[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return out;
}
