/**
 * The labels docker compose v2 puts on what it makes. Berth uses the same ones, so `docker compose`
 * and `berth compose` see the same projects (docker/compose pkg/api/labels.go).
 */
export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  /** The replica's number, "1", "2", ... */
  containerNumber: 'com.docker.compose.container-number',
  /** "True" for `compose run` containers, "False" otherwise. */
  oneoff: 'com.docker.compose.oneoff',
  /** sha256 of the service's configuration: a change means the container is recreated. */
  configHash: 'com.docker.compose.config-hash',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  environmentFile: 'com.docker.compose.project.environment_file',
  /** The compose version that made the resource. */
  version: 'com.docker.compose.version',
  /** The image's digest when the container was made: a changed image means recreate. */
  image: 'com.docker.compose.image',
  /** "svc:condition:restart,..." as docker compose writes it. */
  dependsOn: 'com.docker.compose.depends_on',
  /** On a network: its key in the file. */
  network: 'com.docker.compose.network',
  /** On a volume: its key in the file. */
  volume: 'com.docker.compose.volume',
  /** The container this one replaces while being recreated. */
  replace: 'com.docker.compose.replace',
  /** "True" on the one-off container `compose run` makes when asked to. */
  slug: 'com.docker.compose.slug',
} as const;

/** The version Berth's compose reports (`compose version`, the version label). */
export const COMPOSE_VERSION = '2.40.0-berth';

/** A filter value for the project label, for /containers/json?filters=... */
export function projectFilter(project: string): string {
  return `${LABEL.project}=${project}`;
}
