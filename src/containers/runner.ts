import { promises as fs, existsSync } from 'node:fs';
import path from 'node:path';
import { ZERO_TIME, type Container } from './model.js';
import type { LayerStore } from '../layers/store.js';
import { mountFilesystem, mountOverlay, unmount } from '../layers/mount.js';
import { chownToRoot, makeTraversable, rootPair, type IdentityMapping } from '../runtime/userns.js';
import { DEFAULT_SHM_SIZE } from '../runtime/units.js';
import { buildSpec, serializeSpec, type UserMount } from '../runtime/spec/index.js';
import { Runc } from '../runtime/runc.js';
import { startConmon, ConmonError } from '../runtime/conmon.js';
import type { ConmonLogOptions } from './log-drivers/manager.js';
import { removeCgroup } from '../runtime/cgroups.js';
import { hostCgroupVersion } from '../runtime/cgroups.js';
import { etcFilesFor, ipv6InContainer, writeEtcFiles } from './etc-files.js';
import type { NetworkEtc } from '../networks/service.js';
import { conflict, invalidArgument, messageOf, BerthError } from '../lib/errors.js';
import { log, debugIgnored } from '../lib/log.js';
import { stepTrace, type StepTrace } from '../lib/trace.js';
import { findExecutable } from '../lib/which.js';

/** Where one container's files live: persistent ones under the data root, runtime ones under the exec root. */
export interface ContainerPaths {
  dir: string;
  upper: string;
  work: string;
  empty: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  log: string;
  bundle: string;
  rootfs: string;
  pidFile: string;
  conmonPidFile: string;
}

const INIT_CANDIDATES = ['/usr/bin/docker-init', '/usr/bin/tini-static', '/usr/libexec/docker/docker-init'];

/**
 * Turns a container record into a running process and back: overlay rootfs, /etc files, OCI bundle,
 * conmon + runc. Every step of `start` is undone if a later one fails, so a failed start leaves no
 * mount, bundle or cgroup behind. Knows nothing of the API or of container state rules.
 */
export class ContainerRunner {
  readonly runc: Runc;
  /** conmon wants the runtime's absolute path. */
  private readonly runcPath: string;
  readonly exitDir: string;
  readonly socketDir: string;
  constructor(
    private readonly dataRoot: string,
    private readonly execRoot: string,
    private readonly layers: LayerStore,
    /** The daemon's --userns-remap: containers get a user namespace with these ranges. */
    readonly idMapping?: IdentityMapping,
  ) {
    this.runcPath = findExecutable('runc') ?? 'runc';
    this.runc = new Runc({ binary: this.runcPath, root: path.join(execRoot, 'runc') });
    this.exitDir = path.join(execRoot, 'exits');
    this.socketDir = path.join(execRoot, 'sockets');
  }

  async init(): Promise<void> {
    for (const dir of [this.exitDir, this.socketDir, path.join(this.execRoot, 'containers'), path.join(this.dataRoot, 'containers')]) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    }
    // The remapped root must pass through these on its way to a rootfs and the /etc files.
    if (this.idMapping) {
      for (const dir of [path.join(this.execRoot, 'containers'), path.join(this.dataRoot, 'containers')]) await makeTraversable(dir, this.idMapping);
    }
  }

  /**
   * Start-up reconciliation after a crash: removes container directories and bundles that no record
   * owns (a create or rm cut short), and tears down the leftovers of runs that are no longer running.
   */
  async reconcile(known: Map<string, { running: boolean }>): Promise<void> {
    for (const id of await fs.readdir(path.join(this.dataRoot, 'containers'))) {
      if (!known.has(id)) {
        log.info('removing the leftovers of an unfinished container', { id });
        await this.destroy(id).catch((e) => log.warn('cleanup failed', { id, error: messageOf(e) }));
      }
    }
    for (const id of await fs.readdir(path.join(this.execRoot, 'containers'))) {
      if (!known.get(id)?.running) await this.teardown(id).catch((e) => log.warn('cleanup failed', { id, error: messageOf(e) }));
    }
  }

  paths(id: string): ContainerPaths {
    const dir = path.join(this.dataRoot, 'containers', id);
    const bundle = path.join(this.execRoot, 'containers', id);
    return {
      dir,
      upper: path.join(dir, 'upper'),
      work: path.join(dir, 'work'),
      empty: path.join(dir, 'empty'),
      hostname: path.join(dir, 'hostname'),
      hosts: path.join(dir, 'hosts'),
      resolvConf: path.join(dir, 'resolv.conf'),
      log: path.join(dir, 'container.log'),
      bundle,
      rootfs: path.join(bundle, 'rootfs'),
      pidFile: path.join(bundle, 'pidfile'),
      conmonPidFile: path.join(bundle, 'conmon.pid'),
    };
  }

  /** Makes the container's persistent directory (at create). */
  async prepare(c: Container): Promise<void> {
    const p = this.paths(c.id);
    await fs.mkdir(p.upper, { recursive: true, mode: 0o755 });
    await fs.mkdir(p.work, { recursive: true, mode: 0o700 });
    await fs.writeFile(p.log, '');
    if (this.idMapping) {
      await makeTraversable(p.dir, this.idMapping);
      await chownToRoot(p.upper, this.idMapping); // the container's / belongs to its root
    }
  }

  /** Where a shareable container's /dev/shm (a tmpfs) is mounted on the host. */
  shmPath(id: string): string {
    return path.join(this.paths(id).dir, 'mounts', 'shm');
  }

  /** `--ipc shareable`: /dev/shm is a tmpfs on the host, so that `--ipc container:X` can bind it too. */
  private async mountShm(c: Container): Promise<string> {
    const target = this.shmPath(c.id);
    await fs.mkdir(target, { recursive: true, mode: 0o700 });
    if (this.idMapping) await makeTraversable(path.dirname(target), this.idMapping);
    const size = c.hostConfig.ShmSize && c.hostConfig.ShmSize > 0 ? c.hostConfig.ShmSize : DEFAULT_SHM_SIZE;
    const owner = this.idMapping ? `,uid=${rootPair(this.idMapping).uid},gid=${rootPair(this.idMapping).gid}` : '';
    await mountFilesystem('shm', target, 'tmpfs', `nosuid,nodev,noexec,mode=1777,size=${size}${owner}`);
    return target;
  }

  async destroy(id: string): Promise<void> {
    await this.teardown(id);
    await fs.rm(this.paths(id).dir, { recursive: true, force: true });
  }

  /** Mounts the rootfs; used by start, and later by cp/export on stopped containers. */
  async mountRootfs(c: Container): Promise<string> {
    const p = this.paths(c.id);
    await fs.mkdir(p.rootfs, { recursive: true });
    const layersDir = path.join(this.dataRoot, 'layers');
    let lowerDirs = c.topChainId ? this.layers.lowerDirs(c.topChainId).map((d) => path.relative(layersDir, d)) : [];
    if (!lowerDirs.length) {
      await fs.mkdir(p.empty, { recursive: true });
      lowerDirs = [path.relative(layersDir, p.empty)];
    }
    await mountOverlay(p.rootfs, { lowerDirs, upperDir: p.upper, workDir: p.work, cwd: layersDir });
    return p.rootfs;
  }

  /** The container's own /etc/hostname, /etc/hosts and /etc/resolv.conf, from its config and network. */
  private async writeEtc(c: Container, p: ContainerPaths, network: NetworkEtc | undefined): Promise<void> {
    const files = etcFilesFor({
      hostname: c.config.Hostname ?? c.id.slice(0, 12),
      domainname: c.config.Domainname,
      networkMode: c.hostConfig.NetworkMode ?? 'bridge',
      extraHosts: c.hostConfig.ExtraHosts ?? undefined,
      dns: c.hostConfig.Dns ?? undefined,
      dnsSearch: c.hostConfig.DnsSearch ?? undefined,
      dnsOptions: c.hostConfig.DnsOptions ?? undefined,
      addresses: network?.addresses ?? (network?.ip ? [network.ip] : []),
      ipv6: ipv6InContainer(c.hostConfig.Sysctls),
      internalResolver: network?.internalResolver,
      hostGateway: network?.hostGateway,
    });
    await writeEtcFiles({ hostname: p.hostname, hosts: p.hosts, resolvConf: p.resolvConf }, files);
    if (this.idMapping) for (const f of [p.hostname, p.hosts, p.resolvConf]) await chownToRoot(f, this.idMapping);
  }

  /**
   * Starts the container's process: returns once runc has started it. On failure everything this
   * did is undone and the error says what runc said.
   */
  async start(
    c: Container,
    opts: {
      netnsPath?: string;
      /** The network sandbox being set up (in parallel with the rootfs mount); its netnsPath wins. */
      network?: Promise<{ netnsPath?: string; etc: NetworkEtc } | undefined>;
      mounts?: UserMount[];
      tmpfs?: Record<string, string>;
      /** Shared IPC/PID/user namespaces and /dev/shm (containers/namespaces.ts). */
      ipcnsPath?: string;
      pidnsPath?: string;
      shmPath?: string;
      /**
       * The container whose /etc/hostname, /etc/hosts and /etc/resolv.conf this one uses instead of its
       * own (`--network container:X`: one network namespace, one set of files, as dockerd does).
       */
      etcFrom?: string;
      usernsPath?: string;
      /**
       * Runs once conmon is up (attach socket ready) and before the process runs: attach clients
       * connect here so that they miss no output (containers/attach.ts).
       */
      beforeStart?: () => Promise<void>;
      /** How conmon logs (log-drivers/manager.ts); default its k8s-file at paths().log, uncapped. */
      log?: ConmonLogOptions;
      /** Step timings (BERTH_TRACE_START, lib/trace.ts). */
      trace?: StepTrace;
    },
  ): Promise<{ pid: number; conmonPid: number }> {
    const p = this.paths(c.id);
    const trace = opts.trace ?? stepTrace('', '');
    try {
      // Anything left from a previous run. A container that never started and has no bundle has
      // nothing to tear down (a start that failed half-way tore down itself; one interrupted by a
      // daemon crash left its bundle): skipping saves ~15 file operations per first start.
      const neverRan = c.state.StartedAt === ZERO_TIME && !existsSync(p.bundle);
      if (!neverRan) await this.teardown(c.id);
      trace.mark('teardown leftovers');
      await fs.mkdir(p.bundle, { recursive: true, mode: 0o700 });
      if (this.idMapping) await makeTraversable(p.bundle, this.idMapping);
      const rootfs = await this.mountRootfs(c);
      trace.mark('rootfs mount');
      const net = await opts.network;
      const network = net?.etc;
      const netnsPath = net?.netnsPath ?? opts.netnsPath;
      trace.mark('network wait');
      const shmPath = opts.shmPath ?? (c.hostConfig.IpcMode === 'shareable' ? await this.mountShm(c) : undefined);
      const etc = opts.etcFrom ? this.paths(opts.etcFrom) : p;
      if (!opts.etcFrom) await this.writeEtc(c, p, network);
      trace.mark('etc files');
      const userns =
        this.idMapping && (typeof c.hostConfig.UsernsMode !== 'string' || c.hostConfig.UsernsMode === '')
          ? { uidMappings: this.idMapping.uidMaps, gidMappings: this.idMapping.gidMaps, path: opts.usernsPath }
          : undefined;
      const spec = buildSpec({
        id: c.id,
        rootfs,
        config: c.config,
        // tmpfs mounts from HostConfig.Mounts join HostConfig.Tmpfs (containers/mounts.ts)
        hostConfig: opts.tmpfs && Object.keys(opts.tmpfs).length ? { ...c.hostConfig, Tmpfs: { ...(c.hostConfig.Tmpfs ?? {}), ...opts.tmpfs } } : c.hostConfig,
        mounts: opts.mounts,
        hostsPath: etc.hosts,
        hostnamePath: etc.hostname,
        resolvConfPath: etc.resolvConf,
        netnsPath,
        cgroupsPath: cgroupsPathOf(c.id),
        cgroupVersion: hostCgroupVersion(),
        initPath: c.hostConfig.Init ? initBinary() : undefined,
        ipcnsPath: opts.ipcnsPath,
        pidnsPath: opts.pidnsPath,
        shmPath,
        userns,
      });
      // The bundle is made anew for each run (in the exec root): no fsync.
      await fs.writeFile(path.join(p.bundle, 'config.json'), serializeSpec(spec));
      trace.mark('bundle');
      const started = await startConmon({
        id: c.id,
        name: c.name,
        bundle: p.bundle,
        runtime: this.runcPath,
        runtimeRoot: this.runc.root,
        logPath: opts.log?.path ?? p.log,
        logDriver: opts.log?.driver,
        logSizeMax: opts.log?.sizeMax,
        exitDir: this.exitDir,
        socketDir: this.socketDir,
        pidFile: p.pidFile,
        conmonPidFile: p.conmonPidFile,
        stdin: Boolean(c.config.OpenStdin),
        // Docker closes the input when the client that attached it goes, only for StdinOnce without a tty.
        leaveStdinOpen: !(c.config.StdinOnce && !c.config.Tty),
        terminal: Boolean(c.config.Tty),
      });
      trace.mark('conmon + runc create');
      await opts.beforeStart?.();
      await network?.ready; // the embedded DNS is listening before the process runs
      trace.mark('attach/dns wait');
      await this.runc.start(c.id);
      trace.mark('runc start');
      return started;
    } catch (err) {
      await this.teardown(c.id).catch((e) => log.warn('cleanup after failed start failed', { id: c.id, error: messageOf(e) }));
      throw startError(err);
    }
  }

  /** Removes what a run leaves behind: runc state, the rootfs mount, the bundle, the cgroup, the exit file. */
  async teardown(id: string, trace = stepTrace('', '')): Promise<void> {
    const p = this.paths(id);
    // runc delete and the unmounts do not depend on each other.
    await Promise.all([
      trace.time('runc delete (parallel)', () => this.runc.delete(id, true)).catch((e) => log.debug('runc delete', { id, error: messageOf(e) })),
      trace.time('umount (parallel)', async () => {
        await unmount(p.rootfs);
        await unmount(this.shmPath(id));
      }),
    ]);
    trace.mark('runc delete + umount');
    await fs.rm(p.bundle, { recursive: true, force: true });
    await fs.rm(path.join(this.exitDir, id), { force: true });
    // conmon's short-path symlink to the bundle, for the attach socket.
    await fs.rm(path.join(this.socketDir, id), { force: true });
    await removeCgroup(cgroupsPathOf(id)).catch(debugIgnored('removing a container cgroup failed'));
    trace.mark('files + cgroup');
  }

  exitFile(id: string): string {
    return path.join(this.exitDir, id);
  }
}

export function cgroupsPathOf(id: string): string {
  return `/berth/${id}`;
}

function initBinary(): string {
  const found = INIT_CANDIDATES.find((p) => existsSync(p));
  if (!found) throw invalidArgument('exec: "docker-init": executable file not found in $PATH');
  return found;
}

/**
 * Docker's start errors: the CLI turns "executable file not found" / "no such file or directory" into
 * exit status 127 and "permission denied" into 126, so the message must carry runc's own words.
 */
const NETWORK_SETUP_ERROR = 'failed to set up container networking';

function startError(err: unknown): BerthError {
  if (err instanceof BerthError && err.kind !== 'Internal') return err;
  const msg = err instanceof ConmonError ? err.detail : messageOf(err);
  // Network set-up happens before the runtime in dockerd too, so its errors carry no OCI prefix there.
  const full = msg.startsWith('OCI runtime') || msg.startsWith(NETWORK_SETUP_ERROR) ? msg : `OCI runtime create failed: ${msg}`;
  if (/executable file not found|no such file or directory|permission denied|not a directory/i.test(msg)) return invalidArgument(full);
  if (/already/.test(msg)) return conflict(full);
  return new BerthError('Internal', full, { cause: err });
}
