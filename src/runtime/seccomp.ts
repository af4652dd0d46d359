/**
 * Seccomp for containers: Docker's default profile (as Berth's own data, written from Docker's documented
 * behaviour: an allow-list with EPERM for everything else, plus rules that depend on the container's
 * capabilities, the CPU architecture and the kernel), the Docker profile format that
 * `--security-opt seccomp=<json>` carries, and its conversion into the OCI runtime spec's linux.seccomp.
 *
 * Lifecycle: pure functions and constant data. buildSpec (via security.ts) converts the container's profile
 * at every start, against the capabilities the container ends up with, as dockerd does.
 */
import os from 'node:os';
import { invalidArgument } from '../lib/errors.js';

// ---------------------------------------------------------------------------------------------------------
// Docker's profile format (what `docker run --security-opt seccomp=file.json` reads and the CLI sends)
// ---------------------------------------------------------------------------------------------------------

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** Conditions on a rule: it applies when every listed condition holds (includes) or none does (excludes). */
export interface SeccompFilter {
  /** Capability names (CAP_...) that must all be in (includes) / any of which excludes the rule. */
  caps?: string[] | null;
  /** libseccomp's native architecture names ('amd64', 'arm64', 'x86', 's390x', ...). */
  arches?: string[] | null;
  /** 'major.minor' */
  minKernel?: string | null;
}

export interface SeccompRule {
  name?: string;
  names?: string[] | null;
  action: string;
  errnoRet?: number | null;
  args?: SeccompArg[] | null;
  comment?: string;
  includes?: SeccompFilter | null;
  excludes?: SeccompFilter | null;
}

export interface DockerSeccompProfile {
  defaultAction?: string;
  defaultErrnoRet?: number | null;
  architectures?: string[] | null;
  archMap?: Array<{ architecture: string; subArchitectures?: string[] | null }> | null;
  listenerPath?: string;
  listenerMetadata?: string;
  flags?: string[] | null;
  syscalls?: SeccompRule[] | null;
}

// ---------------------------------------------------------------------------------------------------------
// The OCI form (runtime-spec linux.seccomp), which runc reads
// ---------------------------------------------------------------------------------------------------------

export interface OciSeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: OciSeccompSyscall[];
}

// ---------------------------------------------------------------------------------------------------------
// The default profile
// ---------------------------------------------------------------------------------------------------------

const EPERM = 1;
const ENOSYS = 38;
const AF_VSOCK = 40;
/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET */
const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/**
 * Syscalls every container may make, grouped by what they are for. Names the local libseccomp does not
 * know (newer syscalls, other architectures' variants) are skipped by runc, so listing them is harmless.
 */
const ALWAYS_ALLOWED: Record<string, readonly string[]> = {
  files: [
    'access', 'faccessat', 'faccessat2', 'open', 'openat', 'openat2', 'creat', 'close', 'close_range',
    'read', 'readv', 'pread64', 'preadv', 'preadv2', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2',
    'lseek', '_llseek', 'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'fstatat64', 'newfstatat',
    'statx', 'statfs', 'statfs64', 'fstatfs', 'fstatfs64', 'truncate', 'truncate64', 'ftruncate',
    'ftruncate64', 'fallocate', 'fadvise64', 'fadvise64_64', 'readahead', 'fsync', 'fdatasync', 'sync',
    'syncfs', 'sync_file_range', 'flock', 'fcntl', 'fcntl64', 'ioctl', 'dup', 'dup2', 'dup3',
    'sendfile', 'sendfile64', 'copy_file_range', 'splice', 'tee', 'vmsplice', 'cachestat',
    'mkdir', 'mkdirat', 'rmdir', 'mknod', 'mknodat', 'link', 'linkat', 'unlink', 'unlinkat', 'symlink',
    'symlinkat', 'readlink', 'readlinkat', 'rename', 'renameat', 'renameat2', 'chdir', 'fchdir', 'getcwd',
    'getdents', 'getdents64', 'umask', 'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'chown32',
    'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32', 'utime', 'utimes', 'utimensat',
    'utimensat_time64', 'futimesat', 'name_to_handle_at', 'fanotify_mark', 'inotify_init', 'inotify_init1',
    'inotify_add_watch', 'inotify_rm_watch', 'pipe', 'pipe2', 'memfd_create', 'memfd_secret',
    'listmount', 'statmount',
  ],
  xattrs: [
    'getxattr', 'lgetxattr', 'fgetxattr', 'getxattrat', 'setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat',
    'listxattr', 'llistxattr', 'flistxattr', 'listxattrat', 'removexattr', 'lremovexattr', 'fremovexattr',
    'removexattrat',
  ],
  asyncIo: [
    'io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents',
    'io_pgetevents_time64', 'ioprio_get', 'ioprio_set',
  ],
  polling: [
    'select', '_newselect', 'pselect6', 'pselect6_time64', 'poll', 'ppoll', 'ppoll_time64', 'epoll_create',
    'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait',
    'epoll_pwait2', 'eventfd', 'eventfd2', 'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_gettime',
    'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64',
  ],
  memory: [
    'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock',
    'mlock2', 'mlockall', 'munlock', 'munlockall', 'remap_file_pages', 'membarrier', 'pkey_alloc',
    'pkey_free', 'pkey_mprotect', 'map_shadow_stack', 'mseal', 'process_mrelease',
  ],
  processes: [
    'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'waitpid', 'getpid',
    'getppid', 'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid', 'set_tid_address',
    'set_robust_list', 'get_robust_list', 'futex', 'futex_time64', 'futex_waitv', 'futex_wait', 'futex_wake',
    'futex_requeue', 'rseq', 'restart_syscall', 'getrlimit', 'ugetrlimit', 'setrlimit', 'prlimit64',
    'getrusage', 'capget', 'capset', 'prctl', 'set_thread_area', 'get_thread_area', 'pidfd_open',
    'pidfd_send_signal', 'uretprobe',
  ],
  signals: [
    'kill', 'tkill', 'tgkill', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigpending', 'rt_sigqueueinfo',
    'rt_tgsigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64',
    'sigaltstack', 'sigprocmask', 'sigreturn', 'pause', 'alarm',
  ],
  time: [
    // adjtimex/clock_adjtime only read the clock without CAP_SYS_TIME: the kernel checks that capability.
    'time', 'gettimeofday', 'clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64',
    'clock_nanosleep', 'clock_nanosleep_time64', 'nanosleep', 'adjtimex', 'clock_adjtime',
    'clock_adjtime64', 'times', 'getitimer', 'setitimer', 'timer_create', 'timer_delete', 'timer_getoverrun',
    'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64',
  ],
  identity: [
    'getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32', 'getresuid',
    'getresuid32', 'getresgid', 'getresgid32', 'getgroups', 'getgroups32', 'setuid', 'setuid32', 'setgid',
    'setgid32', 'setreuid', 'setreuid32', 'setregid', 'setregid32', 'setresuid', 'setresuid32', 'setresgid',
    'setresgid32', 'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32', 'setgroups', 'setgroups32',
  ],
  scheduling: [
    'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getattr', 'sched_setattr',
    'sched_getparam', 'sched_setparam', 'sched_getscheduler', 'sched_setscheduler',
    'sched_get_priority_max', 'sched_get_priority_min', 'sched_rr_get_interval',
    'sched_rr_get_interval_time64', 'getpriority', 'setpriority', 'getcpu',
  ],
  network: [
    'socketpair', 'socketcall', 'bind', 'connect', 'listen', 'accept', 'accept4', 'getsockname',
    'getpeername', 'getsockopt', 'setsockopt', 'shutdown', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv',
    'recvfrom', 'recvmsg', 'recvmmsg', 'recvmmsg_time64',
  ],
  ipc: [
    'ipc', 'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64',
    'semctl', 'shmget', 'shmat', 'shmdt', 'shmctl', 'mq_open', 'mq_unlink', 'mq_timedsend',
    'mq_timedsend_time64', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_notify', 'mq_getsetattr',
  ],
  system: ['uname', 'sysinfo', 'getrandom', 'riscv_hwprobe'],
  sandboxing: ['seccomp', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self'],
};

/** A rule of the default profile in a compact form: the allow action unless another is given. */
interface DefaultRule {
  names: readonly string[];
  action?: string;
  errnoRet?: number;
  args?: SeccompArg[];
  /** Needs every one of these capabilities in the container's bounding set. */
  caps?: readonly string[];
  /** Skipped when the container has any of these capabilities. */
  unlessCaps?: readonly string[];
  arches?: readonly string[];
  unlessArches?: readonly string[];
  minKernel?: string;
}

const eq = (index: number, value: number): SeccompArg => ({ index, value, op: 'SCMP_CMP_EQ' });

/** Rules with conditions, after the plain allow-list. */
const CONDITIONAL_RULES: readonly DefaultRule[] = [
  // ptrace could bypass seccomp before 4.8; tracing other processes still needs CAP_SYS_PTRACE.
  { names: ['ptrace', 'process_vm_readv', 'process_vm_writev'], minKernel: '4.8' },
  // Sockets of any family but AF_VSOCK (host <-> VM communication is not namespaced).
  { names: ['socket'], args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
  // personality(2): only Linux, the 32-bit Linux personality, UNAME26 variants, and querying.
  ...[0x0, 0x0008, 0x20000, 0x20008, 0xffffffff].map((p) => ({ names: ['personality'], args: [eq(0, p)] })),
  // Architecture-specific calls.
  { names: ['arch_prctl'], arches: ['amd64', 'x32'] },
  { names: ['modify_ldt'], arches: ['amd64', 'x32', 'x86'] },
  { names: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'], arches: ['arm', 'arm64'] },
  { names: ['sync_file_range2', 'swapcontext'], arches: ['ppc64le'] },
  { names: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'], arches: ['s390', 's390x'] },
  { names: ['riscv_flush_icache'], arches: ['riscv64'] },
  // Calls the kernel gates by a capability: allowed when the container has it.
  { names: ['open_by_handle_at'], caps: ['CAP_DAC_READ_SEARCH'] },
  {
    names: [
      'mount', 'umount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree', 'fsopen', 'fsconfig', 'fsmount',
      'fspick', 'unshare', 'setns', 'clone', 'clone3', 'sethostname', 'setdomainname', 'quotactl', 'quotactl_fd',
      'bpf', 'perf_event_open', 'fanotify_init', 'lookup_dcookie', 'syslog', 'lsm_get_self_attr',
      'lsm_set_self_attr', 'lsm_list_modules',
    ],
    caps: ['CAP_SYS_ADMIN'],
  },
  // Without CAP_SYS_ADMIN: clone only without namespace flags (flags are the first argument, the second
  // on s390), and clone3 (whose flags are behind a pointer) fails with ENOSYS so libc falls back to clone.
  {
    names: ['clone'],
    args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    unlessCaps: ['CAP_SYS_ADMIN'],
    unlessArches: ['s390', 's390x'],
  },
  {
    names: ['clone'],
    args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    unlessCaps: ['CAP_SYS_ADMIN'],
    arches: ['s390', 's390x'],
  },
  { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, unlessCaps: ['CAP_SYS_ADMIN'] },
  { names: ['reboot'], caps: ['CAP_SYS_BOOT'] },
  { names: ['chroot'], caps: ['CAP_SYS_CHROOT'] },
  { names: ['init_module', 'finit_module', 'delete_module'], caps: ['CAP_SYS_MODULE'] },
  { names: ['acct'], caps: ['CAP_SYS_PACCT'] },
  { names: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'process_madvise', 'kcmp', 'pidfd_getfd'], caps: ['CAP_SYS_PTRACE'] },
  { names: ['iopl', 'ioperm'], caps: ['CAP_SYS_RAWIO'] },
  { names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'], caps: ['CAP_SYS_TIME'] },
  { names: ['vhangup'], caps: ['CAP_SYS_TTY_CONFIG'] },
  { names: ['mbind', 'get_mempolicy', 'set_mempolicy', 'set_mempolicy_home_node'], caps: ['CAP_SYS_NICE'] },
  { names: ['syslog'], caps: ['CAP_SYSLOG'] },
  { names: ['bpf'], caps: ['CAP_BPF'] },
  { names: ['perf_event_open'], caps: ['CAP_PERFMON'] },
];

/** Each architecture with the others its kernel can also run (libseccomp's names). */
const ARCH_FAMILIES: ReadonlyArray<[string, string[]]> = [
  ['SCMP_ARCH_X86_64', ['SCMP_ARCH_X86', 'SCMP_ARCH_X32']],
  ['SCMP_ARCH_AARCH64', ['SCMP_ARCH_ARM']],
  ['SCMP_ARCH_MIPS64', ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64N32']],
  ['SCMP_ARCH_MIPS64N32', ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64']],
  ['SCMP_ARCH_MIPSEL64', ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64N32']],
  ['SCMP_ARCH_MIPSEL64N32', ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64']],
  ['SCMP_ARCH_S390X', ['SCMP_ARCH_S390']],
  ['SCMP_ARCH_RISCV64', []],
  ['SCMP_ARCH_LOONGARCH64', []],
];

const filter = (caps?: readonly string[], arches?: readonly string[], minKernel?: string): SeccompFilter | undefined => {
  const f: SeccompFilter = {};
  if (caps?.length) f.caps = [...caps];
  if (arches?.length) f.arches = [...arches];
  if (minKernel) f.minKernel = minKernel;
  return Object.keys(f).length ? f : undefined;
};

/** Docker's default profile, in Docker's profile format (what `docker info` calls profile=builtin). */
export function defaultSeccompProfile(): DockerSeccompProfile {
  const allowed = [...new Set(Object.values(ALWAYS_ALLOWED).flat())].sort();
  const syscalls: SeccompRule[] = [{ names: allowed, action: 'SCMP_ACT_ALLOW' }];
  for (const r of CONDITIONAL_RULES) {
    const rule: SeccompRule = { names: [...r.names], action: r.action ?? 'SCMP_ACT_ALLOW' };
    if (r.errnoRet !== undefined) rule.errnoRet = r.errnoRet;
    if (r.args) rule.args = r.args.map((a) => ({ ...a }));
    const includes = filter(r.caps, r.arches, r.minKernel);
    const excludes = filter(r.unlessCaps, r.unlessArches);
    if (includes) rule.includes = includes;
    if (excludes) rule.excludes = excludes;
    syscalls.push(rule);
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    archMap: ARCH_FAMILIES.map(([architecture, subArchitectures]) => ({ architecture, subArchitectures })),
    syscalls,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Host facts
// ---------------------------------------------------------------------------------------------------------

/** libseccomp's name for this machine's architecture, as Docker derives it from GOARCH. */
export function nativeArch(arch: string = process.arch, endianness: 'BE' | 'LE' = os.endianness()): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return 'x86';
    case 'arm64':
      return 'arm64';
    case 'arm':
      return 'arm';
    case 'ppc64':
      return endianness === 'LE' ? 'ppc64le' : 'ppc64';
    case 'mipsel':
      return 'mipsel';
    case 'loong64':
      return 'loong64';
    default:
      return arch; // s390, s390x, riscv64, mips, ppc
  }
}

const NATIVE_TO_SCMP: Record<string, string> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mipsel: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

/** [major, minor] of a kernel release such as '6.18.44-foo'. */
export function parseKernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw invalidArgument(`invalid kernel version: ${release}`);
  return [Number(m[1]), Number(m[2])];
}

function kernelAtLeast(kernel: [number, number], min: string): boolean {
  const m = /^(\d+)\.(\d+)$/.exec(min.trim());
  if (!m) throw invalidArgument(`invalid kernel version: ${min}`);
  const want: [number, number] = [Number(m[1]), Number(m[2])];
  return kernel[0] > want[0] || (kernel[0] === want[0] && kernel[1] >= want[1]);
}

// ---------------------------------------------------------------------------------------------------------
// Parsing and conversion
// ---------------------------------------------------------------------------------------------------------

const decodeError = (why: string) => invalidArgument(`Decoding seccomp profile failed: ${why}`);

function checkStrings(v: unknown, where: string): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw decodeError(`${where} must be a list of strings`);
}

function checkNumber(v: unknown, where: string): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw decodeError(`${where} must be a non-negative integer`);
}

function checkFilter(v: unknown, where: string): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'object' || Array.isArray(v)) throw decodeError(`${where} must be an object`);
  const f = v as Record<string, unknown>;
  checkStrings(f.caps, `${where}.caps`);
  checkStrings(f.arches, `${where}.arches`);
  if (f.minKernel !== undefined && f.minKernel !== null && typeof f.minKernel !== 'string') throw decodeError(`${where}.minKernel must be a string`);
}

/**
 * Reads a profile in Docker's format (the JSON text `--security-opt seccomp=` carries). Throws
 * InvalidArgument `Decoding seccomp profile failed: ...` for what Docker could not decode either.
 */
export function parseSeccompProfile(json: string): DockerSeccompProfile {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw decodeError((e as Error).message);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw decodeError('the profile must be a JSON object');
  const p = v as Record<string, unknown>;
  for (const k of ['defaultAction', 'listenerPath', 'listenerMetadata'] as const) {
    if (p[k] !== undefined && p[k] !== null && typeof p[k] !== 'string') throw decodeError(`${k} must be a string`);
  }
  checkNumber(p.defaultErrnoRet, 'defaultErrnoRet');
  checkStrings(p.architectures, 'architectures');
  checkStrings(p.flags, 'flags');
  if (p.archMap !== undefined && p.archMap !== null) {
    if (!Array.isArray(p.archMap)) throw decodeError('archMap must be a list');
    for (const [i, a] of p.archMap.entries()) {
      if (!a || typeof a !== 'object' || typeof (a as { architecture?: unknown }).architecture !== 'string') {
        throw decodeError(`archMap[${i}].architecture must be a string`);
      }
      checkStrings((a as { subArchitectures?: unknown }).subArchitectures, `archMap[${i}].subArchitectures`);
    }
  }
  if (p.syscalls !== undefined && p.syscalls !== null) {
    if (!Array.isArray(p.syscalls)) throw decodeError('syscalls must be a list');
    for (const [i, s] of p.syscalls.entries()) {
      const where = `syscalls[${i}]`;
      if (!s || typeof s !== 'object' || Array.isArray(s)) throw decodeError(`${where} must be an object`);
      const r = s as Record<string, unknown>;
      if (r.name !== undefined && typeof r.name !== 'string') throw decodeError(`${where}.name must be a string`);
      checkStrings(r.names, `${where}.names`);
      if (typeof r.action !== 'string') throw decodeError(`${where}.action must be a string`);
      checkNumber(r.errnoRet, `${where}.errnoRet`);
      if (r.args !== undefined && r.args !== null) {
        if (!Array.isArray(r.args)) throw decodeError(`${where}.args must be a list`);
        for (const [j, a] of r.args.entries()) {
          const arg = a as Record<string, unknown>;
          if (!arg || typeof arg !== 'object') throw decodeError(`${where}.args[${j}] must be an object`);
          checkNumber(arg.index, `${where}.args[${j}].index`);
          checkNumber(arg.value, `${where}.args[${j}].value`);
          checkNumber(arg.valueTwo, `${where}.args[${j}].valueTwo`);
          if (typeof arg.op !== 'string') throw decodeError(`${where}.args[${j}].op must be a string`);
        }
      }
      checkFilter(r.includes, `${where}.includes`);
      checkFilter(r.excludes, `${where}.excludes`);
    }
  }
  return p as DockerSeccompProfile;
}

export interface SeccompContext {
  /** The container's bounding capabilities (what includes/excludes.caps are checked against). */
  capabilities: readonly string[];
  /** libseccomp's native architecture name (default: this machine's). */
  arch?: string;
  /** The kernel release (default: os.release()). */
  kernel?: string;
}

/**
 * Docker's profile format -> the OCI spec's linux.seccomp, for one container: rules whose includes do
 * not all hold, or whose excludes any does, are dropped; archMap becomes the native architecture and its
 * sub-architectures. Returns undefined for a profile with neither a default action nor rules (Docker
 * then runs the container without seccomp).
 */
export function toOciSeccomp(profile: DockerSeccompProfile, ctx: SeccompContext): OciSeccomp | undefined {
  const arch = ctx.arch ?? nativeArch();
  const kernel = parseKernelVersion(ctx.kernel ?? os.release());
  const caps = new Set(ctx.capabilities);
  const rules = profile.syscalls ?? [];
  if (!profile.defaultAction && rules.length === 0) return undefined;
  if ((profile.architectures?.length ?? 0) > 0 && (profile.archMap?.length ?? 0) > 0) {
    throw invalidArgument("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }

  const out: OciSeccomp = { defaultAction: profile.defaultAction ?? '' };
  if (profile.defaultErrnoRet !== undefined && profile.defaultErrnoRet !== null) out.defaultErrnoRet = profile.defaultErrnoRet;
  let architectures = profile.architectures?.length ? [...profile.architectures] : [];
  const scmp = NATIVE_TO_SCMP[arch];
  const family = scmp ? profile.archMap?.find((a) => a.architecture === scmp) : undefined;
  if (family) architectures = [family.architecture, ...(family.subArchitectures ?? [])];
  if (architectures.length) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.listenerPath) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) out.listenerMetadata = profile.listenerMetadata;

  const syscalls: OciSeccompSyscall[] = [];
  for (const r of rules) {
    let names = r.names ?? [];
    if (r.name) {
      if (names.length) throw invalidArgument("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'");
      names = [r.name];
    }
    const ex = r.excludes;
    if (ex) {
      if (ex.arches?.includes(arch)) continue;
      if (ex.caps?.some((c) => caps.has(c))) continue;
      if (ex.minKernel && kernelAtLeast(kernel, ex.minKernel)) continue;
    }
    const inc = r.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.includes(arch)) continue;
      if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
      if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) continue;
    }
    const s: OciSeccompSyscall = { names: [...names], action: r.action };
    if (r.errnoRet !== undefined && r.errnoRet !== null) s.errnoRet = r.errnoRet;
    if (r.args?.length) {
      s.args = r.args.map((a) => {
        const arg: SeccompArg = { index: a.index, value: a.value, op: a.op };
        if (a.valueTwo) arg.valueTwo = a.valueTwo;
        return arg;
      });
    }
    syscalls.push(s);
  }
  if (syscalls.length) out.syscalls = syscalls;
  return out;
}
