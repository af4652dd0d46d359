/**
 * Exec sessions: more processes in a running container (`docker exec`), as dockerd keeps them.
 *
 * Lifecycle: `create` records a session (in memory only, as dockerd) for a running, unpaused
 * container; `start` runs it once, under a conmon of its own (runtime/conmon-exec.ts), attached
 * (its I/O on a hijacked connection, api/streams/exec.ts) or detached; its exit code is recorded when conmon
 * reports it and stays readable through `inspect` until the container is removed. A session's files
 * (<exec-root>/execs/<id>: process spec, conmon's FIFOs and attach socket) live while it runs.
 * A daemon restart forgets the sessions; their processes run on.
 * Events: exec_create, exec_start (both with the command line in the action, as Docker names them)
 * and exec_die with execID and exitCode.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Container } from './model.js';
import type { ContainerService } from './service.js';
import { startConmonExec } from '../runtime/conmon-exec.js';
import { resizeTerminal, type AttachSocket } from '../runtime/attach-socket.js';
import { ConmonError } from '../runtime/conmon.js';
import { containerEnv, currentCapabilities, replaceOrAppendEnv, type OciSpec } from '../runtime/spec/index.js';
import { resolveUser } from '../runtime/user.js';
import { BerthError, conflict, invalidArgument, messageOf, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { log, debugIgnored } from '../lib/log.js';
import { parseDetachKeys } from './detach-keys.js';

/** The body of POST /containers/{id}/exec, as Docker's ExecConfig. */
export interface ExecCreateBody {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd?: string[] | null;
}

/** The body of POST /exec/{id}/start. */
export interface ExecStartBody {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

export interface ExecConfig {
  User: string;
  Privileged: boolean;
  Tty: boolean;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  DetachKeys: string;
  Env: string[];
  WorkingDir: string;
  Cmd: string[];
  ConsoleSize?: [number, number];
}

interface ExecSession {
  id: string;
  containerId: string;
  config: ExecConfig;
  state: 'created' | 'running' | 'exited';
  exitCode: number | null;
  pid: number;
  dir: string;
  /** The container's Env with its links' variables, taken at create as dockerd does. */
  containerEnv: string[];
  /** Settles once conmon reports the process running (or its start failing). */
  ready?: Promise<boolean>;
}

/** A started session: its attach socket (when attached) and its exit code once recorded. */
export interface ExecRun {
  socket?: AttachSocket;
  /** Resolves with the exit code after it has been recorded (inspect shows it from then on). */
  done: Promise<number>;
}

/** Finished sessions kept for inspect, at most (the oldest go first). */
const MAX_FINISHED = 1000;

export class ExecService {
  private readonly sessions = new Map<string, ExecSession>();

  constructor(
    private readonly containers: ContainerService,
    private readonly execRoot: string,
  ) {}

  /** POST /containers/{id}/exec. */
  create(ref: string, body: ExecCreateBody): { Id: string } {
    const c = this.containers.resolve(ref);
    checkExecutable(c, ref);
    const cmd = body.Cmd ?? [];
    if (!cmd.length) throw invalidArgument('No exec command specified');
    if (body.DetachKeys) {
      try {
        parseDetachKeys(body.DetachKeys);
      } catch {
        throw invalidArgument(`Invalid escape keys (${body.DetachKeys}) provided`);
      }
    }
    for (const e of body.Env ?? []) {
      if (e === '' || e.startsWith('=')) throw invalidArgument(`invalid environment variable: ${e}`);
    }
    const containerEnv = this.containers.envWithLinks(c);
    const id = newId();
    const cs = body.ConsoleSize;
    this.sessions.set(id, {
      id,
      containerId: c.id,
      config: {
        User: body.User ?? '',
        Privileged: Boolean(body.Privileged),
        Tty: Boolean(body.Tty),
        AttachStdin: Boolean(body.AttachStdin),
        AttachStdout: Boolean(body.AttachStdout),
        AttachStderr: Boolean(body.AttachStderr),
        DetachKeys: body.DetachKeys ?? '',
        Env: body.Env ?? [],
        WorkingDir: body.WorkingDir ?? '',
        Cmd: cmd,
        ConsoleSize: Array.isArray(cs) && cs.length === 2 ? [Number(cs[0]) || 0, Number(cs[1]) || 0] : undefined,
      },
      state: 'created',
      exitCode: null,
      pid: 0,
      dir: path.join(this.execRoot, 'execs', id),
      containerEnv,
    });
    this.prune();
    this.containers.emit(c, `exec_create: ${eventCommand(cmd)}`, { execID: id });
    return { Id: id };
  }

  private get(id: string): ExecSession {
    const ex = this.sessions.get(id);
    if (!ex) throw notFound(`No such exec instance: ${id}`);
    return ex;
  }

  /** The session's config if it can be started now; Docker's 404/409 otherwise. */
  startable(id: string): { config: ExecConfig; containerId: string } {
    const ex = this.get(id);
    if (ex.state === 'running') throw conflict(`Error: Exec command ${id} is already running`);
    if (ex.state === 'exited') throw conflict(`Error: Exec command ${id} has already run`);
    const c = this.containers.store.get(ex.containerId);
    if (!c) throw notFound(`No such container: ${ex.containerId}`);
    checkExecutable(c, c.id);
    return { config: ex.config, containerId: c.id };
  }

  /**
   * Runs the session's process. With attach the caller gets the connected attach socket and must
   * read it. Rejects (and records exit code 126, or 127 for a missing executable, as dockerd) when
   * the process cannot be started.
   */
  async start(id: string, opts: { attach: boolean; consoleSize?: [number, number] }): Promise<ExecRun> {
    this.startable(id);
    const ex = this.get(id);
    const c = this.containers.store.get(ex.containerId)!;
    ex.state = 'running';
    let markReady!: (ok: boolean) => void;
    ex.ready = new Promise((r) => (markReady = r));
    const cmdline = eventCommand(ex.config.Cmd);
    try {
      await fsp.mkdir(ex.dir, { recursive: true, mode: 0o700 });
      const spec = await this.processSpec(c, ex, opts.consoleSize ?? ex.config.ConsoleSize);
      const specPath = path.join(ex.dir, 'process.json');
      await fsp.writeFile(specPath, JSON.stringify(spec));
      const runner = this.containers.runner;
      const started = await startConmonExec({
        containerId: c.id,
        uuid: ex.id,
        dir: ex.dir,
        processSpecPath: specPath,
        runtime: runner.runc.binary,
        runtimeRoot: runner.runc.root,
        socketDir: runner.socketDir,
        stdin: ex.config.AttachStdin && opts.attach,
        terminal: ex.config.Tty,
        attach: opts.attach,
      });
      ex.pid = started.pid;
      markReady(true);
      this.containers.emit(c, `exec_start: ${cmdline}`, { execID: ex.id });
      const done = started.exited.then(async (code) => {
        ex.state = 'exited';
        ex.exitCode = code;
        this.containers.emit(c, 'exec_die', { execID: ex.id, exitCode: String(code) });
        await fsp.rm(ex.dir, { recursive: true, force: true }).catch(debugIgnored('removing an exec directory failed'));
        return code;
      });
      return { socket: started.socket, done };
    } catch (err) {
      markReady(false);
      const msg = err instanceof ConmonError ? err.detail : messageOf(err);
      const missing = /executable file not found|no such file or directory/i.test(msg);
      ex.state = 'exited';
      ex.exitCode = missing ? 127 : 126;
      await fsp.rm(ex.dir, { recursive: true, force: true }).catch(debugIgnored('removing an exec directory failed'));
      log.debug('exec start failed', { id, error: msg });
      if (err instanceof BerthError) throw err;
      const text = `OCI runtime exec failed: ${msg}: unknown`;
      if (missing || /permission denied|not a directory/i.test(msg)) throw invalidArgument(text);
      throw new BerthError('Internal', text, { cause: err });
    }
  }

  /** POST /exec/{id}/resize: waits (up to 10 s) for the session to start, as dockerd does. */
  async resize(id: string, height: number, width: number): Promise<void> {
    const ex = this.get(id);
    if (ex.state === 'created') {
      const deadline = Date.now() + 10_000;
      while (ex.state === 'created' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (ex.state === 'created') throw new BerthError('Internal', 'timeout waiting for exec session ready');
    }
    if (ex.ready && !(await ex.ready)) return;
    if (ex.state !== 'running' || !ex.config.Tty) return;
    try {
      await resizeTerminal(ex.dir, height, width);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENXIO' || code === 'ENOENT') return; // it has just exited
      throw err;
    }
  }

  /** GET /exec/{id}/json, with Docker's fields. */
  inspect(id: string): Record<string, unknown> {
    const ex = this.get(id);
    const cfg = ex.config;
    let keys = '';
    try {
      keys = cfg.DetachKeys ? parseDetachKeys(cfg.DetachKeys).toString('base64') : '';
    } catch {
      /* validated at create */
    }
    return {
      ID: ex.id,
      Running: ex.state === 'running',
      ExitCode: ex.exitCode,
      ProcessConfig: {
        tty: cfg.Tty,
        entrypoint: cfg.Cmd[0] ?? '',
        arguments: cfg.Cmd.slice(1),
        privileged: cfg.Privileged,
        ...(cfg.User ? { user: cfg.User } : {}),
      },
      OpenStdin: cfg.AttachStdin,
      OpenStderr: cfg.AttachStderr,
      OpenStdout: cfg.AttachStdout,
      // dockerd 20.10 answers false here even after the exit; the field is kept for compatibility.
      CanRemove: false,
      ContainerID: ex.containerId,
      DetachKeys: keys,
      Pid: ex.pid,
    };
  }

  /** Signals a running session's process (a health probe that overran: health.ts). */
  kill(id: string, signal: number): void {
    const ex = this.get(id);
    if (ex.state !== 'running' || ex.pid <= 0) return;
    try {
      process.kill(ex.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // it has just exited
    }
  }

  /** The ids of a container's sessions (container inspect's ExecIDs): those not finished. */
  idsOf(containerId: string): string[] {
    return [...this.sessions.values()].filter((s) => s.containerId === containerId && s.state !== 'exited').map((s) => s.id);
  }

  /** Forgets a removed container's sessions. */
  forgetContainer(containerId: string): void {
    for (const [id, s] of this.sessions) if (s.containerId === containerId) this.sessions.delete(id);
  }

  private prune(): void {
    const finished = [...this.sessions.values()].filter((s) => s.state === 'exited');
    for (const s of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED))) this.sessions.delete(s.id);
  }

  /**
   * The OCI process of a session, from the container's own (its bundle's config.json): the command,
   * Docker's environment for it (the container's, TERM with a tty, then the session's Env), working
   * directory and user if given, every capability the daemon holds if privileged.
   */
  private async processSpec(c: Container, ex: ExecSession, consoleSize?: [number, number]): Promise<OciSpec['process']> {
    const bundle = this.containers.runner.paths(c.id).bundle;
    const base = JSON.parse(await fsp.readFile(path.join(bundle, 'config.json'), 'utf8')) as OciSpec;
    const cfg = ex.config;
    const p: OciSpec['process'] = { ...base.process };
    p.args = cfg.Cmd;
    p.terminal = cfg.Tty;
    delete p.consoleSize;
    if (cfg.Tty && consoleSize && (consoleSize[0] > 0 || consoleSize[1] > 0)) p.consoleSize = { height: consoleSize[0], width: consoleSize[1] };
    p.env = replaceOrAppendEnv(containerEnv({ ...c.config, Env: ex.containerEnv, Tty: cfg.Tty }), cfg.Env);
    if (cfg.WorkingDir) p.cwd = cfg.WorkingDir;
    if (cfg.User) {
      const rootfs = path.isAbsolute(base.root.path) ? base.root.path : path.join(bundle, base.root.path);
      const u = resolveUser(rootfs, cfg.User, c.hostConfig.GroupAdd ?? []);
      p.user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
    }
    if (cfg.Privileged) {
      const all = [...currentCapabilities()];
      p.capabilities = { bounding: all, effective: all, permitted: all };
    }
    return p;
  }
}

/** dockerd's entrypoint + " " + args in exec events: `true ` (with the space) for a command alone. */
function eventCommand(cmd: string[]): string {
  return `${cmd[0] ?? ''} ${cmd.slice(1).join(' ')}`;
}

/** Docker's checks before an exec: running, not paused, not restarting. */
function checkExecutable(c: Container, ref: string): void {
  if (!c.state.Running) throw conflict(`container ${c.id} is not running`);
  if (c.state.Paused) throw conflict(`Container ${ref} is paused, unpause the container before exec`);
  if (c.state.Restarting) throw conflict(`Container ${ref} is restarting, wait until the container is running`);
}
