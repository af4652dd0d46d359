import { promises as fs } from 'node:fs';
import { diskUsage } from '../lib/disk-usage.js';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '../store/db.js';
import type { ImageService } from '../images/service.js';
import type { Image } from '../images/model.js';
import type { EventBus } from '../events/bus.js';
import type { Container, ContainerState } from './model.js';
import { initialState } from './model.js';
import { ContainerStore } from './store.js';
import { ContainerRunner } from './runner.js';
import { generateName, validateName } from './names.js';
import { validateHostConfig, validateContainerConfig, applyHostConfigDefaults, resourcesFor, type ContainerConfig, type HostConfig } from '../runtime/spec/index.js';
import { Filters } from '../lib/filters.js';
import { parseTimestampNs } from '../lib/timestamps.js';
import { parseSignal } from '../runtime/signals.js';
import { readExitCode, watchExits } from '../runtime/conmon.js';
import { readMemoryEvents } from '../runtime/cgroups.js';
import { cgroupsPathOf } from './runner.js';
import { conflict, internal, invalidArgument, messageOf, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { rfc3339Nano } from '../lib/timestamps.js';
import { log, debugIgnored } from '../lib/log.js';
import { stepTrace } from '../lib/trace.js';
import { KeyedMutex } from '../lib/mutex.js';
import { RestartManager } from './restart.js';
import { sharedNamespaces } from './namespaces.js';
import { ContainerMounts } from './mounts.js';
import { ContainerIO } from './attach.js';
import { ExecService } from './exec.js';
import { HealthMonitors, mergeHealthcheck, type HealthConfig } from './health.js';
import { ContainerLogs } from './log-drivers/manager.js';
import { mergeLogConfig, type LogConfig } from './log-drivers/config.js';
import type { VolumeService } from '../volumes/service.js';
import type { ContainerNetworking, NetworkingConfig } from '../networks/service.js';
import { etcFilesFor } from './etc-files.js';
import { parseLink, linkEnv, linkHostNames, mergeEnv } from '../networks/links.js';
import { sleep } from '../lib/sleep.js';
import type { IdentityMapping } from '../runtime/userns.js';

export interface CreateRequest {
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig?: NetworkingConfig | null;
}

/** What the container service is built from, all given by the composition root (daemon/daemon.ts). */
export interface ContainerServiceDeps {
  db: Db;
  images: ImageService;
  events: EventBus;
  dataRoot: string;
  execRoot: string;
  volumes: VolumeService;
  /** Built before the container service (which it finds by a lookup of its own). */
  networking?: ContainerNetworking;
  /** The daemon's --userns-remap. */
  idMapping?: IdentityMapping;
  /** The daemon's --log-driver/--log-opt. */
  logDefault?: LogConfig;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (r: { StatusCode: number; Error: { Message: string } | null }) => void;
}

/**
 * Containers: their records, names and the lifecycle verbs. State changes for one container are
 * serialized by a per-container lock; the exit of a container is learned from conmon's exit file
 * (inotify on the exit directory), never by polling.
 * Lifecycle: created by the daemon; `init` reconciles records with what runc still runs; `close`
 * stops watching (containers keep running: conmon owns them).
 */
export class ContainerService {
  readonly images: ImageService;
  private readonly events: EventBus;
  readonly store: ContainerStore;
  readonly runner: ContainerRunner;
  /** Binds, volumes and tmpfs mounts of containers (mounts.ts). */
  readonly mounts: ContainerMounts;
  /** Live I/O of containers through conmon's attach sockets (attach.ts). */
  readonly io: ContainerIO;
  /** Exec sessions (exec.ts). */
  readonly execs: ExecService;
  /** Healthcheck monitors of running containers (health.ts). */
  readonly health: HealthMonitors;
  private readonly locks = new KeyedMutex();
  private readonly waiters = new Map<string, Waiter[]>();
  private exitWatch?: { close(): void };
  /** Containers being stopped by the daemon, so their exit is reported with a 'stop' event. */
  private readonly stopping = new Set<string>();
  private readonly restarts = new RestartManager();
  /** Containers in a `docker restart`: their exit does not auto-remove them. */
  private readonly restartingByUser = new Set<string>();
  private shuttingDown = false;
  /** Logging drivers: conmon's options, copying into the driver's file, what `docker logs` reads. */
  readonly logs: ContainerLogs;
  /** Networks (networks/service.ts): sandboxes on start, release on exit; without it containers get no sandbox. */
  readonly networking?: ContainerNetworking;

  constructor(deps: ContainerServiceDeps) {
    const { db, images, events, dataRoot, execRoot, volumes } = deps;
    this.images = images;
    this.events = events;
    this.networking = deps.networking;
    this.store = new ContainerStore(db);
    this.runner = new ContainerRunner(dataRoot, execRoot, images.layers, deps.idMapping);
    this.logs = new ContainerLogs(dataRoot, deps.logDefault);
    this.mounts = new ContainerMounts(volumes, (ref) => this.resolve(ref), path.join(execRoot, 'subpaths'));
    this.io = new ContainerIO(this.runner);
    this.execs = new ExecService(this, execRoot);
    this.health = new HealthMonitors({ sessions: this.execs, emit: (c, action) => this.emit(c, action) });
  }

  async init(): Promise<void> {
    await this.runner.init();
    // Volumes stay mounted for the containers that may still run; those found dead release them below.
    await this.mounts.restore(this.store.all().filter((c) => c.state.Running && !c.state.Restarting));
    this.exitWatch = watchExits(this.runner.exitDir, (id, code) => this.onExit(id, code).catch((err) => log.error('exit handling failed', { id, error: messageOf(err) })));
    const toStart: Container[] = [];
    for (const c of this.store.all()) {
      if (!c.state.Running) {
        if (this.restarts.shouldStartAtDaemonStart(c)) toStart.push(c);
        continue;
      }
      if (c.state.Restarting) {
        // The daemon died while this container waited to restart: restart it now.
        this.restarts.schedule(c.id, 0, () => this.restartLater(c.id));
        continue;
      }
      const state = await this.runner.runc.state(c.id).catch(() => undefined); // unknown to runc: treated as not running
      if (state && (state.status === 'running' || state.status === 'paused')) {
        c.state.Paused = state.status === 'paused';
        c.state.Status = state.status;
        if (!c.state.Paused) this.health.init(c); // probing again, from `starting`, as dockerd's restore
        this.store.save(c);
        await this.logs.follow(c); // catches up what conmon logged while the daemon was down
        continue; // still running under conmon: adopt it
      }
      const code = await readExitCode(this.runner.exitDir, c.id);
      await this.onExit(c.id, code ?? 255);
    }
    await this.runner.reconcile(new Map(this.store.all().map((c) => [c.id, { running: c.state.Running && !c.state.Restarting }])));
    // Restart policies at daemon start: always, unless-stopped (not stopped by a user), on-failure.
    await Promise.all(
      toStart.map((c) =>
        this.locks.run(c.id, () => this.startLocked(c)).catch((err) => log.warn('restart at daemon start failed', { id: c.id, error: messageOf(err) })),
      ),
    );
  }

  /**
   * Daemon shutdown. Without live-restore, running containers are stopped with their stop signal and
   * timeout, as dockerd does; with it they are left to conmon and adopted at the next start.
   */
  async shutdown(opts: { liveRestore: boolean }): Promise<void> {
    this.shuttingDown = true;
    for (const id of this.restarts.cancelAll()) {
      const c = this.store.get(id);
      if (c) this.endRestarting(c);
    }
    if (!opts.liveRestore) {
      const running = this.store.all().filter((c) => c.state.Running);
      await Promise.all(running.map((c) => this.stop(c.id, { byUser: false }).catch((err) => log.warn('stop at shutdown failed', { id: c.id, error: messageOf(err) }))));
    }
    await this.health.closeAll();
    this.exitWatch?.close();
    await this.logs.shutdown();
  }

  // ---- lookup -------------------------------------------------------------------------------

  /** By full id, by name, then by unique id prefix, as dockerd's GetContainer. */
  resolve(ref: string): Container {
    const c = this.tryResolve(ref);
    if (!c) throw notFound(`No such container: ${ref}`);
    return c;
  }

  tryResolve(ref: string): Container | undefined {
    if (!ref) return undefined;
    const exact = this.store.get(ref) ?? this.store.byName(ref);
    if (exact) return exact;
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    const matches = this.store.all().filter((c) => c.id.startsWith(ref));
    if (matches.length > 1) throw invalidArgument(`multiple IDs found with provided prefix: ${ref}`);
    return matches[0];
  }

  // ---- create -------------------------------------------------------------------------------

  /** `image`: the builder's step image, which is not in the image store (build/run-step.ts). */
  async create(req: CreateRequest, opts: { image?: Image } = {}): Promise<{ Id: string; Warnings: string[] }> {
    const cfg = req.config;
    if (!cfg.Image) throw invalidArgument('No image was specified');
    const image = opts.image ?? this.images.resolve(cfg.Image);
    const hostConfig = applyHostConfigDefaults(normalizeHostConfig(req.hostConfig));
    const warnings = validateHostConfig(hostConfig, { ncpu: os.cpus().length, usernsRemap: !!this.runner.idMapping });
    // The daemon's driver and options filled in and checked, as dockerd stores them (log-drivers/config.ts).
    hostConfig.LogConfig = mergeLogConfig(hostConfig.LogConfig, this.logs.daemonDefault);
    validateContainerConfig(cfg);
    if (hostConfig.AutoRemove && hostConfig.RestartPolicy?.Name && hostConfig.RestartPolicy.Name !== 'no') {
      throw invalidArgument("can't create 'AutoRemove' container with restart policy");
    }
    for (const e of cfg.Env ?? []) {
      if (e.startsWith('=') || e === '') throw invalidArgument(`invalid environment variable: ${e}`);
    }
    warnings.push(...(this.networking?.validateCreate(cfg, hostConfig, req.networkingConfig) ?? []));
    const name = req.name ? validateName(req.name) : generateName((n) => Boolean(this.store.byName(n)));
    const holder = this.store.byName(name);
    if (holder) {
      throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const links = this.resolveLinks(hostConfig);
    const id = newId();
    const config = mergeImageConfig(cfg, image.config.config ?? {}, id);
    if (!(config.Entrypoint?.length || config.Cmd?.length)) throw invalidArgument('no command specified');

    const c: Container = {
      id,
      name,
      created: rfc3339Nano(Date.now()),
      image: cfg.Image,
      imageId: image.id,
      config,
      hostConfig,
      state: initialState(),
      restartCount: 0,
      topChainId: image.topChainId,
      stoppedByUser: false,
      ...(links.length ? { links } : {}),
    };
    let volumes: import('./mounts.js').MountRegistration | undefined;
    try {
      volumes = await this.mounts.register(c);
      await this.runner.prepare(c);
      await this.mounts.populate(c, this.runner);
      this.store.save(c);
      volumes.release();
    } catch (err) {
      await this.runner.destroy(id).catch(debugIgnored('destroying a half-created container failed'));
      await volumes?.rollback();
      if (/UNIQUE constraint failed: containers.name/.test(messageOf(err))) {
        throw conflict(`Conflict. The container name "/${name}" is already in use. You have to remove (or rename) that container to be able to reuse that name.`);
      }
      throw err;
    }
    this.networking?.created(c, req.networkingConfig);
    this.emit(c, 'create');
    return { Id: id, Warnings: warnings };
  }

  // ---- start / stop -------------------------------------------------------------------------

  async start(ref: string): Promise<'started' | 'already'> {
    const c = this.resolve(ref);
    let autoRemove = false;
    return this.locks.run(c.id, async () => {
      if (c.state.Paused) throw conflict('cannot start a paused container, try unpause instead');
      if (c.state.Running) return 'already';
      if (c.state.Status === 'removing') throw conflict(`container is marked for removal and cannot be started`);
      this.restarts.clearExitOnNext(c.id);
      try {
        await this.startLocked(c);
      } catch (err) {
        autoRemove = c.hostConfig.AutoRemove === true;
        throw err;
      }
      return 'started';
    }).catch(async (err: unknown) => {
      // A --rm container that fails to start is removed, as dockerd does (docker run waits for that).
      if (autoRemove) await this.remove(c.id, { force: true, volumes: true }).catch(debugIgnored('removing a --rm container that failed to start failed'));
      throw err;
    });
  }

  private async startLocked(c: Container): Promise<void> {
    let netnsPath: string | undefined;
    let etcFrom: string | undefined;
    const mode = c.hostConfig.NetworkMode ?? 'bridge';
    if (mode.startsWith('container:')) {
      const other = this.resolve(mode.slice('container:'.length));
      if (!other.state.Running) throw conflict(`cannot join network namespace of a non running container: container ${other.id} is exited`);
      netnsPath = `/proc/${other.state.Pid}/ns/net`;
      // One network namespace, one name and one set of /etc files (dockerd's initializeNetworking), so
      // that a sidecar resolves what its host container resolves (127.0.0.11 on a user network).
      etcFrom = other.id;
      c.config.Hostname = other.config.Hostname;
      c.config.Domainname = other.config.Domainname;
    }
    // --ipc/--pid container:X and host, and the user namespace that goes with them (namespaces.ts).
    const shared = sharedNamespaces(c, (ref) => this.resolve(ref), (id) => this.runner.shmPath(id), !!this.runner.idMapping);
    const trace = stepTrace('start', c.id);
    let netSetUp: Promise<unknown> | undefined;
    try {
      const { mounts, tmpfs } = await this.mounts.setup(c);
      trace.mark('volumes');
      // The sandbox (netns, veth, iptables) is made while the runner mounts the rootfs; it waits for it.
      const net = netnsPath ? undefined : this.networking && trace.time('netns/veth/iptables (parallel)', () => this.networking!.setUp(c));
      netSetUp = net;
      net?.catch(() => {}); // awaited by the runner, or below when the runner failed first
      const linked = this.linkedRun(c);
      await this.logs.beforeStart(c);
      trace.mark('log driver');
      const { pid, conmonPid } = await this.runner.start(linked, { netnsPath, etcFrom, network: net, mounts, tmpfs, ...shared, beforeStart: () => this.io.beforeStart(c), log: this.logs.conmonOptions(c), trace });
      await this.logs.follow(c);
      trace.mark('log follow');
      Object.assign(c.state, {
        Status: 'running',
        Running: true,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: pid,
        ExitCode: 0,
        Error: '',
        StartedAt: rfc3339Nano(Date.now()),
      } satisfies Partial<ContainerState>);
      c.conmonPid = conmonPid;
      c.stoppedByUser = false;
      this.health.init(c);
      this.store.save(c);
      this.emit(c, 'start');
      trace.mark('record');
      trace.done();
    } catch (err) {
      await netSetUp?.catch(() => {}); // its failure is the one reported via the runner's error
      await this.networking?.tearDown(c.id).catch((e) => log.warn('network cleanup after failed start failed', { id: c.id, error: messageOf(e) }));
      await this.mounts.release(c);
      const msg = messageOf(err);
      c.state.Error = msg;
      c.state.ExitCode = /executable file not found|no such file or directory/.test(msg) ? 127 : /permission denied/.test(msg) ? 126 : 128;
      this.store.save(c);
      throw err;
    }
  }

  async stop(ref: string, opts: { signal?: string; timeout?: number; byUser?: boolean } = {}): Promise<'stopped' | 'already'> {
    const c = this.resolve(ref);
    if (!c.state.Running) return 'already';
    if (opts.byUser !== false) {
      c.stoppedByUser = true;
      this.store.save(c);
    }
    this.restarts.cancelNextRestart(c.id);
    if (c.state.Restarting) {
      await this.locks.run(c.id, async () => this.endRestarting(c));
      this.emit(c, 'stop');
      return 'stopped';
    }
    const signal = parseSignal(opts.signal ?? c.config.StopSignal ?? 'SIGTERM');
    const timeout = opts.timeout ?? c.config.StopTimeout ?? 10;
    this.stopping.add(c.id);
    try {
      const exited = this.nextExit(c.id);
      if (c.state.Paused) {
        await this.killProcess(c, 9);
        await this.runner.runc.resume(c.id).catch(debugIgnored('resuming a killed paused container failed'));
      } else {
        await this.killProcess(c, signal);
      }
      const inTime = timeout < 0 ? await exited.then(() => true) : await Promise.race([exited.then(() => true), sleep(timeout * 1000).then(() => false)]);
      if (!inTime && this.store.get(c.id)?.state.Running) {
        await this.killProcess(c, 9);
        await Promise.race([exited, sleep(10_000)]);
      }
    } finally {
      this.stopping.delete(c.id);
    }
    return 'stopped';
  }

  async restart(ref: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    const c = this.resolve(ref);
    // As dockerd's HasBeenManuallyRestarted: the exit of this stop does not remove an --rm container.
    this.restartingByUser.add(c.id);
    try {
      await this.stop(c.id, opts);
      await this.locks.run(c.id, async () => {
        this.restarts.clearExitOnNext(c.id);
        if (!c.state.Running) await this.startLocked(c);
      });
    } finally {
      this.restartingByUser.delete(c.id);
    }
    this.emit(c, 'restart');
  }

  /**
   * `docker kill`, as dockerd: the user's kill counts as a manual stop (unless-stopped stays down), and
   * SIGKILL or the container's own stop signal (any signal when it has none) makes its next exit final
   * for every policy. With SIGKILL it returns once the exit is recorded (at most 10 s).
   */
  async kill(ref: string, signalName?: string): Promise<void> {
    const c = this.resolve(ref);
    const signal = parseSignal(signalName || 'SIGKILL');
    if (!c.state.Running) throw conflict(`cannot kill container: ${ref}: container ${c.id} is not running`);
    const stopSignal = c.config.StopSignal ? parseSignal(c.config.StopSignal) : undefined;
    const final = stopSignal === undefined || signal === 9 || signal === stopSignal;
    if (final) this.restarts.cancelNextRestart(c.id);
    if (!this.shuttingDown) {
      c.stoppedByUser = true;
      this.store.save(c);
    }
    if (c.state.Restarting) {
      // Nothing runs: only the pending restart is called off.
      if (final) await this.locks.run(c.id, async () => this.endRestarting(c));
      return;
    }
    const exited = signal === 9 ? this.nextExit(c.id) : undefined;
    await this.killProcess(c, signal);
    if (c.state.Paused && signal === 9) await this.runner.runc.resume(c.id).catch(debugIgnored('resuming a killed paused container failed'));
    if (exited) await Promise.race([exited, sleep(10_000)]);
  }

  private async killProcess(c: Container, signal: number): Promise<void> {
    this.emit(c, 'kill', { signal: String(signal) });
    try {
      await this.runner.runc.kill(c.id, signal);
    } catch (err) {
      // The process may have exited between our check and the signal: that is not an error.
      const st = await this.runner.runc.state(c.id).catch(() => undefined); // unknown to runc: it has exited
      if (st && st.status !== 'stopped') throw err;
    }
  }

  async pause(ref: string): Promise<void> {
    const c = this.resolve(ref);
    await this.locks.run(c.id, async () => {
      if (!c.state.Running) throw conflict(`Container ${c.id} is not running`);
      if (c.state.Paused) throw conflict(`Container ${c.id} is already paused`);
      await this.runner.runc.pause(c.id);
      c.state.Paused = true;
      c.state.Status = 'paused';
      this.health.update(c);
      this.store.save(c);
      this.emit(c, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const c = this.resolve(ref);
    await this.locks.run(c.id, async () => {
      if (!c.state.Paused) throw conflict(`Container ${c.id} is not paused`);
      await this.runner.runc.resume(c.id);
      c.state.Paused = false;
      c.state.Status = 'running';
      this.health.update(c);
      this.store.save(c);
      this.emit(c, 'unpause');
    });
  }

  // ---- exits --------------------------------------------------------------------------------

  /** Called when conmon reports an exit: records it, cleans up the run, wakes waiters. */
  private async onExit(id: string, code: number): Promise<void> {
    const c = this.store.get(id);
    if (!c) return;
    const trace = stepTrace('exit', id);
    await this.locks.run(id, async () => {
      if (!c.state.Running) return;
      // Probes end with the container; a restart starts them again from `starting`.
      this.health.stop(c);
      await this.logs.exited(c); // the log is whole before anyone learns of the exit
      trace.mark('log drain');
      const oom = await readMemoryEvents(cgroupsPathOf(id)).then((e) => e.oomKill > 0).catch(() => false); // cgroup gone: no OOM seen
      trace.mark('oom check');
      // The run's files and its network sandbox are independent: undone side by side.
      await Promise.all([
        this.runner.teardown(id, trace).catch((err) => log.warn('cleanup after exit failed', { id, error: messageOf(err) })),
        this.networking && trace.time('netns/veth teardown (parallel)', () => this.networking!.tearDown(id)).catch((err) => log.warn('network cleanup after exit failed', { id, error: messageOf(err) })),
      ]);
      trace.mark('network wait');
      await this.mounts.release(c);
      const restart = !this.stopping.has(id) && !this.shuttingDown && this.restarts.shouldRestartAfterExit(c, code);
      this.restarts.clearExitOnNext(id);
      const ranMs = Date.now() - Date.parse(c.state.StartedAt);
      Object.assign(c.state, {
        Status: restart ? 'restarting' : 'exited',
        // Docker reports a container waiting to restart as running and restarting.
        Running: restart,
        Paused: false,
        Restarting: restart,
        OOMKilled: oom,
        Pid: 0,
        ExitCode: code,
        FinishedAt: rfc3339Nano(Date.now()),
      } satisfies Partial<ContainerState>);
      c.conmonPid = undefined;
      this.store.save(c);
      if (oom) this.emit(c, 'oom');
      this.emit(c, 'die', { exitCode: String(code), execDuration: String(Math.round(ranMs / 1000)) });
      if (this.stopping.has(id)) this.emit(c, 'stop');
      // dockerd wakes every waiter for a stop (not-running, next-exit) even when a restart follows.
      this.wake(id, ['not-running', 'next-exit'], code);
      if (restart) this.restarts.schedule(id, this.restarts.nextDelay(id, ranMs), () => this.restartLater(id));
      trace.mark('record');
    });
    trace.done();
    // --rm removes the anonymous volumes too, as dockerd does; not between the stop and start of a restart.
    if (c.hostConfig.AutoRemove && !this.restartingByUser.has(id)) await this.remove(id, { force: true, volumes: true }).catch((err) => log.debug('auto-remove after exit failed', { id, error: messageOf(err) }));
  }

  /** A restart timer's callback: nobody awaits it, so its failure is logged here. */
  private restartLater(id: string): void {
    this.restartAfterDelay(id).catch((err) => log.error('restart failed', { id, error: messageOf(err) }));
  }

  /** A restart policy's restart, once its delay has passed (unless a stop or rm came first). */
  private async restartAfterDelay(id: string): Promise<void> {
    const c = this.store.get(id);
    if (!c) return;
    await this.locks.run(id, async () => {
      if (!c.state.Restarting || this.shuttingDown) return;
      c.restartCount++;
      try {
        await this.startLocked(c);
      } catch (err) {
        log.warn('restart failed', { id, error: messageOf(err) });
        const again = this.restarts.shouldRestartAfterExit(c, c.state.ExitCode || 128);
        Object.assign(c.state, { Status: again ? 'restarting' : 'exited', Running: again, Restarting: again, FinishedAt: rfc3339Nano(Date.now()) });
        this.store.save(c);
        if (again) this.restarts.schedule(id, this.restarts.nextDelay(id, 0), () => this.restartLater(id));
        else this.wake(id, ['not-running'], c.state.ExitCode);
      }
    });
  }

  /** Takes a container out of the restarting state (stop, rm, shutdown): it is exited now. */
  private endRestarting(c: Container): void {
    this.restarts.cancel(c.id);
    Object.assign(c.state, { Status: 'exited', Running: false, Restarting: false });
    this.store.save(c);
    this.wake(c.id, ['not-running'], c.state.ExitCode);
  }

  private nextExit(id: string): Promise<unknown> {
    return new Promise((resolve) => this.addWaiter(id, { condition: 'next-exit', resolve }));
  }

  async wait(ref: string, condition: WaitCondition = 'not-running'): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const c = this.resolve(ref);
    if (condition === 'not-running' && !c.state.Running) return { StatusCode: c.state.ExitCode, Error: null };
    return new Promise((resolve) => this.addWaiter(c.id, { condition, resolve }));
  }

  private addWaiter(id: string, w: Waiter): void {
    const list = this.waiters.get(id) ?? [];
    list.push(w);
    this.waiters.set(id, list);
  }

  private wake(id: string, conditions: WaitCondition[], code: number): void {
    const list = this.waiters.get(id) ?? [];
    const keep = list.filter((w) => {
      if (!conditions.includes(w.condition)) return true;
      w.resolve({ StatusCode: code, Error: null });
      return false;
    });
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  // ---- legacy links ---------------------------------------------------------------------------

  /** dockerd's registerLinks: HostConfig.Links outside user-defined networks name existing containers. */
  private resolveLinks(hostConfig: HostConfig): Array<{ childId: string; alias: string }> {
    const mode = hostConfig.NetworkMode ?? 'bridge';
    const raw = Array.isArray(hostConfig.Links) ? (hostConfig.Links as unknown[]).filter((l): l is string => typeof l === 'string') : [];
    if (!raw.length || !(['bridge', 'host', 'none'].includes(mode) || mode.startsWith('container:'))) return [];
    const out: Array<{ childId: string; alias: string }> = [];
    for (const l of raw) {
      const { name, alias } = parseLink(l);
      let child = this.tryResolve(name);
      if (!child) throw invalidArgument(`could not get container for ${name}: No such container: ${name}`);
      while (child.hostConfig.NetworkMode?.startsWith('container:')) {
        const ref = child.hostConfig.NetworkMode.slice('container:'.length);
        child = this.tryResolve(ref);
        if (!child) throw invalidArgument(`could not get container for ${ref}: No such container: ${ref}`);
      }
      if (child.hostConfig.NetworkMode === 'host' || mode === 'host') throw invalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
      // As dockerd, an alias already taken is ignored.
      if (!out.some((o) => o.alias === alias)) out.push({ childId: child.id, alias });
    }
    return out;
  }

  /** The container's links whose linked container still exists. */
  private liveLinks(c: Container): Array<{ child: Container; alias: string }> {
    return (c.links ?? []).flatMap((l) => {
      const child = this.store.get(l.childId);
      return child ? [{ child, alias: l.alias }] : [];
    });
  }

  /**
   * The container as runc should run it: on the default bridge, its links add environment variables
   * and /etc/hosts lines (dockerd's setupLinkedContainers and addLegacyLinks).
   */
  private linkedRun(c: Container): Container {
    const links = this.linkedChildren(c);
    if (!links.length) return c;
    const hosts = links.map(({ child, alias, ip }) => `${linkHostNames(alias, child.config.Hostname, child.name)}:${ip}`);
    return { ...c, config: { ...c.config, Env: this.envWithLinks(c) }, hostConfig: { ...c.hostConfig, ExtraHosts: [...(c.hostConfig.ExtraHosts ?? []), ...hosts] } };
  }

  /**
   * The container's Env with its links' variables first (dockerd's setupLinkedContainers): for its
   * process and, as dockerd does at exec create, for every exec. Throws when a linked container is down.
   */
  envWithLinks(c: Container): string[] {
    const env = this.linkedChildren(c).flatMap(({ child, alias, ip }) => linkEnv(`/${c.name}/${alias}`, ip, child.config.Env, child.config.ExposedPorts));
    return env.length ? mergeEnv(env, c.config.Env) : (c.config.Env ?? []);
  }

  /** The linked containers with their default-bridge addresses; none off the default bridge. */
  private linkedChildren(c: Container): Array<{ child: Container; alias: string; ip: string }> {
    const links = this.liveLinks(c);
    if (!links.length || (c.hostConfig.NetworkMode ?? 'bridge') !== 'bridge') return [];
    return links.map(({ child, alias }) => {
      if (!child.state.Running) throw new Error(`Cannot link to a non running container: /${child.name} AS /${c.name}/${alias}`);
      const ip = this.networking?.addressOn?.(child.id, 'bridge');
      if (!ip) throw new Error(`Cannot link to /${child.name}, as it does not belong to the default network`);
      return { child, alias, ip };
    });
  }

  /**
   * After a running container joined its first user-defined network, its resolv.conf names the embedded
   * DNS, as libnetwork rewrites it when the resolver starts. Written in place: the file is bind-mounted.
   */
  async useEmbeddedDns(c: Container): Promise<void> {
    const files = etcFilesFor({
      hostname: c.config.Hostname ?? c.id.slice(0, 12),
      networkMode: c.hostConfig.NetworkMode ?? 'bridge',
      dns: c.hostConfig.Dns ?? undefined,
      dnsSearch: c.hostConfig.DnsSearch ?? undefined,
      dnsOptions: c.hostConfig.DnsOptions ?? undefined,
      internalResolver: true,
    });
    await fs.writeFile(this.runner.paths(c.id).resolvConf, files.resolvConf);
  }

  /** inspect's HostConfig.Links: "/other:/me/alias", from the names the containers have now. */
  linksView(c: Container): string[] | null {
    const out = this.liveLinks(c).map(({ child, alias }) => `/${child.name}:/${c.name}/${alias}`);
    return out.length ? out : null;
  }

  /** ps's Names: the container's name, then "/parent/alias" for each container that links to it. */
  namesOf(c: Container): string[] {
    const names = [`/${c.name}`];
    for (const p of this.store.all()) for (const l of p.links ?? []) if (l.childId === c.id) names.push(`/${p.name}/${l.alias}`);
    return names;
  }

  /** DELETE /containers/{/parent/alias}?link=true: dockerd's rmLink. */
  removeLink(ref: string): void {
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    const i = name.lastIndexOf('/');
    const parentName = name.slice(0, i);
    if (!parentName) {
      this.resolve(name.slice(1));
      // dockerd answers this with a plain error (500).
      throw internal('Conflict, cannot remove the default link name of the container');
    }
    const parent = this.store.byName(parentName.slice(1));
    const alias = name.slice(i + 1);
    if (!parent?.links?.some((l) => l.alias === alias && this.store.get(l.childId))) throw notFound(`No such container: ${ref}`);
    parent.links = parent.links.filter((l) => l.alias !== alias);
    this.store.save(parent);
  }

  // ---- remove, rename, update ---------------------------------------------------------------

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = this.resolve(ref);
    // A container waiting to restart counts as running, as in dockerd: only a forced remove takes it.
    if (c.state.Running && !opts.force) {
      const state = c.state.Restarting ? 'restarting' : 'running';
      const what = c.state.Paused ? 'container is paused and must be unpaused first' : `container is ${state}: stop the container before removing or force remove`;
      throw conflict(`cannot remove container "/${c.name}": ${what}`);
    }
    if (c.state.Restarting) await this.locks.run(c.id, async () => this.endRestarting(c));
    if (c.state.Running) {
      const exited = this.nextExit(c.id);
      await this.killProcess(c, 9);
      if (c.state.Paused) await this.runner.runc.resume(c.id).catch(debugIgnored('resuming a killed paused container failed'));
      await Promise.race([exited, sleep(10_000)]);
    }
    const trace = stepTrace('remove', c.id);
    await this.locks.run(c.id, async () => {
      if (!this.store.get(c.id)) return;
      c.state.Status = 'removing';
      // The record goes first: a crash after it leaves only files, which start-up removes.
      this.store.delete(c.id);
      await this.logs.removed(c.id);
      await this.runner.destroy(c.id);
      this.restarts.forget(c.id);
      this.health.forget(c.id);
      this.execs.forgetContainer(c.id);
      this.io.removed(c.id);
      await this.networking?.removed(c.id).catch((err) => log.warn('network cleanup at removal failed', { id: c.id, error: messageOf(err) }));
      await this.mounts.release(c);
      if (opts.volumes) await this.mounts.removeAnonymous(c);
      this.emit(c, 'destroy');
      this.wake(c.id, ['not-running', 'next-exit', 'removed'], c.state.ExitCode);
      trace.mark('remove');
      trace.done();
    });
  }

  rename(ref: string, newName: string): void {
    const c = this.resolve(ref);
    const name = validateName(newName);
    if (name === c.name) throw invalidArgument(`Renaming a container with the same name as its current name`);
    const holder = this.store.byName(name);
    if (holder) {
      throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const oldName = c.name;
    c.name = name;
    this.store.save(c);
    this.networking?.renamed?.(c.id, name);
    this.emit(c, 'rename', { oldName: `/${oldName}` });
  }

  async update(ref: string, body: HostConfig): Promise<{ Warnings: string[] }> {
    const c = this.resolve(ref);
    return this.locks.run(c.id, async () => {
      const RESOURCE_KEYS = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight', 'KernelMemory'] as const;
      const next: HostConfig = { ...c.hostConfig };
      for (const key of RESOURCE_KEYS) {
        const v = (body as Record<string, unknown>)[key];
        if (v !== undefined && v !== null && !(v === 0 && key !== 'PidsLimit')) (next as Record<string, unknown>)[key] = v;
      }
      if (body.RestartPolicy?.Name !== undefined && body.RestartPolicy.Name !== '') {
        if (c.hostConfig.AutoRemove && body.RestartPolicy.Name !== 'no') {
          throw invalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
        next.RestartPolicy = body.RestartPolicy;
      }
      // Memory set without swap: the old swap limit is kept only if still above memory (as Docker).
      if (body.Memory && !body.MemorySwap && next.MemorySwap && next.MemorySwap > 0 && next.MemorySwap < body.Memory) next.MemorySwap = 0;
      if (next.NanoCpus && (next.CpuQuota || next.CpuPeriod) && (body.NanoCpus || body.CpuQuota || body.CpuPeriod)) {
        if (body.NanoCpus) {
          next.CpuQuota = 0;
          next.CpuPeriod = 0;
        } else next.NanoCpus = 0;
      }
      const warnings = validateHostConfig(next, { ncpu: os.cpus().length });
      if (c.state.Running) {
        await this.runner.runc.update(c.id, resourcesFor(next));
      }
      c.hostConfig = next;
      this.store.save(c);
      this.emit(c, 'update');
      return { Warnings: warnings };
    });
  }

  async prune(filtersRaw?: string): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    const filters = Filters.parse(filtersRaw, ['until', 'label', 'label!']);
    const until = filters.get('until').map((v) => parseTimestampNs(v) / 1e6);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.store.all()) {
      if (c.state.Running) continue;
      if (!filters.matchLabels(c.config.Labels)) continue;
      if (filters.get('label!').some((cond) => Filters.parse(JSON.stringify({ label: [cond] }), ['label']).matchLabels(c.config.Labels))) continue;
      if (until.some((u) => Date.parse(c.created) > u)) continue;
      reclaimed += await this.sizeRw(c);
      await this.remove(c.id);
      deleted.push(c.id);
    }
    this.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /** Bytes in the container's writable layer. */
  async sizeRw(c: Container): Promise<number> {
    return diskUsage(this.runner.paths(c.id).upper);
  }

  /**
   * Runs fn under the container's lock, for work that must not interleave with a start, an exit or a
   * removal (cp and export mount a stopped container's rootfs for their duration: archive.ts).
   */
  withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  emit(c: Container, action: string, extra: Record<string, string> = {}): void {
    this.events.publish('container', action, c.id, { ...(c.config.Labels ?? {}), image: c.image, name: c.name, ...extra });
  }
}

// ---- helpers ------------------------------------------------------------------------------------

/** Fills in what the image provides, as dockerd merges an image config into a container config. */
export function mergeImageConfig(cfg: ContainerConfig, img: NonNullable<import('../images/model.js').ImageConfigJson['config']>, id: string): ContainerConfig {
  const env = new Map<string, string>();
  for (const e of [...(img.Env ?? []), ...(cfg.Env ?? [])]) env.set(e.split('=')[0]!, e);
  const entrypointGiven = cfg.Entrypoint !== undefined && cfg.Entrypoint !== null;
  return {
    ...cfg,
    Hostname: cfg.Hostname || id.slice(0, 12),
    Domainname: cfg.Domainname ?? '',
    User: cfg.User || img.User || '',
    Env: [...env.values()],
    // An entrypoint given at create replaces the image's and drops its Cmd, as in Docker.
    Entrypoint: entrypointGiven ? (cfg.Entrypoint!.length ? cfg.Entrypoint : null) : (img.Entrypoint ?? null),
    Cmd: cfg.Cmd?.length ? cfg.Cmd : entrypointGiven ? null : (img.Cmd ?? null),
    WorkingDir: cfg.WorkingDir || img.WorkingDir || '',
    Labels: { ...(img.Labels ?? {}), ...(cfg.Labels ?? {}) },
    ExposedPorts: { ...(img.ExposedPorts ?? {}), ...(cfg.ExposedPorts ?? {}) },
    Volumes: { ...(img.Volumes ?? {}), ...(cfg.Volumes ?? {}) },
    StopSignal: cfg.StopSignal || img.StopSignal || undefined,
    Healthcheck: mergeHealthcheck(cfg.Healthcheck as HealthConfig | undefined, img.Healthcheck as HealthConfig | undefined),
    OnBuild: null,
  };
}

function normalizeHostConfig(h: HostConfig | undefined): HostConfig {
  const hc: HostConfig = { ...(h ?? {}) };
  if (!hc.NetworkMode || hc.NetworkMode === 'default') hc.NetworkMode = 'bridge';
  if (!hc.RestartPolicy || !hc.RestartPolicy.Name) hc.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
  if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(hc.RestartPolicy.Name!)) {
    throw invalidArgument(`invalid restart policy '${hc.RestartPolicy.Name}'`);
  }
  return hc;
}



