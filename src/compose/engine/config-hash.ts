/**
 * com.docker.compose.config-hash: sha256 over the service's configuration, leaving out what docker
 * compose leaves out (pkg/compose/hash.go ServiceHash): build, pull_policy, scale, deploy.replicas,
 * depends_on and profiles, so that a rebuild policy, scaling or a new dependency alone does not
 * recreate a container. The name is not part of it either (compose-go's `json:"-"`).
 *
 * The JSON is canonical (keys sorted at every level), so the hash is stable across runs and key
 * orders. It is not byte-identical to docker compose's (Go marshals compose-go's structs in field
 * order): a project made by docker compose is recreated once when Berth's compose first converges it.
 */
import { createHash } from 'node:crypto';
import type { ServiceConfig } from '../types.js';

const LEFT_OUT = ['name', 'build', 'pull_policy', 'scale', 'depends_on', 'profiles'];

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort()
        .map((k) => [k, canonical(obj[k])]),
    );
  }
  return value;
}

/** What the hash is computed over (exported for tests and `config --hash`). */
export function hashedConfig(service: ServiceConfig): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...(service as unknown as Record<string, unknown>) };
  for (const key of LEFT_OUT) delete rest[key];
  if (rest.deploy && typeof rest.deploy === 'object') {
    const deploy = { ...(rest.deploy as Record<string, unknown>) };
    delete deploy.replicas;
    // `deploy: {replicas: N}` alone must hash as no deploy at all: scaling is not a configuration change.
    if (Object.keys(deploy).length === 0) delete rest.deploy;
    else rest.deploy = deploy;
  }
  return canonical(rest) as Record<string, unknown>;
}

export function serviceConfigHash(service: ServiceConfig): string {
  return createHash('sha256').update(JSON.stringify(hashedConfig(service))).digest('hex');
}

/** The config-hash label of a network or volume (docker compose's NetworkHash / VolumeHash). */
export function resourceConfigHash(config: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(canonical(config))).digest('hex');
}
