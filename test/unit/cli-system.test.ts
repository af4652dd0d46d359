/**
 * version, info and system df output from fixture API answers; expected texts were captured
 * from docker 28.2 against a stub daemon serving the same JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { ServerVersion } from '../../src/cli/commands/version.js';

process.env.TZ = 'UTC';
const { formatVersion, clientVersion, normalizeServer } = await import('../../src/cli/commands/version.js');
const { formatServerInfo, formatClientInfo, clientInfo } = await import('../../src/cli/commands/info.js');
const { formatDiskUsage } = await import('../../src/cli/commands/df.js');

const NOW_S = 1795870800;
const NOW = NOW_S * 1000;

const SERVER_VERSION: ServerVersion = {
  Platform: { Name: 'Berth Engine' },
  Components: [
    {
      Name: 'Engine',
      Version: '0.1.0',
      Details: {
        ApiVersion: '1.50',
        Arch: 'amd64',
        BuildTime: '2026-01-01T00:00:00.000000000+00:00',
        Experimental: 'false',
        GitCommit: 'abcdef0',
        GoVersion: 'node20',
        KernelVersion: '6.8.0',
        MinAPIVersion: '1.24',
        Os: 'linux',
      },
    },
    { Name: 'runc', Version: '1.2.5', Details: { GitCommit: 'v1.2.5-0-g59923ef' } },
  ],
  Version: '0.1.0',
  ApiVersion: '1.50',
  MinAPIVersion: '1.24',
  GitCommit: 'abcdef0',
  GoVersion: 'node20',
  Os: 'linux',
  Arch: 'amd64',
  KernelVersion: '6.8.0',
  BuildTime: '2026-01-01T00:00:00.000000000+00:00',
};

test('version: Client and Server sections aligned as docker aligns them', () => {
  const client = { ...clientVersion('1.45', new Date(Date.UTC(2025, 4, 30, 12, 7, 14))), Version: '0.1.0', GitCommit: 'e6534b4', GoVersion: 'node20.0.0', Os: 'linux', Arch: 'amd64' };
  assert.equal(
    formatVersion(client, SERVER_VERSION),
    `Client:
 Version:           0.1.0
 API version:       1.45 (downgraded from 1.50)
 Go version:        node20.0.0
 Git commit:        e6534b4
 Built:             Fri May 30 12:07:14 2025
 OS/Arch:           linux/amd64
 Context:           default

Server: Berth Engine
 Engine:
  Version:          0.1.0
  API version:      1.50 (minimum version 1.24)
  Go version:       node20
  Git commit:       abcdef0
  Built:            Thu Jan  1 00:00:00 2026
  OS/Arch:          linux/amd64
  Experimental:     false
 runc:
  Version:          1.2.5
  GitCommit:        v1.2.5-0-g59923ef
`,
  );
  // without a server only the client part is printed
  assert.equal(formatVersion(client).split('\n').length, 9);
});

test('version --format data: JSON names, with the Go field name APIVersion usable too', () => {
  const client = clientVersion('1.50');
  assert.deepEqual(Object.keys(client), ['Version', 'ApiVersion', 'DefaultAPIVersion', 'GitCommit', 'GoVersion', 'Os', 'Arch', 'BuildTime', 'Context']);
  assert.equal((client as unknown as { APIVersion: string }).APIVersion, '1.50');
  const server = normalizeServer(SERVER_VERSION);
  assert.equal(server.Components![0]!.Details!.BuildTime, 'Thu Jan  1 00:00:00 2026');
  assert.equal(server.BuildTime, '2026-01-01T00:00:00.000000000+00:00');
  // a daemon without components still shows an Engine section
  assert.equal(normalizeServer({ Version: '1', ApiVersion: '1.50' }).Components![0]!.Name, 'Engine');
});

const INFO = {
  ID: '7TRN:IPZB',
  Containers: 3,
  ContainersRunning: 1,
  ContainersPaused: 0,
  ContainersStopped: 2,
  Images: 4,
  Driver: 'overlay2',
  DriverStatus: [
    ['Backing Filesystem', 'extfs'],
    ['Supports d_type', 'true'],
  ],
  SystemStatus: [['Foo', 'bar']],
  Plugins: { Volume: ['local'], Network: ['bridge', 'host'], Authorization: ['authz'], Log: ['json-file', 'local'] },
  Debug: true,
  NFd: 24,
  NGoroutines: 41,
  SystemTime: '2026-11-28T13:00:00.123456789Z',
  LoggingDriver: 'json-file',
  CgroupDriver: 'systemd',
  CgroupVersion: '2',
  NEventsListener: 0,
  KernelVersion: '6.8.0-31-generic',
  OperatingSystem: 'Ubuntu 24.04 LTS',
  OSType: 'linux',
  Architecture: 'x86_64',
  RegistryConfig: {
    IndexConfigs: {
      'docker.io': { Mirrors: [], Name: 'docker.io', Official: true, Secure: true },
      'myreg:5000': { Mirrors: [], Name: 'myreg:5000', Official: false, Secure: false },
    },
    InsecureRegistryCIDRs: ['::1/128', '127.0.0.0/8'],
    Mirrors: ['https://mirror.example/'],
  },
  NCPU: 8,
  MemTotal: 16680000000,
  DockerRootDir: '/var/lib/berth',
  HttpProxy: 'http://proxy:3128',
  HttpsProxy: '',
  NoProxy: '',
  Name: 'myhost',
  Labels: ['a=b'],
  ExperimentalBuild: false,
  ServerVersion: '0.1.0',
  Runtimes: { runc: { path: 'runc' } },
  DefaultRuntime: 'runc',
  Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
  LiveRestoreEnabled: false,
  InitBinary: 'docker-init',
  ContainerdCommit: { ID: '05044ec' },
  RuncCommit: { ID: 'v1.2.5' },
  InitCommit: { ID: 'de40ad0' },
  SecurityOptions: ['name=apparmor', 'name=seccomp,profile=builtin', 'name=cgroupns'],
  CDISpecDirs: ['/etc/cdi'],
  DiscoveredDevices: [{ Source: 'cdi', ID: 'vendor.com/gpu=0' }],
  ProductLicense: 'Community Engine',
  DefaultAddressPools: [{ Base: '10.10.0.0/16', Size: 24 }],
  Warnings: ['WARNING: bridge-nf-call-iptables is disabled'],
};

test('info: docker layout, empty lines left out, warnings apart', () => {
  assert.equal(formatClientInfo({ ...clientInfo(false), Version: '0.1.0' }), 'Client:\n Version:    0.1.0\n Context:    default\n Debug Mode: false\n');
  const { out, warnings } = formatServerInfo(INFO, false);
  assert.equal(
    out,
    ` Containers: 3
  Running: 1
  Paused: 0
  Stopped: 2
 Images: 4
 Server Version: 0.1.0
 Storage Driver: overlay2
  Backing Filesystem: extfs
  Supports d_type: true
 Foo: bar
 Logging Driver: json-file
 Cgroup Driver: systemd
 Cgroup Version: 2
 Plugins:
  Volume: local
  Network: bridge host
  Authorization: authz
  Log: json-file local
 CDI spec directories:
  /etc/cdi
 Discovered Devices:
  cdi: vendor.com/gpu=0
 Swarm: inactive
 Runtimes: runc
 Default Runtime: runc
 Init Binary: docker-init
 containerd version: 05044ec
 runc version: v1.2.5
 init version: de40ad0
 Security Options:
  apparmor
  seccomp
   Profile: builtin
  cgroupns
 Kernel Version: 6.8.0-31-generic
 Operating System: Ubuntu 24.04 LTS
 OSType: linux
 Architecture: x86_64
 CPUs: 8
 Total Memory: 15.53GiB
 Name: myhost
 ID: 7TRN:IPZB
 Docker Root Dir: /var/lib/berth
 Debug Mode: true
  File Descriptors: 24
  Goroutines: 41
  System Time: 2026-11-28T13:00:00.123456789Z
  EventsListeners: 0
 HTTP Proxy: http://proxy:3128
 Labels:
  a=b
 Experimental: false
 Insecure Registries:
  myreg:5000
  ::1/128
  127.0.0.0/8
 Registry Mirrors:
  https://mirror.example/
 Live Restore Enabled: false
 Product License: Community Engine
 Default Address Pools:
   Base: 10.10.0.0/16, Size: 24

`,
  );
  assert.deepEqual(warnings, ['WARNING: bridge-nf-call-iptables is disabled']);
});

const ID1 = 'sha256:aaaa1234567890abcdef1234567890abcdef1234567890abcdefbbbbbbbbbbbb';
const ID3 = 'sha256:' + 'deadbeef'.repeat(8);
const DF = {
  LayersSize: 5_000_000,
  Images: [
    { Id: ID1, ParentId: '', RepoTags: ['busybox:latest', 'localhost:5000/busybox:v1'], RepoDigests: [], Created: NOW_S - 7200, Size: 4261550, SharedSize: 1000, Containers: 1 },
    { Id: ID3, ParentId: '', RepoTags: ['alpine:3.20'], RepoDigests: [], Created: NOW_S - 86400 * 40, Size: 7_800_000_000, SharedSize: 0, Containers: 0 },
  ],
  Containers: [
    {
      Id: 'e575172ed11dc01bfce087fb27bee502db149e1a0fad7c296ad300bbff178148',
      Names: ['/top'],
      Image: 'busybox',
      ImageID: ID1,
      Command: 'top -b -d 1 with a long command line',
      Created: NOW_S - 3600,
      Ports: [],
      SizeRw: 12345,
      SizeRootFs: 999999,
      Labels: {},
      State: 'running',
      Status: 'Up 56 minutes',
      Mounts: [{ Type: 'volume', Name: 'v1' }, { Type: 'bind' }],
    },
    {
      Id: 'f575172ed11dc01bfce087fb27bee502db149e1a0fad7c296ad300bbff178148',
      Names: ['/stopped', '/other/link'],
      Image: 'sha256:abcdef0123456789abcdef',
      ImageID: ID1,
      Command: 'sh',
      Created: NOW_S - 86400 * 3,
      Ports: [],
      SizeRw: 4096,
      Labels: {},
      State: 'exited',
      Status: 'Exited (0) 2 days ago',
      Mounts: [],
    },
  ],
  Volumes: [
    { Name: 'my-volume', Driver: 'local', Mountpoint: '/x', Labels: null, Scope: 'local', UsageData: { Size: 10920104, RefCount: 2 } },
    { Name: 'free', Driver: 'local', Mountpoint: '/y', Scope: 'local', UsageData: { Size: 5000, RefCount: 0 } },
    { Name: 'unknown', Driver: 'local', Mountpoint: '/z', Scope: 'local', UsageData: { Size: -1, RefCount: -1 } },
  ],
  BuildCache: [
    { ID: 'hw53o5aio51xtltp5xjp8v7fx', Parents: [], Type: 'regular', Description: 'x', InUse: false, Shared: true, Size: 100, CreatedAt: '2026-11-20T13:00:00.474619385Z', LastUsedAt: '2026-11-28T11:58:00.738075951Z', UsageCount: 26 },
    { ID: 'ndlpt0hhvkqcdfkputsk4cq9c', Parents: [], Type: 'source.local', Description: 'y', InUse: true, Shared: false, Size: 51000, CreatedAt: '2026-11-27T13:00:00.002625487Z', LastUsedAt: null, UsageCount: 3 },
    { ID: 'zzlpt0hhvkqcdfkputsk4cq9c', Parents: [], Type: 'regular', Description: 'y', InUse: false, Shared: false, Size: 7000, CreatedAt: '2026-11-26T13:00:00.002625487Z', LastUsedAt: '2026-11-27T13:00:00.002625487Z', UsageCount: 1 },
  ],
};

test('system df: summary with reclaimable percentages', () => {
  assert.equal(
    formatDiskUsage(DF, { format: '', verbose: false, now: NOW }),
    `TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          2         1         5MB       739.5kB (14%)
Containers      2         1         16.44kB   4.096kB (24%)
Local Volumes   3         1         10.93MB   5kB (0%)
Build Cache     3         1         58kB      7kB
`,
  );
  assert.equal(
    formatDiskUsage({}, { format: 'json', verbose: false, now: NOW }).split('\n')[0],
    '{"Active":"0","Reclaimable":"0B","Size":"0B","TotalCount":"0","Type":"Images"}',
  );
});

test('system df -v: four sections', () => {
  assert.equal(
    formatDiskUsage(DF, { format: '', verbose: true, now: NOW }),
    `Images space usage:

REPOSITORY   TAG       IMAGE ID       CREATED       SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS
busybox      latest    aaaa12345678   2 hours ago   4.26MB    1kB           4.261MB       1
alpine       3.20      deadbeefdead   5 weeks ago   7.8GB     0B            7.8GB         0

Containers space usage:

CONTAINER ID   IMAGE                           COMMAND                  LOCAL VOLUMES   SIZE      CREATED             STATUS                  NAMES
e575172ed11d   busybox                         "top -b -d 1 with a …"   0               12.3kB    About an hour ago   Up 56 minutes           top
f575172ed11d   sha256:abcdef0123456789abcdef   "sh"                     0               4.1kB     3 days ago          Exited (0) 2 days ago   stopped

Local Volumes space usage:

VOLUME NAME   LINKS     SIZE
my-volume     2         10.92MB
free          0         5kB
unknown       -1        -1B

Build cache usage: 58kB

CACHE ID        CACHE TYPE     SIZE      CREATED        LAST USED           USAGE     SHARED
ndlpt0hhvkqc*   source.local   51kB      24 hours ago                       3         false
zzlpt0hhvkqc    regular        7kB       2 days ago     24 hours ago        1         false
hw53o5aio51x    regular        100B      8 days ago     About an hour ago   26        true
`,
  );
});

test('system df -v --format json: one object, no trailing newline', () => {
  const out = formatDiskUsage(DF, { format: 'json', verbose: true, now: NOW });
  assert.ok(out.startsWith('{"Images":[{"Containers":"1","CreatedAt":"2026-11-28 11:00:00 +0000 UTC","CreatedSince":"2 hours ago","Digest":"","ID":"sha256:aaaa'));
  assert.ok(out.endsWith('"UsageCount":"26"}]}'));
  assert.ok(out.includes('"Command":"\\"top -b -d 1 with a long command line\\""'));
  assert.ok(out.includes('"Names":"stopped,other/link"'));
  assert.ok(out.includes('"Mounts":"v1,"'));
  assert.ok(out.includes('"ID":"ndlpt0hhvkqcdfkputsk4cq9c*"'));
  assert.ok(out.includes('"CreatedAt":"2026-11-27 13:00:00.002625487 +0000 UTC"'));
});
