/**
 * What keeps a container inside, applied to the OCI spec the way dockerd does: `--security-opt`
 * (no-new-privileges, seccomp=unconfined|builtin|<profile JSON>, apparmor=, label=, writable-cgroups=),
 * `--privileged` (every capability the daemon holds, every host device, no masked or read-only paths,
 * /sys and cgroups writable, no seccomp, AppArmor unconfined), and the user namespace of
 * `--userns-remap` (uid/gid mappings, and the mounts a user namespace cannot make).
 *
 * Lifecycle: pure functions over a spec (plus reads of /dev and /sys/module for host facts). Create
 * calls validateSecurityOpts; buildSpec calls applySecurity last, once the capabilities are known.
 */
import fs from 'node:fs';
import { invalidArgument } from '../lib/errors.js';
import type { HostConfig, OciSpec } from './spec/index.js';
import { defaultSeccompProfile, parseSeccompProfile, toOciSeccomp, type DockerSeccompProfile, type OciSeccomp } from './seccomp.js';
import { hostDevices } from './devices.js';

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** '' (the daemon's default), 'unconfined', 'builtin', or a profile's JSON text. */
  seccompProfile: string;
  apparmorProfile: string;
  /** SELinux label options; accepted and ignored (Berth does not label). */
  labelOpts: string[];
  writableCgroups?: boolean;
}

function parseBool(v: string): boolean | undefined {
  // Go's strconv.ParseBool
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** Docker's parseSecurityOpt: `key=value` (or the deprecated `key:value`); errors in Docker's words. */
export function parseSecurityOpts(opts: readonly string[] | null | undefined): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, seccompProfile: '', apparmorProfile: '', labelOpts: [] };
  for (const opt of opts ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') {
      out.labelOpts.push('disable');
      continue;
    }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw invalidArgument(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const i = opt.indexOf(sep);
    const key = opt.slice(0, i);
    const value = opt.slice(i + 1);
    switch (key) {
      case 'label':
        out.labelOpts.push(value);
        break;
      case 'apparmor':
        out.apparmorProfile = value;
        break;
      case 'seccomp':
        out.seccompProfile = value;
        break;
      case 'no-new-privileges': {
        const b = parseBool(value);
        if (b === undefined) throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.noNewPrivileges = b;
        break;
      }
      case 'writable-cgroups': {
        const b = parseBool(value);
        if (b === undefined) throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.writableCgroups = b;
        break;
      }
      default:
        throw invalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}

/** Create-time check of SecurityOpt, including that a custom seccomp profile decodes. */
export function validateSecurityOpts(opts: readonly string[] | null | undefined): void {
  const sec = parseSecurityOpts(opts);
  const p = sec.seccompProfile;
  if (p !== '' && p !== 'unconfined' && p !== 'builtin') {
    const profile = parseSeccompProfile(p);
    // Structural checks that do not depend on the container (both 'name' and 'names', ...).
    toOciSeccomp(profile, { capabilities: [] });
  }
}

let apparmorCache: boolean | undefined;

/** Whether the host runs AppArmor (Docker sets profiles only then). */
export function apparmorEnabled(): boolean {
  if (apparmorCache === undefined) {
    try {
      apparmorCache = fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
    } catch {
      apparmorCache = false;
    }
  }
  return apparmorCache;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** The user namespace a container gets (--userns-remap, unless --userns=host). */
export interface UsernsSpec {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** Join this user namespace (e.g. /proc/<pid>/ns/user of the container whose namespaces are shared). */
  path?: string;
}

export interface SecurityContext {
  hostConfig: HostConfig;
  /** Capabilities the daemon holds (what privileged gets). */
  available: readonly string[];
  userns?: UsernsSpec;
  /** The network namespace is an existing one joined by path (not made by runc for this container). */
  joinsNetns: boolean;
  /** The IPC namespace is the host's or another container's (not made by runc for this container). */
  ipc?: 'own' | 'host' | 'joined';
  /** Sysctl keys the user set (the defaults the daemon adds may be dropped, these never are). */
  userSysctls: readonly string[];
  /** For tests: the daemon's default seccomp profile, host devices, AppArmor. */
  seccompDefault?: DockerSeccompProfile;
  hostDevicesRoot?: string;
  apparmor?: boolean;
}

function isMountPoint(p: string): boolean {
  try {
    return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === p);
  } catch {
    return false; // no /proc/self/mounts: treated as not mounted
  }
}

const clearReadonly = (options: string[] | undefined): string[] => (options ?? []).filter((o) => o !== 'ro');

/**
 * Applies privileged mode, the user namespace, no-new-privileges, seccomp and AppArmor to a spec that
 * buildSpec has otherwise finished. Throws InvalidArgument for a bad option or profile.
 */
export function applySecurity(spec: OciSpec, ctx: SecurityContext): void {
  const hc = ctx.hostConfig;
  const sec = parseSecurityOpts(hc.SecurityOpt);
  const privileged = !!hc.Privileged;

  if (sec.noNewPrivileges) spec.process.noNewPrivileges = true;
  else delete spec.process.noNewPrivileges;

  if (privileged) {
    const all = [...ctx.available];
    spec.process.capabilities = { bounding: [...all], effective: [...all], permitted: [...all] };
    // Every host device (and the mapped ones that rename a device), every device allowed.
    const devices: NonNullable<OciSpec['linux']['devices']> = hostDevices(ctx.hostDevicesRoot).map((d) => ({ ...d }));
    const hostPaths = new Set(devices.map((d) => d.path));
    // buildSpec put the HostConfig.Devices there: those at their host path already are.
    for (const d of spec.linux.devices ?? []) if (!hostPaths.has(d.path)) devices.push(d);
    spec.linux.devices = devices;
    spec.linux.resources.devices = [{ allow: true, access: 'rwm' }];
    delete spec.linux.maskedPaths;
    delete spec.linux.readonlyPaths;
    for (const m of spec.mounts) if (m.destination === '/sys' && m.type === 'sysfs') m.options = clearReadonly(m.options);
  }

  // Read-only cgroup mounts cannot be remounted inside a user namespace; privileged and
  // writable-cgroups=true ask for them writable.
  if (privileged || ctx.userns || sec.writableCgroups) {
    for (const m of spec.mounts) if (m.type === 'cgroup') m.options = clearReadonly(m.options);
  }

  if (ctx.userns) {
    const u = ctx.userns;
    spec.linux.namespaces.push(u.path ? { type: 'user', path: u.path } : { type: 'user' });
    spec.linux.uidMappings = u.uidMappings.map((m) => ({ ...m }));
    spec.linux.gidMappings = u.gidMappings.map((m) => ({ ...m }));
    // The default ping range "every gid" must name gids the namespace maps: all of its gids.
    const ping = 'net.ipv4.ping_group_range';
    if (spec.linux.sysctl?.[ping] === '0 2147483647' && !ctx.userSysctls.includes(ping)) {
      const gids = u.gidMappings.reduce((n, m) => n + m.size, 0);
      spec.linux.sysctl[ping] = `0 ${Math.max(gids - 1, 0)}`;
    }
    if (ctx.ipc && ctx.ipc !== 'own' && !u.path) {
      // Only the user namespace that owns an IPC namespace may mount its mqueue: for the host's, the
      // host's /dev/mqueue is bound (when the host has one mounted); another container's is left out.
      const hostMqueue = ctx.ipc === 'host' && isMountPoint('/dev/mqueue');
      spec.mounts = spec.mounts.flatMap((m) => {
        if (m.destination !== '/dev/mqueue' || m.type !== 'mqueue') return [m];
        return hostMqueue ? [{ destination: '/dev/mqueue', type: 'bind', source: '/dev/mqueue', options: ['rbind', 'nosuid', 'noexec', 'nodev'] }] : [];
      });
    }
    // Device nodes cannot be made in a user namespace, so runc binds them from the host path it is
    // given, which is the path in the container: a device given a new name is bound from its real one.
    for (const mapped of ctx.hostConfig.Devices ?? []) {
      const onHost = mapped.PathOnHost ?? '';
      const inContainer = mapped.PathInContainer || onHost;
      if (!onHost || inContainer === onHost) continue;
      const renamed = (spec.linux.devices ?? []).filter((d) => d.path === inContainer || d.path.startsWith(inContainer + '/'));
      spec.linux.devices = (spec.linux.devices ?? []).filter((d) => !renamed.includes(d));
      for (const d of renamed) {
        spec.mounts.push({ destination: d.path, type: 'bind', source: onHost + d.path.slice(inContainer.length), options: ['bind', 'nosuid', 'noexec'] });
      }
    }
    if (spec.linux.devices?.length === 0) delete spec.linux.devices;
    if (ctx.joinsNetns && !u.path) {
      // sysfs can only be mounted by a user namespace that owns the network namespace, and net.*
      // sysctls only written by one: bind the host's /sys read-only instead (as for --net=host), and
      // leave out the network defaults the daemon would have added.
      for (const m of spec.mounts) {
        if (m.destination === '/sys' && m.type === 'sysfs') {
          m.type = 'bind';
          m.source = '/sys';
          m.options = ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'];
        }
      }
      if (spec.linux.sysctl) {
        for (const k of Object.keys(spec.linux.sysctl)) if (k.startsWith('net.') && !ctx.userSysctls.includes(k)) delete spec.linux.sysctl[k];
        if (Object.keys(spec.linux.sysctl).length === 0) delete spec.linux.sysctl;
      }
    }
  }

  // Seccomp: none when privileged or unconfined, else the profile, converted against the capabilities
  // the container ends up with.
  delete spec.linux.seccomp;
  if (!privileged && sec.seccompProfile !== 'unconfined') {
    const profile =
      sec.seccompProfile === '' || sec.seccompProfile === 'builtin' ? (ctx.seccompDefault ?? defaultSeccompProfile()) : parseSeccompProfile(sec.seccompProfile);
    const oci: OciSeccomp | undefined = toOciSeccomp(profile, { capabilities: spec.process.capabilities?.bounding ?? [] });
    if (oci) spec.linux.seccomp = oci;
  }

  // AppArmor only where the host has it: unconfined for privileged, else what was asked for. (Docker
  // loads its own docker-default profile; Berth ships none, so an unasked-for container gets no profile.)
  if (ctx.apparmor ?? apparmorEnabled()) {
    if (sec.apparmorProfile) spec.process.apparmorProfile = sec.apparmorProfile;
    else if (privileged) spec.process.apparmorProfile = 'unconfined';
  }
}
