/**
 * The daemon's PluginRegistry for legacy plugins (docs/plugins.md): finds plugins in the configured
 * directories (discovery.ts), activates each once with POST /Plugin.Activate, and hands out handles
 * whose calls have deadlines (client.ts). A plugin that could not be reached or timed out is
 * activated again on its next use, so a plugin that comes back is used again.
 */
import { BerthError, invalidArgument, notFound } from '../lib/errors.js';
import { callPlugin, DEFAULT_CALL_TIMEOUT_MS, PluginCallError } from './client.js';
import { DEFAULT_PLUGIN_DIRS, locatePlugin, scanPluginNames, type PluginLocation } from './discovery.js';
import type { PluginCallOptions, PluginCapability, PluginHandle, PluginRegistry } from './contracts.js';

/** A listing must not wait long for one hung plugin (moby#33994: `volume ls` hung on one). */
export const DEFAULT_LIST_TIMEOUT_MS = 500;

export interface LocalPluginRegistryOptions {
  /** Where to look, in order (default: Docker's three directories). */
  dirs?: readonly string[];
  /** Deadline of a call when the caller gives none (default 30 s, as dockerd's). */
  timeoutMs?: number;
  /** Deadline of each plugin's activation in list() (default 500 ms). */
  listTimeoutMs?: number;
}

interface Activated {
  location: PluginLocation;
  implements: PluginCapability[];
  /** Set when a call could not reach the plugin: the next use activates it again. */
  failed: boolean;
}

export class LocalPluginRegistry implements PluginRegistry {
  readonly dirs: readonly string[];
  private readonly timeoutMs: number;
  private readonly listTimeoutMs: number;
  private readonly active = new Map<string, Activated>();
  /** Activations under way, shared by concurrent callers. */
  private readonly activating = new Map<string, Promise<Activated>>();

  constructor(opts: LocalPluginRegistryOptions = {}) {
    this.dirs = opts.dirs?.length ? [...opts.dirs] : DEFAULT_PLUGIN_DIRS;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.listTimeoutMs = opts.listTimeoutMs ?? DEFAULT_LIST_TIMEOUT_MS;
  }

  async get(name: string, capability: PluginCapability, opts?: PluginCallOptions): Promise<PluginHandle> {
    if (!name) throw invalidArgument('Unable to find plugin without name');
    const plugin = await this.activated(name, opts?.timeoutMs ?? this.timeoutMs);
    if (!plugin.implements.includes(capability)) {
      throw invalidArgument(`Plugin does not implement the requested driver: plugin="${name}", requested implementation="${capability}"`);
    }
    return this.handle(name);
  }

  async list(capability: PluginCapability, opts?: PluginCallOptions): Promise<PluginHandle[]> {
    const names = await scanPluginNames(this.dirs);
    const timeoutMs = opts?.timeoutMs ?? this.listTimeoutMs;
    const found = await Promise.all(
      names.map(async (name) => {
        try {
          const plugin = await this.activated(name, timeoutMs);
          return plugin.implements.includes(capability) ? this.handle(name) : undefined;
        } catch {
          return undefined; // unreachable or broken plugins are left out of listings, as dockerd's GetAll
        }
      }),
    );
    return found.filter((h): h is PluginHandle => h !== undefined);
  }

  /** A handle that finds the plugin's current activation on each call (re-activating it if it failed). */
  private handle(name: string): PluginHandle {
    const registry = this;
    const current = () => registry.active.get(name);
    return {
      name,
      get address() {
        return current()?.location.address ?? '';
      },
      get implements() {
        return current()?.implements ?? [];
      },
      async call<T>(method: string, body: unknown, opts?: PluginCallOptions): Promise<T> {
        const deadline = Date.now() + (opts?.timeoutMs ?? registry.timeoutMs);
        const plugin = await registry.activated(name, deadline - Date.now());
        try {
          return await callPlugin<T>(name, plugin.location.endpoint, method, body, Math.max(1, deadline - Date.now()));
        } catch (err) {
          if (err instanceof PluginCallError && err.transport) plugin.failed = true;
          throw err;
        }
      },
    };
  }

  /** The plugin, activated: found again and activated again unless it is active and healthy. */
  private async activated(name: string, timeoutMs: number): Promise<Activated> {
    const known = this.active.get(name);
    if (known && !known.failed) return known;
    let pending = this.activating.get(name);
    if (!pending) {
      pending = this.activate(name).finally(() => this.activating.delete(name));
      this.activating.set(name, pending);
      pending.catch(() => undefined); // a caller that gave up early must not leave it unhandled
    }
    return withDeadline(pending, timeoutMs, () => new PluginCallError(name, 'Plugin.Activate', `plugin "${name}" did not answer within ${timeoutMs}ms`, true));
  }

  private async activate(name: string): Promise<Activated> {
    const location = await locatePlugin(this.dirs, name);
    if (!location) {
      this.active.delete(name);
      throw notFound(`plugin "${name}" not found`);
    }
    // Activation has dockerd's full deadline; callers with shorter ones stop waiting (withDeadline).
    const manifest = await callPlugin<{ Implements?: unknown }>(name, location.endpoint, 'Plugin.Activate', undefined, this.timeoutMs);
    const impl = Array.isArray(manifest?.Implements) ? manifest.Implements.filter((x): x is string => typeof x === 'string') : [];
    const plugin: Activated = { location, implements: impl, failed: false };
    this.active.set(name, plugin);
    return plugin;
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, timeoutError: () => BerthError): Promise<T> {
  if (ms <= 0) return Promise.reject(timeoutError());
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError()), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
