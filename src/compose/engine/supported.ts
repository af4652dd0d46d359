/**
 * What Berth's compose refuses before it makes anything: a key of the Compose Specification the daemon
 * does not implement (checked against what src/runtime/spec and src/containers honour in HostConfig) is
 * an error naming the service and the key, never silently dropped. Swarm-only settings that docker
 * compose itself ignores (deploy.placement, update_config, ...) are accepted with a warning.
 */
import type { ComposeProject, ServiceConfig } from '../types.js';
import { ComposeError, type WarnFn } from '../errors.js';

/** Service keys with a translation (create-request.ts) or handled by the engine, images or watch. */
const SUPPORTED_KEYS = new Set([
  'name', 'annotations', 'attach', 'blkio_config', 'build', 'cap_add', 'cap_drop', 'cgroup', 'command', 'configs',
  'container_name', 'cpu_period', 'cpu_quota', 'cpu_rt_period', 'cpu_rt_runtime', 'cpu_shares', 'cpus', 'cpuset',
  'depends_on', 'deploy', 'develop', 'device_cgroup_rules', 'devices', 'dns', 'dns_opt', 'dns_search', 'domainname',
  'entrypoint', 'env_file', 'environment', 'expose', 'external_links', 'extra_hosts', 'group_add', 'healthcheck',
  'hostname', 'image', 'init', 'ipc', 'label_file', 'labels', 'links', 'logging', 'mac_address', 'mem_limit',
  'mem_reservation', 'mem_swappiness', 'memswap_limit', 'network_mode', 'networks', 'oom_kill_disable',
  'oom_score_adj', 'pid', 'pids_limit', 'platform', 'ports', 'privileged', 'profiles', 'pull_policy',
  'pull_refresh_after', 'read_only', 'restart', 'scale', 'secrets', 'security_opt', 'shm_size', 'stdin_open',
  'stop_grace_period', 'stop_signal', 'sysctls', 'tmpfs', 'tty', 'ulimits', 'user', 'userns_mode', 'uts',
  'volumes', 'volumes_from', 'working_dir',
]);

/** Why each refused key is refused, for the docs and for reviewers. */
export const UNSUPPORTED_KEYS: Record<string, string> = {
  gpus: 'no GPU device requests (HostConfig.DeviceRequests)',
  cgroup_parent: 'HostConfig.CgroupParent is not honoured',
  cpu_count: 'Windows only',
  cpu_percent: 'Windows only',
  credential_spec: 'Windows only',
  isolation: 'Windows only (only "default" is accepted)',
  runtime: 'runc only (only "runc" is accepted)',
  storage_opt: 'no storage driver options',
  post_start: 'lifecycle hooks are not implemented',
  pre_stop: 'lifecycle hooks are not implemented',
  models: 'no model runner',
  provider: 'no provider services',
  use_api_socket: 'the API socket is not mounted into containers',
};

const SWARM_ONLY_DEPLOY = ['labels', 'placement', 'update_config', 'rollback_config', 'endpoint_mode'];

function refuse(service: string, key: string): never {
  throw new ComposeError(`service ${JSON.stringify(service)}: ${JSON.stringify(key)} is not supported by Berth`);
}

function checkService(project: ComposeProject, svc: ServiceConfig, warn: WarnFn): void {
  const name = svc.name;
  for (const key of Object.keys(svc)) {
    if (key.startsWith('x-') || SUPPORTED_KEYS.has(key)) continue;
    if (key === 'isolation' && (svc.isolation === 'default' || svc.isolation === '')) continue;
    if (key === 'runtime' && svc.runtime === 'runc') continue;
    refuse(name, key);
  }
  if (svc.userns_mode !== undefined && svc.userns_mode !== 'host') refuse(name, 'userns_mode');
  for (const v of svc.volumes) {
    if (!['bind', 'volume', 'tmpfs'].includes(v.type)) refuse(name, `volumes (type ${v.type})`);
    const recursive = v.bind?.recursive;
    if (recursive !== undefined && recursive !== 'enabled' && recursive !== 'disabled') refuse(name, `volumes.bind.recursive: ${String(recursive)}`);
    if (v.volume && typeof v.volume === 'object' && 'driver_config' in v.volume) refuse(name, 'volumes.volume.driver_config');
  }
  for (const device of svc.devices ?? []) {
    const source = typeof device === 'string' ? device.split(':')[0] : device.source;
    // CDI names (vendor.com/class=name) need the daemon's CDI support, which Berth does not have.
    if (/^[a-z0-9.-]+\/[a-zA-Z0-9._-]+=.+$/.test(source)) refuse(name, `devices (CDI device ${source})`);
  }
  for (const [net, cfg] of Object.entries(svc.networks)) {
    if (cfg?.interface_name !== undefined) refuse(name, `networks.${net}.interface_name`);
  }
  const deploy = svc.deploy;
  if (deploy) {
    if (deploy.mode !== undefined && deploy.mode !== 'replicated') refuse(name, `deploy.mode: ${String(deploy.mode)}`);
    const reservations = deploy.resources?.reservations;
    if (reservations?.devices?.length) refuse(name, 'deploy.resources.reservations.devices');
    if (reservations?.generic_resources?.length) refuse(name, 'deploy.resources.reservations.generic_resources');
    for (const key of SWARM_ONLY_DEPLOY) {
      if (deploy[key] !== undefined) warn(`service ${JSON.stringify(name)}: deploy.${key} applies to Swarm only and is ignored`);
    }
    if (reservations?.cpus !== undefined) warn(`service ${JSON.stringify(name)}: deploy.resources.reservations.cpus applies to Swarm only and is ignored`);
    const policy = deploy.restart_policy;
    if (policy?.delay !== undefined || policy?.window !== undefined) {
      warn(`service ${JSON.stringify(name)}: deploy.restart_policy delay and window are ignored`);
    }
  }
  for (const kind of ['secrets', 'configs'] as const) {
    for (const ref of svc[kind] ?? []) {
      const def = project[kind][ref.source];
      if (def?.external) throw new ComposeError(`unsupported external ${kind.slice(0, -1)} ${def.name}`);
      // A file is bind-mounted as it is; only injected content gets an owner and a mode.
      const fromFile = typeof def?.file === 'string' && def.content === undefined && def.environment === undefined;
      if (fromFile && (ref.uid !== undefined || ref.gid !== undefined || ref.mode !== undefined)) {
        warn(`${kind === 'secrets' ? 'secrets' : 'config'} \`uid\`, \`gid\` and \`mode\` are not supported, they will be ignored`);
      }
    }
  }
}

/** Like the loader's: docker compose's logrus warning line on stderr. */
const defaultWarn: WarnFn = (m) => process.stderr.write(`WARN[0000] ${m}\n`);

/** Throws ComposeError naming the first service and key Berth does not support; warns for Swarm-only keys. */
export function assertSupported(project: ComposeProject, warn: WarnFn = defaultWarn): void {
  for (const svc of Object.values(project.services)) checkService(project, svc, warn);
  for (const [key, net] of Object.entries(project.networks)) {
    if (net.external) continue;
    if (net.driver !== undefined && net.driver !== 'bridge') throw new ComposeError(`network ${JSON.stringify(key)}: driver ${JSON.stringify(net.driver)} is not supported by Berth`);
    const ipam = net.ipam as { driver?: string } | undefined;
    if (ipam?.driver !== undefined && ipam.driver !== 'default') throw new ComposeError(`network ${JSON.stringify(key)}: ipam driver ${JSON.stringify(ipam.driver)} is not supported by Berth`);
    if (net.enable_ipv4 === false) throw new ComposeError(`network ${JSON.stringify(key)}: "enable_ipv4: false" is not supported by Berth`);
  }
  for (const [key, vol] of Object.entries(project.volumes)) {
    if (!vol.external && vol.driver !== undefined && vol.driver !== 'local') throw new ComposeError(`volume ${JSON.stringify(key)}: driver ${JSON.stringify(vol.driver)} is not supported by Berth`);
  }
  for (const kind of ['secrets', 'configs'] as const) {
    for (const [key, def] of Object.entries(project[kind])) {
      for (const opt of ['driver', 'template_driver']) {
        if (def[opt] !== undefined) throw new ComposeError(`Docker Compose does not support ${kind}.*.${opt} (${kind.slice(0, -1)} ${JSON.stringify(key)})`);
      }
    }
  }
}
