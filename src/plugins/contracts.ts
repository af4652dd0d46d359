/**
 * Issue 17: the seams of Docker's plugin system (docs/plugins.md). A plugin is a process speaking
 * JSON over HTTP (POST /<Capability>.<Method>) on a unix socket or TCP; it is found through
 * /run/docker/plugins/<name>.sock, <name>.spec or <name>.json files (legacy plugins) or run by the
 * engine (managed plugins), and activated with POST /Plugin.Activate, which lists what it implements.
 *
 *   registry.ts   discovery, activation, one client per plugin, deadlines        -> PluginRegistry
 *   volumes       remote volume drivers (VolumeDriver)                           uses PluginRegistry
 *   networks      remote network and IPAM drivers (NetworkDriver, IpamDriver)    uses PluginRegistry
 *   authz.ts      authorization plugins (authz) in front of every API request    uses PluginRegistry
 */

/** What a plugin says it implements (Plugin.Activate's `Implements`). */
export type PluginCapability = 'VolumeDriver' | 'NetworkDriver' | 'IpamDriver' | 'authz' | (string & {});

export interface PluginCallOptions {
  /** Default 30 s for mutations; listings use a short one (a hung plugin must not hang `volume ls`). */
  timeoutMs?: number;
}

/** One activated plugin. */
export interface PluginHandle {
  name: string;
  /** Where it was found: a socket path, or an http(s) URL from a .spec/.json file. */
  address: string;
  implements: PluginCapability[];
  /**
   * POST /<method> with `body` as JSON; resolves with the decoded answer. Rejects with a BerthError
   * (src/lib/errors.ts) naming the plugin and method when the plugin is unreachable, times out,
   * answers non-2xx, or answers {"Err": "..."} (the text becomes the error, as dockerd does).
   */
  call<T = unknown>(method: string, body: unknown, opts?: PluginCallOptions): Promise<T>;
}

export interface PluginRegistry {
  /**
   * The plugin named `name` that implements `capability`, activated (once; again after it failed).
   * NotFound in dockerd's words (`plugin "x" not found`) if no such plugin; an error if it does not
   * implement the capability.
   */
  get(name: string, capability: PluginCapability, opts?: PluginCallOptions): Promise<PluginHandle>;
  /** Every plugin found now (opts.timeoutMs: each plugin's activation deadline, default 500 ms) that implements `capability` (unreachable ones left out, within a deadline). */
  list(capability: PluginCapability, opts?: PluginCallOptions): Promise<PluginHandle[]>;
}
