import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultSeccompProfile, nativeArch, parseSeccompProfile, toOciSeccomp, type OciSeccomp } from '../../src/runtime/seccomp.js';
import { applySecurity, parseSecurityOpts } from '../../src/runtime/security.js';
import { firstFreeRange, mappingsOf, parseSubIds, resolveUsernsRemap, shiftOwnership, toContainerId, toHostId } from '../../src/runtime/userns.js';
import { buildSpec, DEFAULT_CAPABILITIES, KNOWN_CAPABILITIES, type HostConfig, type OciSpec } from '../../src/runtime/spec/index.js';
import { isKind } from '../../src/lib/errors.js';

const AVAILABLE = KNOWN_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');

/** Syscalls allowed without conditions on their arguments. */
function plainAllowed(s: OciSeccomp | undefined): Set<string> {
  return new Set((s?.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
}

const convert = (caps: readonly string[], arch = 'amd64', kernel = '6.1.0') => toOciSeccomp(defaultSeccompProfile(), { capabilities: caps, arch, kernel });

test('default seccomp profile: EPERM by default, x86 family, Docker’s allow-list', () => {
  const s = convert(DEFAULT_CAPABILITIES)!;
  assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(s.defaultErrnoRet, 1);
  assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(convert(DEFAULT_CAPABILITIES, 'arm64')!.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  const allowed = plainAllowed(s);
  for (const n of ['read', 'write', 'openat', 'execve', 'clock_gettime', 'adjtimex', 'chown', 'setuid', 'arch_prctl', 'modify_ldt', 'ptrace', 'chroot']) {
    assert.ok(allowed.has(n), n);
  }
  // The documented "significant syscalls blocked".
  for (const n of [
    'acct', 'add_key', 'bpf', 'clock_settime', 'create_module', 'delete_module', 'finit_module', 'get_kernel_syms', 'get_mempolicy',
    'init_module', 'ioperm', 'iopl', 'kcmp', 'kexec_file_load', 'kexec_load', 'keyctl', 'lookup_dcookie', 'mbind', 'mount', 'move_pages',
    'nfsservctl', 'open_by_handle_at', 'perf_event_open', 'pivot_root', 'process_vm_readv', 'query_module', 'quotactl', 'reboot',
    'request_key', 'set_mempolicy', 'setns', 'settimeofday', 'stime', 'swapon', 'swapoff', 'sysfs', '_sysctl', 'umount', 'umount2',
    'unshare', 'uselib', 'userfaultfd', 'ustat', 'vm86', 'vm86old', 'arm_fadvise64_64',
  ]) {
    if (n === 'process_vm_readv') continue; // allowed on kernels ≥ 4.8 (the kernel checks ptrace access)
    assert.ok(!allowed.has(n), n);
  }
  // clone without namespace flags; clone3 answers ENOSYS; socket anything but AF_VSOCK; personality values.
  const rules = s.syscalls ?? [];
  const clone = rules.find((r) => r.names.includes('clone'))!;
  assert.deepEqual(clone.args, [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }]);
  assert.deepEqual(rules.find((r) => r.names.includes('clone3')), { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  assert.deepEqual(rules.find((r) => r.names.includes('socket'))!.args, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
  assert.deepEqual(
    rules.filter((r) => r.names.includes('personality')).map((r) => r.args![0]!.value),
    [0, 8, 0x20000, 0x20008, 0xffffffff],
  );
  // Old kernels: no ptrace at all.
  assert.ok(!plainAllowed(convert(DEFAULT_CAPABILITIES, 'amd64', '4.4.0')).has('ptrace'));
});

test('default seccomp profile follows the container’s capabilities', () => {
  const withCaps = (...extra: string[]) => plainAllowed(convert([...DEFAULT_CAPABILITIES, ...extra]));
  const sysAdmin = withCaps('CAP_SYS_ADMIN');
  for (const n of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'sethostname', 'bpf', 'perf_event_open']) assert.ok(sysAdmin.has(n), n);
  const admin = convert([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'])!;
  assert.ok(!admin.syscalls!.some((r) => r.names.includes('clone') && r.args), 'no restricted clone with CAP_SYS_ADMIN');
  assert.ok(!admin.syscalls!.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO'));
  const time = withCaps('CAP_SYS_TIME');
  for (const n of ['settimeofday', 'clock_settime', 'stime']) assert.ok(time.has(n), n);
  const modules = withCaps('CAP_SYS_MODULE');
  for (const n of ['init_module', 'finit_module', 'delete_module']) assert.ok(modules.has(n), n);
  assert.ok(withCaps('CAP_SYS_PTRACE').has('kcmp'));
  assert.ok(withCaps('CAP_SYS_BOOT').has('reboot'));
  assert.ok(withCaps('CAP_SYS_NICE').has('mbind'));
  assert.ok(withCaps('CAP_SYS_RAWIO').has('iopl'));
  assert.ok(withCaps('CAP_DAC_READ_SEARCH').has('open_by_handle_at'));
  assert.ok(withCaps('CAP_SYSLOG').has('syslog'));
  assert.ok(!plainAllowed(convert(DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_SYS_CHROOT'))).has('chroot'));
});

test('custom profiles in Docker’s format convert to the OCI form', () => {
  const p = parseSeccompProfile(
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [
        { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['chown'], action: 'SCMP_ACT_LOG', excludes: { arches: ['amd64'] } },
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }], includes: { minKernel: '5.0' } },
      ],
    }),
  );
  assert.deepEqual(toOciSeccomp(p, { capabilities: DEFAULT_CAPABILITIES, arch: 'amd64', kernel: '6.18.4-x' }), {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
    ],
  });
  assert.equal(toOciSeccomp({}, { capabilities: [] }), undefined, 'an empty profile means no seccomp');
  assert.throws(() => parseSeccompProfile('{'), /^InvalidArgument|Decoding seccomp profile failed/);
  assert.throws(() => parseSeccompProfile('{"syscalls":[{"names":"mkdir","action":"SCMP_ACT_ERRNO"}]}'), (e: unknown) => isKind(e, 'InvalidArgument'));
  assert.throws(
    () => toOciSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ERRNO' }] }, { capabilities: [] }),
    /both 'name' and 'names'/,
  );
  assert.throws(
    () => toOciSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] }, { capabilities: [] }),
    /both 'architectures' and 'archMap'/,
  );
  assert.equal(nativeArch('x64'), 'amd64');
  assert.equal(nativeArch('arm64'), 'arm64');
});

test('--security-opt parsing as dockerd', () => {
  assert.deepEqual(parseSecurityOpts(['no-new-privileges', 'seccomp=unconfined', 'apparmor:foo', 'label=disable']), {
    noNewPrivileges: true,
    seccompProfile: 'unconfined',
    apparmorProfile: 'foo',
    labelOpts: ['disable'],
  });
  assert.equal(parseSecurityOpts(['no-new-privileges=true', 'no-new-privileges=false']).noNewPrivileges, false);
  assert.equal(parseSecurityOpts(['seccomp={"a":"b=c"}']).seccompProfile, '{"a":"b=c"}');
  assert.throws(() => parseSecurityOpts(['nope']), /invalid --security-opt 1: "nope"/);
  assert.throws(() => parseSecurityOpts(['foo=bar']), /invalid --security-opt 2: "foo=bar"/);
  assert.throws(() => parseSecurityOpts(['no-new-privileges=maybe']), /invalid --security-opt 2/);
});

function tmpRootfs(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sec-'));
  fs.mkdirSync(path.join(dir, 'etc'));
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\n');
  return dir;
}

function spec(hc: HostConfig, extra: Partial<Parameters<typeof buildSpec>[0]> = {}): OciSpec {
  const rootfs = tmpRootfs();
  try {
    return buildSpec({
      id: 'c',
      rootfs,
      config: { Cmd: ['sh'] },
      hostConfig: { NetworkMode: 'none', ...hc },
      hostsPath: '/h',
      hostnamePath: '/hn',
      resolvConfPath: '/r',
      cgroupsPath: '/berth/c',
      cgroupVersion: 1,
      availableCaps: AVAILABLE,
      hostRlimits: {},
      ...extra,
    });
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}

test('privileged: every daemon capability and device, nothing masked, /sys and cgroups writable, no seccomp', () => {
  const s = spec({ Privileged: true, CapDrop: ['CHOWN'] });
  assert.deepEqual(s.process.capabilities?.bounding, AVAILABLE);
  assert.ok(!s.process.capabilities?.bounding?.includes('CAP_SYS_RESOURCE'));
  assert.equal(s.linux.seccomp, undefined);
  assert.equal(s.linux.maskedPaths, undefined);
  assert.equal(s.linux.readonlyPaths, undefined);
  assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  assert.ok(s.linux.devices?.some((d) => d.path === '/dev/null' && d.type === 'c' && d.major === 1 && d.minor === 3));
  assert.ok(!s.linux.devices?.some((d) => d.path === '/dev/console' || d.path.startsWith('/dev/pts/')));
  assert.deepEqual(s.mounts.find((m) => m.destination === '/sys')!.options, ['nosuid', 'noexec', 'nodev']);
  assert.ok(!s.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('ro'));
  // Not privileged: masked paths, ro /sys, seccomp, the default device rules.
  const d = spec({});
  assert.ok(d.linux.maskedPaths?.includes('/proc/kcore'));
  assert.ok(d.mounts.find((m) => m.destination === '/sys')!.options!.includes('ro'));
  assert.equal(d.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(spec({ SecurityOpt: ['seccomp=unconfined'] }).linux.seccomp, undefined);
  assert.equal(spec({ SecurityOpt: ['no-new-privileges'] }).process.noNewPrivileges, true);
  assert.ok(!spec({ SecurityOpt: ['writable-cgroups=true'] }).mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('ro'));
});

test('user namespace: mappings, a user namespace, sysfs and sysctls it can have', () => {
  const userns = { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] };
  const s = spec({ NetworkMode: 'bridge' }, { userns, netnsPath: '/run/netns/x' });
  assert.deepEqual(s.linux.uidMappings, userns.uidMappings);
  assert.ok(s.linux.namespaces.some((n) => n.type === 'user' && !n.path));
  const sys = s.mounts.find((m) => m.destination === '/sys')!;
  assert.deepEqual([sys.type, sys.source], ['bind', '/sys']);
  assert.equal(s.linux.sysctl?.['net.ipv4.ping_group_range'], undefined);
  // Its own network namespace: sysfs, and the ping range limited to mapped gids.
  const own = spec({ NetworkMode: 'none' }, { userns });
  assert.equal(own.mounts.find((m) => m.destination === '/sys')!.type, 'sysfs');
  if (fs.existsSync('/proc/sys/net/ipv4/ping_group_range')) assert.equal(own.linux.sysctl?.['net.ipv4.ping_group_range'], '0 65535');
  // Joining another container's user namespace.
  const joined = spec({}, { userns: { ...userns, path: '/proc/42/ns/user' } });
  assert.ok(joined.linux.namespaces.some((n) => n.type === 'user' && n.path === '/proc/42/ns/user'));
});

test('userns-remap: subordinate ranges, mappings, lookups', async () => {
  const ranges = parseSubIds('# c\nalice:100000:65536\nbob:165536:65536\nbad line\ncarol:300000:10\n');
  assert.deepEqual(ranges.map((r) => r.name), ['alice', 'bob', 'carol']);
  assert.equal(firstFreeRange(ranges), 231072);
  assert.equal(firstFreeRange([]), 100000);
  assert.equal(firstFreeRange([{ name: 'x', start: 200000, count: 10 }]), 100000);
  const maps = mappingsOf([
    { name: 'a', start: 100000, count: 10 },
    { name: 'a', start: 500000, count: 5 },
  ]);
  assert.deepEqual(maps, [
    { containerID: 0, hostID: 100000, size: 10 },
    { containerID: 10, hostID: 500000, size: 5 },
  ]);
  assert.equal(toHostId(12, maps), 500002);
  assert.equal(toHostId(15, maps), undefined);
  assert.equal(toContainerId(100003, maps), 3);

  const etc = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-etc-'));
  try {
    fs.writeFileSync(path.join(etc, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    fs.writeFileSync(path.join(etc, 'group'), 'root:x:0:\nalice:x:1000:\nstaff:x:50:\n');
    fs.writeFileSync(path.join(etc, 'subuid'), 'alice:100000:65536\n');
    fs.writeFileSync(path.join(etc, 'subgid'), 'alice:100000:65536\n1000:300000:65536\nstaff:400000:1000\n');
    const m = await resolveUsernsRemap('alice', { etc });
    assert.deepEqual([m.user, m.group, m.uidMaps[0]!.hostID, m.gidMaps.length], ['alice', 'alice', 100000, 2]);
    assert.equal((await resolveUsernsRemap('1000:staff', { etc })).gidMaps[0]!.hostID, 400000);
    await assert.rejects(resolveUsernsRemap('bob', { etc }), /Error during uid lookup for "bob"/);
    await assert.rejects(resolveUsernsRemap('root', { etc }), /No subuid ranges found for user "root"/);
    await assert.rejects(resolveUsernsRemap('', { etc }), /no remapped user specified/);
    await assert.rejects(resolveUsernsRemap('default', { etc, create: false }), /Error during uid lookup for "berth"/);
  } finally {
    fs.rmSync(etc, { recursive: true, force: true });
  }
});

test('shiftOwnership moves owners into the range, keeps setuid bits, shifts a hardlink once', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-shift-'));
  try {
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'bin/su'), 'x');
    fs.chownSync(path.join(dir, 'bin/su'), 0, 0);
    fs.chmodSync(path.join(dir, 'bin/su'), 0o4755);
    fs.linkSync(path.join(dir, 'bin/su'), path.join(dir, 'su-link'));
    fs.writeFileSync(path.join(dir, 'owned'), 'y');
    fs.chownSync(path.join(dir, 'owned'), 1000, 50);
    fs.symlinkSync('/etc/passwd', path.join(dir, 'link'));
    const m = { user: 'u', group: 'g', uidMaps: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMaps: [{ containerID: 0, hostID: 200000, size: 65536 }] };
    await shiftOwnership(dir, m);
    const st = (p: string) => fs.lstatSync(path.join(dir, p));
    assert.deepEqual([st('').uid, st('').gid], [100000, 200000]);
    assert.deepEqual([st('bin/su').uid, st('bin/su').gid, st('bin/su').mode & 0o7777], [100000, 200000, 0o4755]);
    assert.deepEqual([st('owned').uid, st('owned').gid], [101000, 200050]);
    assert.equal(st('link').uid, 100000);
    assert.equal(fs.statSync('/etc/passwd').uid, 0, 'symlinks are not followed');
    fs.chownSync(path.join(dir, 'owned'), 70000, 0);
    await assert.rejects(shiftOwnership(dir, m), /cannot be mapped to a host ID/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('applySecurity without AppArmor sets no profile; with it, privileged is unconfined', () => {
  const base = () => spec({});
  const s = base();
  applySecurity(s, { hostConfig: { Privileged: true }, available: AVAILABLE, joinsNetns: false, userSysctls: [], apparmor: true, hostDevicesRoot: '/nonexistent' });
  assert.equal(s.process.apparmorProfile, 'unconfined');
  const t = base();
  applySecurity(t, { hostConfig: { SecurityOpt: ['apparmor=my-profile'] }, available: AVAILABLE, joinsNetns: false, userSysctls: [], apparmor: true });
  assert.equal(t.process.apparmorProfile, 'my-profile');
  const u = base();
  applySecurity(u, { hostConfig: { Privileged: true }, available: AVAILABLE, joinsNetns: false, userSysctls: [], apparmor: false, hostDevicesRoot: '/nonexistent' });
  assert.equal(u.process.apparmorProfile, undefined);
});
