/**
 * The HostConfig and Config fields of a service that are not mounts or networks, as docker compose v2's
 * getCreateConfigs and getDeployResources set them: resources (mem_limit, cpus, deploy.resources),
 * restart policy, ports, healthcheck, ulimits, devices, security options, namespaces, DNS and logging.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { ComposeProject, PortConfig, ServiceConfig } from '../types.js';
import { ComposeError } from '../errors.js';
import { parseDurationNs } from '../duration.js';
import { parseBytes, parseNanoCpus, stringList } from '../units.js';
import { resolveServiceMode } from './networking.js';
import { tmpfsMap } from './mounts.js';

type Dict = Record<string, unknown>;

/** ToMobyEnv: `KEY=value`, or `KEY` alone for a variable with no value. */
export function commandEnv(environment: Record<string, string | null>): string[] {
  return Object.entries(environment).map(([k, v]) => (v === null || v === undefined ? k : `${k}=${v}`));
}

/** stop_grace_period in whole seconds (Config.StopTimeout), or null for the daemon's default. */
export function stopTimeout(service: ServiceConfig): number | null {
  if (service.stop_grace_period === undefined) return null;
  return Math.floor(parseDurationNs(service.stop_grace_period, `services.${service.name}.stop_grace_period`) / 1e9);
}

export function containerHealthcheck(service: ServiceConfig): Dict | undefined {
  const hc = service.healthcheck;
  if (!hc) return undefined;
  const ns = (key: 'interval' | 'timeout' | 'start_period' | 'start_interval') =>
    hc[key] === undefined ? 0 : parseDurationNs(hc[key] as string, `services.${service.name}.healthcheck.${key}`);
  if (hc.start_interval !== undefined && hc.start_period === undefined) {
    throw new ComposeError('healthcheck.start_interval requires healthcheck.start_period to be set');
  }
  const out: Dict = {};
  if (hc.disable) out.Test = ['NONE'];
  else if (hc.test) out.Test = hc.test;
  out.Interval = ns('interval');
  out.Timeout = ns('timeout');
  out.StartPeriod = ns('start_period');
  out.StartInterval = ns('start_interval');
  out.Retries = hc.retries ?? 0;
  return out;
}

/** `3000`, `3000/udp`, `3000-3005/tcp` -> the ports, as nat.ParsePortRange expands them. */
function exposeEntries(spec: string): string[] {
  const [range, proto = 'tcp'] = spec.split('/');
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  if (!m) throw new ComposeError(`invalid port range: ${spec}`);
  const low = Number(m[1]);
  const high = m[2] !== undefined ? Number(m[2]) : low;
  if (high < low || high > 65535) throw new ComposeError(`invalid port range: ${spec}`);
  return Array.from({ length: high - low + 1 }, (_, i) => `${low + i}/${proto.toLowerCase()}`);
}

/** Config.ExposedPorts: the published ports' targets and the `expose` entries. */
export function exposedPorts(service: ServiceConfig): Record<string, Dict> {
  const out: Record<string, Dict> = {};
  for (const p of service.ports) out[`${p.target}/${p.protocol}`] = {};
  for (const e of service.expose ?? []) for (const key of exposeEntries(String(e))) out[key] = {};
  return out;
}

/** HostConfig.PortBindings: each port's host IP and published port ("" lets the daemon choose). */
export function portBindings(ports: PortConfig[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of ports) {
    const key = `${p.target}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: p.host_ip ?? '', HostPort: p.published ?? '' });
  }
  return out;
}

function restartMode(condition: string): string {
  if (condition === 'none') return 'no';
  if (condition === 'any') return 'always';
  return condition;
}

/** `restart:` then deploy.restart_policy over it (getRestartPolicy). */
export function restartPolicy(service: ServiceConfig): { Name: string; MaximumRetryCount: number } {
  let policy = { Name: '', MaximumRetryCount: 0 };
  if (service.restart) {
    const [name, count] = service.restart.split(':');
    policy = { Name: restartMode(name), MaximumRetryCount: count !== undefined ? Number.parseInt(count, 10) || 0 : 0 };
  }
  const deployPolicy = service.deploy?.restart_policy;
  if (deployPolicy) policy = { Name: restartMode(deployPolicy.condition ?? ''), MaximumRetryCount: deployPolicy.max_attempts ?? 0 };
  return policy;
}

function devices(service: ServiceConfig): Dict[] {
  return (service.devices ?? []).map((d) => {
    if (typeof d === 'string') {
      const [source, target = source, permissions = 'rwm'] = d.split(':');
      return { PathOnHost: source, PathInContainer: target, CgroupPermissions: permissions };
    }
    return { PathOnHost: d.source, PathInContainer: d.target ?? d.source, CgroupPermissions: d.permissions ?? 'rwm' };
  });
}

function ulimits(service: ServiceConfig): Dict[] {
  return Object.entries(service.ulimits ?? {}).map(([name, u]) => ({
    Name: name,
    Soft: u.soft ?? u.single ?? 0,
    Hard: u.hard ?? u.single ?? 0,
  }));
}

interface BlkioConfig {
  weight?: number;
  weight_device?: Array<{ path: string; weight: number }>;
  device_read_bps?: Array<{ path: string; rate: number | string }>;
  device_read_iops?: Array<{ path: string; rate: number | string }>;
  device_write_bps?: Array<{ path: string; rate: number | string }>;
  device_write_iops?: Array<{ path: string; rate: number | string }>;
}

function blkio(service: ServiceConfig, out: Dict): void {
  const b = service.blkio_config as BlkioConfig | undefined;
  if (!b) return;
  const where = `services.${service.name}.blkio_config`;
  if (b.weight !== undefined) out.BlkioWeight = b.weight;
  if (b.weight_device) out.BlkioWeightDevice = b.weight_device.map((d) => ({ Path: d.path, Weight: d.weight }));
  const throttle = (list: BlkioConfig['device_read_bps'], bytes: boolean) =>
    list?.map((d) => ({ Path: d.path, Rate: bytes ? parseBytes(d.rate, where) : Number(d.rate) }));
  if (b.device_read_bps) out.BlkioDeviceReadBps = throttle(b.device_read_bps, true);
  if (b.device_write_bps) out.BlkioDeviceWriteBps = throttle(b.device_write_bps, true);
  if (b.device_read_iops) out.BlkioDeviceReadIOps = throttle(b.device_read_iops, false);
  if (b.device_write_iops) out.BlkioDeviceWriteIOps = throttle(b.device_write_iops, false);
}

/** getDeployResources: the service-level keys, then deploy.resources limits and reservations over them. */
function resources(service: ServiceConfig, out: Dict): void {
  const where = (key: string) => `services.${service.name}.${key}`;
  const num = (key: string): number | undefined => (service[key] === undefined ? undefined : Number(service[key]));
  if (service.mem_limit !== undefined) out.Memory = parseBytes(service.mem_limit, where('mem_limit'));
  if (service.memswap_limit !== undefined) out.MemorySwap = parseBytes(service.memswap_limit, where('memswap_limit'));
  if (service.mem_reservation !== undefined) out.MemoryReservation = parseBytes(service.mem_reservation, where('mem_reservation'));
  if (service.mem_swappiness !== undefined) out.MemorySwappiness = num('mem_swappiness');
  if (service.oom_kill_disable !== undefined) out.OomKillDisable = Boolean(service.oom_kill_disable);
  if (service.oom_score_adj !== undefined) out.OomScoreAdj = num('oom_score_adj');
  if (service.cpus !== undefined) out.NanoCpus = parseNanoCpus(service.cpus, where('cpus'));
  const cpuKeys: Array<[string, string]> = [
    ['cpu_shares', 'CpuShares'],
    ['cpu_period', 'CpuPeriod'],
    ['cpu_quota', 'CpuQuota'],
    ['cpu_rt_period', 'CpuRealtimePeriod'],
    ['cpu_rt_runtime', 'CpuRealtimeRuntime'],
  ];
  for (const [key, field] of cpuKeys) {
    const v = service[key];
    if (v === undefined) continue;
    // cpu_rt_* may be durations ("950ms") in the spec: microseconds for the engine.
    out[field] = typeof v === 'string' && /[a-z]/i.test(v) ? Math.floor(parseDurationNs(v, where(key)) / 1e3) : Number(v);
  }
  if (service.cpuset !== undefined) out.CpusetCpus = String(service.cpuset);
  if (service.pids_limit !== undefined) out.PidsLimit = num('pids_limit');
  if (service.device_cgroup_rules !== undefined) out.DeviceCgroupRules = service.device_cgroup_rules;
  blkio(service, out);
  const limits = service.deploy?.resources?.limits;
  if (limits?.memory !== undefined) out.Memory = parseBytes(limits.memory, where('deploy.resources.limits.memory'));
  if (limits?.cpus !== undefined) out.NanoCpus = parseNanoCpus(limits.cpus, where('deploy.resources.limits.cpus'));
  if (limits?.pids !== undefined && limits.pids > 0) out.PidsLimit = limits.pids;
  const reservations = service.deploy?.resources?.reservations;
  if (reservations?.memory !== undefined) out.MemoryReservation = parseBytes(reservations.memory, where('deploy.resources.reservations.memory'));
  const devs = devices(service);
  if (devs.length) out.Devices = devs;
  const limitsList = ulimits(service);
  if (limitsList.length) out.Ulimits = limitsList;
}

/** parseSecurityOpts: a seccomp profile path is read and inlined; systempaths=unconfined unmasks /proc. */
function securityOptions(project: ComposeProject, service: ServiceConfig, out: Dict): void {
  const parsed: string[] = [];
  for (const opt of service.security_opt ?? []) {
    if (opt === 'systempaths=unconfined') {
      out.MaskedPaths = [];
      out.ReadonlyPaths = [];
      continue;
    }
    let [key, value] = opt.split(/=(.*)/s, 2);
    if (value === undefined && key !== 'no-new-privileges') {
      if (!opt.includes(':')) throw new ComposeError(`invalid security-opt: ${JSON.stringify(opt)}`);
      [key, value] = opt.split(/:(.*)/s, 2);
    }
    if (key === 'seccomp' && value !== 'unconfined' && value !== 'builtin') {
      let text: string;
      try {
        text = readFileSync(path.resolve(project.workingDir, value), 'utf8');
      } catch (err) {
        throw new ComposeError(`opening seccomp profile (${value}) failed: ${(err as Error).message}`);
      }
      try {
        parsed.push(`seccomp=${JSON.stringify(JSON.parse(text))}`);
      } catch (err) {
        throw new ComposeError(`compacting json for seccomp profile (${value}) failed: ${(err as Error).message}`);
      }
    } else parsed.push(opt);
  }
  if (parsed.length) out.SecurityOpt = parsed;
}

export function hostConfig(project: ComposeProject, service: ServiceConfig, firstContainer: (svc: ServiceConfig) => string): Dict {
  const out: Dict = {};
  const mode = (value: string | undefined) => (value === undefined ? undefined : resolveServiceMode(project, value, firstContainer));
  if (service.cap_add?.length) out.CapAdd = service.cap_add;
  if (service.cap_drop?.length) out.CapDrop = service.cap_drop;
  if (service.init !== undefined) out.Init = Boolean(service.init);
  if (service.ipc !== undefined) out.IpcMode = mode(service.ipc);
  if (service.pid !== undefined) out.PidMode = mode(service.pid);
  if (service.cgroup !== undefined) out.CgroupnsMode = String(service.cgroup);
  if (service.uts !== undefined) out.UTSMode = String(service.uts);
  if (service.userns_mode !== undefined) out.UsernsMode = String(service.userns_mode);
  out.ReadonlyRootfs = Boolean(service.read_only);
  out.Privileged = Boolean(service.privileged);
  if (service.shm_size !== undefined) out.ShmSize = parseBytes(service.shm_size, `services.${service.name}.shm_size`);
  if (service.sysctls && Object.keys(service.sysctls).length) {
    out.Sysctls = Object.fromEntries(Object.entries(service.sysctls).map(([k, v]) => [k, v ?? '']));
  }
  const tmpfs = stringList(service.tmpfs);
  if (tmpfs.length) out.Tmpfs = tmpfsMap(tmpfs);
  const dns = stringList(service.dns);
  for (const ip of dns) if (isIP(ip) === 0) throw new ComposeError(`invalid DNS address: ParseAddr(${JSON.stringify(ip)}): unable to parse IP`);
  if (dns.length) out.Dns = dns;
  const dnsSearch = stringList(service.dns_search);
  if (dnsSearch.length) out.DnsSearch = dnsSearch;
  if (service.dns_opt?.length) out.DnsOptions = service.dns_opt;
  // The model keeps `host=ip`; the engine takes `host:ip` (compose's ExtraHosts.AsList(":")).
  if (service.extra_hosts?.length) out.ExtraHosts = service.extra_hosts.map((h) => h.replace('=', ':'));
  if (service.group_add?.length) out.GroupAdd = service.group_add.map(String);
  if (service.volumes_from?.length) {
    out.VolumesFrom = service.volumes_from.map((from) => {
      if (from.startsWith('container:')) return from.slice('container:'.length);
      const [svc, access] = from.split(':');
      const target = project.services[svc];
      const name = target ? firstContainer(target) : svc;
      return access ? `${name}:${access}` : name;
    });
  }
  if (service.logging) {
    out.LogConfig = {
      Type: service.logging.driver ?? '',
      Config: Object.fromEntries(Object.entries(service.logging.options ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)])),
    };
  }
  if (service.annotations && Object.keys(service.annotations).length) {
    out.Annotations = Object.fromEntries(Object.entries(service.annotations).map(([k, v]) => [k, v ?? '']));
  }
  resources(service, out);
  securityOptions(project, service, out);
  return out;
}
