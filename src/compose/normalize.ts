/**
 * The merged, canonical data turned into the typed model (types.ts): commands split, environment
 * completed from env_file and the process environment, durations in Go's form, ulimits and healthchecks
 * in their long form, default network and resource names under the project's name.
 */
import path from 'node:path';
import { parseDurationNs, formatDuration } from './duration.js';
import { readEnvFile } from './env-file.js';
import type { WarnFn } from './errors.js';
import { isMapping } from './interpolate.js';
import { shellSplit } from './shell-split.js';
import { parseBytes } from './units.js';
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

/** What `compose config --no-normalize` / `--no-path-resolution` turn off. */
export interface NormalizeOptions {
  /** Default network, Dockerfile name and `<project>_<key>` resource names (default true). */
  normalize?: boolean;
  /** Base for files still relative (with --no-path-resolution). */
  projectDir?: string;
}

/** `label_file`: KEY=VALUE lines, under the service's own `labels`. */
function fileLabels(files: unknown, projectDir: string, labels: Record<string, string>): Record<string, string> {
  const list = (Array.isArray(files) ? files : [files]).map(String);
  const fromFiles: Record<string, string> = {};
  for (const file of list) Object.assign(fromFiles, readEnvFile(path.resolve(projectDir, file), () => undefined, true));
  return { ...fromFiles, ...labels };
}

const SIZE_KEYS = ['mem_limit', 'memswap_limit', 'mem_reservation', 'shm_size'];

function deployResources(raw: Dict, where: string): Dict {
  const out: Dict = { ...raw };
  for (const kind of ['limits', 'reservations']) {
    const r = raw[kind];
    if (isMapping(r) && r.memory !== undefined) out[kind] = { ...r, memory: String(parseBytes(r.memory as string | number, `${where}.deploy.resources.${kind}.memory`)) };
  }
  return out;
}

export function normalizeService(name: string, raw: Dict, env: Record<string, string>, warn: WarnFn, options: NormalizeOptions = {}): ServiceConfig {
  const svc: Dict = { ...raw };
  const where = `services.${name}`;
  const projectDir = options.projectDir ?? process.cwd();
  for (const key of ['command', 'entrypoint']) if (key in svc) svc[key] = commandList(svc[key]);

  const environment: Record<string, string | null> = {};
  for (const file of (svc.env_file ?? []) as EnvFileConfig[]) {
    Object.assign(environment, readEnvFile(path.resolve(projectDir, file.path), (n) => env[n], file.required, warn, file.format));
  }
  for (const [key, value] of Object.entries((svc.environment ?? {}) as Record<string, string | null>)) {
    environment[key] = value === null ? (env[key] ?? null) : value;
  }
  svc.environment = environment;
  svc.labels = svc.labels ?? {};
  if (svc.label_file !== undefined) {
    svc.labels = fileLabels(svc.label_file, projectDir, svc.labels as Record<string, string>);
    delete svc.label_file;
  }
  if (typeof svc.tmpfs === 'string') svc.tmpfs = [svc.tmpfs];
  svc.ports = svc.ports ?? [];
  svc.volumes = svc.volumes ?? [];
  svc.depends_on = svc.depends_on ?? {};
  const normalize = options.normalize !== false;
  if (normalize && svc.networks === undefined && svc.network_mode === undefined) svc.networks = { default: null };
  svc.networks = svc.networks ?? {};
  if (isMapping(svc.healthcheck)) svc.healthcheck = healthcheck(svc.healthcheck, where);
  if (isMapping(svc.ulimits)) svc.ulimits = ulimits(svc.ulimits);
  if (svc.stop_grace_period !== undefined) svc.stop_grace_period = formatDuration(parseDurationNs(svc.stop_grace_period as string, `${where}.stop_grace_period`));
  if (normalize && isMapping(svc.build) && svc.build.dockerfile === undefined && svc.build.dockerfile_inline === undefined) {
    svc.build = { ...svc.build, dockerfile: 'Dockerfile' };
  }
  if (svc.scale !== undefined) svc.scale = Number(svc.scale);
  // Sizes as docker compose prints them: a byte count in a string ("536870912").
  for (const key of SIZE_KEYS) if (svc[key] !== undefined) svc[key] = String(parseBytes(svc[key] as string | number, `${where}.${key}`));
  if (isMapping(svc.deploy) && isMapping(svc.deploy.resources)) svc.deploy = { ...svc.deploy, resources: deployResources(svc.deploy.resources, where) };
  if (isMapping(svc.deploy) && svc.deploy.replicas !== undefined) svc.deploy = { ...svc.deploy, replicas: Number(svc.deploy.replicas) };
  return { ...(svc as Omit<ServiceConfig, 'name'>), name } as ServiceConfig;
}

function resourceName(project: string, key: string, def: Dict, normalize = true): string | undefined {
  if (typeof def.name === 'string') return def.name;
  if (!normalize) return undefined;
  return def.external ? key : `${project}_${key}`;
}

function withName(project: string, key: string, def: Dict, normalize: boolean): Dict {
  const name = resourceName(project, key, def, normalize);
  return name === undefined ? { ...def } : { name, ...def };
}

export function normalizeNetworks(project: string, raw: unknown, services: ServiceConfig[], normalize = true): Record<string, NetworkConfig> {
  const out: Record<string, NetworkConfig> = {};
  const defined = (isMapping(raw) ? raw : {}) as Dict;
  const usesDefault = services.some((s) => 'default' in s.networks);
  const entries = Object.entries(defined);
  if (usesDefault && !('default' in defined)) entries.unshift(['default', {}]);
  for (const [key, def] of entries) {
    const d = (def ?? {}) as Dict;
    out[key] = withName(project, key, d, normalize) as NetworkConfig;
  }
  return out;
}

export function normalizeVolumes(project: string, raw: unknown, normalize = true): Record<string, VolumeConfig> {
  const out: Record<string, VolumeConfig> = {};
  for (const [key, def] of Object.entries((isMapping(raw) ? raw : {}) as Dict)) {
    const d = (def ?? {}) as Dict;
    out[key] = withName(project, key, d, normalize) as VolumeConfig;
  }
  return out;
}

export function normalizeFileObjects(project: string, raw: unknown, normalize = true): Record<string, FileObjectConfig> {
  const out: Record<string, FileObjectConfig> = {};
  for (const [key, def] of Object.entries((isMapping(raw) ? raw : {}) as Dict)) {
    const d = (def ?? {}) as Dict;
    out[key] = withName(project, key, d, normalize) as FileObjectConfig;
  }
  return out;
}
