/**
 * The merged, canonical data turned into the typed model (types.ts): commands split, environment
 * completed from env_file and the process environment, durations in Go's form, ulimits and healthchecks
 * in their long form, default network and resource names under the project's name.
 */
import { parseDurationNs, formatDuration } from './duration.js';
import { readEnvFile } from './env-file.js';
import type { WarnFn } from './errors.js';
import { isMapping } from './interpolate.js';
import { shellSplit } from './shell-split.js';
import type {
  EnvFileConfig,
  FileObjectConfig,
  HealthcheckConfig,
  NetworkConfig,
  ServiceConfig,
  UlimitConfig,
  VolumeConfig,
} from './types.js';

type Dict = Record<string, unknown>;

function commandList(value: unknown): string[] | null | undefined {
  if (value === undefined || value === null) return value as null | undefined;
  if (typeof value === 'string') return shellSplit(value);
  return (value as unknown[]).map(String);
}

const DURATION_KEYS = ['interval', 'timeout', 'start_period', 'start_interval'] as const;

function healthcheck(raw: Dict, where: string): HealthcheckConfig {
  const out: HealthcheckConfig = {};
  if (raw.test !== undefined) out.test = typeof raw.test === 'string' ? ['CMD-SHELL', raw.test] : (raw.test as unknown[]).map(String);
  for (const key of DURATION_KEYS) {
    if (raw[key] !== undefined) out[key] = formatDuration(parseDurationNs(raw[key] as string, `${where}.healthcheck.${key}`));
  }
  if (raw.retries !== undefined) out.retries = Number(raw.retries);
  if (raw.disable !== undefined) out.disable = Boolean(raw.disable);
  return out;
}

function ulimits(raw: Dict): Record<string, UlimitConfig> {
  const out: Record<string, UlimitConfig> = {};
  for (const [name, value] of Object.entries(raw)) {
    out[name] = typeof value === 'number' || typeof value === 'string' ? { single: Number(value) } : { soft: Number((value as Dict).soft), hard: Number((value as Dict).hard) };
  }
  return out;
}

export function normalizeService(name: string, raw: Dict, env: Record<string, string>, warn: WarnFn): ServiceConfig {
  const svc: Dict = { ...raw };
  const where = `services.${name}`;
  for (const key of ['command', 'entrypoint']) if (key in svc) svc[key] = commandList(svc[key]);

  const environment: Record<string, string | null> = {};
  for (const file of (svc.env_file ?? []) as EnvFileConfig[]) {
    Object.assign(environment, readEnvFile(file.path, (n) => env[n], file.required, warn));
  }
  for (const [key, value] of Object.entries((svc.environment ?? {}) as Record<string, string | null>)) {
    environment[key] = value === null ? (env[key] ?? null) : value;
  }
  svc.environment = environment;
  svc.labels = svc.labels ?? {};
  svc.ports = svc.ports ?? [];
  svc.volumes = svc.volumes ?? [];
  svc.depends_on = svc.depends_on ?? {};
  if (svc.networks === undefined && svc.network_mode === undefined) svc.networks = { default: null };
  svc.networks = svc.networks ?? {};
  if (isMapping(svc.healthcheck)) svc.healthcheck = healthcheck(svc.healthcheck, where);
  if (isMapping(svc.ulimits)) svc.ulimits = ulimits(svc.ulimits);
  if (svc.stop_grace_period !== undefined) svc.stop_grace_period = formatDuration(parseDurationNs(svc.stop_grace_period as string, `${where}.stop_grace_period`));
  if (isMapping(svc.build) && svc.build.dockerfile === undefined && svc.build.dockerfile_inline === undefined) {
    svc.build = { ...svc.build, dockerfile: 'Dockerfile' };
  }
  if (svc.scale !== undefined) svc.scale = Number(svc.scale);
  if (isMapping(svc.deploy) && svc.deploy.replicas !== undefined) svc.deploy = { ...svc.deploy, replicas: Number(svc.deploy.replicas) };
  return { ...(svc as Omit<ServiceConfig, 'name'>), name } as ServiceConfig;
}

function resourceName(project: string, key: string, def: Dict): string {
  if (typeof def.name === 'string') return def.name;
  return def.external ? key : `${project}_${key}`;
}

export function normalizeNetworks(project: string, raw: unknown, services: ServiceConfig[]): Record<string, NetworkConfig> {
  const out: Record<string, NetworkConfig> = {};
  const defined = (isMapping(raw) ? raw : {}) as Dict;
  const usesDefault = services.some((s) => 'default' in s.networks);
  const entries = Object.entries(defined);
  if (usesDefault && !('default' in defined)) entries.unshift(['default', {}]);
  for (const [key, def] of entries) {
    const d = (def ?? {}) as Dict;
    out[key] = { name: resourceName(project, key, d), ...d } as NetworkConfig;
  }
  return out;
}

export function normalizeVolumes(project: string, raw: unknown): Record<string, VolumeConfig> {
  const out: Record<string, VolumeConfig> = {};
  for (const [key, def] of Object.entries((isMapping(raw) ? raw : {}) as Dict)) {
    const d = (def ?? {}) as Dict;
    out[key] = { name: resourceName(project, key, d), ...d } as VolumeConfig;
  }
  return out;
}

export function normalizeFileObjects(project: string, raw: unknown): Record<string, FileObjectConfig> {
  const out: Record<string, FileObjectConfig> = {};
  for (const [key, def] of Object.entries((isMapping(raw) ? raw : {}) as Dict)) {
    const d = (def ?? {}) as Dict;
    out[key] = { name: resourceName(project, key, d), ...d } as FileObjectConfig;
  }
  return out;
}
