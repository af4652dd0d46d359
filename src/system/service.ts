import { readdirSync } from 'node:fs';
import { registryInfo, type RegistrySettings } from '../distribution/endpoints.js';
import type { ImageService } from '../images/service.js';
import type { EventBus } from '../events/bus.js';
import type { ContainerService } from '../containers/service.js';
import { summaryView } from '../containers/views.js';
import { readHostFacts, goArch, type HostFacts } from './host.js';

/**
 * The daemon settings /info shows; the daemon's config object itself (daemon/config.ts), read live so
 * a SIGHUP reload shows.
 */
export interface SystemSettings extends RegistrySettings {
  readonly dataRoot: string;
  readonly debug: boolean;
  readonly liveRestore: boolean;
  readonly labels: string[];
  readonly usernsRemap: string;
  readonly logDriver: string;
  /** --authorization-plugin (plugins/authz.ts), listed in /info as dockerd does. */
  readonly authorizationPlugins?: string[];
}

/** The versions /version reports. */
export interface ServerVersions {
  engine: string;
  api: string;
  minApi: string;
}

/**
 * /version, /info and /system/df: read-only views over the other services and the host.
 * Later services (containers, volumes, networks) add their counts through `usage` providers.
 */
export class SystemService {
  private readonly host: HostFacts = readHostFacts();
  private readonly startedAt = Date.now();

  constructor(
    private readonly config: SystemSettings,
    private readonly daemonId: string,
    private readonly images: ImageService,
    private readonly events: EventBus,
    private readonly containers: ContainerService,
    /** What the API layer serves (api/version.ts), given by the daemon: services do not import api/. */
    private readonly versions: ServerVersions,
    /** /info's Swarm section (swarm/manager/); absent: a node in no swarm. */
    private readonly swarm?: { swarmInfo(): Record<string, unknown> },
  ) {}

  version(): Record<string, unknown> {
    const details = {
      ApiVersion: this.versions.api,
      Arch: goArch(),
      BuildTime: '',
      Experimental: 'false',
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      KernelVersion: this.host.kernelVersion,
      MinAPIVersion: this.versions.minApi,
      Os: 'linux',
    };
    return {
      Platform: { Name: 'Berth Engine' },
      Components: [{ Name: 'Engine', Version: this.versions.engine, Details: details }],
      Version: this.versions.engine,
      ApiVersion: this.versions.api,
      MinAPIVersion: this.versions.minApi,
      GitCommit: '',
      GoVersion: details.GoVersion,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: this.host.kernelVersion,
      BuildTime: '',
    };
  }

  info(): Record<string, unknown> {
    const c = this.config;
    const all = this.containers.store.all();
    return {
      ID: this.daemonId,
      Containers: all.length,
      ContainersRunning: all.filter((x) => x.state.Running && !x.state.Paused).length,
      ContainersPaused: all.filter((x) => x.state.Paused).length,
      ContainersStopped: all.filter((x) => !x.state.Running).length,
      Images: this.images.store.all().length,
      Driver: 'overlay2',
      DriverStatus: [
        ['Backing Filesystem', 'extfs'],
        ['Supports d_type', 'true'],
        ['Using metacopy', 'false'],
        ['Native Overlay Diff', 'true'],
        ['userxattr', 'false'],
      ],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none', 'null'], Authorization: c.authorizationPlugins?.length ? [...c.authorizationPlugins] : null, Log: ['json-file', 'local'] },
      MemoryLimit: true,
      SwapLimit: true,
      KernelMemoryTCP: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: this.host.cgroupVersion === '1',
      IPv4Forwarding: true,
      Debug: c.debug,
      NFd: openFds(),
      NGoroutines: 1,
      SystemTime: new Date().toISOString(),
      LoggingDriver: c.logDriver,
      CgroupDriver: 'cgroupfs',
      CgroupVersion: this.host.cgroupVersion,
      NEventsListener: this.events.listenerCount,
      KernelVersion: this.host.kernelVersion,
      OperatingSystem: this.host.operatingSystem,
      OSVersion: this.host.osVersion,
      OSType: 'linux',
      Architecture: this.host.architecture,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryInfo(c),
      NCPU: this.host.ncpu,
      MemTotal: this.host.memTotal,
      GenericResources: null,
      DockerRootDir: c.dataRoot,
      HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
      HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
      NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
      Name: this.host.hostname,
      Labels: c.labels,
      ExperimentalBuild: false,
      ServerVersion: this.versions.engine,
      Runtimes: { runc: { path: 'runc' } },
      DefaultRuntime: 'runc',
      Swarm: this.swarm?.swarmInfo() ?? {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: c.liveRestore,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      SecurityOptions: ['name=seccomp,profile=builtin', ...(c.usernsRemap ? ['name=userns'] : [])],
      Warnings: null,
      UptimeSeconds: Math.floor((Date.now() - this.startedAt) / 1000),
    };
  }

  async diskUsage(types?: string[]): Promise<Record<string, unknown>> {
    const want = (t: string) => !types?.length || types.includes(t);
    const out: Record<string, unknown> = {};
    if (want('image')) {
      out.LayersSize = this.images.layersSize();
      out.Images = this.images.list({}).map((s) => ({ ...s, SharedSize: this.sharedSize(s.Id) }));
    }
    if (want('container')) {
      const rows = [];
      for (const ct of this.containers.store.all()) {
        const rw = await this.containers.sizeRw(ct);
        rows.push({ ...summaryView(ct), SizeRw: rw, SizeRootFs: rw + (this.images.store.get(ct.imageId)?.size ?? 0) });
      }
      out.Containers = rows;
    }
    if (want('volume')) out.Volumes = await this.containers.mounts.volumes.diskUsage();
    if (want('build-cache')) out.BuildCache = [];
    return out;
  }

  /** Bytes of an image's layers that other images use too, as Docker's df reports. */
  private sharedSize(imageId: string): number {
    const img = this.images.store.get(imageId);
    if (!img) return 0;
    const mine = this.images.layers.chainIds(img.config.rootfs.diff_ids);
    let shared = 0;
    for (const chainId of mine) {
      const usedElsewhere = this.images.store
        .all()
        .some((other) => other.id !== imageId && this.images.layers.chainIds(other.config.rootfs.diff_ids).includes(chainId));
      if (usedElsewhere) shared += this.images.layers.get(chainId)?.size ?? 0;
    }
    return shared;
  }
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0; // no /proc: unknown
  }
}
