import type { Container } from './model.js';
import { healthConfigView, type HealthConfig } from './health.js';
import type { ContainerPaths } from './runner.js';
import { statusText } from './status.js';
import { mountsView } from './mounts.js';
import { logPathOf } from './log-drivers/manager.js';
import path from 'node:path';

/** `docker inspect` of a container, with Docker's field names and shapes. */
export function inspectView(
  c: Container,
  paths: ContainerPaths,
  lowerDirs: string[],
  sizes?: { rw: number; rootFs: number },
  /** NetworkSettings fields from the network service (networks/service.ts containerView). */
  net?: { settings: Record<string, unknown> },
): Record<string, unknown> {
  const argv = [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])];
  const networkMode = c.hostConfig.NetworkMode ?? 'bridge';
  return {
    Id: c.id,
    Created: c.created,
    Path: argv[0] ?? '',
    Args: argv.slice(1),
    State: { ...c.state },
    Image: c.imageId,
    ResolvConfPath: paths.resolvConf,
    HostnamePath: paths.hostname,
    HostsPath: paths.hosts,
    LogPath: logPathOf(c, path.dirname(paths.dir)),
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfigView(c),
    GraphDriver: {
      Data: {
        LowerDir: lowerDirs.join(':'),
        MergedDir: paths.rootfs,
        UpperDir: paths.upper,
        WorkDir: paths.work,
      },
      Name: 'overlay2',
    },
    ...(sizes ? { SizeRw: sizes.rw, SizeRootFs: sizes.rootFs } : {}),
    Mounts: mountsView(c),
    Config: configView(c),
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      SandboxKey: c.state.Running && networkMode !== 'host' ? `/proc/${c.state.Pid}/ns/net` : '',
      Ports: {},
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: '',
      Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      MacAddress: '',
      Networks: networksView(networkMode),
      ...(net?.settings ?? {}),
    },
  };
}

function networksView(mode: string): Record<string, unknown> {
  if (mode.startsWith('container:')) return {};
  return {
    [mode]: {
      IPAMConfig: null,
      Links: null,
      Aliases: null,
      MacAddress: '',
      DriverOpts: null,
      GwPriority: 0,
      NetworkID: '',
      EndpointID: '',
      Gateway: '',
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      DNSNames: null,
    },
  };
}

function configView(c: Container): Record<string, unknown> {
  const cfg = c.config;
  return {
    Hostname: cfg.Hostname ?? '',
    Domainname: cfg.Domainname ?? '',
    User: cfg.User ?? '',
    AttachStdin: cfg.AttachStdin ?? false,
    AttachStdout: cfg.AttachStdout ?? false,
    AttachStderr: cfg.AttachStderr ?? false,
    ...(cfg.ExposedPorts && Object.keys(cfg.ExposedPorts).length ? { ExposedPorts: cfg.ExposedPorts } : {}),
    Tty: cfg.Tty ?? false,
    OpenStdin: cfg.OpenStdin ?? false,
    StdinOnce: cfg.StdinOnce ?? false,
    Env: cfg.Env ?? null,
    Cmd: cfg.Cmd ?? null,
    ...(cfg.Healthcheck ? { Healthcheck: healthConfigView(cfg.Healthcheck as HealthConfig) } : {}),
    Image: c.image,
    Volumes: cfg.Volumes && Object.keys(cfg.Volumes).length ? cfg.Volumes : null,
    WorkingDir: cfg.WorkingDir ?? '',
    Entrypoint: cfg.Entrypoint ?? null,
    OnBuild: null,
    Labels: cfg.Labels ?? {},
    ...(cfg.StopSignal ? { StopSignal: cfg.StopSignal } : {}),
    ...(cfg.StopTimeout !== undefined && cfg.StopTimeout !== null ? { StopTimeout: cfg.StopTimeout } : {}),
  };
}

/** HostConfig with Docker's defaults filled in, so that templates like {{.HostConfig.Memory}} work. */
function hostConfigView(c: Container): Record<string, unknown> {
  const defaults = {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: 'bridge',
    PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: '',
    VolumesFrom: null,
    ConsoleSize: [0, 0],
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: 'host',
    Dns: [],
    DnsOptions: [],
    DnsSearch: [],
    ExtraHosts: null,
    GroupAdd: null,
    IpcMode: 'private',
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: false,
    PublishAllPorts: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    UTSMode: '',
    UsernsMode: '',
    ShmSize: 67108864,
    Runtime: 'runc',
    Isolation: '',
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: 0,
    CpuQuota: 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: [],
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: 0,
    MemorySwap: 0,
    MemorySwappiness: null,
    OomKillDisable: null,
    PidsLimit: null,
    Ulimits: [],
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    MaskedPaths: null,
    ReadonlyPaths: null,
    Init: null,
  };
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(c.hostConfig)) if (v !== undefined) out[k] = v;
  return out;
}

/** One row of GET /containers/json. */
export function summaryView(
  c: Container,
  sizes?: { rw: number; rootFs: number },
  /** Ports and networks from the network service (networks/service.ts containerView). */
  net?: { ports: Array<Record<string, unknown>>; networks: Record<string, unknown> },
): Record<string, unknown> {
  const argv = [...(c.config.Entrypoint ?? []), ...(c.config.Cmd ?? [])];
  const networkMode = c.hostConfig.NetworkMode ?? 'bridge';
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: c.imageId,
    Command: argv.join(' '),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: net?.ports ?? [],
    ...(sizes ? { SizeRw: sizes.rw, SizeRootFs: sizes.rootFs } : {}),
    Labels: c.config.Labels ?? {},
    State: c.state.Status,
    Status: statusText(c.state),
    HostConfig: { NetworkMode: networkMode },
    NetworkSettings: { Networks: net?.networks ?? networksView(networkMode) },
    Mounts: mountsView(c),
  };
}
