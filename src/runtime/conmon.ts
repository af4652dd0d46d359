/**
 * Adapter for conmon, the small monitor that sits beside each container (one conmon per container).
 *
 * What startConmon does: it spawns conmon, which daemonizes (the process we spawn exits at once; its
 * child lives on, reparented, for as long as the container) and runs
 * `runc --root <runtimeRoot> create --bundle <bundle> --pid-file <pidFile> <id>`. runc then leaves
 * the container *created*: its init process exists, waiting on runc's exec fifo, and no user code
 * has run. The caller starts it with Runc.start(id) (runc.ts). conmon holds the container's stdio
 * pipes, writes its output to the log, and waits for it to exit.
 *
 * How we learn the outcome of create (measured with conmon 2.1.6 and runc 1.1.5): conmon's
 * "sync pipe" protocol. We pass a pipe as fd 3 and set _OCI_SYNCPIPE=3; with --api-version 1
 * conmon writes one JSON line to it:
 *   success: {"data": <container init pid>}
 *   failure: {"data": -1, "message": "<what runc wrote to stderr>"}
 * and for a failure conmon exits without writing an exit file. runc's text there is a logrus line
 * (time="..." level=error msg="runc create failed: unable to start container process: exec:
 * \"nope\": executable file not found in $PATH"), which we reduce to its msg. conmon keeps its end
 * of the sync pipe open until the container exits but writes nothing more for a create; we close
 * ours once the line has arrived. conmon's own early failures (bad arguments, missing bundle) are
 * reported on its stderr with a non-zero exit status and no sync line. conmon closes the stdout and
 * stderr it inherited when it daemonizes, so capturing them holds nothing open. (_OCI_STARTPIPE,
 * which makes conmon wait for a byte before running runc, is not used: nothing needs to happen
 * between conmon's start and runc create.)
 *
 * Files conmon leaves (all paths are given by the caller):
 *  - pidFile: the container's init pid (written by runc create). conmonPidFile: conmon's own pid.
 *  - logPath: the k8s-file log (none with logDriver 'none'; the daemon copies it into the driver's
 *    file, containers/log-drivers/), one record per line: `<RFC3339Nano with offset> stdout|stderr F|P <text>`
 *    (F ends a line, P is part of a longer one; see containers/logs.ts); an empty line is
 *    `... stdout F ` (note the space). With logSizeMax conmon starts a new file at the same path
 *    (a new inode) when the size is reached; old content is lost.
 *  - exitDir/<id>: written when the container exits, holding the exit code as decimal text
 *    (128 + signal number when killed by a signal, e.g. 137 for SIGKILL). Not written when create
 *    fails. readExitCode and watchExits read it; the caller deletes it.
 *  - socketDir/<uuid>: a symlink to the bundle (keeps the socket path under the 108-byte limit),
 *    so the attach socket is socketDir/<uuid>/attach = <bundle>/attach, a SOCK_SEQPACKET unix
 *    socket. Each message read from it starts with one byte naming the stream (2 stdout, 3 stderr);
 *    what is written goes to the container's stdin when conmon was started with -i (stdin: true).
 *    conmon removes <bundle>/attach when the container exits; it does not remove the symlink:
 *    removeConmonFiles does.
 *  - <bundle>/ctl and <bundle>/winsz: FIFOs for control messages and terminal resizes (left behind).
 *  - persistDir (when given): `exit` (the exit code again) and, after an OOM kill in the container's
 *    memory cgroup, an empty file `oom`. Without a persistDir conmon writes that `oom` file in its
 *    working directory (measured), so startConmon runs conmon in the bundle: <bundle>/oom.
 *    cgroups.readMemoryEvents, read after the exit and before `runc delete`, tells the same.
 * conmon prints "failed to write to /proc/self/oom_score_adj: Permission denied" (at debug level,
 * on this machine); it is harmless and is filtered from error messages.
 *
 * stdin: without -i the container's stdin is /dev/null. With -i conmon holds the write end of a pipe
 * to it, so a process reading stdin blocks (measured: `cat` stays running with nobody attached);
 * input comes only through the attach socket. When an attach client shuts its write half (or closes),
 * conmon closes the container's stdin unless --leave-stdin-open (leaveStdinOpen) was given
 * (attach-socket.ts has the rest of that protocol).
 * Measured on rotation (logSizeMax): the new file has a new inode and mode 0600; the old lines are
 * gone. Records that conmon read in one go share one timestamp.
 * --exit-command is not used: the daemon watches exitDir (watchExits) and cleans up itself.
 */
import { spawnerEnabled, spawnerRun } from '../lib/spawner.js';
import { runSyncPipe } from '../lib/sync-pipe.js';
import { promises as fsp, watch as fsWatch, type FSWatcher } from 'node:fs';
import path from 'node:path';

import { parseRuncStderr } from './runc.js';
import { sleep } from '../lib/sleep.js';
import { debugIgnored } from '../lib/log.js';

export interface ConmonOptions {
  id: string;
  /** Container name for conmon's logs (default id). */
  name?: string;
  /** Names the attach socket directory socketDir/<uuid> (default id). */
  uuid?: string;
  bundle: string;
  /** Path of the runc executable. */
  runtime: string;
  /** runc --root, the same directory class Runc is given. */
  runtimeRoot: string;
  logPath: string;
  /** conmon's log driver: its k8s-file at logPath (default), or none (output is only for attach clients). */
  logDriver?: 'k8s-file' | 'none';
  exitDir: string;
  socketDir: string;
  /** Where runc writes the container's init pid. */
  pidFile: string;
  conmonPidFile: string;
  stdin?: boolean;
  /**
   * With stdin: keep the container's stdin open when an attach client closes (conmon
   * --leave-stdin-open). Without it the first client to close (or half-close) ends the input.
   */
  leaveStdinOpen?: boolean;
  terminal?: boolean;
  /** Bytes after which conmon starts a new log file. */
  logSizeMax?: number;
  persistDir?: string;
  /** The conmon executable (default 'conmon', found through PATH). */
  conmon?: string;
  /** Give up (and kill conmon) when runc create has not answered in this long (default 60 s). */
  timeoutMs?: number;
}

export class ConmonError extends Error {
  constructor(
    message: string,
    /** The runtime's (or conmon's) own message, without "conmon: " in front. */
    readonly detail: string,
  ) {
    super(message);
    this.name = 'ConmonError';
  }
}

const HARMLESS_RE = /oom_score_adj/;

/** conmon's stderr lines, less the known-harmless warnings. */
function cleanConmonStderr(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.trim().replace(/^\[conmon:\w\]:\s*/, ''))
    .filter((l) => l && !HARMLESS_RE.test(l))
    .join('\n');
}

export function conmonArgs(opts: ConmonOptions): string[] {
  const uuid = opts.uuid ?? opts.id;
  const args = [
    '--api-version', '1',
    '-c', opts.id,
    '-u', uuid,
    '-n', opts.name ?? opts.id,
    '-r', opts.runtime,
    '--runtime-arg', '--root',
    '--runtime-arg', opts.runtimeRoot,
    '-b', opts.bundle,
    '-p', opts.pidFile,
    '-P', opts.conmonPidFile,
    '-l', opts.logDriver === 'none' ? 'none:' : `k8s-file:${opts.logPath}`,
    '--exit-dir', opts.exitDir,
    '--socket-dir-path', opts.socketDir,
  ];
  if (opts.stdin) args.push('-i');
  if (opts.stdin && opts.leaveStdinOpen) args.push('--leave-stdin-open');
  if (opts.terminal) args.push('-t');
  if (opts.logDriver !== 'none' && opts.logSizeMax !== undefined && opts.logSizeMax > 0) args.push('--log-size-max', String(Math.floor(opts.logSizeMax)));
  if (opts.persistDir) args.push('-0', opts.persistDir);
  return args;
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await fsp.readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined; // no pid file (yet): unknown
  }
}


/**
 * Starts conmon for a container and waits until `runc create` has finished. Resolves with the
 * container's init pid and conmon's pid; rejects with ConmonError carrying runc's message (e.g.
 * `runc create failed: unable to start container process: exec: "nope": executable file not found
 * in $PATH`). After a failure conmon has exited; the socket symlink is removed, the runc state (if
 * any) is the caller's to `runc delete`.
 */
export async function startConmon(opts: ConmonOptions): Promise<{ pid: number; conmonPid: number }> {
  const binary = opts.conmon ?? 'conmon';
  const timeoutMs = opts.timeoutMs ?? 60_000;
  // conmon runs in the bundle (see above); a missing one would read as a missing conmon binary.
  const bundleOk = await fsp.stat(path.join(opts.bundle, 'config.json')).then((st) => st.isFile(), () => false);
  if (!bundleOk) throw new ConmonError(`conmon ${opts.id}: no OCI bundle at ${opts.bundle} (config.json missing)`, 'bundle missing');
  await Promise.all([opts.exitDir, opts.socketDir, path.dirname(opts.logPath)].map((d) => fsp.mkdir(d, { recursive: true })));

  const env: NodeJS.ProcessEnv = { ...process.env, _OCI_SYNCPIPE: '3' };
  delete env._OCI_STARTPIPE;
  delete env._OCI_ATTACHPIPE;

  const outcome = await runConmon(binary, conmonArgs(opts), env, opts.bundle, timeoutMs);

  const fail = async (detail: string): Promise<never> => {
    await removeConmonFiles({ socketDir: opts.socketDir, uuid: opts.uuid ?? opts.id }).catch(debugIgnored('removing conmon files after a failed start failed'));
    throw new ConmonError(`conmon ${opts.id}: ${detail}`, detail);
  };

  if (outcome.spawnError) {
    const e = outcome.spawnError as NodeJS.ErrnoException;
    return fail(e.code === 'ENOENT' ? `${binary}: executable file not found` : e.message);
  }
  if (outcome.timedOut) {
    const conmonPid = await readPid(opts.conmonPidFile);
    if (conmonPid) {
      try {
        process.kill(conmonPid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    const extra = cleanConmonStderr(outcome.output);
    return fail(`runtime create did not finish in ${timeoutMs} ms${extra ? `: ${extra}` : ''}`);
  }
  if (!outcome.sync) {
    const text = cleanConmonStderr(outcome.output);
    return fail(text || `conmon exited with status ${String(outcome.exitCode)} without reporting`);
  }
  if (outcome.sync.data <= 0) {
    const runtimeText = outcome.sync.message ? parseRuncStderr(outcome.sync.message) : '';
    const text = runtimeText || cleanConmonStderr(outcome.output) || 'container create failed';
    return fail(text);
  }

  const pid = outcome.sync.data;
  // conmon writes its pid file right after daemonizing, before it runs runc; retry briefly anyway.
  let conmonPid: number | undefined;
  for (let i = 0; i < 50 && conmonPid === undefined; i++) {
    conmonPid = await readPid(opts.conmonPidFile);
    if (conmonPid === undefined) await sleep(10);
  }
  if (conmonPid === undefined) {
    throw new ConmonError(`conmon ${opts.id}: conmon did not write its pid file ${opts.conmonPidFile}`, 'no conmon pid file');
  }
  return { pid, conmonPid };
}

/** The attach socket conmon creates for a container. */
export function attachSocketPath(socketDir: string, uuid: string): string {
  return path.join(socketDir, uuid, 'attach');
}

/** Removes what conmon leaves outside the bundle: the socket-dir symlink and (with exitDir+id) the exit file. */
export async function removeConmonFiles(opts: { socketDir: string; uuid: string; exitDir?: string; id?: string }): Promise<void> {
  const files = [path.join(opts.socketDir, opts.uuid)];
  if (opts.exitDir && opts.id) files.push(path.join(opts.exitDir, opts.id));
  for (const f of files) {
    try {
      await fsp.unlink(f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Parses an exit file's text; undefined while it is still empty or unreadable. */
function parseExitCode(text: string): number | undefined {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return undefined;
  return Number.parseInt(t, 10);
}

/** The exit code conmon recorded for id, or undefined when there is none (yet). */
export async function readExitCode(exitDir: string, id: string): Promise<number | undefined> {
  try {
    return parseExitCode(await fsp.readFile(path.join(exitDir, id), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface WatchExitsOptions {
  /** Also report exit files already in the directory when the watch starts (for start-up reconciliation). */
  includeExisting?: boolean;
  /**
   * A safety net for lost inotify events (queue overflow): re-list the directory this often
   * (one readdir for all containers). 0 disables. Default 10 s.
   */
  rescanIntervalMs?: number;
  /** Called with errors reading the directory (default: ignored). */
  onError?: (err: Error) => void;
}

/**
 * Calls onExit(id, code) once for each exit file conmon writes in exitDir, as it appears (inotify
 * through fs.watch, no per-container polling). A file may be seen while still empty (created, then
 * written): it is read again on its next change event and retried briefly. The same file (same
 * inode and mtime) is reported once; if the caller deletes it and conmon writes a new one for the
 * same id (a restart), that one is reported too. exitDir is created if missing.
 */
export function watchExits(
  exitDir: string,
  onExit: (id: string, code: number) => void,
  opts: WatchExitsOptions = {},
): { close(): void; ready: Promise<void> } {
  let closed = false;
  const reported = new Map<string, string>(); // id -> "ino:mtimeMs" of the file reported
  const inflight = new Set<string>();
  let watcher: FSWatcher | undefined;
  let rescanTimer: NodeJS.Timeout | undefined;
  const onError = opts.onError ?? (() => undefined);

  const check = async (id: string): Promise<void> => {
    if (closed || inflight.has(id)) return;
    inflight.add(id);
    try {
      const file = path.join(exitDir, id);
      for (let attempt = 0; attempt < 20 && !closed; attempt++) {
        let st;
        try {
          st = await fsp.stat(file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            reported.delete(id);
            return;
          }
          throw err;
        }
        if (!st.isFile()) return;
        const key = `${st.ino}:${st.mtimeMs}:${st.size}`;
        if (reported.get(id) === key) return;
        if (st.size > 0) {
          let code: number | undefined;
          try {
            code = parseExitCode(await fsp.readFile(file, 'utf8'));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
            throw err;
          }
          if (code !== undefined) {
            reported.set(id, key);
            if (!closed) onExit(id, code);
            return;
          }
        }
        await sleep(attempt < 5 ? 5 : 25); // created but not yet written
      }
    } catch (err) {
      onError(err as Error);
    } finally {
      inflight.delete(id);
    }
  };

  const rescan = async (report: boolean): Promise<void> => {
    let names: string[];
    try {
      names = await fsp.readdir(exitDir);
    } catch (err) {
      onError(err as Error);
      return;
    }
    const present = new Set(names);
    for (const id of reported.keys()) if (!present.has(id)) reported.delete(id);
    for (const name of names) {
      if (name.startsWith('.')) continue;
      if (report) void check(name);
    }
  };

  const ready = (async () => {
    await fsp.mkdir(exitDir, { recursive: true });
    if (closed) return;
    watcher = fsWatch(exitDir, { persistent: false }, (_event, filename) => {
      if (closed) return;
      if (filename) {
        const name = filename.toString();
        if (!name.startsWith('.') && !name.includes('/')) void check(name);
      } else {
        void rescan(true);
      }
    });
    watcher.on('error', (err) => onError(err));
    // Files that were already there: either report them, or remember them as seen so that a
    // later change event for them is not mistaken for a new exit.
    if (opts.includeExisting) await rescan(true);
    else {
      // no exit directory yet: nothing reported
      for (const name of await fsp.readdir(exitDir).catch(() => [] as string[])) {
        const st = await fsp.stat(path.join(exitDir, name)).catch(() => undefined); // gone meanwhile: skipped
        if (st?.isFile() && st.size > 0) reported.set(name, `${st.ino}:${st.mtimeMs}:${st.size}`);
      }
    }
    const every = opts.rescanIntervalMs ?? 10_000;
    if (every > 0 && !closed) {
      rescanTimer = setInterval(() => void rescan(true), every);
      rescanTimer.unref();
    }
  })();
  ready.catch((err: unknown) => onError(err as Error));

  return {
    ready: ready.catch(() => undefined), // the failure already went to onError above
    close() {
      closed = true;
      watcher?.close();
      if (rescanTimer) clearInterval(rescanTimer);
    },
  };
}

interface ConmonOutcome {
  sync?: { data: number; message?: string };
  exitCode?: number | null;
  spawnError?: Error;
  output: string;
  timedOut?: boolean;
}

/** conmon's answer on the sync pipe: {"data": pid} (or {"pid": ...}), or a negative data with runc's message. */
function parseSyncLine(line: string): { data: number; message?: string } {
  try {
    const j = JSON.parse(line) as { data?: unknown; pid?: unknown; message?: unknown };
    const data = typeof j.data === 'number' ? j.data : typeof j.pid === 'number' ? j.pid : -1;
    return { data, message: typeof j.message === 'string' ? j.message : undefined };
  } catch {
    return { data: -1, message: `unreadable answer from conmon: ${line}` };
  }
}

/**
 * conmon run by the spawner process (lib/spawner.ts), so the daemon's event loop does not stall on the
 * fork, or in-process when the spawner is off (tests, tools).
 */
async function runConmon(binary: string, args: string[], env: NodeJS.ProcessEnv, bundle: string, timeoutMs: number): Promise<ConmonOutcome> {
  // conmon writes relative files (`oom` without a persistDir) in its working directory (the bundle), and
  // runs in its own session: a signal to the daemon's process group must not reach it.
  const req = { program: binary, args, env, cwd: bundle, detached: true, timeoutMs };
  const r = spawnerEnabled() ? await spawnerRun({ kind: 'sync-pipe', ...req }) : await runSyncPipe(req);
  const spawnError = r.error ? Object.assign(new Error(r.error.message), { code: r.error.code }) : undefined;
  return {
    output: r.stdout,
    ...(r.syncLine !== undefined ? { sync: parseSyncLine(r.syncLine) } : {}),
    ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
    ...(spawnError ? { spawnError } : {}),
    ...(r.timedOut ? { timedOut: true } : {}),
  };
}
