/**
 * What a command talks to: output streams, input, the daemon client and the clock. Commands
 * receive this instead of touching process.* so they can run against fakes in tests.
 */
import type { Readable, Writable } from 'node:stream';
import type { ApiClient } from './client.js';

export interface Output {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Cli {
  out: Output;
  err: Output;
  in: Readable & { isTTY?: boolean };
  /** The raw stdout stream, for piping binary data (image save). */
  rawOut: Writable & { isTTY?: boolean };
  /** The daemon client; created on first use so that help and argument errors never dial. */
  client(): ApiClient;
  /** Client-side settings shown by `version` and `info`. */
  debug: boolean;
  env: NodeJS.ProcessEnv;
  /** The global --config directory (client config files), when given. */
  configDir?: string;
  now(): number;
  /**
   * Where the signals this process receives arrive (the process itself in `berth`), so that
   * `run` and `start -a` can forward them to the container. Absent: nothing is forwarded.
   */
  signals?: SignalSource;
}

export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}
