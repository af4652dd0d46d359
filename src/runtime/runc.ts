/**
 * Adapter for runc, the OCI runtime. Every runc command Berth runs goes through this module.
 *
 * Lifecycle: containers are *created* by conmon (conmon.ts runs `runc --root <root> create`), so the
 * state of every container lives under the same `--root` directory that this class is given. From
 * then on the container service drives it from here: start (user code begins to run), kill, pause,
 * resume, update, and finally delete (which also removes runc's cgroups and state directory).
 *
 * Errors: runc writes its errors to stderr as logrus lines, either text
 * (`time="..." level=error msg="container does not exist"`) or JSON with --log-format json. We ask for
 * JSON and parse both into the plain message; RuncError carries it, with kind NotFound when runc
 * says the container does not exist, else Internal (Docker answers runtime failures with a 500).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BerthError, type ErrorKind } from '../lib/errors.js';
import { ExecFileError, execFileText, summarizeArgs } from '../lib/exec-file.js';

export type RuncStatus = 'created' | 'running' | 'paused' | 'stopped';

export interface RuncListEntry {
  id: string;
  pid: number;
  status: RuncStatus;
  bundle?: string;
  created?: string;
}

/** OCI runtime-spec LinuxResources, as `runc update -r -` reads it (only the parts Berth sets are typed). */
export interface LinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; kernelTCP?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: Record<string, unknown>;
  [key: string]: unknown;
}

export class RuncError extends BerthError {
  constructor(
    kind: ErrorKind,
    message: string,
    /** runc's own message, without the command line. */
    readonly detail: string,
    readonly stderr: string,
  ) {
    super(kind, message);
  }
}

const NOT_EXIST_RE = /container does not exist|container ".*" does not exist|no such file or directory.*state\.json/i;

/** Go-quoted string body (logrus text format) to its text. */
function unquoteGo(quoted: string): string {
  try {
    return JSON.parse(quoted.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b')) as string;
  } catch {
    return quoted.slice(1, -1); // not a JSON string: the bare text will do
  }
}

/** Parses one logrus text line (`time="..." level=error msg="..."`) into its fields. */
function parseLogfmt(line: string): Record<string, string> | undefined {
  const fields: Record<string, string> = {};
  const re = /([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)/g;
  let m: RegExpExecArray | null;
  let any = false;
  while ((m = re.exec(line))) {
    const v = m[2]!;
    fields[m[1]!] = v.startsWith('"') ? unquoteGo(v) : v;
    any = true;
  }
  return any && 'msg' in fields ? fields : undefined;
}

/**
 * Turns runc's stderr (logrus JSON or text lines, possibly mixed with plain text such as usage
 * output) into a readable message: the error-level messages if there are any, else every line.
 */
export function parseRuncStderr(stderr: string): string {
  const errors: string[] = [];
  const others: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    let level: string | undefined;
    let msg: string | undefined;
    if (line.startsWith('{')) {
      try {
        const j = JSON.parse(line) as { level?: unknown; msg?: unknown };
        if (typeof j.msg === 'string') {
          msg = j.msg;
          level = typeof j.level === 'string' ? j.level : undefined;
        }
      } catch {
        /* not JSON after all */
      }
    } else {
      const f = parseLogfmt(line);
      if (f) {
        msg = f.msg;
        level = f.level;
      }
    }
    if (msg === undefined) others.push(line);
    else if (level === 'error' || level === 'fatal' || level === 'panic') errors.push(msg.trim());
    else others.push(msg.trim());
  }
  return (errors.length ? errors : others).join('\n');
}

export interface RuncOptions {
  /** The runc executable (default 'runc', found through PATH). */
  binary?: string;
  /** runc's --root: where it keeps container state, e.g. <exec-root>/runc. */
  root: string;
  /** Kill a runc command that takes longer than this (default 60 s). */
  timeoutMs?: number;
}

export class Runc {
  readonly binary: string;
  readonly root: string;
  private readonly timeoutMs: number;

  constructor(opts: RuncOptions) {
    this.binary = opts.binary ?? 'runc';
    this.root = opts.root;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** Runs `runc --root <root> --log-format json <args>`; resolves with stdout. */
  private async run(args: string[], input?: string): Promise<string> {
    const full = ['--root', this.root, '--log-format', 'json', ...args];
    try {
      return await execFileText(this.binary, full, {
        input,
        timeoutMs: this.timeoutMs,
        describeStderr: parseRuncStderr,
      });
    } catch (err) {
      if (err instanceof ExecFileError) {
        // Shown without the --root/--log-format noise: "runc kill abc 9: container not running".
        const summary = summarizeArgs(this.binary, args);
        const kind: ErrorKind = NOT_EXIST_RE.test(err.detail) ? 'NotFound' : 'Internal';
        throw new RuncError(kind, `${summary}: ${err.detail}`, err.detail, err.stderr);
      }
      throw err;
    }
  }

  /** The container's status and init pid (0 when stopped), or undefined when runc does not know it. */
  async state(id: string): Promise<{ status: RuncStatus; pid: number } | undefined> {
    let out: string;
    try {
      out = await this.run(['state', id]);
    } catch (err) {
      if (err instanceof RuncError && err.kind === 'NotFound') return undefined;
      throw err;
    }
    const j = JSON.parse(out) as { status: RuncStatus; pid: number };
    return { status: j.status, pid: j.pid };
  }

  /** Every container under this root (empty when the root does not exist yet). */
  async list(): Promise<RuncListEntry[]> {
    const out = await this.run(['list', '--format', 'json']);
    const j = JSON.parse(out.trim() || 'null') as Array<RuncListEntry & Record<string, unknown>> | null;
    return (j ?? []).map((c) => ({ id: c.id, pid: c.pid, status: c.status, bundle: c.bundle, created: c.created }));
  }

  /** Runs the user process of a created container (the exec fifo is opened). */
  async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  /** Sends signal (a number, e.g. 15) to the init process, or with all=true to every process. */
  async kill(id: string, signal: number, all = false): Promise<void> {
    await this.run(['kill', ...(all ? ['--all'] : []), id, String(signal)]);
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  /**
   * Removes the container's runc state and cgroups. force kills a running container first.
   * No error when runc does not know the container (already deleted).
   */
  async delete(id: string, force = false): Promise<void> {
    // runc keeps a container's state in <root>/<id>: without it there is nothing to delete, and no
    // runc process to spawn (teardown runs before every start and again at removal).
    if (!existsSync(path.join(this.root, id))) return;
    try {
      await this.run(['delete', ...(force ? ['--force'] : []), id]);
    } catch (err) {
      if (err instanceof RuncError && err.kind === 'NotFound') return;
      throw err;
    }
  }

  /** Host pids of every process in the container. */
  async ps(id: string): Promise<number[]> {
    const out = await this.run(['ps', '--format', 'json', id]);
    const j = JSON.parse(out.trim() || '[]') as number[] | null;
    return j ?? [];
  }

  /** Applies new cgroup limits to a running container (`runc update -r -`). */
  async update(id: string, resources: LinuxResources): Promise<void> {
    await this.run(['update', '-r', '-', id], JSON.stringify(resources));
  }
}
