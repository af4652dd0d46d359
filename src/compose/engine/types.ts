/**
 * What the compose engine's operations share: the daemon client, where progress goes, and the
 * progress events themselves. The CLI builds a ComposeContext; the engine never touches process.*.
 */
import type { ApiClient } from '../../cli/client.js';

/**
 * One line of docker compose's progress display: `id` names the resource as docker compose does
 * ("Network demo_default", "Container demo-web-1", "Volume demo_data", "Image busybox"),
 * `status` is the word after it ("Creating", "Created", "Starting", "Started", "Waiting",
 * "Healthy", "Stopping", "Stopped", "Removing", "Removed", "Recreate", "Recreated", "Running",
 * "Pulling", "Pulled", "Building", "Built", "Error", ...).
 */
export interface ProgressEvent {
  id: string;
  status: string;
  /** Extra text after the status (an error's message, a pull's detail). */
  text?: string;
  /** The resource reached its end state (✔ on a terminal). */
  done?: boolean;
  /** The step failed (✘ on a terminal). */
  error?: boolean;
  /** The step failed without failing the command (a pull a build replaces: ! on a terminal). */
  warning?: boolean;
  /** A sub-step of another resource (a layer of `Image busybox`), as docker compose's ParentID. */
  parentId?: string;
}

export interface Progress {
  event(e: ProgressEvent): void;
  /** A line outside the resource display (warnings, build output in plain mode). */
  log(line: string): void;
  /** The display is finished: a terminal renderer draws its last frame. */
  close(): void;
}

export interface ComposeContext {
  client: ApiClient;
  progress: Progress;
  /** Warnings worded as docker compose's ("Found orphan containers ..."), printed on stderr. */
  warn(message: string): void;
  /** Aborted when the user presses Ctrl-C. */
  signal?: AbortSignal;
  /** `--parallel`: at most this many operations at once; -1 or absent: no limit. */
  parallel?: number;
  /**
   * The X-Registry-Auth header for pulling or pushing `image` (the CLI's credentials); absent:
   * anonymous. composeContext (project-options.ts) sets it from the CLI's credentials.
   */
  registryAuth?(image: string): Promise<string>;
}
