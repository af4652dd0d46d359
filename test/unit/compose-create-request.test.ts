import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { project, load } from './compose-helpers.js';
import {
  assertSupported,
  containerCreateRequest,
  containerName,
  injectedFilesArchive,
  networkCreateRequest,
  serviceConfigHash,
  volumeCreateRequest,
  type ContainerRequestOptions,
} from '../../src/compose/engine/create-request.js';
import type { ComposeProject } from '../../src/compose/index.js';

type Dict = Record<string, any>;

function loaded(yaml: string, files: Record<string, string> = {}, env: Record<string, string> = {}): ComposeProject {
  return load(project({ 'compose.yaml': yaml, ...files }, 'proj'), { env }).project;
}

function create(p: ComposeProject, svc: string, opts: Partial<ContainerRequestOptions> = {}) {
  const service = p.services[svc];
  const req = containerCreateRequest(p, service, { number: 1, name: containerName(p, service, 1), ...opts });
  return { ...req, body: req.body as Dict, host: (req.body as Dict).HostConfig as Dict };
}

test('image, command and entrypoint: absent is null (image default), an empty list clears', () => {
  const p = loaded('services:\n  a: {image: busybox}\n  b: {image: busybox, command: "echo hi there", entrypoint: []}\n');
  const a = create(p, 'a');
  assert.equal(a.name, 'proj-a-1');
  assert.equal(a.body.Image, 'busybox');
  assert.equal(a.body.Cmd, null);
  assert.equal(a.body.Entrypoint, null);
  const b = create(p, 'b');
  assert.deepEqual(b.body.Cmd, ['echo', 'hi', 'there']);
  assert.deepEqual(b.body.Entrypoint, []);
  // run --entrypoint without a command drops the image's command too
  const run = create(p, 'a', { oneoff: true, entrypoint: ['sh'], name: 'proj-a-run-1' });
  assert.deepEqual(run.body.Entrypoint, ['sh']);
  assert.deepEqual(run.body.Cmd, []);
});

test('build without image runs <project>-<service>; neither is an error', () => {
  const p = loaded('services:\n  a: {build: .}\n');
  assert.equal(create(p, 'a').body.Image, 'proj-a');
  const q = loaded('services:\n  a: {image: x}\n');
  delete (q.services.a as Dict).image;
  assert.throws(() => create(q, 'a'), /service a has neither an image nor a build context specified/);
});

test('environment: values, a variable without value stays a bare key, run -e overrides', () => {
  const p = loaded('services:\n  a: {image: x, environment: {A: "1", B: null, C: ""}, labels: [flag, k=v]}\n');
  assert.equal(create(p, 'a').body.Labels.flag, '');
  assert.equal(create(p, 'a').body.Labels.k, 'v');
  assert.deepEqual(create(p, 'a').body.Env, ['A=1', 'B', 'C=']);
  assert.deepEqual(create(p, 'a', { oneoff: true, environment: { A: '2' } }).body.Env, ['A=2', 'B', 'C=']);
});

test('ports and expose: PortBindings, ExposedPorts; a one-off publishes none unless servicePorts or -p', () => {
  const p = loaded('services:\n  a:\n    image: x\n    ports: ["127.0.0.1:8080:80", "9000-9001:9000-9001/udp", "3000"]\n    expose: ["5000", "6000-6001/udp"]\n');
  const a = create(p, 'a');
  assert.deepEqual(a.host.PortBindings, {
    '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
    '9000/udp': [{ HostIp: '', HostPort: '9000' }],
    '9001/udp': [{ HostIp: '', HostPort: '9001' }],
    '3000/tcp': [{ HostIp: '', HostPort: '' }],
  });
  assert.deepEqual(Object.keys(a.body.ExposedPorts).sort(), ['3000/tcp', '5000/tcp', '6000/udp', '6001/udp', '80/tcp', '9000/udp', '9001/udp']);
  const run = create(p, 'a', { oneoff: true, name: 'r' });
  assert.deepEqual(run.host.PortBindings, {});
  assert.deepEqual(Object.keys(run.body.ExposedPorts).sort(), ['5000/tcp', '6000/udp', '6001/udp']);
  assert.deepEqual(Object.keys(create(p, 'a', { oneoff: true, name: 'r', servicePorts: true }).host.PortBindings).length, 4);
  assert.deepEqual(create(p, 'a', { oneoff: true, name: 'r', publish: ['127.0.0.1:7000:70'] }).host.PortBindings, { '70/tcp': [{ HostIp: '127.0.0.1', HostPort: '7000' }] });
});

test('volumes: binds and named volumes as Binds, the rest as Mounts, as docker compose splits them', () => {
  const p = loaded(
    [
      'services:',
      '  a:',
      '    image: x',
      '    volumes:',
      '      - ./data:/data:ro',
      '      - db:/var/lib/db',
      '      - /anon',
      '      - {type: tmpfs, target: /t, tmpfs: {size: 1m, mode: 0o1777}}',
      '      - {type: bind, source: ./strict, target: /strict, bind: {create_host_path: false}}',
      '      - {type: volume, source: db, target: /nocopy, volume: {nocopy: true}}',
      '      - {type: bind, source: ./p, target: /p, bind: {propagation: rshared}}',
      'volumes:',
      '  db: {}',
    ].join('\n'),
  );
  const a = create(p, 'a');
  assert.deepEqual(a.host.Binds, [`${path.join(p.workingDir, 'data')}:/data:ro`, 'proj_db:/var/lib/db:rw']);
  assert.deepEqual(a.host.Mounts, [
    { Type: 'volume', Source: '', Target: '/anon' },
    { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } },
    { Type: 'bind', Source: path.join(p.workingDir, 'strict'), Target: '/strict', BindOptions: { CreateMountpoint: false } },
    { Type: 'volume', Source: 'proj_db', Target: '/nocopy', VolumeOptions: { NoCopy: true } },
    { Type: 'bind', Source: path.join(p.workingDir, 'p'), Target: '/p', BindOptions: { CreateMountpoint: true, Propagation: 'rshared' } },
  ]);
});

test('secrets and configs: files as read-only binds; environment and content as files to inject', async () => {
  const p = loaded(
    [
      'services:',
      '  a:',
      '    image: x',
      '    secrets: [pw, {source: tok, target: token}]',
      '    configs: [conf, {source: inline, target: /etc/inline.conf, mode: 0o400}]',
      'secrets:',
      '  pw: {file: ./pw.txt}',
      '  tok: {environment: TOKEN}',
      'configs:',
      '  conf: {file: ./app.conf}',
      '  inline: {content: "hello"}',
    ].join('\n'),
    { 'pw.txt': 's3cret', 'app.conf': 'x=1' },
    { TOKEN: 'abc' },
  );
  const a = create(p, 'a');
  assert.deepEqual(a.host.Mounts, [
    { Type: 'bind', Source: path.join(p.workingDir, 'pw.txt'), Target: '/run/secrets/pw', ReadOnly: true, BindOptions: { CreateMountpoint: false } },
    { Type: 'bind', Source: path.join(p.workingDir, 'app.conf'), Target: '/conf', ReadOnly: true, BindOptions: { CreateMountpoint: false } },
  ]);
  assert.deepEqual(a.files, [
    { path: '/run/secrets/token', content: 'abc', mode: 0o444, uid: 0, gid: 0 },
    { path: '/etc/inline.conf', content: 'hello', mode: 0o400, uid: 0, gid: 0 },
  ]);
  const tar = await injectedFilesArchive(a.files);
  assert.equal(tar.subarray(0, 17).toString(), 'run/secrets/token');
  assert.ok(tar.includes(Buffer.from('abc')));
  const unset = loaded('services:\n  a: {image: x, secrets: [tok]}\nsecrets:\n  tok: {environment: NOPE}\n');
  assert.throws(() => create(unset, 'a'), /environment variable "NOPE" required by secret "proj_tok" is not set/);
  const ro = loaded('services:\n  a: {image: x, read_only: true, configs: [c]}\nconfigs:\n  c: {content: x}\n');
  assert.throws(() => create(ro, 'a'), /cannot create config "proj_c" in read-only service a/);
});

test('networks: priority order, first in NetworkingConfig, the rest after create; aliases and addresses', () => {
  const p = loaded(
    [
      'services:',
      '  a:',
      '    image: x',
      '    mac_address: "02:42:ac:11:00:02"',
      '    networks:',
      '      back: {aliases: [api], ipv4_address: 10.5.0.5}',
      '      front: {priority: 10}',
      '      zed: {}',
      'networks:',
      '  front: {}',
      '  back: {ipam: {config: [{subnet: 10.5.0.0/24}]}}',
      '  zed: {name: custom-zed}',
    ].join('\n'),
  );
  const a = create(p, 'a');
  assert.equal(a.host.NetworkMode, 'proj_front');
  assert.deepEqual(a.body.NetworkingConfig, { EndpointsConfig: { proj_front: { Aliases: ['proj-a-1', 'a'], MacAddress: '02:42:ac:11:00:02' } } });
  assert.deepEqual(a.extraNetworks, [
    { network: 'proj_back', endpoint: { Aliases: ['proj-a-1', 'a', 'api'], IPAMConfig: { IPv4Address: '10.5.0.5' } } },
    { network: 'custom-zed', endpoint: { Aliases: ['proj-a-1', 'a'] } },
  ]);
  // A one-off gets only its own name as alias unless --use-aliases.
  const run = create(p, 'a', { oneoff: true, name: 'proj-a-run-x' });
  assert.deepEqual((run.body.NetworkingConfig as Dict).EndpointsConfig.proj_front.Aliases, ['proj-a-run-x']);
  const back = networkCreateRequest(p, 'back') as Dict;
  assert.match(back.Labels['com.docker.compose.config-hash'], /^[0-9a-f]{64}$/);
  assert.notEqual(back.Labels['com.docker.compose.config-hash'], (networkCreateRequest(p, 'front') as Dict).Labels['com.docker.compose.config-hash']);
  delete back.Labels['com.docker.compose.config-hash'];
  assert.deepEqual(back, {
    Name: 'proj_back',
    Driver: 'bridge',
    Labels: { 'com.docker.compose.project': 'proj', 'com.docker.compose.network': 'back', 'com.docker.compose.version': '2.40.0-berth' },
    IPAM: { Driver: '', Config: [{ Subnet: '10.5.0.0/24' }], Options: {} },
  });
});

test('network_mode host/none/service:/container:, links, default network', () => {
  const p = loaded(
    'services:\n  db: {image: x, container_name: thedb}\n  h: {image: x, network_mode: host}\n  s: {image: x, network_mode: "service:db", pid: "service:db", ipc: "container:other"}\n  w: {image: x, links: ["db:database"], external_links: ["ext:e"]}\n',
  );
  assert.equal(create(p, 'h').host.NetworkMode, 'host');
  assert.equal(create(p, 'h').body.NetworkingConfig, undefined);
  const s = create(p, 's');
  assert.equal(s.host.NetworkMode, 'container:thedb');
  assert.equal(s.host.PidMode, 'container:thedb');
  assert.equal(s.host.IpcMode, 'container:other');
  const w = create(p, 'w');
  assert.equal(w.host.NetworkMode, 'proj_default');
  assert.deepEqual((w.body.NetworkingConfig as Dict).EndpointsConfig.proj_default.Links, ['thedb:database', 'thedb:db-1', 'thedb:proj-db-1', 'ext:e']);
});

test('healthcheck: durations in nanoseconds, disable is NONE, start_interval needs start_period', () => {
  const p = loaded(
    'services:\n  a: {image: x, healthcheck: {test: "wget -q localhost", interval: 1m30s, timeout: 500ms, start_period: 5s, start_interval: 1s, retries: 3}}\n  b: {image: x, healthcheck: {disable: true}}\n  c: {image: x, healthcheck: {start_interval: 1s}}\n',
  );
  assert.deepEqual(create(p, 'a').body.Healthcheck, {
    Test: ['CMD-SHELL', 'wget -q localhost'],
    Interval: 90e9,
    Timeout: 5e8,
    StartPeriod: 5e9,
    StartInterval: 1e9,
    Retries: 3,
  });
  assert.deepEqual((create(p, 'b').body.Healthcheck as Dict).Test, ['NONE']);
  assert.throws(() => create(p, 'c'), /healthcheck.start_interval requires healthcheck.start_period to be set/);
});

test('restart, deploy.resources, mem_limit, cpus; one-offs never restart', () => {
  const p = loaded(
    [
      'services:',
      '  a: {image: x, restart: "on-failure:3", mem_limit: 512m, memswap_limit: 1g, cpus: 0.5, pids_limit: 100, shm_size: 64m}',
      '  b:',
      '    image: x',
      '    restart: always',
      '    deploy:',
      '      replicas: 2',
      '      restart_policy: {condition: any, max_attempts: 0}',
      '      resources: {limits: {cpus: "1.5", memory: 50M, pids: 20}, reservations: {memory: 20M}}',
    ].join('\n'),
  );
  const a = create(p, 'a').host;
  assert.deepEqual(a.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(a.Memory, 512 * 1024 ** 2);
  assert.equal(a.MemorySwap, 1024 ** 3);
  assert.equal(a.NanoCpus, 5e8);
  assert.equal(a.PidsLimit, 100);
  assert.equal(a.ShmSize, 64 * 1024 ** 2);
  const b = create(p, 'b').host;
  assert.deepEqual(b.RestartPolicy, { Name: 'always', MaximumRetryCount: 0 });
  assert.equal(b.NanoCpus, 1.5e9);
  assert.equal(b.Memory, 50 * 1024 ** 2);
  assert.equal(b.MemoryReservation, 20 * 1024 ** 2);
  assert.equal(b.PidsLimit, 20);
  assert.deepEqual(create(p, 'a', { oneoff: true, name: 'r' }).host.RestartPolicy, { Name: '', MaximumRetryCount: 0 });
});

test('the other keys: Config and HostConfig fields', () => {
  const p = loaded(
    [
      'services:',
      '  a:',
      '    image: x',
      '    platform: linux/amd64',
      '    hostname: h',
      '    domainname: example.org',
      '    user: "1000:1000"',
      '    working_dir: /w',
      '    init: true',
      '    stop_signal: SIGINT',
      '    stop_grace_period: 1m30s',
      '    cap_add: [NET_ADMIN]',
      '    cap_drop: [ALL]',
      '    privileged: true',
      '    read_only: true',
      '    tmpfs: /run:size=1m',
      '    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}',
      '    sysctls: [net.core.somaxconn=1024]',
      '    extra_hosts: ["host1:10.0.0.1", "host2=10.0.0.2"]',
      '    dns: 1.1.1.1',
      '    dns_search: [example.org]',
      '    dns_opt: [ndots:2]',
      '    logging: {driver: json-file, options: {max-size: 1m}}',
      '    pid: host',
      '    ipc: shareable',
      '    security_opt: [no-new-privileges, "label:disable"]',
      '    devices: ["/dev/null:/dev/nul2:r", {source: /dev/zero, target: /dev/z, permissions: rw}]',
      '    group_add: [audio, 10]',
      '    tty: true',
      '    stdin_open: true',
      '    labels: {a.b: c}',
      '    annotations: {k: v}',
      '    oom_score_adj: 100',
    ].join('\n'),
  );
  const { body, host, platform } = create(p, 'a', { imageDigest: 'sha256:abc' });
  assert.equal(platform, 'linux/amd64');
  assert.deepEqual(
    [body.Hostname, body.Domainname, body.User, body.WorkingDir, body.StopSignal, body.StopTimeout, body.Tty, body.OpenStdin],
    ['h', 'example.org', '1000:1000', '/w', 'SIGINT', 90, true, true],
  );
  assert.equal(body.Labels['a.b'], 'c');
  assert.equal(body.Labels['com.docker.compose.project'], 'proj');
  assert.equal(body.Labels['com.docker.compose.container-number'], '1');
  assert.equal(body.Labels['com.docker.compose.oneoff'], 'False');
  assert.equal(body.Labels['com.docker.compose.image'], 'sha256:abc');
  assert.match(body.Labels['com.docker.compose.config-hash'], /^[0-9a-f]{64}$/);
  assert.equal(host.Init, true);
  assert.deepEqual(host.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(host.CapDrop, ['ALL']);
  assert.equal(host.Privileged, true);
  assert.equal(host.ReadonlyRootfs, true);
  assert.deepEqual(host.Tmpfs, { '/run': 'size=1m' });
  assert.deepEqual(host.Ulimits, [
    { Name: 'nofile', Soft: 100, Hard: 200 },
    { Name: 'nproc', Soft: 50, Hard: 50 },
  ]);
  assert.deepEqual(host.Sysctls, { 'net.core.somaxconn': '1024' });
  assert.deepEqual(host.ExtraHosts, ['host1:10.0.0.1', 'host2:10.0.0.2']);
  assert.deepEqual(host.Dns, ['1.1.1.1']);
  assert.deepEqual(host.DnsSearch, ['example.org']);
  assert.deepEqual(host.DnsOptions, ['ndots:2']);
  assert.deepEqual(host.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
  assert.equal(host.PidMode, 'host');
  assert.equal(host.IpcMode, 'shareable');
  assert.deepEqual(host.SecurityOpt, ['no-new-privileges', 'label:disable']);
  assert.deepEqual(host.Devices, [
    { PathOnHost: '/dev/null', PathInContainer: '/dev/nul2', CgroupPermissions: 'r' },
    { PathOnHost: '/dev/zero', PathInContainer: '/dev/z', CgroupPermissions: 'rw' },
  ]);
  assert.deepEqual(host.GroupAdd, ['audio', '10']);
  assert.deepEqual(host.Annotations, { k: 'v' });
  assert.equal(host.OomScoreAdj, 100);
  const run = create(p, 'a', { oneoff: true, name: 'r', slug: 'abc', autoRemove: true });
  assert.equal(run.body.Labels['com.docker.compose.oneoff'], 'True');
  assert.equal(run.body.Labels['com.docker.compose.container-number'], undefined);
  assert.equal(run.body.Labels['com.docker.compose.slug'], 'abc');
  assert.equal(run.host.AutoRemove, true);
});

test('a DNS server must be an IP address, as docker compose checks', () => {
  assert.throws(() => create(loaded('services:\n  a: {image: x, dns: [dns.example]}\n'), 'a'), /invalid DNS address: ParseAddr\("dns.example"\)/);
});

test('a seccomp profile file is inlined as compact JSON; systempaths=unconfined unmasks', () => {
  const p = loaded('services:\n  a: {image: x, security_opt: ["seccomp:./prof.json", systempaths=unconfined]}\n', { 'prof.json': '{ "defaultAction": "SCMP_ACT_ALLOW" }\n' });
  const host = create(p, 'a').host;
  assert.deepEqual(host.SecurityOpt, ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']);
  assert.deepEqual(host.MaskedPaths, []);
});

test('config hash: stable, changed by configuration, not by scale, replicas, build, pull_policy, depends_on, profiles', () => {
  const base = 'services:\n  a: {image: x, environment: {A: "1"}, labels: {l: v}}\n  b: {image: y}\n';
  const h = serviceConfigHash(loaded(base).services.a);
  assert.equal(serviceConfigHash(loaded(base).services.a), h, 'same file, same hash');
  assert.equal(serviceConfigHash(loaded('services:\n  a: {labels: {l: v}, environment: {A: "1"}, image: x}\n').services.a), h, 'key order does not matter');
  for (const extra of ['scale: 3', 'deploy: {replicas: 4}', 'build: .', 'pull_policy: always', 'depends_on: [b]', 'profiles: [p]']) {
    const yaml = `services:\n  a: {image: x, environment: {A: "1"}, labels: {l: v}, ${extra}}\n  b: {image: y}\n`;
    assert.equal(serviceConfigHash(load(project({ 'compose.yaml': yaml }), { profiles: ['p'] }).project.services.a), h, extra);
  }
  const changes: Dict[] = [{ image: 'z' }, { environment: { A: '2' } }, { labels: { l: 'w' } }, { ports: ['80'] }, { deploy: { resources: { limits: { memory: '10m' } } } }];
  for (const change of changes) {
    const svc = { image: 'x', environment: { A: '1' }, labels: { l: 'v' }, ...change };
    assert.notEqual(serviceConfigHash(loaded(JSON.stringify({ services: { a: svc } })).services.a), h, JSON.stringify(change));
  }
});

test('assertSupported: unsupported keys are refused with the service and key named; Swarm-only ones warn', () => {
  const refused = (yaml: string) => () => assertSupported(loaded(yaml));
  assert.throws(refused('services:\n  web: {image: x, gpus: all}\n'), { message: 'service "web": "gpus" is not supported by Berth' });
  assert.throws(refused('services:\n  web: {image: x, runtime: kata}\n'), /service "web": "runtime" is not supported by Berth/);
  assert.throws(refused('services:\n  web: {image: x, cgroup_parent: foo}\n'), /"cgroup_parent" is not supported/);
  assert.throws(refused('services:\n  web: {image: x, devices: ["nvidia.com/gpu=all"]}\n'), /"devices \(CDI device nvidia.com\/gpu=all\)" is not supported/);
  assertSupported(loaded('services:\n  web: {image: x, devices: ["/dev/fuse"]}\n'));
  assert.throws(refused('services:\n  web: {image: x, userns_mode: "private"}\n'), /"userns_mode" is not supported/);
  assert.throws(refused('services:\n  web: {image: x, deploy: {mode: global}}\n'), /"deploy.mode: global" is not supported/);
  assert.throws(refused('services:\n  web: {image: x, volumes: [{type: npipe, source: a, target: /b}]}\n'), /"volumes \(type npipe\)" is not supported/);
  assert.throws(refused('services:\n  web: {image: x}\nnetworks:\n  n: {driver: overlay}\n'), { message: 'network "n": driver "overlay" is not supported by Berth' });
  assert.throws(refused('services:\n  web: {image: x}\nvolumes:\n  v: {driver: nfs}\n'), /volume "v": driver "nfs" is not supported/);
  assert.throws(refused('services:\n  web: {image: x, secrets: [s]}\nsecrets:\n  s: {external: true}\n'), /unsupported external secret s/);
  const warnings: string[] = [];
  assertSupported(loaded('services:\n  web: {image: x, runtime: runc, deploy: {placement: {constraints: [a]}}}\n'), (m) => warnings.push(m));
  assert.deepEqual(warnings, ['service "web": deploy.placement applies to Swarm only and is ignored']);
  warnings.length = 0;
  const modes = 'services:\n  web: {image: x, secrets: [{source: f, mode: 0o400}, {source: e, mode: 0o400}]}\nsecrets:\n  f: {file: ./f}\n  e: {environment: E}\n';
  assertSupported(loaded(modes), (m) => warnings.push(m));
  assert.deepEqual(warnings, ['secrets `uid`, `gid` and `mode` are not supported, they will be ignored']);
});

test('volumeCreateRequest carries driver options and labels', () => {
  const p = loaded('services:\n  a: {image: x}\nvolumes:\n  v: {driver_opts: {type: tmpfs, device: tmpfs}, labels: [k=v]}\n');
  const body = volumeCreateRequest(p, 'v') as Dict;
  assert.match(body.Labels['com.docker.compose.config-hash'], /^[0-9a-f]{64}$/);
  delete body.Labels['com.docker.compose.config-hash'];
  assert.deepEqual(body, {
    Name: 'proj_v',
    Driver: 'local',
    DriverOpts: { type: 'tmpfs', device: 'tmpfs' },
    Labels: { k: 'v', 'com.docker.compose.project': 'proj', 'com.docker.compose.volume': 'v', 'com.docker.compose.version': '2.40.0-berth' },
  });
});
