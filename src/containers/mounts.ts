import fsSync, { promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import type { Container } from './model.js';
import type { ContainerRunner } from './runner.js';
import type { VolumeService } from '../volumes/service.js';
import type { UserMount } from '../runtime/spec/index.js';
import { resolveInRootfs } from '../runtime/user.js';
import { copyUp } from '../volumes/copy-up.js';
import { mountFilesystem, unmount } from '../layers/mount.js';
import { BerthError, invalidArgument, isKind, messageOf, notFound } from '../lib/errors.js';
import { log, debugIgnored } from '../lib/log.js';
import { KeyedMutex } from '../lib/mutex.js';

/**
 * One mount of a container, as recorded with it (Docker's MountPoint). Binds and volumes are resolved
 * to host paths at create; a volume's Source is its mountpoint.
 */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Volume name (volumes only). */
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  /** The mode as the user wrote it after -v's second colon; 'z' for named local volumes without one. */
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Fill the volume from the image at create when it is empty (not for volume-nocopy nor volumes-from). */
  CopyData?: boolean;
  /** Given without a source (image VOLUME, -v /path, --mount type=volume without source): `rm -v` removes it. */
  Anonymous?: boolean;
  /** From Config.Volumes (an image VOLUME or -v /path). */
  FromImage?: boolean;
  /** The host path is made as a directory at start when missing (-v binds, BindOptions.CreateMountpoint). */
  CreateSource?: boolean;
  NonRecursive?: boolean;
  /** tmpfs options from TmpfsOptions and ReadOnly, in HostConfig.Tmpfs' syntax. */
  TmpfsData?: string;
  /** VolumeOptions.Subpath: only this part of the volume is mounted (Docker 26+). */
  Subpath?: string;
  /** The volume plugin's mount id of the running container's current start (Docker's MountPoint.ID). */
  ID?: string;
}

/** HostConfig.Mounts entries (Engine API Mount). */
export interface ApiMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean; ReadOnlyNonRecursive?: boolean; ReadOnlyForceRecursive?: boolean } | null;
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string> | null;
    DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null;
    Subpath?: string;
  } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: unknown } | null;
  ImageOptions?: unknown;
}

/** A volume a mount point needs, to be created (or found) at container create. */
interface VolumeWant {
  driver?: string;
  driverOpts?: Record<string, string> | null;
  labels?: Record<string, string> | null;
  /** Only look it up (volumes-from): it exists, another container uses it. */
  existing?: boolean;
}

/** Linux O_PATH (Node has no constant for it): a descriptor that names a file without opening it. */
const O_PATH = 0o10000000;

type Planned = MountPoint & { want?: VolumeWant };

/** What `register` did, so that create can undo it or let go of its references. */
export interface MountRegistration {
  /** Removes the volumes this registration created (those nobody else took meanwhile). */
  rollback(): Promise<void>;
  /** Drops the references held while the container was being created. */
  release(): void;
}

const PROPAGATION_MODES = ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared'];
const RW_MODES = ['rw', 'ro'];
const LABEL_MODES = ['z', 'Z'];
const CONSISTENCY_MODES = ['consistent', 'cached', 'delegated'];
const DEFAULT_PROPAGATION = 'rprivate';

/**
 * Turns a container's Binds, Mounts, VolumesFrom, Tmpfs and image VOLUMEs into mount points at create
 * (creating the volumes they name, filling empty ones from the image), into runc mounts at start
 * (mounting volumes that need it, making missing -v host paths), and gives the volumes back at exit.
 * Lifecycle: one per containers service; `restore` rebuilds the in-memory mount counts at daemon start.
 */
export class ContainerMounts {
  /** Volumes each running container has mounted. */
  private readonly active = new Map<string, string[]>();
  private readonly copying = new KeyedMutex();
  /** Staging mounts of volume subpaths, per container (mountSubpath). */
  private readonly subpathMounts = new Map<string, string[]>();
  constructor(
    readonly volumes: VolumeService,
    private readonly lookup: (ref: string) => Container,
    /** Where volume subpaths are staged (<exec-root>/subpaths). */
    private readonly stagingDir?: string,
  ) {}

  // ---- create ---------------------------------------------------------------------------------

  /**
   * Validates the container's mount options with Docker's wording, creates the volumes they name and
   * sets `c.mountPoints`. On failure nothing it created is left.
   */
  async register(c: Container): Promise<MountRegistration> {
    const hc = c.hostConfig;
    const binds = stringList(hc.Binds, 'Binds');
    const mounts = mountList(hc.Mounts);
    const volumesFrom = stringList(hc.VolumesFrom, 'VolumesFrom');
    const volumeDriver = typeof hc.VolumeDriver === 'string' ? hc.VolumeDriver : '';
    const tmpfsDests = new Set(Object.keys(hc.Tmpfs ?? {}).map((d) => cleanPath(d)));

    // Plan everything first (no side effects), as Docker's registerMountPoints orders it.
    const planned = new Map<string, Planned>();
    for (const spec of volumesFrom) {
      const [ref, mode] = parseVolumesFrom(spec);
      // dockerd answers 400 (not 404) for a --volumes-from container that does not exist.
      const source = (() => {
        try {
          return this.lookup(ref);
        } catch (err) {
          throw isKind(err, 'NotFound') ? invalidArgument(err.message) : err;
        }
      })();
      for (const m of source.mountPoints ?? []) {
        const copy: Planned = { ...m, Mode: '', RW: m.RW && readWrite(mode), CopyData: false, FromImage: false };
        if (m.Type === 'volume') copy.want = { existing: true };
        planned.set(m.Destination, copy);
      }
    }
    const bindDests = new Set<string>();
    for (const raw of binds) {
      const mp = parseBindSpec(raw, volumeDriver);
      if (bindDests.has(mp.Destination) || tmpfsDests.has(mp.Destination)) throw invalidArgument(`Duplicate mount point: ${mp.Destination}`);
      bindDests.add(mp.Destination);
      planned.set(mp.Destination, mp);
    }
    for (const cfg of mounts) {
      const mp = parseMountSpec(cfg, true);
      if (bindDests.has(mp.Destination)) throw invalidArgument(`Duplicate mount point: ${cfg.Target}`);
      bindDests.add(mp.Destination);
      planned.set(mp.Destination, mp);
    }
    for (const spec of Object.keys((c.config.Volumes as Record<string, unknown> | null | undefined) ?? {})) {
      const dest = cleanPath(spec);
      if (planned.has(dest) || tmpfsDests.has(dest)) continue;
      validateTarget(dest, 'volume');
      planned.set(dest, {
        Type: 'volume',
        Name: '',
        Source: '',
        Destination: dest,
        Driver: volumeDriver || 'local',
        Mode: '',
        RW: true,
        Propagation: '',
        CopyData: true,
        Anonymous: true,
        FromImage: true,
        want: { driver: volumeDriver },
      });
    }

    // Then create (or find) the volumes, holding a reference for this container until it is saved.
    const created: string[] = [];
    const held: string[] = [];
    const registration: MountRegistration = {
      rollback: async () => {
        for (const name of held.splice(0)) this.volumes.release(name, c.id);
        for (const name of created.splice(0).reverse()) {
          await this.volumes.remove(name).catch((err) => {
            if (!isKind(err, 'Conflict')) log.warn('removing a volume after a failed create failed', { volume: name, error: messageOf(err) });
          });
        }
      },
      release: () => {
        for (const name of held.splice(0)) this.volumes.release(name, c.id);
      },
    };
    const points: MountPoint[] = [];
    try {
      for (const mp of planned.values()) {
        const { want, ...point } = mp;
        if (point.Type === 'volume' && want) {
          if (want.existing) {
            this.volumes.get(point.Name!);
            // A reference for the time until the record is saved (the source container could go).
            await this.volumes.create({ name: point.Name!, ref: c.id });
            held.push(point.Name!);
          } else {
            const r = await this.volumes.create({ name: point.Name, driver: want.driver, driverOpts: want.driverOpts, labels: want.labels, ref: c.id });
            held.push(r.volume.name);
            if (r.created) created.push(r.volume.name);
            point.Name = r.volume.name;
            point.Driver = r.volume.driver;
            point.Source = this.volumes.sourceOf(r.volume);
            if (point.Mode === '' && !point.FromImage) point.Mode = 'z'; // Docker's setBindModeIfNull
          }
        }
        points.push(point);
      }
    } catch (err) {
      await registration.rollback();
      throw err;
    }
    c.mountPoints = points;
    return registration;
  }

  /**
   * Fills empty volumes from the image's content at their destination (Docker's copy-up, at create):
   * mounts the container's rootfs only when some volume wants it.
   */
  async populate(c: Container, runner: ContainerRunner): Promise<void> {
    const wanted = (c.mountPoints ?? []).filter((m) => m.Type === 'volume' && m.CopyData && m.Name);
    if (!wanted.length) return;
    const p = runner.paths(c.id);
    const rootfs = await runner.mountRootfs(c);
    try {
      for (const m of wanted) {
        let src: string;
        try {
          src = resolveInRootfs(rootfs, m.Destination);
        } catch {
          continue; // destination escapes the rootfs: nothing to copy up
        }
        const st = await fs.lstat(src).catch(() => undefined); // missing: nothing to copy up
        if (!st) continue;
        if (!st.isDirectory()) {
          if (m.FromImage) throw invalidArgument(`cannot mount volume over existing file, file exists ${src}`);
          continue;
        }
        // One copy at a time per volume: two creates must not both find it empty.
        await this.copying.run(m.Name!, async () => {
          const data = await this.volumes.mount(m.Name!);
          try {
            await copyUp(src, data);
          } finally {
            await this.volumes.unmount(m.Name!);
          }
        });
      }
    } finally {
      await unmount(rootfs);
      await fs.rm(p.bundle, { recursive: true, force: true });
    }
  }

  // ---- start / exit ---------------------------------------------------------------------------

  /**
   * Mounts for the OCI spec: binds (a missing -v host path is made), volumes (mounted by their driver
   * when they need it), and tmpfs mounts from HostConfig.Mounts (merged into HostConfig.Tmpfs by the
   * caller). On failure, what it mounted is given back.
   */
  async setup(c: Container): Promise<{ mounts: UserMount[]; tmpfs: Record<string, string> }> {
    await this.release(c);
    const mounts: UserMount[] = [];
    const tmpfs: Record<string, string> = {};
    const mounted: string[] = [];
    const subpaths: string[] = [];
    this.subpathMounts.set(c.id, subpaths);
    try {
      for (const m of c.mountPoints ?? []) {
        if (m.Type === 'tmpfs') {
          tmpfs[m.Destination] = m.TmpfsData ?? '';
          continue;
        }
        let source = m.Source;
        if (m.Type === 'bind') {
          if (m.CreateSource) await mkdirIfMissing(m.Source);
        } else {
          source = await this.volumes.mount(m.Name!, { container: c.id, destination: m.Destination, 'read/write': String(m.RW), propagation: m.Propagation });
          mounted.push(m.Name!);
          if (m.Driver && m.Driver !== 'local') {
            m.Source = source; // a plugin's mountpoint is known once mounted
            m.ID = this.volumes.mountIdOf(m.Name!, c.id); // saved with the record: a restarted daemon unmounts with it
          }
          if (m.Subpath) source = await this.mountSubpath(c.id, subpaths, source, m.Subpath);
        }
        mounts.push({ source, destination: m.Destination, writable: m.RW, propagation: m.Propagation || undefined, nonRecursive: m.NonRecursive });
      }
    } catch (err) {
      await this.unmountSubpaths(c.id);
      for (const name of mounted.reverse()) await this.volumes.unmount(name, { container: c.id }).catch(debugIgnored('releasing a volume after a failed mount failed'));
      throw err;
    }
    if (mounted.length) this.active.set(c.id, mounted);
    return { mounts, tmpfs };
  }

  /**
   * A volume subpath, as dockerd's safepath: the path is opened first and checked through its file
   * descriptor to lie inside the volume (a symlink cannot lead out), then that very file is bind
   * mounted at a staging point, which runc mounts. Missing: 404; escaping the volume: 400.
   */
  private async mountSubpath(id: string, staged: string[], volumePath: string, subpath: string): Promise<string> {
    const full = path.join(volumePath, subpath);
    const wrap = (msg: string) => `error while mounting volume '${volumePath}': ${msg}`;
    let fd: number;
    try {
      fd = fsSync.openSync(full, O_PATH); // libuv adds O_CLOEXEC
    } catch (err) {
      const cause = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : messageOf(err);
      throw notFound(wrap(`cannot access path ${full}: ${cause}`));
    }
    try {
      const real = fsSync.readlinkSync(`/proc/self/fd/${fd}`);
      const root = fsSync.realpathSync(volumePath);
      if (real !== root && !real.startsWith(root + '/')) {
        throw invalidArgument(wrap(`path concatenation escapes the base directory, base: ${volumePath}, subpath: ${subpath}`));
      }
      const isDir = fsSync.fstatSync(fd).isDirectory();
      if (!this.stagingDir) throw new BerthError('Internal', 'no staging directory for volume subpaths');
      await fs.mkdir(this.stagingDir, { recursive: true, mode: 0o700 });
      const target = path.join(this.stagingDir, `${id}-${staged.length}`);
      if (isDir) await fs.mkdir(target, { recursive: true });
      else await fs.writeFile(target, '');
      staged.push(target);
      await mountFilesystem(`/proc/${process.pid}/fd/${fd}`, target, '', 'bind');
      return target;
    } finally {
      fsSync.closeSync(fd);
    }
  }

  /**
   * Undoes mountSubpath's staging mounts, found by name (they outlive a daemon restart); the staging
   * points are removed without recursion.
   */
  private async unmountSubpaths(id: string): Promise<void> {
    this.subpathMounts.delete(id);
    const names = this.stagingDir ? await fs.readdir(this.stagingDir).catch(() => [] as string[]) : []; // no staging directory: nothing staged
    const staged = names.filter((n) => n.startsWith(`${id}-`)).sort().map((n) => path.join(this.stagingDir!, n));
    for (const target of staged.reverse()) {
      await unmount(target).catch((err) => log.warn('unmounting a volume subpath failed', { id, target, error: messageOf(err) }));
      await fs.rmdir(target).catch(() => fs.unlink(target)).catch(debugIgnored('removing a volume subpath mount point failed'));
    }
  }

  /** Gives back the volumes a container mounted (at exit, or after a failed start). Idempotent. */
  async release(c: Container): Promise<void> {
    await this.unmountSubpaths(c.id);
    const names = this.active.get(c.id);
    if (!names) return;
    this.active.delete(c.id);
    for (const name of names) {
      await this.volumes.unmount(name, { container: c.id }).catch((err) => log.warn('unmounting a volume failed', { volume: name, id: c.id, error: messageOf(err) }));
    }
  }

  /** At daemon start: containers still running hold their volumes. */
  async restore(running: Container[]): Promise<void> {
    const counts = new Map<string, number>();
    for (const c of running) {
      const names = (c.mountPoints ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name!);
      if (!names.length) continue;
      this.active.set(c.id, names);
      for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
      for (const m of c.mountPoints ?? []) if (m.Type === 'volume' && m.Name && m.ID) this.volumes.adoptMount(m.Name, c.id, m.ID);
    }
    await this.volumes.restoreMounts(counts);
  }

  // ---- remove ---------------------------------------------------------------------------------

  /** `rm -v`: the container's anonymous volumes go, unless another container uses them; named ones stay. */
  async removeAnonymous(c: Container): Promise<void> {
    for (const m of c.mountPoints ?? []) {
      if (m.Type !== 'volume' || !m.Anonymous || !m.Name) continue;
      await this.volumes.remove(m.Name).catch((err) => {
        if (!isKind(err, 'Conflict') && !isKind(err, 'NotFound')) log.warn('removing an anonymous volume failed', { volume: m.Name, error: messageOf(err) });
      });
    }
  }
}

// ---- views ------------------------------------------------------------------------------------------

/** The Mounts of container inspect and of GET /containers/json. */
export function mountsView(c: Container): Array<Record<string, unknown>> {
  return (c.mountPoints ?? []).map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

// ---- parsing (Docker's linux parser) ----------------------------------------------------------------

function stringList(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw invalidArgument(`invalid ${field}: expected a list of strings`);
  return v as string[];
}

function mountList(v: unknown): ApiMount[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((m) => !m || typeof m !== 'object')) throw invalidArgument('invalid Mounts: expected a list of mounts');
  return v as ApiMount[];
}

export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = { rw: 0, label: 0, propagation: 0, copy: 0, consistency: 0 };
  for (const o of mode.split(',')) {
    if (RW_MODES.includes(o)) counts.rw++;
    else if (LABEL_MODES.includes(o)) counts.label++;
    else if (PROPAGATION_MODES.includes(o)) counts.propagation++;
    else if (o === 'nocopy') counts.copy++;
    else if (CONSISTENCY_MODES.includes(o)) counts.consistency++;
    else return false;
  }
  return Object.values(counts).every((n) => n <= 1);
}

function readWrite(mode: string): boolean {
  if (!validMountMode(mode)) return false;
  return !mode.split(',').includes('ro');
}

function propagationOf(mode: string): string | undefined {
  return mode.split(',').find((o) => PROPAGATION_MODES.includes(o));
}

const invalidSpec = (raw: string) => `invalid volume specification: '${raw}'`;

/** `-v` / HostConfig.Binds: [source:]destination[:mode]. */
export function parseBindSpec(raw: string, volumeDriver = ''): Planned {
  const arr = raw.split(':');
  if (arr[0] === '') throw invalidArgument(invalidSpec(raw));
  let source = '';
  let target = '';
  let mode = '';
  switch (arr.length) {
    case 1:
      target = arr[0]!;
      break;
    case 2:
      // destination + mode is no volume: volumes cannot include a mode (e.g. /foo:rw)
      if (validMountMode(arr[1]!)) throw invalidArgument(invalidSpec(raw));
      source = arr[0]!;
      target = arr[1]!;
      break;
    case 3:
      source = arr[0]!;
      target = arr[1]!;
      mode = arr[2]!;
      break;
    default:
      throw invalidArgument(invalidSpec(raw));
  }
  if (!validMountMode(mode)) throw invalidArgument(`invalid mode: ${mode}`);
  const spec: ApiMount = { Type: source.startsWith('/') ? 'bind' : 'volume', Source: source, Target: target, ReadOnly: !readWrite(mode) };
  if (volumeDriver && spec.Type === 'volume') spec.VolumeOptions = { DriverConfig: { Name: volumeDriver } };
  if (mode.split(',').includes('nocopy')) spec.VolumeOptions = { ...(spec.VolumeOptions ?? {}), NoCopy: true };
  const prop = propagationOf(mode);
  if (prop) spec.BindOptions = { Propagation: prop };
  let mp: Planned;
  try {
    mp = parseMountSpec(spec, false);
  } catch (err) {
    throw new BerthError(err instanceof BerthError ? err.kind : 'InvalidArgument', `${invalidSpec(raw)}: ${messageOf(err)}`);
  }
  mp.Mode = mode;
  if (mp.Type === 'bind') mp.CreateSource = true;
  return mp;
}

/** HostConfig.Mounts (`--mount`): validated as Docker's validateMountConfig, then a planned mount point. */
export function parseMountSpec(cfg: ApiMount, checkBindSource: boolean): Planned {
  const type = cfg.Type ?? '';
  const fail = (msg: string): never => {
    throw invalidArgument(`invalid mount config for type ${JSON.stringify(type)}: ${msg}`);
  };
  const target = cfg.Target ?? '';
  const source = cfg.Source ?? '';
  if (!target) fail('field Target must not be empty');
  try {
    validateTarget(target, type);
  } catch (err) {
    fail(messageOf(err));
  }
  const destination = cleanPath(target);
  const base = { Destination: destination, RW: !cfg.ReadOnly, Mode: '', Propagation: '' };
  switch (type) {
    case 'bind': {
      if (!source) fail('field Source must not be empty');
      const prop = cfg.BindOptions?.Propagation ?? '';
      if (prop && !PROPAGATION_MODES.includes(prop)) fail(`invalid propagation mode: ${prop}`);
      if (cfg.VolumeOptions) fail('field VolumeOptions must not be specified');
      if (cfg.TmpfsOptions) fail('field TmpfsOptions must not be specified');
      if (!source.startsWith('/')) fail(`invalid mount path: '${source}' mount path must be absolute`);
      const create = Boolean(cfg.BindOptions?.CreateMountpoint);
      if (checkBindSource && !create) {
        try {
          statSync(source); // follows symlinks, as Docker's check does
        } catch {
          fail(`bind source path does not exist: ${source}`);
        }
      }
      return {
        ...base,
        Type: 'bind',
        Source: cleanPath(source),
        Propagation: prop || DEFAULT_PROPAGATION,
        CreateSource: create,
        ...(cfg.BindOptions?.NonRecursive ? { NonRecursive: true } : {}),
      };
    }
    case 'volume': {
      if (cfg.BindOptions) fail('field BindOptions must not be specified');
      if (cfg.TmpfsOptions) fail('field TmpfsOptions must not be specified');
      const anonymous = source === '';
      const subpath = cfg.VolumeOptions?.Subpath ?? '';
      if (subpath) {
        if (anonymous) fail('must not set Subpath when using anonymous volumes');
        if (!isLocalPath(subpath)) fail('subpath must be a relative path within the volume');
      }
      if (cfg.ReadOnly && anonymous) fail('must not set ReadOnly mode when using anonymous volumes');
      const opts = cfg.VolumeOptions;
      return {
        ...base,
        Type: 'volume',
        Name: source,
        Source: '',
        Driver: opts?.DriverConfig?.Name || 'local',
        CopyData: !opts?.NoCopy,
        Anonymous: anonymous,
        ...(subpath ? { Subpath: subpath } : {}),
        want: { driver: opts?.DriverConfig?.Name, driverOpts: opts?.DriverConfig?.Options ?? null, labels: opts?.Labels ?? null },
      };
    }
    case 'tmpfs': {
      if (cfg.BindOptions) fail('field BindOptions must not be specified');
      if (cfg.VolumeOptions) fail('field VolumeOptions must not be specified');
      if (source) fail('field Source must not be specified');
      return { ...base, Type: 'tmpfs', Source: '', TmpfsData: tmpfsData(cfg.TmpfsOptions, Boolean(cfg.ReadOnly)) };
    }
    default:
      return fail('mount type unknown');
  }
}

/** Go's filepath.IsLocal: relative, not empty, and not leaving its base lexically. */
function isLocalPath(p: string): boolean {
  if (p === '' || p.startsWith('/')) return false;
  const n = path.posix.normalize(p);
  return n !== '..' && !n.startsWith('../');
}

/** Go's path.Clean for absolute paths: no trailing slash, no '.' or '..' parts. */
function cleanPath(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function validateTarget(target: string, _type: string): void {
  if (cleanPath(target.replaceAll('\\', '/')) === '/') throw new Error("invalid specification: destination can't be '/'");
  if (!target.startsWith('/')) throw new Error(`invalid mount path: '${target}' mount path must be absolute`);
}

/** Docker's ConvertTmpfsOptions: ro, mode (octal) and size with the largest exact unit. */
export function tmpfsData(opts: ApiMount['TmpfsOptions'], readOnly: boolean): string {
  const out: string[] = [];
  if (readOnly) out.push('ro');
  if (opts?.Mode) out.push(`mode=${opts.Mode.toString(8)}`);
  if (opts?.SizeBytes) {
    let size = opts.SizeBytes;
    let suffix = '';
    for (const [s, d] of [
      ['g', 1 << 30],
      ['m', 1 << 20],
      ['k', 1 << 10],
    ] as const) {
      if (size % d === 0) {
        size = size / d;
        suffix = s;
        break;
      }
    }
    out.push(`size=${size}${suffix}`);
  }
  return out.join(',');
}

/** `--volumes-from container[:ro|rw]`. */
export function parseVolumesFrom(spec: string): [string, string] {
  if (!spec) throw invalidArgument('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  const id = i < 0 ? spec : spec.slice(0, i);
  const mode = i < 0 ? '' : spec.slice(i + 1);
  if (mode === '') return [id, 'rw'];
  if (!validMountMode(mode) || propagationOf(mode) || mode.split(',').includes('nocopy')) throw invalidArgument(`invalid mode: ${mode}`);
  return [id, mode];
}

async function mkdirIfMissing(p: string): Promise<void> {
  try {
    await fs.stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fs.mkdir(p, { recursive: true, mode: 0o755 });
  }
}
