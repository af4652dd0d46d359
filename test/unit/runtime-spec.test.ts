import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  applyHostConfigDefaults,
  buildRlimits,
  buildSpec,
  containerEnv,
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  KNOWN_CAPABILITIES,
  mergeEnv,
  mergeTmpfsOptions,
  readHostRlimits,
  RLIM_INFINITY,
  serializeSpec,
  tweakCapabilities,
  validateContainerConfig,
  validateHostConfig,
  type HostConfig,
  type OciSpec,
  type SpecInput,
} from '../../src/runtime/spec/index.js';
import { readRootfsFile, resolveInRootfs, resolveUser } from '../../src/runtime/user.js';
import { parseSignal, signalName } from '../../src/runtime/signals.js';
import { parseCpusetList } from '../../src/runtime/units.js';
import { isKind } from '../../src/lib/errors.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'bin:x:2:2:bin:/bin:/bin/false',
  'www-data:x:33:33:www-data:/var/www:/bin/false',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
  '',
].join('\n');
const GROUP = [
  'root:x:0:',
  'daemon:x:1:',
  'bin:x:2:root,daemon',
  'wheel:x:10:root',
  'www-data:x:33:',
  '# a comment',
  'staff:x:50:www-data',
  'nogroup:x:65534:',
  '',
].join('\n');

/** All caps but CAP_SYS_RESOURCE, as on the machines this was written on. */
const AVAILABLE = KNOWN_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(prefix = 'berth-spec-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

function makeRootfs(): string {
  const dir = tmp();
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'etc/passwd'), PASSWD);
  fs.writeFileSync(path.join(rootfs, 'etc/group'), GROUP);
  return rootfs;
}

function input(rootfs: string, over: Partial<SpecInput> = {}, hc: HostConfig = {}): SpecInput {
  return {
    id: 'c0ffee',
    rootfs,
    config: { Hostname: 'c0ffee', Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    hostConfig: { NetworkMode: 'none', ...hc },
    hostsPath: '/var/lib/berth/containers/c0ffee/hosts',
    hostnamePath: '/var/lib/berth/containers/c0ffee/hostname',
    resolvConfPath: '/var/lib/berth/containers/c0ffee/resolv.conf',
    cgroupsPath: '/berth/c0ffee',
    cgroupVersion: 1,
    availableCaps: AVAILABLE,
    hostRlimits: { nofile: { soft: 20000, hard: 20000 }, nproc: { soft: 96365, hard: 96365 } },
    ...over,
  };
}

function spec(hc: HostConfig = {}, over: Partial<SpecInput> = {}): OciSpec {
  return buildSpec(input(sharedRootfs, over, hc));
}

const sharedRootfs = makeRootfs();

function throwsInvalid(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKind(e, 'InvalidArgument'), `expected InvalidArgument, got ${String(e)}`);
    if (typeof message === 'string') assert.equal((e as Error).message, message);
    else assert.match((e as Error).message, message);
    return true;
  });
}

test('a busybox-like container gets Docker’s default spec', () => {
  const s = spec();
  assert.equal(s.ociVersion, '1.0.2');
  assert.equal(s.process.terminal, false);
  assert.deepEqual(s.process.user, { uid: 0, gid: 0, additionalGids: [0, 2, 10] });
  assert.deepEqual(s.process.args, ['sh']);
  assert.deepEqual(s.process.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=c0ffee']);
  assert.equal(s.process.cwd, '/');
  assert.ok(!('inheritable' in (s.process.capabilities ?? {})), 'inheritable stays empty, as in Docker since 20.10.14');
  assert.deepEqual(s.process.capabilities, {
    bounding: [...DEFAULT_CAPABILITIES],
    effective: [...DEFAULT_CAPABILITIES],
    permitted: [...DEFAULT_CAPABILITIES],
  });
  assert.equal(s.process.noNewPrivileges, undefined);
  assert.equal(s.process.oomScoreAdj, 0);
  assert.equal(s.process.rlimits, undefined, 'Docker sets no rlimit unless asked');
  assert.equal(s.process.apparmorProfile, undefined);
  assert.deepEqual(s.root, { path: sharedRootfs, readonly: false });
  assert.equal(s.hostname, 'c0ffee');
  assert.deepEqual(
    s.mounts.map((m) => [m.destination, m.type, m.source, (m.options ?? []).join(',')]),
    [
      ['/proc', 'proc', 'proc', 'nosuid,noexec,nodev'],
      ['/dev', 'tmpfs', 'tmpfs', 'nosuid,strictatime,mode=755,size=65536k'],
      ['/dev/pts', 'devpts', 'devpts', 'nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5'],
      ['/sys', 'sysfs', 'sysfs', 'nosuid,noexec,nodev,ro'],
      ['/sys/fs/cgroup', 'cgroup', 'cgroup', 'ro,nosuid,noexec,nodev'],
      ['/dev/mqueue', 'mqueue', 'mqueue', 'nosuid,noexec,nodev'],
      ['/dev/shm', 'tmpfs', 'shm', 'nosuid,noexec,nodev,mode=1777,size=67108864'],
      ['/etc/resolv.conf', 'bind', '/var/lib/berth/containers/c0ffee/resolv.conf', 'rbind,rprivate'],
      ['/etc/hostname', 'bind', '/var/lib/berth/containers/c0ffee/hostname', 'rbind,rprivate'],
      ['/etc/hosts', 'bind', '/var/lib/berth/containers/c0ffee/hosts', 'rbind,rprivate'],
    ],
  );
  assert.deepEqual(
    s.linux.namespaces.map((n) => n.type),
    ['mount', 'network', 'uts', 'pid', 'ipc'],
  );
  for (const p of DEFAULT_MASKED_PATHS) assert.ok(s.linux.maskedPaths?.includes(p), p);
  for (const p of ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap']) {
    assert.ok(s.linux.maskedPaths?.includes(p), p);
  }
  assert.deepEqual(s.linux.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
  assert.deepEqual(s.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  assert.deepEqual(s.linux.resources.devices, [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
    { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ]);
  assert.deepEqual(s.linux.resources.memory, { disableOOMKiller: false });
  assert.equal(s.linux.resources.cpu, undefined);
  assert.equal(s.linux.resources.pids, undefined);
  assert.equal(s.linux.cgroupsPath, '/berth/c0ffee');
  // Docker's default seccomp profile: EPERM unless allowed; mount only with CAP_SYS_ADMIN.
  assert.equal(s.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(s.linux.seccomp?.defaultErrnoRet, 1);
  const allowed = new Set((s.linux.seccomp?.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
  assert.ok(allowed.has('read') && allowed.has('execve') && !allowed.has('mount') && !allowed.has('init_module'));
  // Docker's network sysctls, where the kernel has them.
  if (fs.existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) {
    assert.equal(s.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
  }
  if (fs.existsSync('/proc/sys/net/ipv4/ping_group_range')) {
    assert.equal(s.linux.sysctl?.['net.ipv4.ping_group_range'], '0 2147483647');
  }
  // The JSON round-trips.
  assert.deepEqual(JSON.parse(serializeSpec(s)), JSON.parse(JSON.stringify(s)));
});

test('user resolution follows runc: names, ids, groups, supplementary groups, GroupAdd', () => {
  const r = sharedRootfs;
  assert.deepEqual(resolveUser(r, ''), { uid: 0, gid: 0, additionalGids: [0, 2, 10], home: '/root' });
  assert.deepEqual(resolveUser(r, 'root'), { uid: 0, gid: 0, additionalGids: [0, 2, 10], home: '/root' });
  assert.deepEqual(resolveUser(r, 'daemon'), { uid: 1, gid: 1, additionalGids: [1, 2], home: '/usr/sbin' });
  assert.deepEqual(resolveUser(r, '33'), { uid: 33, gid: 33, additionalGids: [33, 50], home: '/var/www' });
  assert.deepEqual(resolveUser(r, '1000'), { uid: 1000, gid: 0, additionalGids: [0], home: '' });
  assert.deepEqual(resolveUser(r, '1000:1000'), { uid: 1000, gid: 1000, additionalGids: [1000], home: '' });
  assert.deepEqual(resolveUser(r, 'nobody:daemon'), { uid: 65534, gid: 1, additionalGids: [1], home: '/home' });
  assert.deepEqual(resolveUser(r, 'www-data:0'), { uid: 33, gid: 0, additionalGids: [0], home: '/var/www' });
  assert.deepEqual(resolveUser(r, 'daemon', ['staff', '4242']), { uid: 1, gid: 1, additionalGids: [1, 2, 50, 4242], home: '/usr/sbin' });
  throwsInvalid(() => resolveUser(r, 'nosuch'), 'unable to find user nosuch: no matching entries in passwd file');
  throwsInvalid(() => resolveUser(r, 'root:nosuch'), 'unable to find group nosuch: no matching entries in group file');
  throwsInvalid(() => resolveUser(r, 'root', ['nosuch']), 'unable to find group nosuch: no matching entries in group file');
  throwsInvalid(() => resolveUser(r, '99999999999'), 'uids and gids must be in range 0-2147483647');
  throwsInvalid(() => resolveUser(r, '-1'), 'uids and gids must be in range 0-2147483647');

  // No passwd at all: numeric ids still work, names do not.
  const empty = path.join(tmp(), 'rootfs');
  fs.mkdirSync(empty);
  assert.deepEqual(resolveUser(empty, ''), { uid: 0, gid: 0, additionalGids: [0], home: '' });
  assert.deepEqual(resolveUser(empty, '5:6'), { uid: 5, gid: 6, additionalGids: [6], home: '' });
  throwsInvalid(() => resolveUser(empty, 'root'), 'unable to find user root: no matching entries in passwd file');

  // The spec carries what resolveUser found.
  const s = spec({ GroupAdd: ['wheel'] }, { config: { Cmd: ['id'], User: 'www-data' } });
  assert.deepEqual(s.process.user, { uid: 33, gid: 33, additionalGids: [33, 50, 10] });
  throwsInvalid(() => spec({}, { config: { Cmd: ['id'], User: 'ghost' } }), 'unable to find user ghost: no matching entries in passwd file');
});

test('hostile /etc/passwd and /etc/group symlinks never reach a host file', () => {
  const dir = tmp();
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  // A file outside the rootfs that names a user the container must never see.
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'passwd'), 'hostonly:x:4242:4242::/:/bin/sh\n');
  fs.writeFileSync(path.join(outside, 'group'), 'hostgroup:x:4343:hostonly\n');

  const cases: Array<[string, string]> = [
    ['/etc/shadow', 'the host shadow file'],
    ['/etc/passwd', 'the host passwd file'],
    ['../../../../../../../../etc/shadow', 'a relative escape'],
    [path.join(outside, 'passwd'), 'an absolute path outside'],
    [path.relative(path.join(rootfs, 'etc'), path.join(outside, 'passwd')), 'a relative path outside'],
  ];
  for (const [target, what] of cases) {
    fs.rmSync(path.join(rootfs, 'etc/passwd'), { force: true });
    fs.symlinkSync(target, path.join(rootfs, 'etc/passwd'));
    let resolved: string | undefined;
    try {
      resolved = resolveInRootfs(rootfs, '/etc/passwd');
    } catch (e) {
      // A link back to /etc/passwd is a loop once scoped to the rootfs.
      assert.match((e as Error).message, /too many levels of symbolic links/);
    }
    if (resolved !== undefined) assert.ok(resolved === rootfs || resolved.startsWith(rootfs + '/'), `${what}: ${resolved}`);
    const text = readRootfsFile(rootfs, '/etc/passwd');
    assert.ok(text === undefined || !/hostonly|root:/.test(text), `${what} was read`);
    throwsInvalid(() => resolveUser(rootfs, 'hostonly'), 'unable to find user hostonly: no matching entries in passwd file');
    throwsInvalid(() => resolveUser(rootfs, 'root'), 'unable to find user root: no matching entries in passwd file');
    assert.equal(resolveUser(rootfs, '7').uid, 7);
  }

  // /etc itself a link to a host directory: resolved inside the rootfs instead.
  fs.rmSync(path.join(rootfs, 'etc'), { recursive: true });
  fs.symlinkSync(outside, path.join(rootfs, 'etc'));
  throwsInvalid(() => resolveUser(rootfs, 'hostonly'), 'unable to find user hostonly: no matching entries in passwd file');
  throwsInvalid(() => resolveUser(rootfs, '0', ['hostgroup']), 'unable to find group hostgroup: no matching entries in group file');
  fs.rmSync(path.join(rootfs, 'etc'));

  // Links that stay inside the rootfs work, absolute ones taken relative to the rootfs.
  fs.mkdirSync(path.join(rootfs, 'etc'));
  fs.mkdirSync(path.join(rootfs, 'lib'));
  fs.writeFileSync(path.join(rootfs, 'lib/passwd'), 'app:x:500:500::/app:/bin/sh\n');
  fs.symlinkSync('/lib/passwd', path.join(rootfs, 'etc/passwd'));
  fs.writeFileSync(path.join(rootfs, 'lib/group'), 'apps:x:501:app\n');
  fs.symlinkSync('../lib/group', path.join(rootfs, 'etc/group'));
  assert.deepEqual(resolveUser(rootfs, 'app'), { uid: 500, gid: 500, additionalGids: [500, 501], home: '/app' });

  // A FIFO or a device does not hang or get read; a link loop is just "missing".
  fs.rmSync(path.join(rootfs, 'etc/group'));
  execFileSync('mkfifo', [path.join(rootfs, 'etc/group')]);
  assert.deepEqual(resolveUser(rootfs, 'app'), { uid: 500, gid: 500, additionalGids: [500], home: '/app' });
  fs.rmSync(path.join(rootfs, 'etc/passwd'));
  fs.symlinkSync('/etc/passwd', path.join(rootfs, 'etc/passwd'));
  assert.equal(readRootfsFile(rootfs, '/etc/passwd'), undefined);
});

test('environment: PATH default, HOSTNAME, TERM for a tty, Config.Env on top; create-time merge with the image', () => {
  assert.deepEqual(mergeEnv(['PATH=/img', 'A=image', 'B=image'], ['A=user', 'C=user']), ['A=user', 'C=user', 'PATH=/img', 'B=image']);
  assert.deepEqual(mergeEnv(['PATH=/img'], []), ['PATH=/img']);
  assert.deepEqual(mergeEnv(null, ['X=1']), ['X=1']);
  assert.deepEqual(containerEnv({ Hostname: 'h', Env: ['A=1'] }), [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOSTNAME=h',
    'A=1',
  ]);
  assert.deepEqual(containerEnv({ Hostname: 'h', Tty: true, Env: ['PATH=/mine', 'TERM=vt100', 'HOSTNAME=x', 'B=2'] }), [
    'PATH=/mine',
    'HOSTNAME=x',
    'TERM=vt100',
    'B=2',
  ]);
  // A bare key removes it.
  assert.deepEqual(containerEnv({ Hostname: 'h', Env: ['PATH'] }), ['HOSTNAME=h']);
  const s = spec({}, { config: { Hostname: 'box', Tty: true, Cmd: ['sh'], Env: ['A=1'] } });
  assert.equal(s.process.terminal, true);
  assert.deepEqual(s.process.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=box', 'TERM=xterm', 'A=1']);
  throwsInvalid(() => validateContainerConfig({ Env: ['=x'] }), 'invalid environment variable: =x');
  throwsInvalid(() => validateContainerConfig({ WorkingDir: 'rel' }), "the working directory 'rel' is invalid, it needs to be an absolute path");
  throwsInvalid(() => validateContainerConfig({ StopSignal: 'SIGNOPE' }), 'invalid signal: SIGNOPE');
  throwsInvalid(() => validateContainerConfig({ Hostname: 'x'.repeat(65) }), /is too long \(maximum 64 bytes\)/);
  validateContainerConfig({ WorkingDir: '/app', StopSignal: 'SIGUSR1', Env: ['A=1', 'B'] });
});

test('args: entrypoint + cmd, an empty entrypoint, no command, init wrapping', () => {
  const args = (config: SpecInput['config'], hc: HostConfig = {}, over: Partial<SpecInput> = {}) =>
    buildSpec(input(sharedRootfs, { config, ...over }, hc)).process.args;
  assert.deepEqual(args({ Entrypoint: ['/bin/ep', '-x'], Cmd: ['a', 'b'] }), ['/bin/ep', '-x', 'a', 'b']);
  assert.deepEqual(args({ Entrypoint: [''], Cmd: ['ls'] }), ['ls']);
  assert.deepEqual(args({ Entrypoint: ['/ep'], Cmd: null }), ['/ep']);
  throwsInvalid(() => args({ Cmd: [] }), 'no command specified');
  throwsInvalid(() => args({ Entrypoint: [''], Cmd: null }), 'no command specified');

  const s = buildSpec(input(sharedRootfs, { config: { Cmd: ['sleep', '1'] }, initPath: '/usr/bin/tini-static' }, { Init: true }));
  assert.deepEqual(s.process.args, ['/sbin/docker-init', '--', 'sleep', '1']);
  assert.deepEqual(
    s.mounts.find((m) => m.destination === '/sbin/docker-init'),
    { destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] },
  );
  // The daemon default applies when Init is null; not with the host's pid namespace.
  assert.equal(args({ Cmd: ['x'] }, { Init: null }, { defaultInit: true, initPath: '/i' })[0], '/sbin/docker-init');
  assert.deepEqual(args({ Cmd: ['x'] }, { Init: false }, { defaultInit: true, initPath: '/i' }), ['x']);
  assert.deepEqual(args({ Cmd: ['x'] }, { Init: true, PidMode: 'host' }, { initPath: '/i' }), ['x']);
  assert.throws(() => args({ Cmd: ['x'] }, { Init: true }), /no init binary/);
  // WorkingDir becomes cwd.
  assert.equal(buildSpec(input(sharedRootfs, { config: { Cmd: ['x'], WorkingDir: '/srv' } })).process.cwd, '/srv');
});

test('capabilities: CapAdd, CapDrop, ALL, unknown and unavailable names', () => {
  const caps = (hc: HostConfig) => spec(hc).process.capabilities!;
  let c = caps({ CapAdd: ['net_admin', 'CAP_SYS_PTRACE'], CapDrop: ['chown', 'CAP_NET_RAW'] });
  assert.deepEqual(c.bounding, [
    ...DEFAULT_CAPABILITIES.filter((x) => x !== 'CAP_CHOWN' && x !== 'CAP_NET_RAW'),
    'CAP_NET_ADMIN',
    'CAP_SYS_PTRACE',
  ]);
  assert.deepEqual(c.effective, c.bounding);
  assert.deepEqual(c.permitted, c.bounding);
  c = caps({ CapAdd: ['ALL'], CapDrop: ['MKNOD'] });
  assert.deepEqual(c.bounding, AVAILABLE.filter((x) => x !== 'CAP_MKNOD'));
  assert.ok(!c.bounding!.includes('CAP_SYS_RESOURCE'), 'ALL means what the daemon has');
  c = caps({ CapDrop: ['all'], CapAdd: ['chown'] });
  assert.deepEqual(c.bounding, ['CAP_CHOWN']);
  c = caps({ CapDrop: ['ALL'] });
  assert.deepEqual(c.bounding, []);
  assert.deepEqual(tweakCapabilities(['CHOWN'], [], AVAILABLE), [...DEFAULT_CAPABILITIES]);

  throwsInvalid(() => caps({ CapAdd: ['FOO'] }), 'unknown capability: "CAP_FOO"');
  throwsInvalid(() => validateHostConfig({ CapAdd: ['FOO'] }, { availableCaps: AVAILABLE }), 'invalid CapAdd: unknown capability: "CAP_FOO"');
  throwsInvalid(() => validateHostConfig({ CapDrop: ['cap_bar'] }, { availableCaps: AVAILABLE }), 'invalid CapDrop: unknown capability: "CAP_BAR"');
  throwsInvalid(
    () => validateHostConfig({ CapAdd: ['SYS_RESOURCE'] }, { availableCaps: AVAILABLE }),
    'invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"',
  );
  // SecurityOpt no-new-privileges.
  assert.equal(spec({ SecurityOpt: ['no-new-privileges'] }).process.noNewPrivileges, true);
  assert.equal(spec({ SecurityOpt: ['no-new-privileges:true'] }).process.noNewPrivileges, true);
});

test('resources translate as dockerd does', () => {
  let r = spec({ Memory: 64 * 2 ** 20 }).linux.resources;
  assert.deepEqual(r.memory, { limit: 64 * 2 ** 20, swap: 128 * 2 ** 20, disableOOMKiller: false });
  r = spec({ Memory: 64 * 2 ** 20, MemorySwap: -1 }).linux.resources;
  assert.deepEqual(r.memory, { limit: 64 * 2 ** 20, disableOOMKiller: false });
  r = spec({ Memory: 64 * 2 ** 20, MemorySwap: 100 * 2 ** 20, MemoryReservation: 32 * 2 ** 20, OomKillDisable: true, MemorySwappiness: 10 })
    .linux.resources;
  assert.deepEqual(r.memory, {
    limit: 64 * 2 ** 20,
    reservation: 32 * 2 ** 20,
    swap: 100 * 2 ** 20,
    swappiness: 10,
    disableOOMKiller: true,
  });
  assert.deepEqual(spec({ MemorySwappiness: -1 }).linux.resources.memory, { disableOOMKiller: false });

  r = spec({ NanoCpus: 1.5e9 }).linux.resources;
  assert.deepEqual(r.cpu, { period: 100000, quota: 150000 });
  r = spec({ NanoCpus: 10_000_000 }).linux.resources;
  assert.deepEqual(r.cpu, { period: 100000, quota: 1000 });
  r = spec({ CpuPeriod: 50000, CpuQuota: 25000, CpuShares: 512, CpusetCpus: '0-1', CpusetMems: '0' }).linux.resources;
  assert.deepEqual(r.cpu, { shares: 512, period: 50000, quota: 25000, cpus: '0-1', mems: '0' });
  throwsInvalid(() => spec({ CpuShares: -2 }), 'invalid CPU shares (-2): value must be a positive integer');

  assert.deepEqual(spec({ PidsLimit: 100 }).linux.resources.pids, { limit: 100 });
  assert.deepEqual(spec({ PidsLimit: 0 }).linux.resources.pids, { limit: -1 });
  assert.deepEqual(spec({ PidsLimit: -1 }).linux.resources.pids, { limit: -1 });
  assert.equal(spec({ PidsLimit: null }).linux.resources.pids, undefined);
  assert.deepEqual(spec({ BlkioWeight: 300 }).linux.resources.blockIO, { weight: 300 });

  const s = spec({ Sysctls: { 'net.core.somaxconn': '1024', 'net.ipv4.ip_unprivileged_port_start': '1024' } });
  assert.equal(s.linux.sysctl?.['net.core.somaxconn'], '1024');
  assert.equal(s.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '1024');
  assert.equal(spec({}, { config: { Cmd: ['x'], Hostname: 'h', Domainname: 'example.org' } }).linux.sysctl?.['kernel.domainname'], 'example.org');

  const d = spec({ DeviceCgroupRules: ['c 13:* rwm', 'b *:* m'], Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }] });
  assert.deepEqual(d.linux.resources.devices.slice(-3), [
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
    { allow: true, type: 'c', major: 13, access: 'rwm' },
    { allow: true, type: 'b', access: 'm' },
  ]);
  assert.equal(d.linux.devices?.[0]?.path, '/dev/mynull');
  assert.equal(d.linux.devices?.[0]?.major, 1);
  assert.equal(d.linux.devices?.[0]?.minor, 3);
  throwsInvalid(() => spec({ DeviceCgroupRules: ['x 1:2 rwm'] }), "invalid device cgroup format 'x 1:2 rwm'");

  assert.deepEqual(spec({ Annotations: { a: 'b' } }).annotations, { a: 'b' });
  assert.equal(spec({ OomScoreAdj: 500 }).process.oomScoreAdj, 500);
});

test('validateHostConfig gives Docker’s messages', () => {
  const opts = { ncpu: 2, cpusetCpus: '0-1', cpusetMems: '0', availableCaps: AVAILABLE, swapLimit: true };
  const v = (hc: HostConfig, o = opts) => validateHostConfig(hc, o);
  assert.deepEqual(v({}), []);
  assert.deepEqual(v({ Memory: 6 * 2 ** 20, MemorySwap: -1, NanoCpus: 2e9, CpusetCpus: '0,1', CpusetMems: '0', PidsLimit: 10 }), []);
  throwsInvalid(() => v({ Memory: 4 * 2 ** 20 }), 'Minimum memory limit allowed is 6MB');
  throwsInvalid(() => v({ Memory: 64 * 2 ** 20, MemorySwap: 32 * 2 ** 20 }), 'Minimum memoryswap limit should be larger than memory limit, see usage');
  throwsInvalid(() => v({ MemorySwap: 32 * 2 ** 20 }), 'You should always set the Memory limit when using Memoryswap limit, see usage');
  throwsInvalid(() => v({ MemorySwappiness: 101 }), 'Invalid value: 101, valid memory swappiness range is 0-100');
  throwsInvalid(() => v({ MemoryReservation: 1024 }), 'Minimum memory reservation allowed is 6MB');
  throwsInvalid(
    () => v({ Memory: 8 * 2 ** 20, MemoryReservation: 16 * 2 ** 20 }),
    'Minimum memory limit can not be less than memory reservation limit, see usage',
  );
  throwsInvalid(() => v({ NanoCpus: 1e9, CpuPeriod: 100000 }), 'Conflicting options: Nano CPUs and CPU Period cannot both be set');
  throwsInvalid(() => v({ NanoCpus: 1e9, CpuQuota: 100000 }), 'Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  throwsInvalid(() => v({ NanoCpus: 3e9 }), 'range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
  throwsInvalid(() => v({ NanoCpus: -1 }), 'range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
  throwsInvalid(() => v({ CpuPeriod: 999 }), 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  throwsInvalid(() => v({ CpuQuota: 999 }), 'CPU cfs quota can not be less than 1ms (i.e. 1000)');
  throwsInvalid(() => v({ CpuShares: -1 }), 'invalid CPU shares (-1): value must be a positive integer');
  throwsInvalid(() => v({ CpusetCpus: 'x' }), 'Invalid value x for cpuset cpus: invalid format: x');
  throwsInvalid(() => v({ CpusetCpus: '3-1' }), 'Invalid value 3-1 for cpuset cpus: invalid format: 3-1');
  throwsInvalid(() => v({ CpusetCpus: '0-2' }), 'Requested CPUs are not available - requested 0-2, available: 0-1');
  throwsInvalid(() => v({ CpusetMems: '1' }), 'Requested memory nodes are not available - requested 1, available: 0');
  throwsInvalid(() => v({ CpusetMems: 'a-b' }), 'Invalid value a-b for cpuset mems: invalid format: a-b');
  throwsInvalid(() => v({ BlkioWeight: 5 }), 'Range of blkio weight is from 10 to 1000');
  throwsInvalid(() => v({ IpcMode: 'bogus' }), 'invalid IPC mode: bogus');
  throwsInvalid(() => v({ PidMode: 'container:' }), 'invalid PID mode: container:');
  throwsInvalid(() => v({ UTSMode: 'private' }), 'invalid UTS mode: private');
  throwsInvalid(() => v({ ShmSize: -1 }), 'SHM size can not be less than 0');
  throwsInvalid(() => v({ OomScoreAdj: 1001 }), 'Invalid value 1001, range for oom score adj is [-1000, 1000]');
  throwsInvalid(() => v({ CgroupnsMode: 'shared' }), 'invalid cgroup namespace mode: shared');
  throwsInvalid(() => v({ Tmpfs: { '/': '' } }), "invalid specification: destination can't be '/'");
  throwsInvalid(() => v({ Tmpfs: { run: '' } }), "invalid mount path: 'run' mount path must be absolute");
  throwsInvalid(() => v({ Tmpfs: { '/run': 'bogus=1' } }), 'invalid tmpfs option "bogus"');
  throwsInvalid(() => v({ Ulimits: [{ Name: 'nofiles', Soft: 1, Hard: 1 }] }), 'invalid ulimit type: nofiles');
  throwsInvalid(() => v({ Ulimits: [{ Name: 'nofile', Soft: 2, Hard: 1 }] }), 'ulimit soft limit must be less than or equal to hard limit: 2 > 1');
  assert.deepEqual(v({ Privileged: true }), []);
  throwsInvalid(() => v({ SecurityOpt: ['bogus'] }), 'invalid --security-opt 1: "bogus"');
  throwsInvalid(() => v({ SecurityOpt: ['seccomp={'] }), /^Decoding seccomp profile failed: /);
  throwsInvalid(() => v({ UsernsMode: 'private' }), 'invalid USER mode: private');
  throwsInvalid(
    () => v({ Privileged: true }, { ...opts, usernsRemap: true } as typeof opts),
    'privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode',
  );
  assert.deepEqual(v({ Privileged: true, UsernsMode: 'host' }, { ...opts, usernsRemap: true } as typeof opts), []);
  // Warnings.
  assert.match(v({ OomKillDisable: true }).join('\n'), /OOM killer is disabled for the container, but no memory limit is set/);
  assert.match(v({ Memory: 8 * 2 ** 20 }, { ...opts, swapLimit: false }).join('\n'), /does not support swap limit/);
  // Defaults stored at create.
  const { MaskedPaths, ReadonlyPaths, ...withDefaults } = applyHostConfigDefaults({ Memory: 8 * 2 ** 20 }, { cgroupVersion: 1 });
  assert.deepEqual(MaskedPaths?.slice(0, DEFAULT_MASKED_PATHS.length), [...DEFAULT_MASKED_PATHS]);
  assert.deepEqual(ReadonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  assert.equal(applyHostConfigDefaults({ Privileged: true }).MaskedPaths, undefined);
  assert.deepEqual(applyHostConfigDefaults({ MaskedPaths: [] }).MaskedPaths, []);
  assert.deepEqual(withDefaults, {
    Memory: 8 * 2 ** 20,
    MemorySwap: 16 * 2 ** 20,
    ShmSize: 64 * 2 ** 20,
    IpcMode: 'private',
    CgroupnsMode: 'host',
    OomKillDisable: false,
  });
  assert.equal(applyHostConfigDefaults({}, { cgroupVersion: 2 }).CgroupnsMode, 'private');
  assert.deepEqual([...parseCpusetList('0-2,5,5')], [0, 1, 2, 5]);
});

test('rlimits come only from Ulimits and default-ulimits, clamped to the daemon’s hard limits', () => {
  const host = { nofile: { soft: 1024, hard: 20000 }, nproc: { soft: Infinity, hard: Infinity } };
  assert.equal(buildRlimits([], [], host), undefined);
  assert.deepEqual(buildRlimits([{ Name: 'nofile', Soft: 1048576, Hard: 1048576 }], [], host), [
    { type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 },
  ]);
  assert.deepEqual(buildRlimits([{ Name: 'nofile', Soft: 1024, Hard: 1048576 }], [], host), [
    { type: 'RLIMIT_NOFILE', soft: 1024, hard: 20000 },
  ]);
  assert.deepEqual(
    buildRlimits([{ Name: 'nproc', Soft: 10, Hard: -1 }], [{ Name: 'nofile', Soft: 100, Hard: 200 }, { Name: 'nproc', Soft: 1, Hard: 1 }], host),
    [
      { type: 'RLIMIT_NPROC', soft: 10, hard: RLIM_INFINITY },
      { type: 'RLIMIT_NOFILE', soft: 100, hard: 200 },
    ],
  );
  const s = spec({ Ulimits: [{ Name: 'nofile', Soft: 65536, Hard: 65536 }, { Name: 'core', Soft: -1, Hard: -1 }] }, { hostRlimits: host });
  assert.deepEqual(s.process.rlimits, [
    { type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 },
    { type: 'RLIMIT_CORE', soft: RLIM_INFINITY, hard: RLIM_INFINITY },
  ]);
  assert.match(serializeSpec(s), /"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":18446744073709551615/);
  // The real limits of this process parse.
  const mine = readHostRlimits();
  assert.ok(mine.nofile && mine.nofile.hard >= mine.nofile.soft);
  assert.deepEqual(readHostRlimits('Max open files            1024                 20000                files     \nMax core file size        0                    unlimited            bytes\n'), {
    nofile: { soft: 1024, hard: 20000 },
    core: { soft: 0, hard: Infinity },
  });
});

test('namespaces and mounts per NetworkMode, IpcMode, PidMode, UTSMode and cgroup version', () => {
  const ns = (s: OciSpec) => s.linux.namespaces.map((n) => (n.path ? `${n.type}=${n.path}` : n.type));
  assert.deepEqual(ns(spec({ NetworkMode: 'none' })), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.deepEqual(ns(spec({ NetworkMode: 'bridge' })), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.deepEqual(ns(spec({ NetworkMode: 'bridge' }, { netnsPath: '/run/netns/x' })), ['mount', 'network=/run/netns/x', 'uts', 'pid', 'ipc']);
  const host = spec({ NetworkMode: 'host' }, { config: { Cmd: ['x'] } });
  assert.deepEqual(ns(host), ['mount', 'uts', 'pid', 'ipc']);
  assert.equal(host.hostname, os.hostname(), 'host network takes the host name, in its own uts namespace');
  assert.equal(host.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], undefined);
  assert.deepEqual(ns(spec({ NetworkMode: 'container:abc' }, { netnsPath: '/proc/42/ns/net' })), ['mount', 'network=/proc/42/ns/net', 'uts', 'pid', 'ipc']);
  assert.throws(() => spec({ NetworkMode: 'container:abc' }));
  const uts = spec({ UTSMode: 'host' });
  assert.deepEqual(ns(uts), ['mount', 'network', 'pid', 'ipc']);
  assert.equal(uts.hostname, undefined);
  assert.deepEqual(ns(spec({ PidMode: 'host', IpcMode: 'host' })), ['mount', 'network', 'uts']);
  assert.deepEqual(ns(spec({ PidMode: 'container:a', IpcMode: 'container:b' }, { pidnsPath: '/proc/1/ns/pid', ipcnsPath: '/proc/2/ns/ipc' })), [
    'mount',
    'network',
    'uts',
    'pid=/proc/1/ns/pid',
    'ipc=/proc/2/ns/ipc',
  ]);
  assert.deepEqual(ns(spec({}, { cgroupVersion: 2 })), ['mount', 'network', 'uts', 'pid', 'ipc', 'cgroup']);
  assert.deepEqual(ns(spec({ CgroupnsMode: 'private' })), ['mount', 'network', 'uts', 'pid', 'ipc', 'cgroup']);
  assert.deepEqual(ns(spec({ CgroupnsMode: 'host' }, { cgroupVersion: 2 })), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.deepEqual(ns(spec({}, { timeNamespace: true })), ['mount', 'network', 'time', 'uts', 'pid', 'ipc']);

  // /dev/shm: sized tmpfs, a bind of the daemon's shm dir, or none.
  const shm = (s: OciSpec) => s.mounts.find((m) => m.destination === '/dev/shm');
  assert.deepEqual(shm(spec({ ShmSize: 1 << 20 }))?.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=1048576']);
  assert.deepEqual(shm(spec({}, { shmPath: '/var/lib/berth/containers/c/shm' })), {
    destination: '/dev/shm',
    type: 'bind',
    source: '/var/lib/berth/containers/c/shm',
    options: ['rbind', 'rprivate'],
  });
  assert.equal(shm(spec({ IpcMode: 'none' })), undefined);

  // Tmpfs mounts, sorted by depth after the defaults; a tmpfs at /dev/shm replaces the default.
  const t = spec({ Tmpfs: { '/run/a/b': 'size=1m', '/run': 'exec,mode=1777', '/dev/shm': '' } });
  const tail = t.mounts.slice(-6).map((m) => [m.destination, m.type, (m.options ?? []).join(',')]);
  assert.deepEqual(tail, [
    ['/run', 'tmpfs', 'nosuid,nodev,rprivate,exec,mode=1777'],
    ['/etc/resolv.conf', 'bind', 'rbind,rprivate'],
    ['/etc/hostname', 'bind', 'rbind,rprivate'],
    ['/etc/hosts', 'bind', 'rbind,rprivate'],
    ['/dev/shm', 'tmpfs', 'noexec,nosuid,nodev,rprivate'],
    ['/run/a/b', 'tmpfs', 'noexec,nosuid,nodev,rprivate,size=1m'],
  ]);
  assert.equal(t.mounts.filter((m) => m.destination === '/dev/shm').length, 1);
  assert.deepEqual(mergeTmpfsOptions(['noexec', 'nosuid', 'rw', 'ro', 'size=1', 'size=2']), ['noexec', 'nosuid', 'ro', 'size=2']);

  // Read-only rootfs: root.readonly, and the network files read-only too.
  const ro = spec({ ReadonlyRootfs: true });
  assert.equal(ro.root.readonly, true);
  assert.deepEqual(ro.mounts.find((m) => m.destination === '/etc/hosts')?.options, ['rbind', 'ro', 'rprivate']);
  assert.deepEqual(ro.mounts.find((m) => m.destination === '/proc')?.options, ['nosuid', 'noexec', 'nodev']);

  // Volumes given by the caller.
  const vol = spec({}, { mounts: [{ source: '/srv/data', destination: '/data', writable: true }, { source: '/srv/ro', destination: '/opt/ro' }] });
  assert.deepEqual(vol.mounts.find((m) => m.destination === '/data')?.options, ['rbind', 'rprivate']);
  assert.deepEqual(vol.mounts.find((m) => m.destination === '/opt/ro')?.options, ['rbind', 'ro', 'rprivate']);

  // MaskedPaths / ReadonlyPaths from HostConfig replace the defaults.
  const mp = spec({ MaskedPaths: ['/proc/x'], ReadonlyPaths: [] });
  assert.deepEqual(mp.linux.maskedPaths, ['/proc/x']);
  assert.deepEqual(mp.linux.readonlyPaths, []);
});

test('signals: names with and without SIG, any case, numbers, real-time names', () => {
  assert.equal(parseSignal('SIGKILL'), 9);
  assert.equal(parseSignal('KILL'), 9);
  assert.equal(parseSignal('kill'), 9);
  assert.equal(parseSignal('sigterm'), 15);
  assert.equal(parseSignal('9'), 9);
  assert.equal(parseSignal(15), 15);
  assert.equal(parseSignal('SIGRTMIN'), 34);
  assert.equal(parseSignal('RTMIN+3'), 37);
  assert.equal(parseSignal('SIGRTMAX-1'), 63);
  assert.equal(parseSignal('rtmax'), 64);
  assert.equal(parseSignal('CLD'), 17);
  for (const bad of ['SIGFOO', '0', '', '65', 'RTMIN+16', '-9', 'KILL ']) {
    throwsInvalid(() => parseSignal(bad), `invalid signal: ${bad}`);
  }
  throwsInvalid(() => parseSignal(0), 'invalid signal: 0');
  assert.equal(signalName(9), 'SIGKILL');
  assert.equal(signalName(17), 'SIGCHLD');
  assert.equal(signalName(6), 'SIGABRT');
  assert.equal(signalName(37), 'SIGRTMIN+3');
  assert.equal(signalName(60), 'SIGRTMAX-4');
  assert.equal(signalName(99), '99');
});

const RUNC = '/usr/sbin/runc';
const canRunc = process.getuid?.() === 0 && fs.existsSync(RUNC) && fs.existsSync('/bin/busybox');

test('smoke: runc runs the spec on a busybox rootfs', { skip: !canRunc && 'needs root, runc and /bin/busybox' }, () => {
  const bundle = tmp('berth-spec-bundle-');
  const rootfs = path.join(bundle, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'sbin']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  fs.symlinkSync('busybox', path.join(rootfs, 'bin/sh'));
  fs.writeFileSync(path.join(rootfs, 'etc/passwd'), PASSWD);
  fs.writeFileSync(path.join(rootfs, 'etc/group'), GROUP);
  for (const f of ['hosts', 'hostname', 'resolv.conf']) fs.writeFileSync(path.join(bundle, f), f === 'hostname' ? 'smoke\n' : '');
  const hostRlimits = readHostRlimits();

  const run = (cmd: string[], hc: HostConfig = {}, user = '', extra: Partial<SpecInput> = {}) => {
    const id = `berth-spec-test-${randomBytes(6).toString('hex')}`;
    const s = buildSpec({
      id,
      rootfs,
      config: { Hostname: 'smoke', Cmd: cmd, User: user },
      hostConfig: { NetworkMode: 'none', ...hc },
      hostsPath: path.join(bundle, 'hosts'),
      hostnamePath: path.join(bundle, 'hostname'),
      resolvConfPath: path.join(bundle, 'resolv.conf'),
      cgroupsPath: `/${id}`,
      hostRlimits,
      ...extra,
    });
    fs.writeFileSync(path.join(bundle, 'config.json'), serializeSpec(s, 2));
    try {
      const r = spawnSync(RUNC, ['run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    } finally {
      spawnSync(RUNC, ['delete', '-f', id], { stdio: 'ignore' });
    }
  };

  try {
    let r = run(['/bin/busybox', 'true']);
    assert.equal(r.status, 0, r.stderr);
    r = run(['/bin/busybox', 'sh', '-c', 'exit 3']);
    assert.equal(r.status, 3, r.stderr);
    // Limits, user, hostname, caps and a read-only rootfs as the process sees them.
    r = run(
      ['/bin/busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn; /bin/busybox id -u; /bin/busybox id -g; /bin/busybox hostname; /bin/busybox touch /x 2>/dev/null && echo rw || echo ro'],
      { Ulimits: [{ Name: 'nofile', Soft: 1048576, Hard: 1048576 }], ReadonlyRootfs: true, Memory: 64 * 2 ** 20, PidsLimit: 50, NanoCpus: 5e8 },
      'daemon',
    );
    assert.equal(r.status, 0, r.stderr);
    const clamp = Math.min(1048576, hostRlimits.nofile?.hard ?? Infinity);
    assert.deepEqual(r.stdout.trim().split('\n'), [String(clamp), String(clamp), '1', '1', 'smoke', 'ro']);
    // Init wrapping with a static tini, when there is one.
    if (fs.existsSync('/usr/bin/tini-static')) {
      r = run(['/bin/busybox', 'sh', '-c', 'exit 5'], { Init: true }, '', { initPath: '/usr/bin/tini-static' });
      assert.equal(r.status, 5, r.stderr);
    }
  } finally {
    fs.rmSync(bundle, { recursive: true, force: true });
  }
});
