import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isMounted, mountFilesystem, unmount } from '../layers/mount.js';
import { BerthError, invalidArgument, internal, messageOf } from '../lib/errors.js';
import { log } from '../lib/log.js';

/** Docker's local driver name rule (RestrictedNamePattern). */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

const VALID_OPTS = ['type', 'o', 'device', 'size'];
/** An option that needs others with it, as in Docker's local driver. */
const MANDATORY_OPTS: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device', 'type'] };

/**
 * The `local` volume driver: a volume is the directory <data-root>/volumes/<name>/_data, or, with the
 * options type/device/o, a filesystem mounted there (`mount -t <type> -o <o> <device> _data`) while at
 * least one user (a running container, a copy-up) holds it. Mount counts live in memory; the daemon
 * rebuilds them at start from the containers still running (`restore`).
 */
export class LocalDriver {
  readonly root: string;
  /** Users of each volume that needs a mount. */
  private readonly active = new Map<string, number>();

  constructor(
    dataRoot: string,
    private readonly owner?: { uid: number; gid: number },
  ) {
    this.root = path.join(dataRoot, 'volumes');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o701 });
  }

  dir(name: string): string {
    return path.join(this.root, name);
  }

  dataPath(name: string): string {
    return path.join(this.root, name, '_data');
  }

  /** Names of the directories under the volumes root (to reconcile with the database at start). */
  async listDirs(): Promise<string[]> {
    const entries = await fs.readdir(this.root, { withFileTypes: true }).catch(() => []); // no volumes root yet: no directories
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  validateName(name: string): void {
    if (!NAME_RE.test(name)) {
      throw invalidArgument(
        `${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
  }

  validateOptions(opts: Record<string, string> | null): void {
    if (!opts || Object.keys(opts).length === 0) return;
    for (const key of Object.keys(opts)) {
      if (!VALID_OPTS.includes(key)) throw invalidArgument(`invalid option: ${JSON.stringify(key)}`);
    }
    if (opts.size !== undefined) throw invalidArgument('quota size requested but no quota support');
    for (const [key, required] of Object.entries(MANDATORY_OPTS)) {
      if (!(key in opts)) continue;
      for (const r of required) if (!(r in opts)) throw invalidArgument(`missing required option: ${JSON.stringify(r)}`);
    }
  }

  needsMount(opts: Record<string, string> | null): boolean {
    return Boolean(opts && (opts.type || opts.device));
  }

  /** Makes the volume's directories; the caller records the volume only after this succeeded. */
  async create(name: string): Promise<void> {
    const data = this.dataPath(name);
    await fs.mkdir(data, { recursive: true, mode: 0o755 });
    if (this.owner) await fs.chown(data, this.owner.uid, this.owner.gid);
  }

  /** Removes the volume's directory, unmounting its filesystem first: never deletes through a mount. */
  async remove(name: string): Promise<void> {
    const data = this.dataPath(name);
    if (isMounted(data)) await unmount(data);
    if (isMounted(data)) throw internal(`error removing volume path '${data}': still mounted`);
    this.active.delete(name);
    await fs.rm(this.dir(name), { recursive: true, force: true });
  }

  /** Takes one use of the volume, mounting its filesystem for the first one. Returns the host path. */
  async mount(name: string, opts: Record<string, string> | null): Promise<string> {
    const data = this.dataPath(name);
    const count = this.active.get(name) ?? 0;
    if (this.needsMount(opts) && count === 0 && !isMounted(data)) {
      if (!opts!.device) throw invalidArgument('missing device in volume options');
      await fs.mkdir(data, { recursive: true, mode: 0o755 });
      try {
        await mountFilesystem(opts!.device, data, opts!.type ?? '', opts!.o ?? '');
      } catch (err) {
        throw new BerthError(err instanceof BerthError ? err.kind : 'Internal', `error while mounting volume '${data}': failed to mount local volume: ${messageOf(err)}`, { cause: err });
      }
    }
    this.active.set(name, count + 1);
    return data;
  }

  /** Gives back one use; the last one unmounts the volume's filesystem. */
  async unmount(name: string, opts: Record<string, string> | null): Promise<void> {
    const count = (this.active.get(name) ?? 0) - 1;
    if (count > 0) {
      this.active.set(name, count);
      return;
    }
    this.active.delete(name);
    if (this.needsMount(opts)) await unmount(this.dataPath(name));
  }

  /**
   * After a daemon restart: the uses that running containers still hold. Filesystems mounted for
   * volumes nobody uses any more (a crash between mount and unmount) are unmounted.
   */
  async restore(counts: Map<string, number>, volumes: Array<{ name: string; options: Record<string, string> | null }>): Promise<void> {
    this.active.clear();
    for (const [name, n] of counts) if (n > 0) this.active.set(name, n);
    for (const v of volumes) {
      if (!this.needsMount(v.options) || this.active.has(v.name)) continue;
      const data = this.dataPath(v.name);
      if (isMounted(data)) {
        await unmount(data).catch((err) => log.warn('unmounting an unused volume failed', { volume: v.name, error: messageOf(err) }));
      }
    }
  }

  /** Whether the volume's filesystem is mounted (or it needs none). */
  isMounted(name: string): boolean {
    return isMounted(this.dataPath(name));
  }
}
