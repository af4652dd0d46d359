/**
 * The service keys a swarm cannot honour, sorted as docker stack deploy reports them (docker/cli's
 * compose/types UnsupportedProperties, DeprecatedProperties and ForbiddenProperties). Two differences,
 * so that the file `berth compose up` runs deploys unchanged: `build` is not refused but skipped with a
 * note, and long-form `depends_on` is accepted (it orders the services' creation).
 */
import type { ComposeProject } from '../compose/index.js';
import { StackError } from './errors.js';

/** Keys ignored with "Ignoring unsupported options: ..." (docker's list, less `build`). */
export const UNSUPPORTED_KEYS = [
  'cgroupns_mode', 'cgroup_parent', 'devices', 'domainname', 'external_links', 'ipc', 'links', 'mac_address',
  'network_mode', 'pid', 'privileged', 'restart', 'security_opt', 'shm_size', 'userns_mode',
];

/** Keys ignored with "Ignoring deprecated options:" and docker's explanation. */
export const DEPRECATED_KEYS: Record<string, string> = {
  container_name: 'Setting the container name is not supported.',
  expose: "Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
};

/** Keys refused, as docker refuses them ("compose file contains unsupported options"). */
export const FORBIDDEN_KEYS: Record<string, string> = {
  volume_driver: 'Instead of setting the volume driver on the service, define a volume using the top-level `volumes` option and specify the driver there.',
  volumes_from: 'To share a volume between services, define it using the top-level `volumes` option and reference it from each service that shares it using the service-level `volumes` option.',
  cpu_quota: 'Set resource limits using deploy.resources',
  cpu_shares: 'Set resource limits using deploy.resources',
  cpuset: 'Set resource limits using deploy.resources',
  mem_limit: 'Set resource limits using deploy.resources',
  memswap_limit: 'Set resource limits using deploy.resources',
};

function present(project: ComposeProject, key: string): boolean {
  return Object.values(project.services).some((s) => s[key] !== undefined && s[key] !== null);
}

const propertyWarnings = (props: Record<string, string>) =>
  Object.entries(props).map(([k, v]) => `${k}: ${v}`).sort().join('\n\n');

/** What docker prints on stderr before deploying (empty when nothing applies), and the refusal it makes. */
export function checkKeys(project: ComposeProject): { warnings: string } {
  const forbidden = Object.fromEntries(Object.entries(FORBIDDEN_KEYS).filter(([k]) => present(project, k)));
  if (Object.keys(forbidden).length) throw new StackError(`compose file contains unsupported options:\n\n${propertyWarnings(forbidden)}\n`);
  let warnings = '';
  const unsupported = UNSUPPORTED_KEYS.filter((k) => present(project, k)).sort();
  if (unsupported.length) warnings += `Ignoring unsupported options: ${unsupported.join(', ')}\n\n`;
  const deprecated = Object.fromEntries(Object.entries(DEPRECATED_KEYS).filter(([k]) => present(project, k)));
  if (Object.keys(deprecated).length) warnings += `Ignoring deprecated options:\n\n${propertyWarnings(deprecated)}\n\n`;
  const built = Object.keys(project.services).filter((n) => project.services[n]!.build !== undefined).sort();
  for (const name of built) {
    warnings += `Skipping build for service ${name}: stack deploy does not build images; the service runs ${project.services[name]!.image ? `image ${project.services[name]!.image}` : 'no image'}\n`;
  }
  if (built.length) warnings += '\n';
  return { warnings };
}
