/**
 * `compose config`: the resolved model in docker compose's shape: top-level keys name, services,
 * networks, volumes, secrets, configs, then extensions; services and their keys in alphabetical order;
 * empty collections left out. A pure function of the project; the CLI command prints its result.
 */
import { stringify } from 'yaml';
import type { ComposeProject, ServiceConfig, UlimitConfig } from './types.js';

type Dict = Record<string, unknown>;

function isEmpty(value: unknown): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]]));
}

const ALWAYS_KEPT = new Set(['networks', 'volume']);

function serviceShape(svc: ServiceConfig): Dict {
  const out: Dict = {};
  for (const key of Object.keys(svc).sort()) {
    if (key === 'name') continue;
    let value = svc[key];
    if (isEmpty(value) && !ALWAYS_KEPT.has(key)) continue;
    if (key === 'environment' || key === 'labels' || key === 'depends_on' || key === 'networks') value = sortedKeys(value as Dict);
    if (key === 'ulimits') {
      value = Object.fromEntries(
        Object.entries(value as Record<string, UlimitConfig>).map(([n, u]) => [n, u.single !== undefined ? u.single : { soft: u.soft, hard: u.hard }]),
      );
    }
    out[key] = value;
  }
  return out;
}

/** The model as docker compose's `config` prints it, as plain data. */
export function configModel(project: ComposeProject): Dict {
  const out: Dict = { name: project.name };
  out.services = Object.fromEntries(Object.keys(project.services).sort().map((n) => [n, serviceShape(project.services[n])]));
  for (const key of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    if (!isEmpty(project[key])) out[key] = sortedKeys(project[key] as Dict);
  }
  for (const [key, value] of Object.entries(project.extensions)) out[key] = value;
  return out;
}

export function configYaml(project: ComposeProject): string {
  return stringify(configModel(project), { indent: 2, lineWidth: 0, aliasDuplicateObjects: false });
}

export function configJson(project: ComposeProject): string {
  return JSON.stringify(configModel(project), null, 2) + '\n';
}
