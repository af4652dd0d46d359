/**
 * Schemas of the container bodies dockerd reads, after moby's api/types (container.CreateRequest,
 * container.UpdateConfig, container.ExecOptions, ...), with the Go names its errors use.
 */
import { invalidArgument } from '../../lib/errors.js';
import { goBool, goDuration, goFilledStruct, goInt, goList, goMap, goString, goStruct, strSlice } from './decode.js';

const strings = () => goList(goString());
const stringMap = () => goMap(goString());
const emptyStruct = () => goStruct('', {}, 'struct {}');

export const healthConfig = goStruct(
  'HealthConfig',
  {
    Test: strings(),
    Interval: goDuration(),
    Timeout: goDuration(),
    StartPeriod: goDuration(),
    StartInterval: goDuration(),
    Retries: goInt('int'),
  },
  'container.HealthConfig',
);

/** container.Config: what create and commit take at the top level of their body. */
export const configFields = {
  Hostname: goString(),
  Domainname: goString(),
  User: goString(),
  AttachStdin: goBool(),
  AttachStdout: goBool(),
  AttachStderr: goBool(),
  ExposedPorts: goMap(emptyStruct(), 'nat.PortSet'),
  Tty: goBool(),
  OpenStdin: goBool(),
  StdinOnce: goBool(),
  Env: strings(),
  Cmd: strSlice(),
  Healthcheck: healthConfig,
  ArgsEscaped: goBool(),
  Image: goString(),
  Volumes: goMap(emptyStruct()),
  WorkingDir: goString(),
  Entrypoint: strSlice(),
  NetworkDisabled: goBool(),
  MacAddress: goString(),
  OnBuild: strings(),
  Labels: stringMap(),
  StopSignal: goString(),
  StopTimeout: goInt('int'),
  Shell: strSlice(),
};

const weightDevice = goStruct('WeightDevice', { Path: goString(), Weight: goInt('uint16') }, 'blkiodev.WeightDevice');
const throttleDevice = goStruct('ThrottleDevice', { Path: goString(), Rate: goInt('uint64') }, 'blkiodev.ThrottleDevice');
const deviceMapping = goStruct('DeviceMapping', { PathOnHost: goString(), PathInContainer: goString(), CgroupPermissions: goString() }, 'container.DeviceMapping');
const deviceRequest = goStruct(
  'DeviceRequest',
  { Driver: goString(), Count: goInt('int'), DeviceIDs: strings(), Capabilities: goList(strings()), Options: stringMap() },
  'container.DeviceRequest',
);
const ulimit = goFilledStruct('Ulimit', { Name: goString(), Hard: goInt('int64'), Soft: goInt('int64') }, 'units.Ulimit');

/** container.Resources, embedded in HostConfig and UpdateConfig. */
export const resourceFields = {
  CpuShares: goInt('int64'),
  Memory: goInt('int64'),
  NanoCpus: goInt('int64'),
  CgroupParent: goString(),
  BlkioWeight: goInt('uint16'),
  BlkioWeightDevice: goList(weightDevice, '[]*blkiodev.WeightDevice'),
  BlkioDeviceReadBps: goList(throttleDevice, '[]*blkiodev.ThrottleDevice'),
  BlkioDeviceWriteBps: goList(throttleDevice, '[]*blkiodev.ThrottleDevice'),
  BlkioDeviceReadIOps: goList(throttleDevice, '[]*blkiodev.ThrottleDevice'),
  BlkioDeviceWriteIOps: goList(throttleDevice, '[]*blkiodev.ThrottleDevice'),
  CpuPeriod: goInt('int64'),
  CpuQuota: goInt('int64'),
  CpuRealtimePeriod: goInt('int64'),
  CpuRealtimeRuntime: goInt('int64'),
  CpusetCpus: goString(),
  CpusetMems: goString(),
  Devices: goList(deviceMapping, '[]container.DeviceMapping'),
  DeviceCgroupRules: strings(),
  DeviceRequests: goList(deviceRequest, '[]container.DeviceRequest'),
  KernelMemoryTCP: goInt('int64'),
  MemoryReservation: goInt('int64'),
  MemorySwap: goInt('int64'),
  MemorySwappiness: goInt('int64'),
  OomKillDisable: goBool(),
  PidsLimit: goInt('int64'),
  Ulimits: goList(ulimit, '[]*units.Ulimit'),
  CpuCount: goInt('int64'),
  CpuPercent: goInt('int64'),
  IOMaximumIOps: goInt('uint64'),
  IOMaximumBandwidth: goInt('uint64'),
};

export const restartPolicy = goStruct('RestartPolicy', { Name: goString(), MaximumRetryCount: goInt('int') }, 'container.RestartPolicy');
const logConfig = goStruct('LogConfig', { Type: goString(), Config: stringMap() }, 'container.LogConfig');
const portBinding = goStruct('PortBinding', { HostIp: goString(), HostPort: goString() }, 'nat.PortBinding');

const mount = goStruct(
  'Mount',
  {
    Type: goString(),
    Source: goString(),
    Target: goString(),
    ReadOnly: goBool(),
    Consistency: goString(),
    BindOptions: goStruct(
      'BindOptions',
      { Propagation: goString(), NonRecursive: goBool(), CreateMountpoint: goBool(), ReadOnlyNonRecursive: goBool(), ReadOnlyForceRecursive: goBool() },
      'mount.BindOptions',
    ),
    VolumeOptions: goStruct(
      'VolumeOptions',
      {
        NoCopy: goBool(),
        Labels: stringMap(),
        Subpath: goString(),
        DriverConfig: goStruct('Driver', { Name: goString(), Options: stringMap() }, 'mount.Driver'),
      },
      'mount.VolumeOptions',
    ),
    ImageOptions: goStruct('ImageOptions', { Subpath: goString() }, 'mount.ImageOptions'),
    TmpfsOptions: goStruct('TmpfsOptions', { SizeBytes: goInt('int64'), Mode: goInt('uint32'), Options: goList(strings()) }, 'mount.TmpfsOptions'),
  },
  'mount.Mount',
);

export const hostConfig = goStruct(
  'HostConfig',
  {
    ...resourceFields,
    Binds: strings(),
    ContainerIDFile: goString(),
    LogConfig: logConfig,
    NetworkMode: goString(),
    PortBindings: goMap(goList(portBinding, '[]nat.PortBinding'), 'nat.PortMap'),
    RestartPolicy: restartPolicy,
    AutoRemove: goBool(),
    VolumeDriver: goString(),
    VolumesFrom: strings(),
    ConsoleSize: goList(goInt('uint'), '[2]uint'),
    Annotations: stringMap(),
    CapAdd: strSlice(),
    CapDrop: strSlice(),
    CgroupnsMode: goString(),
    Dns: strings(),
    DnsOptions: strings(),
    DnsSearch: strings(),
    ExtraHosts: strings(),
    GroupAdd: strings(),
    IpcMode: goString(),
    Cgroup: goString(),
    Links: strings(),
    OomScoreAdj: goInt('int'),
    PidMode: goString(),
    Privileged: goBool(),
    PublishAllPorts: goBool(),
    ReadonlyRootfs: goBool(),
    SecurityOpt: strings(),
    StorageOpt: stringMap(),
    Tmpfs: stringMap(),
    UTSMode: goString(),
    UsernsMode: goString(),
    ShmSize: goInt('int64'),
    Sysctls: stringMap(),
    Runtime: goString(),
    Isolation: goString(),
    Mounts: goList(mount, '[]mount.Mount'),
    MaskedPaths: strings(),
    ReadonlyPaths: strings(),
    Init: goBool(),
  },
  'container.HostConfig',
);

export const endpointSettings = goStruct(
  'EndpointSettings',
  {
    IPAMConfig: goStruct('EndpointIPAMConfig', { IPv4Address: goString(), IPv6Address: goString(), LinkLocalIPs: strings() }, 'network.EndpointIPAMConfig'),
    Links: strings(),
    Aliases: strings(),
    DriverOpts: stringMap(),
    GwPriority: goInt('int'),
    MacAddress: goString(),
    NetworkID: goString(),
    EndpointID: goString(),
    Gateway: goString(),
    IPAddress: goString(),
    IPPrefixLen: goInt('int'),
    IPv6Gateway: goString(),
    GlobalIPv6Address: goString(),
    GlobalIPv6PrefixLen: goInt('int'),
    DNSNames: strings(),
  },
  'network.EndpointSettings',
);

export const networkingConfig = goStruct('NetworkingConfig', { EndpointsConfig: goMap(endpointSettings, 'map[string]*network.EndpointSettings') }, 'network.NetworkingConfig');

/** POST /containers/create (and /commit): container.CreateRequest, Config embedded. */
export const createRequest = goStruct(
  'CreateRequest',
  { ...configFields, HostConfig: hostConfig, NetworkingConfig: networkingConfig },
  'container.CreateRequest',
);

/** POST /containers/{id}/update: container.UpdateConfig, Resources embedded. */
export const updateConfig = goStruct('UpdateConfig', { ...resourceFields, RestartPolicy: restartPolicy }, 'container.UpdateConfig');

/** POST /containers/{id}/exec: container.ExecOptions (Cmd is a plain []string here, not a StrSlice). */
export const execOptions = goStruct(
  'ExecOptions',
  {
    User: goString(),
    Privileged: goBool(),
    Tty: goBool(),
    ConsoleSize: goList(goInt('uint'), '[2]uint'),
    AttachStdin: goBool(),
    AttachStderr: goBool(),
    AttachStdout: goBool(),
    Detach: goBool(),
    DetachKeys: goString(),
    Env: strings(),
    WorkingDir: goString(),
    Cmd: strings(),
  },
  'container.ExecOptions',
);

/** POST /exec/{id}/start: container.ExecStartOptions. */
export const execStartOptions = goStruct('ExecStartOptions', { Detach: goBool(), Tty: goBool(), ConsoleSize: goList(goInt('uint'), '[2]uint') }, 'container.ExecStartOptions');

/** A Go [2]uint as the services take it: missing entries are 0, extra ones are ignored. */
export function consoleSize(v: number[] | undefined): [number, number] | undefined {
  return v ? [v[0] ?? 0, v[1] ?? 0] : undefined;
}


/** time.Duration's String() of containertypes.MinimumDuration (1ms), as dockerd prints it. */
const MINIMUM_DURATION_NS = 1_000_000;

/** dockerd's validateHealthCheck: durations below 1ms (other than 0, "inherit") and negative retries. */
export function checkHealthcheck(h: { Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number } | undefined): void {
  if (!h) return;
  for (const field of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[field] ?? 0;
    if (v !== 0 && v < MINIMUM_DURATION_NS) throw invalidArgument(`${field} in Healthcheck cannot be less than 1ms`);
  }
  if ((h.Retries ?? 0) < 0) throw invalidArgument('Retries in Healthcheck cannot be negative');
}
