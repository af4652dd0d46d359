import type { PluginHandle, PluginRegistry } from '../plugins/contracts.js';
import { BerthError, isKind, messageOf, notFound } from '../lib/errors.js';
import { log } from '../lib/log.js';

/** A volume as a plugin describes it (VolumeDriver.Get / List). */
export interface RemoteVolume {
  Name: string;
  Mountpoint?: string;
  Status?: Record<string, unknown>;
  CreatedAt?: string;
}

export type VolumeScope = 'local' | 'global';

/**
 * How long `volume ls` waits for the plugins in all (activation, then List): a plugin that hangs must
 * not hang the listing (moby#33994), and the answer must come within a second.
 */
export const LIST_TIMEOUT_MS = 700;
/** The part of LIST_TIMEOUT_MS that finding and activating the plugins may take. */
const ACTIVATE_TIMEOUT_MS = 300;

/**
 * A volume driver served by a plugin (Docker's VolumeDriver protocol): every operation is one POST to
 * the plugin; errors are the plugin's own text. Mount and Unmount carry an id naming one use, so the
 * plugin can count its users. Stateless apart from the scope, which a plugin reports once.
 */
export class RemoteVolumeDriver {
  private scope?: VolumeScope;

  constructor(private readonly plugin: PluginHandle) {}

  get name(): string {
    return this.plugin.name;
  }

  async create(name: string, opts: Record<string, string> | null): Promise<void> {
    await this.plugin.call('VolumeDriver.Create', { Name: name, Opts: opts ?? {} });
  }

  async remove(name: string): Promise<void> {
    await this.plugin.call('VolumeDriver.Remove', { Name: name });
  }

  /** One use of the volume (`id` names it); returns the host path the plugin made available. */
  async mount(name: string, id: string): Promise<string> {
    const r = await this.plugin.call<{ Mountpoint?: string }>('VolumeDriver.Mount', { Name: name, ID: id });
    if (!r?.Mountpoint) throw new BerthError('Internal', `VolumeDriver.Mount: plugin ${this.name} returned no mountpoint for volume ${name}`);
    return r.Mountpoint;
  }

  async unmount(name: string, id: string): Promise<void> {
    await this.plugin.call('VolumeDriver.Unmount', { Name: name, ID: id });
  }

  async path(name: string, timeoutMs?: number): Promise<string> {
    const r = await this.plugin.call<{ Mountpoint?: string }>('VolumeDriver.Path', { Name: name }, { timeoutMs });
    return r?.Mountpoint ?? '';
  }

  /** The plugin's view of one volume; NotFound when it answers with none (as dockerd's adapter). */
  async get(name: string, timeoutMs?: number): Promise<RemoteVolume> {
    const r = await this.plugin.call<{ Volume?: RemoteVolume | null }>('VolumeDriver.Get', { Name: name }, { timeoutMs });
    if (!r?.Volume) throw notFound(`get ${name}: no such volume`);
    return r.Volume;
  }

  async list(timeoutMs = LIST_TIMEOUT_MS): Promise<RemoteVolume[]> {
    const r = await this.plugin.call<{ Volumes?: RemoteVolume[] | null }>('VolumeDriver.List', {}, { timeoutMs });
    return (r?.Volumes ?? []).filter((v) => v && typeof v.Name === 'string');
  }

  /**
   * 'local' or 'global', asked once. Capabilities is optional in the protocol: an error or an unknown
   * answer means 'local', as in dockerd.
   */
  async capabilities(timeoutMs?: number): Promise<VolumeScope> {
    if (this.scope) return this.scope;
    try {
      const r = await this.plugin.call<{ Capabilities?: { Scope?: string } }>('VolumeDriver.Capabilities', {}, { timeoutMs });
      const scope = (r?.Capabilities?.Scope ?? '').toLowerCase();
      if (scope && scope !== 'local' && scope !== 'global') log.warn('volume driver returned an invalid scope', { driver: this.name, scope });
      this.scope = scope === 'global' ? 'global' : 'local';
    } catch (err) {
      log.debug('volume driver capabilities failed; assuming local scope', { driver: this.name, error: messageOf(err) });
      return 'local';
    }
    return this.scope;
  }
}

/**
 * Finds volume drivers by plugin name through the plugin registry (none: every name is unknown).
 * Errors use dockerd's wording: `error looking up volume plugin x: plugin "x" not found`.
 */
export class RemoteVolumeDrivers {
  /** One driver per handle, so the scope is asked once per activation. */
  private readonly drivers = new WeakMap<PluginHandle, RemoteVolumeDriver>();

  constructor(private readonly plugins?: PluginRegistry) {}

  async get(name: string): Promise<RemoteVolumeDriver> {
    const prefix = `error looking up volume plugin ${name}`;
    if (!this.plugins) throw notFound(`${prefix}: plugin "${name}" not found`);
    let handle: PluginHandle;
    try {
      handle = await this.plugins.get(name, 'VolumeDriver');
    } catch (err) {
      throw new BerthError(isKind(err, 'NotFound') ? 'NotFound' : err instanceof BerthError ? err.kind : 'Internal', `${prefix}: ${messageOf(err)}`, { cause: err });
    }
    return this.driverOf(handle);
  }

  private driverOf(handle: PluginHandle): RemoteVolumeDriver {
    let driver = this.drivers.get(handle);
    if (!driver) {
      driver = new RemoteVolumeDriver(handle);
      this.drivers.set(handle, driver);
    }
    return driver;
  }

  /** Every plugin implementing VolumeDriver that answers within the deadline. */
  async all(): Promise<RemoteVolumeDriver[]> {
    if (!this.plugins) return [];
    const handles = await this.plugins.list('VolumeDriver', { timeoutMs: ACTIVATE_TIMEOUT_MS });
    return handles.map((h) => this.driverOf(h));
  }
}
