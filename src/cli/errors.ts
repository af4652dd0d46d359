/**
 * Errors the CLI reports. main.ts prints `message` (when non-empty) on stderr and exits with
 * `exitCode`, mirroring docker's StatusError: 1 for failures, 125 for bad flags.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A non-2xx answer from the daemon; printed as docker prints it. */
export class DaemonError extends CliError {
  constructor(
    readonly status: number,
    readonly daemonMessage: string,
  ) {
    super(`Error response from daemon: ${daemonMessage}`);
    this.name = 'DaemonError';
  }
}

/** The daemon could not be reached at all. */
export class ConnectError extends CliError {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

/** Node's filesystem errors worded like Go's ("open x: no such file or directory"). */
export function fsErrorMessage(op: string, path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
    EEXIST: 'file exists',
    ENOSPC: 'no space left on device',
    EROFS: 'read-only file system',
  };
  const why = (code && words[code]) ?? (err instanceof Error ? err.message : String(err));
  return `${op} ${path}: ${why}`;
}
