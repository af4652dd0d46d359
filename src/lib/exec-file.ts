/**
 * A small promise wrapper around child_process.execFile for the adapters of external programs
 * (runc, ip, iptables, mount, ps, ...).
 *
 * No shell is involved, so arguments are never re-parsed. On failure it throws ExecFileError, whose
 * message names the program, a summary of its arguments and what the program wrote to stderr (or
 * how it ended when it wrote nothing), so that the user sees the real cause.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { spawnerRun, spawnerEnabled } from './spawner.js';

export interface ExecFileOptions {
  /** Written to the program's stdin, which is then closed. Without it stdin is empty. */
  input?: string | Buffer;
  /** Kill the program (SIGKILL) after this long. Default: no limit. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Largest stdout/stderr kept, in bytes (default 64 MiB). */
  maxBuffer?: number;
  /** Turns the raw stderr into the text shown in the error (e.g. runc's log lines into a message). */
  describeStderr?: (stderr: string) => string;
}

export class ExecFileError extends Error {
  constructor(
    message: string,
    readonly program: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stdout: string,
    readonly stderr: string,
    /** The text that describeStderr (or trimming) made of stderr: the cause without the command. */
    readonly detail: string,
  ) {
    super(message);
    this.name = 'ExecFileError';
  }
}

/** "runc --root /run/x kill abc 9", with long arguments shortened and the whole capped. */
export function summarizeArgs(program: string, args: readonly string[], max = 200): string {
  const parts = [path.basename(program), ...args.map((a) => (a.length > 64 ? `${a.slice(0, 61)}...` : a))];
  const text = parts.map((p) => (p === '' || /\s/.test(p) ? JSON.stringify(p) : p)).join(' ');
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** Runs program with args and resolves with its stdout (utf8); rejects with ExecFileError. */
export function execFileText(program: string, args: readonly string[], opts: ExecFileOptions = {}): Promise<string> {
  const outcome = spawnerEnabled() ? spawnerRun({ program, args: [...args], input: opts.input, timeoutMs: opts.timeoutMs, env: opts.env, cwd: opts.cwd, maxBuffer: opts.maxBuffer }) : runHere(program, args, opts);
  return outcome.then(({ stdout, stderr, error }) => {
    if (!error) return stdout;
    throw execFileError(program, args, opts, error, stdout, stderr);
  });
}

interface Outcome {
  stdout: string;
  stderr: string;
  error?: { message: string; code?: string | number; killed?: boolean; signal?: NodeJS.Signals | null };
}

/** execFile in this process (the CLI, tests, or a daemon whose spawner is off). */
function runHere(program: string, args: readonly string[], opts: ExecFileOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(
      program,
      args as string[],
      {
        encoding: 'utf8',
        maxBuffer: opts.maxBuffer ?? 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 0,
        killSignal: 'SIGKILL',
        env: opts.env,
        cwd: opts.cwd,
        windowsHide: true,
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: NodeJS.Signals | null }) | null;
        resolve({ stdout: stdout ?? '', stderr: stderr ?? '', ...(e && { error: { message: e.message, code: e.code, killed: e.killed, signal: e.signal ?? null } }) });
      },
    );
    if (child.stdin) {
      child.stdin.on('error', () => {
        /* the program may exit without reading its input (EPIPE): its exit status tells */
      });
      child.stdin.end(opts.input ?? undefined);
    }
  });
}

function execFileError(program: string, args: readonly string[], opts: ExecFileOptions, e: NonNullable<Outcome['error']>, stdout: string, stderr: string): ExecFileError {
  const summary = summarizeArgs(program, args);
  let detail: string;
  if (e.code === 'ENOENT' && typeof e.code === 'string') {
    detail = `${program}: executable file not found`;
  } else if (typeof e.code === 'string') {
    detail = e.message;
  } else {
    const described = (opts.describeStderr ? opts.describeStderr(stderr) : stderr).trim();
    if (described) detail = described;
    else if (e.killed && opts.timeoutMs) detail = `timed out after ${opts.timeoutMs} ms`;
    else if (e.signal) detail = `killed by signal ${e.signal}`;
    else detail = `exit status ${String(e.code)}`;
  }
  return new ExecFileError(`${summary}: ${detail}`, program, args, typeof e.code === 'number' ? e.code : null, e.signal ?? null, stdout, stderr, detail);
}
