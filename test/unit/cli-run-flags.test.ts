/**
 * The storage, port and network flags of `run`/`create` and `berth port`, run in-process
 * against a stub daemon. Bodies, messages and exit statuses are what docker 28.2 produced
 * for the same command lines against the same kind of stub.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';

process.env.TZ = 'UTC';
const { resolve, commandPath } = await import('../../src/cli/args.js');
const { ApiClient, parseHost } = await import('../../src/cli/client.js');
const { rootCommand } = await import('../../src/cli/commands/index.js');
const { renderHelp } = await import('../../src/cli/help.js');
const { CliError } = await import('../../src/cli/errors.js');
const mounts = await import('../../src/cli/commands/run-mounts.js');
const ports = await import('../../src/cli/commands/run-ports.js');
type Cli = import('../../src/cli/streams.js').Cli;

const NOW_S = 1795870800; // 2026-11-28T13:00:00Z
const ID = 'c0ffee'.repeat(10) + 'abcd';

interface Result {
  out: string;
  err: string;
  code: number;
}
type Run = (argv: string[]) => Promise<Result>;

/** A daemon that creates containers and answers inspect with `inspect`; every request is kept in `seen`. */
async function withDaemon(inspect: unknown, fn: (run: Run, seen: string[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-runflags-'));
  const socket = path.join(dir, 'd.sock');
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.50');
      if (req.url === '/_ping') return res.end();
      const body = Buffer.concat(chunks).toString();
      seen.push(`${req.method} ${req.url}${body ? ' ' + body : ''}`);
      res.setHeader('Content-Type', 'application/json');
      if (req.url!.startsWith('/v1.50/containers/create')) {
        res.writeHead(201);
        return res.end(JSON.stringify({ Id: ID, Warnings: [] }));
      }
      if (req.url!.includes('missing')) {
        res.writeHead(404);
        return res.end(JSON.stringify({ message: 'No such container: missing' }));
      }
      if (req.url!.endsWith('/json')) return res.end(JSON.stringify(inspect));
      res.writeHead(404);
      res.end(JSON.stringify({ message: 'page not found' }));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const run: Run = async (argv) => {
    const r = resolve(rootCommand, argv);
    if (r.kind === 'error') return { out: '', err: r.message + '\n', code: r.exitCode };
    if (r.kind !== 'run') throw new Error(`not runnable: ${argv.join(' ')}`);
    const out: string[] = [];
    const err: string[] = [];
    const client = new ApiClient(parseHost(`unix://${socket}`));
    const cli: Cli = {
      out: { write: (s) => out.push(Buffer.from(s as Uint8Array).toString()) },
      err: { write: (s) => err.push(Buffer.from(s as Uint8Array).toString()) },
      in: Readable.from(['']),
      rawOut: new PassThrough(),
      client: () => client,
      debug: false,
      env: {},
      now: () => NOW_S * 1000,
    };
    let code = 0;
    try {
      code = (await r.command.run!({ args: r.args, flags: r.flags, path: commandPath(r.path) }, cli)) ?? 0;
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      err.push(e.message + '\n');
      code = e.exitCode;
    } finally {
      client.close();
    }
    return { out: out.join(''), err: err.join(''), code };
  };
  try {
    await fn(run, seen);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The body of the one create request. */
function createBody(seen: string[]): string {
  assert.equal(seen.length, 1, seen.join('\n'));
  assert.match(seen[0]!, /^POST \/v1\.50\/containers\/create /);
  return seen[0]!.slice(seen[0]!.indexOf(' {') + 1);
}

// docker 28.2 for
//   create -v /src:/dst:ro -v name:/data -v /anon -v /anon2
//     --mount type=bind,src=/s,dst=/d,readonly,bind-propagation=rslave
//     --mount type=volume,src=vol,dst=/v,volume-nocopy,volume-opt=o=1,volume-label=l=2,volume-driver=local
//     --mount type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770 --tmpfs /run:rw,size=1m --tmpfs /x
//     --volumes-from a --volumes-from b:ro --volume-driver drv --read-only --shm-size 64m
//     --ulimit nofile=1024:2048 --ulimit core=-1 busybox
// (docker's Binds order follows a Go map, so varies between runs; this is one of them, and berth's:
// the command line's order.)
const DOCKER_STORAGE_BODY =
  '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{"/anon":{},"/anon2":{}},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":["/src:/dst:ro","name:/data"],"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"drv","VolumesFrom":["a","b:ro"],"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":true,"SecurityOpt":null,"Tmpfs":{"/run":"rw,size=1m","/x":""},"UTSMode":"","UsernsMode":"","ShmSize":67108864,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[{"Name":"core","Hard":-1,"Soft":-1},{"Name":"nofile","Hard":2048,"Soft":1024}],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"Mounts":[{"Type":"bind","Source":"/s","Target":"/d","ReadOnly":true,"BindOptions":{"Propagation":"rslave"}},{"Type":"volume","Source":"vol","Target":"/v","VolumeOptions":{"NoCopy":true,"Labels":{"l":"2"},"DriverConfig":{"Name":"local","Options":{"o":"1"}}}},{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":67108864,"Mode":1016}}],"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}';

// docker 28.2 for
//   create -p 8080:80 -p 127.0.0.1:8081:81/udp -p 127.0.0.1::82 -p 83 -p 8000-8001:90-91 -p [::1]:84:84
//     -p published=9000,target=85,protocol=sctp -p 8080:80 -P --expose 7000-7001 --expose 86/udp busybox
const DOCKER_PORTS_BODY =
  '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"ExposedPorts":{"7000/tcp":{},"7001/tcp":{},"80/tcp":{},"81/udp":{},"82/tcp":{},"83/tcp":{},"84/tcp":{},"85/sctp":{},"86/udp":{},"90/tcp":{},"91/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"},{"HostIp":"","HostPort":"8080"}],"81/udp":[{"HostIp":"127.0.0.1","HostPort":"8081"}],"82/tcp":[{"HostIp":"127.0.0.1","HostPort":""}],"83/tcp":[{"HostIp":"","HostPort":""}],"84/tcp":[{"HostIp":"::1","HostPort":"84"}],"85/sctp":[{"HostIp":"","HostPort":"9000"}],"90/tcp":[{"HostIp":"","HostPort":"8000"}],"91/tcp":[{"HostIp":"","HostPort":"8001"}]},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":true,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}';

// docker 28.2 for
//   create --network mynet --network-alias a --network-alias b --ip 10.0.0.2 --ip6 fd00::2
//     --link-local-ip 169.254.0.1 --mac-address 02:42:ac:11:00:02 --link db:db --log-driver json-file
//     --log-opt max-size=1m --log-opt mode --stop-signal SIGTERM --stop-timeout 20 busybox
const DOCKER_NETWORK_BODY =
  '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"StopSignal":"SIGTERM","StopTimeout":20,"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"json-file","Config":{"max-size":"1m","mode":""}},"NetworkMode":"mynet","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":["db:db"],"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"mynet":{"IPAMConfig":{"IPv4Address":"10.0.0.2","IPv6Address":"fd00::2","LinkLocalIPs":["169.254.0.1"]},"Links":["db:db"],"Aliases":["a","b"],"MacAddress":"02:42:ac:11:00:02","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}';

/** docker's endpoint settings with every field zero but those given. */
const endpoint = (fields: Record<string, unknown> = {}) => ({
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
  ...fields,
});

test('create: -v, --mount, --tmpfs, --volumes-from, --volume-driver, --ulimit as docker sends them', async () => {
  await withDaemon({}, async (run, seen) => {
    const r = await run([
      'create', '-v', '/src:/dst:ro', '-v', 'name:/data', '-v', '/anon', '-v', '/anon2',
      '--mount', 'type=bind,src=/s,dst=/d,readonly,bind-propagation=rslave',
      '--mount', 'type=volume,src=vol,dst=/v,volume-nocopy,volume-opt=o=1,volume-label=l=2,volume-driver=local',
      '--mount', 'type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770', '--tmpfs', '/run:rw,size=1m', '--tmpfs', '/x',
      '--volumes-from', 'a', '--volumes-from', 'b:ro', '--volume-driver', 'drv', '--read-only', '--shm-size', '64m',
      '--ulimit', 'nofile=1024:2048', '--ulimit', 'core=-1', 'busybox',
    ]);
    assert.deepEqual(r, { out: `${ID}\n`, err: '', code: 0 });
    assert.equal(createBody(seen), DOCKER_STORAGE_BODY);
  });
});

test('-v and --mount: relative sources made absolute, specs deduplicated, the last ulimit per name kept', async () => {
  const cwd = process.cwd();
  await withDaemon({}, async (run, seen) => {
    const r = await run([
      'container', 'create', '-v', './rel:/r:ro', '-v', '.hidden:/h', '-v', '~/x:/x', '-v', 'C:\\w:/w', '-v', 'c:/drive', '-v', '/a:/a', '-v', '/a:/a',
      '--mount', 'type=bind,source=../up,target=/u', '--mount', 'type=bind,source=.,target=/dot', '--mount', 'TYPE=BIND,Source=/s,Target=/t,READONLY=1',
      '--mount', 'type=bind,src=/s,dst=/n,bind-recursive=disabled', '--mount', 'type=bind,src=/s,dst=/w,bind-recursive=writable,ro',
      '--mount', 'type=image,src=img,dst=/i,image-subpath=sub', '--mount', 'dst=/q,"volume-label=a=""b""",volume-subpath=p',
      '--ulimit', 'nofile=1:2', '--ulimit', 'nofile=5', '--tmpfs', '/run:a', '--tmpfs', '/run:b', 'busybox',
    ]);
    assert.equal(r.err, '');
    const body = JSON.parse(createBody(seen));
    assert.deepEqual(body.HostConfig.Binds, [`${cwd}/rel:/r:ro`, `${cwd}/.hidden:/h`, '~/x:/x', 'C:\\w:/w', '/a:/a']);
    assert.deepEqual(body.Volumes, { 'c:/drive': {} });
    assert.deepEqual(body.HostConfig.Mounts, [
      { Type: 'bind', Source: path.resolve(cwd, '../up'), Target: '/u' },
      { Type: 'bind', Source: cwd, Target: '/dot' },
      { Type: 'bind', Source: '/s', Target: '/t', ReadOnly: true },
      { Type: 'bind', Source: '/s', Target: '/n', BindOptions: { NonRecursive: true } },
      { Type: 'bind', Source: '/s', Target: '/w', ReadOnly: true, BindOptions: { ReadOnlyNonRecursive: true } },
      { Type: 'image', Source: 'img', Target: '/i', ImageOptions: { Subpath: 'sub' } },
      { Type: 'volume', Target: '/q', VolumeOptions: { Labels: { a: '"b"' }, Subpath: 'p', DriverConfig: {} } },
    ]);
    assert.deepEqual(body.HostConfig.Ulimits, [{ Name: 'nofile', Hard: 5, Soft: 5 }]);
    assert.deepEqual(body.HostConfig.Tmpfs, { '/run': 'b' });
  });
});

test('--mount bind-nonrecursive=<bool>: docker logs its deprecation warning', async () => {
  await withDaemon({}, async (run, seen) => {
    const r = await run(['create', '--mount', 'type=bind,src=/s,dst=/d,bind-nonrecursive=false', 'busybox']);
    assert.equal(r.err, 'time="2026-11-28T13:00:00Z" level=warning msg="bind-nonrecursive is deprecated, use bind-recursive=disabled instead"\n');
    assert.match(createBody(seen), /"Mounts":\[\{"Type":"bind","Source":"\/s","Target":"\/d","BindOptions":\{\}\}\],/);
  });
});

test('create: -p, -P and --expose as docker sends them', async () => {
  await withDaemon({}, async (run, seen) => {
    const r = await run([
      'create', '-p', '8080:80', '-p', '127.0.0.1:8081:81/udp', '-p', '127.0.0.1::82', '-p', '83', '-p', '8000-8001:90-91', '-p', '[::1]:84:84',
      '-p', 'published=9000,target=85,protocol=sctp', '-p', '8080:80', '-P', '--expose', '7000-7001', '--expose', '86/udp', 'busybox',
    ]);
    assert.deepEqual(r, { out: `${ID}\n`, err: '', code: 0 });
    assert.equal(createBody(seen), DOCKER_PORTS_BODY);
  });
});

test('-p: host ranges, IPv6 without brackets, upper-case protocols, --expose keeps its protocol as given', async () => {
  const specs = (p: string[], e: string[] = []) => ports.parsePorts(p, e);
  assert.deepEqual(specs(['8000-8010:80']).bindings, { '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] });
  assert.deepEqual(specs(['1-2-3:80']).bindings, { '80/tcp': [{ HostIp: '', HostPort: '1-2' }] });
  assert.deepEqual(specs(['::1:80:80']).bindings, { '80/tcp': [{ HostIp: '::1', HostPort: '80' }] });
  assert.deepEqual(specs(['::ffff:1.2.3.4:80:80', '[1.2.3.4]:81:81']).bindings, {
    '80/tcp': [{ HostIp: '::ffff:1.2.3.4', HostPort: '80' }],
    '81/tcp': [{ HostIp: '1.2.3.4', HostPort: '81' }],
  });
  assert.deepEqual(specs(['080:080/UDP', ':90', '91/tcp/x', '92/']).bindings, {
    '80/udp': [{ HostIp: '', HostPort: '80' }],
    '90/tcp': [{ HostIp: '', HostPort: '' }],
    '91/tcp': [{ HostIp: '', HostPort: '' }],
    '92/tcp': [{ HostIp: '', HostPort: '' }],
  });
  assert.deepEqual(specs(['target=80', 'published=,target=81']).bindings, {
    '80/tcp': [{ HostIp: '', HostPort: '' }],
    '81/tcp': [{ HostIp: '', HostPort: '' }],
  });
  assert.deepEqual(specs([], ['80/UDP', '81/foo']).exposed, { '80/UDP': {}, '81/foo': {} });
  assert.equal(specs([]).exposed, undefined);
});

test('create: --network-alias, --ip, --ip6, --link-local-ip, --mac-address, --link, --log-driver/--log-opt', async () => {
  await withDaemon({}, async (run, seen) => {
    const r = await run([
      'create', '--network', 'mynet', '--network-alias', 'a', '--network-alias', 'b', '--ip', '10.0.0.2', '--ip6', 'fd00::2',
      '--link-local-ip', '169.254.0.1', '--mac-address', '02:42:ac:11:00:02', '--link', 'db:db', '--log-driver', 'json-file',
      '--log-opt', 'max-size=1m', '--log-opt', 'mode', '--stop-signal', 'SIGTERM', '--stop-timeout', '20', 'busybox',
    ]);
    assert.deepEqual(r, { out: `${ID}\n`, err: '', code: 0 });
    assert.equal(createBody(seen), DOCKER_NETWORK_BODY);
  });
});

test('network endpoints: the implicit default always, a named network only with endpoint options', async () => {
  await withDaemon({}, async (run, seen) => {
    const cases: Array<[string[], unknown, unknown]> = [
      // --link on the default network is a legacy link: HostConfig.Links only.
      [['--ip', '1.2.3.4', '--link', 'x'], { default: endpoint({ IPAMConfig: { IPv4Address: '1.2.3.4' } }) }, ['x']],
      [['--network', 'default'], {}, null],
      [['--network', 'mynet', '--ip', ''], {}, null],
      [['--network', 'bridge', '--link', 'a:b', '--ip6', '::1'], { bridge: endpoint({ IPAMConfig: { IPv6Address: '::1' } }) }, ['a:b']],
      [['--network', 'none', '--mac-address', '02-42-AC-11-00-02'], { none: endpoint({ MacAddress: '02-42-AC-11-00-02' }) }, null],
      [['--mac-address', '0242.ac11.0002'], { default: endpoint({ MacAddress: '0242.ac11.0002' }) }, null],
      [['--network', 'n', '--link-local-ip', '169.254.1.1', '--link-local-ip', 'fe80::1'], { n: endpoint({ IPAMConfig: { LinkLocalIPs: ['169.254.1.1', 'fe80::1'] } }) }, null],
    ];
    for (const [flags, endpoints, links] of cases) {
      seen.length = 0;
      const r = await run(['create', ...flags, 'busybox']);
      assert.equal(r.err, '', flags.join(' '));
      const body = JSON.parse(createBody(seen));
      assert.deepEqual(body.NetworkingConfig.EndpointsConfig, endpoints, flags.join(' '));
      assert.deepEqual(body.HostConfig.Links, links, flags.join(' '));
    }
  });
});

test('run/create: storage, port and network errors worded and numbered as docker does; nothing sent', async () => {
  await withDaemon({}, async (run, seen) => {
    const framed = (msg: string, cmd = 'create') => `berth: ${msg}\n\nRun 'berth ${cmd} --help' for more information\n`;
    const flagError = (value: string, flag: string, why: string, cmd = 'create') =>
      `invalid argument "${value}" for "${flag}" flag: ${why}\n\nUsage:  berth ${cmd} [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth ${cmd} --help' for more information\n`;
    const cases: Array<[string[], string, number]> = [
      // -v: the compose loader's split, checked when the command runs
      [['-v', ''], framed('invalid empty volume spec'), 125],
      [['-v', '/a:/b:/c:/d'], framed('invalid spec: /a:/b:/c:/d: too many colons'), 125],
      [['-v', '/a::/b'], framed('invalid spec: /a::/b: empty section between colons'), 125],
      [['-v', '/a:/b:'], framed('invalid spec: /a:/b:: empty section between colons'), 125],
      [['-v', '/a:/b:ro:'], framed('invalid spec: /a:/b:ro:: too many colons'), 125],
      // --mount: checked while the flags are read
      [['--mount', ''], flagError('', '--mount', 'EOF'), 125],
      [['--mount', 'type=bind'], flagError('type=bind', '--mount', 'target is required'), 125],
      [['--mount', 'type=,dst=/d'], flagError('type=,dst=/d', '--mount', 'type is required'), 125],
      [['--mount', 'foo'], flagError('foo', '--mount', "invalid field 'foo' must be a key=value pair"), 125],
      [['--mount', 'dst=/d,'], flagError('dst=/d,', '--mount', "invalid field '' must be a key=value pair"), 125],
      [['--mount', 'bogus=1'], flagError('bogus=1', '--mount', "unexpected key 'bogus' in 'bogus=1'"), 125],
      [['--mount', 'dst=/d,ro=maybe'], flagError('dst=/d,ro=maybe', '--mount', 'invalid value for ro: maybe'), 125],
      [['--mount', 'type=bind,dst=/d,volume-nocopy'], flagError('type=bind,dst=/d,volume-nocopy', '--mount', "cannot mix 'volume-*' options with mount type 'bind'"), 125],
      [['--mount', 'dst=/d,bind-propagation=shared'], flagError('dst=/d,bind-propagation=shared', '--mount', "cannot mix 'bind-*' options with mount type 'volume'"), 125],
      [['--mount', 'dst=/d,tmpfs-size=1m'], flagError('dst=/d,tmpfs-size=1m', '--mount', "cannot mix 'tmpfs-*' options with mount type 'volume'"), 125],
      [['--mount', 'type=tmpfs,dst=/d,tmpfs-size=x'], flagError('type=tmpfs,dst=/d,tmpfs-size=x', '--mount', 'invalid value for tmpfs-size: x'), 125],
      [['--mount', 'type=tmpfs,dst=/d,tmpfs-mode=9'], flagError('type=tmpfs,dst=/d,tmpfs-mode=9', '--mount', 'invalid value for tmpfs-mode: 9'), 125],
      [['--mount', 'type=bind,src=/s,dst=/d,bind-recursive=x'], flagError('type=bind,src=/s,dst=/d,bind-recursive=x', '--mount', 'invalid value for bind-recursive: x (must be "enabled", "disabled", "writable", or "readonly")'), 125],
      [['--mount', 'type=bind,src=/s,dst=/d,bind-recursive=readonly,ro'], flagError('type=bind,src=/s,dst=/d,bind-recursive=readonly,ro', '--mount', "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction"), 125],
      [['--mount', 'dst=/a,b'], flagError('dst=/a,b', '--mount', "invalid field 'b' must be a key=value pair"), 125],
      // --ulimit: go-units ParseUlimit
      [['--ulimit', 'foo=1'], flagError('foo=1', '--ulimit', 'invalid ulimit type: foo'), 125],
      [['--ulimit', 'nofile'], flagError('nofile', '--ulimit', 'invalid ulimit argument: nofile'), 125],
      [['--ulimit', 'nofile=x'], flagError('nofile=x', '--ulimit', 'strconv.ParseInt: parsing "x": invalid syntax'), 125],
      [['--ulimit', 'nofile=10:5'], flagError('nofile=10:5', '--ulimit', 'ulimit soft limit must be less than or equal to hard limit: 10 > 5'), 125],
      [['--ulimit', 'nofile=1:2:3'], flagError('nofile=1:2:3', '--ulimit', 'too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`'), 125],
      [['--ulimit', 'nofile=1:99999999999999999999'], flagError('nofile=1:99999999999999999999', '--ulimit', 'strconv.ParseInt: parsing "99999999999999999999": value out of range'), 125],
      // -p / --expose
      [['-p', 'x'], framed('invalid containerPort: x'), 125],
      [['-p', '80:70000'], framed('invalid containerPort: 70000'), 125],
      [['-p', '81-80'], framed('invalid containerPort: 81-80'), 125],
      [['-p', '70000:80'], framed('invalid hostPort: 70000'), 125],
      [['-p', '1.2.3.4:80'], framed('invalid hostPort: 1.2.3.4'), 125],
      [['-p', '80:'], framed('no port specified: 80:<empty>'), 125],
      [['-p', 'target='], framed('no port specified: :/tcp<empty>'), 125],
      [['-p', 'bad::80'], framed('invalid IP address: bad'), 125],
      [['-p', '[fe80::1%eth0]:80:80'], framed('invalid IP address: fe80::1%eth0'), 125],
      [['-p', '[::1:80:80'], framed("invalid IP address [::1: address [::1:: missing ']' in address"), 125],
      [['-p', '[::1]x:80:80'], framed('invalid IP address [::1]x: address [::1]x:: missing port in address'), 125],
      [['-p', '8000-8001:80-82'], framed('invalid ranges specified for container and host Ports: 80-82 and 8000-8001'), 125],
      [['-p', '80/foo'], framed('invalid proto: foo'), 125],
      [['-p', 'target=80,x'], framed("invalid publish opts format (should be name=value but got 'x')"), 125],
      [['--expose', '1:2'], framed('invalid port format for --expose: 1:2'), 125],
      [['--expose', 'x'], framed('invalid range format for --expose: x, error: strconv.ParseUint: parsing "x": invalid syntax'), 125],
      [['--expose', '81-80'], framed('invalid range format for --expose: 81-80, error: invalid range specified for port: 81-80'), 125],
      [['--expose', '/tcp'], framed('invalid range format for --expose: /tcp, error: empty string specified for ports'), 125],
      // networking and logging
      [['--network-alias', 'a'], framed('network-scoped aliases are only supported for user-defined networks'), 125],
      [['--network', 'host', '--network-alias', 'a'], framed('network-scoped aliases are only supported for user-defined networks'), 125],
      [['--network', ''], framed('no name set for network'), 125],
      [['--mac-address', 'xx'], framed('xx is not a valid mac address'), 125],
      [['--mac-address', '02:42-ac:11:00:02'], framed('02:42-ac:11:00:02 is not a valid mac address'), 125],
      [['--link', 'a:b:c'], flagError('a:b:c', '--link', 'bad format for links: a:b:c'), 125],
      [['--link', ''], flagError('', '--link', 'empty string specified for links'), 125],
      [['--log-driver', 'none', '--log-opt', 'a=b'], framed('invalid logging opts for driver none'), 125],
    ];
    for (const [flags, err, code] of cases) {
      const r = await run(['create', ...flags, 'busybox']);
      assert.equal(r.err, err, flags.join(' '));
      assert.equal(r.code, code, flags.join(' '));
    }
    // run frames them the same way
    const r = await run(['run', '-v', '/a::/b', 'busybox']);
    assert.deepEqual([r.err, r.code], [framed('invalid spec: /a::/b: empty section between colons', 'run'), 125]);
    assert.deepEqual(seen, []);
  });
});

const INSPECT = {
  Id: ID,
  Name: '/web',
  NetworkSettings: {
    Ports: {
      '80/tcp': [
        { HostIp: '0.0.0.0', HostPort: '8080' },
        { HostIp: '::', HostPort: '8080' },
      ],
      '443/tcp': null,
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
      '9/tcp': [{ HostIp: '', HostPort: '10' }],
      '1000/tcp': [{ HostIp: '::1', HostPort: '1000' }],
    },
  },
};

test('port: every mapping or one, naturally sorted; docker errors and exit statuses', async () => {
  await withDaemon(INSPECT, async (run, seen) => {
    assert.deepEqual(await run(['port', 'web']), {
      out: '9/tcp -> :10\n53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n1000/tcp -> [::1]:1000\n',
      err: '',
      code: 0,
    });
    assert.deepEqual(await run(['container', 'port', 'web', '80']), { out: '0.0.0.0:8080\n[::]:8080\n', err: '', code: 0 });
    assert.deepEqual(await run(['port', 'web', '53/udp']), { out: '127.0.0.1:5353\n', err: '', code: 0 });
    assert.deepEqual(await run(['port', 'web', '']), (await run(['port', 'web'])));
    assert.deepEqual(await run(['port', 'web', '443']), { out: '', err: "Error: No public port '443' published for web\n", code: 1 });
    assert.deepEqual(await run(['port', 'web', '80/TCP']), { out: '', err: "Error: No public port '80/TCP' published for web\n", code: 1 });
    assert.deepEqual(await run(['port', 'web', 'x']), { out: '', err: 'Error: invalid port (x): strconv.ParseUint: parsing "x": invalid syntax\n', code: 1 });
    assert.deepEqual(await run(['port', 'web', '70000/tcp']), {
      out: '',
      err: 'Error: invalid port (70000): strconv.ParseUint: parsing "70000": value out of range\n',
      code: 1,
    });
    assert.deepEqual(await run(['port', 'missing']), { out: '', err: 'Error response from daemon: No such container: missing\n', code: 1 });
    seen.length = 0;
    assert.deepEqual(await run(['port', 'a', 'b', 'c']), {
      out: '',
      err: "berth: 'berth port' requires at least 1 and at most 2 arguments\n\nUsage:  berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nRun 'berth port --help' for more information\n",
      code: 1,
    });
    assert.equal((await run(['container', 'port'])).err.split('\n')[0], "berth: 'berth container port' requires at least 1 and at most 2 arguments");
    assert.deepEqual(seen, []);
  });
  assert.equal(ports.formatPorts({}, 'web'), '');
  assert.equal(
    renderHelp(rootCommand, [rootCommand.subcommands!.find((c) => c.name === 'port')!]),
    'Usage:  berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nList port mappings or a specific mapping for the container\n\nAliases:\n  berth container port, berth port\n',
  );
});

test('help: the new run flags with docker texts and value names', () => {
  const help = renderHelp(rootCommand, [rootCommand.subcommands!.find((c) => c.name === 'run')!], 200);
  for (const line of [
    /\n {2}-v, --volume list {2,}Bind mount a volume\n/,
    /\n {6}--mount mount {2,}Attach a filesystem mount to the container\n/,
    /\n {6}--ulimit ulimit {2,}Ulimit options \(default \[\]\)\n/,
    /\n {2}-p, --publish list {2,}Publish a container's port\(s\) to the host\n/,
    /\n {2}-P, --publish-all {2,}Publish all exposed ports to random ports\n/,
    /\n {6}--mac-address string {2,}Container MAC address \(e\.g\., 92:d0:c6:0a:29:33\)\n/,
    /\n {6}--volumes-from list {2,}Mount volumes from the specified container\(s\)\n/,
  ]) {
    assert.match(help, line);
  }
});

test('parsers: compose volume split, Go csv, MAC addresses, natural order', () => {
  assert.deepEqual(mounts.parseVolumeSpec('ab'), { source: '', target: 'ab' });
  assert.deepEqual(mounts.parseVolumeSpec('c:/x'), { source: '', target: 'c:/x' });
  assert.deepEqual(mounts.parseVolumeSpec('C:\\x:/d'), { source: 'C:\\x', target: '/d' });
  assert.deepEqual(mounts.parseVolumeSpec('name:c:/x:ro'), { source: 'name', target: 'c:/x' });
  assert.throws(() => mounts.parseVolumeSpec(':/b'), { message: 'invalid spec: :/b: empty section between colons' });

  assert.deepEqual(mounts.readCsvRecord('a,"b,c","d""e",'), ['a', 'b,c', 'd"e', '']);
  assert.deepEqual(mounts.readCsvRecord('\n\r\nx=1\ny=2'), ['x=1']);
  assert.deepEqual(mounts.readCsvRecord('"a\nb",c'), ['a\nb', 'c']);
  assert.throws(() => mounts.readCsvRecord(''), { message: 'EOF' });
  assert.throws(() => mounts.readCsvRecord('type=volume,"dst=/a'), { message: 'parse error on line 1, column 20: extraneous or missing " in quoted-field' });
  assert.throws(() => mounts.readCsvRecord('"dst=/a"b'), { message: 'parse error on line 1, column 8: extraneous or missing " in quoted-field' });
  assert.throws(() => mounts.readCsvRecord('dst=/é"'), { message: 'parse error on line 1, column 8: bare " in non-quoted-field' });
  assert.throws(() => mounts.readCsvRecord('"dst=/a\nb"x'), { message: 'record on line 1; parse error on line 2, column 2: extraneous or missing " in quoted-field' });

  for (const mac of ['02:42:ac:11:00:02', '02-42-AC-11-00-02', '0242.ac11.0002', '02:42:ac:11:00:02:00:01']) assert.ok(ports.isValidMac(mac), mac);
  for (const mac of ['xx', '02:42-ac:11:00:02', '02:42:ac:11:00:0g', '02:42:ac:11:00', ' 02:42:ac:11:00:02']) assert.ok(!ports.isValidMac(mac), mac);

  const sorted = ['a10', 'a9', 'a09', 'b', 'a', '1'].sort((x, y) => (ports.naturalLess(x, y) ? -1 : ports.naturalLess(y, x) ? 1 : 0));
  assert.deepEqual(sorted, ['1', 'a', 'a9', 'a09', 'a10', 'b']);

  assert.deepEqual(mounts.ulimitList(['stack=1', 'core=2:3', 'nofile=-2:-1']), [
    { Name: 'core', Hard: 3, Soft: 2 },
    { Name: 'nofile', Hard: -1, Soft: -2 },
    { Name: 'stack', Hard: 1, Soft: 1 },
  ]);
  assert.equal(mounts.tmpfsMap([]), undefined);
});
