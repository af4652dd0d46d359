/**
 * `compose config`: the resolved model in docker compose's shape: top-level keys name, services,
 * networks, volumes, secrets, configs, then extensions; services and their keys in alphabetical order;
 * empty collections left out. A pure function of the project; the CLI command prints its result.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { serviceConfigHash } from './engine/config-hash.js';
import { ComposeError } from './errors.js';
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

/** `compose config` flags (docker compose's cmd/compose/config.go); loader flags are LoadOptions. */
export interface RenderConfigOptions {
  /** --services: service names, one per line, dependencies first. */
  services?: boolean;
  /** --volumes / --networks: the keys of the top-level sections, one per line. */
  volumes?: boolean;
  networks?: boolean;
  /** --hash "svc,..." or "*": `<service> <config hash>` lines. */
  hash?: string;
  /** --profiles: every profile any service names, sorted. */
  profiles?: boolean;
  /** --images: the image each service runs (`<project>-<service>` for a build without image). */
  images?: boolean;
  /** --environment: the interpolation environment, `KEY=value` lines. */
  environment?: boolean;
  /** -q: nothing printed (the project was already loaded, hence validated). */
  quiet?: boolean;
  /** --format yaml|json (default yaml). */
  format?: string;
  /** -o FILE: written there instead of printed. */
  output?: string;
  /** false with --no-interpolate: `$` is then not doubled in the output. */
  interpolated?: boolean;
}

/** Services with what they depend on first (compose-go's ForEachService order), names sorted otherwise. */
export function servicesInDependencyOrder(project: ComposeProject): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !project.services[name]) return;
    seen.add(name);
    for (const dep of Object.keys(project.services[name].depends_on).sort()) visit(dep);
    out.push(name);
  };
  for (const name of Object.keys(project.services).sort()) visit(name);
  return out;
}

function lines(items: string[]): string {
  return items.map((i) => `${i}\n`).join('');
}

function selectedForHash(project: ComposeProject, spec: string): string[] {
  if (spec === '*') return Object.keys(project.services).sort();
  const names = spec.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!project.services[n]) throw new ComposeError(`no such service: ${n}`);
  return names;
}

/**
 * The text `compose config` prints for these options ('' when -q, or when -o wrote it to a file).
 * Throws ComposeError for an unknown format or service.
 */
export function renderConfig(project: ComposeProject, opts: RenderConfigOptions = {}): string {
  let text: string;
  if (opts.services) text = lines(servicesInDependencyOrder(project));
  else if (opts.volumes) text = lines(Object.keys(project.volumes).sort());
  else if (opts.networks) text = lines(Object.keys(project.networks).sort());
  else if (opts.hash) text = lines(selectedForHash(project, opts.hash).map((n) => `${n} ${serviceConfigHash(project.services[n])}`));
  else if (opts.profiles) {
    const all = [...Object.values(project.services), ...Object.values(project.disabledServices)].flatMap((s) => s.profiles ?? []);
    text = lines([...new Set(all)].sort());
  } else if (opts.environment) {
    text = lines(Object.keys(project.environment).sort().map((k) => `${k}=${project.environment[k]}`));
  } else if (opts.images) {
    text = lines(Object.keys(project.services).sort().map((n) => project.services[n].image ?? `${project.name}-${n}`));
  } else {
    const format = opts.format || 'yaml';
    if (format === 'yaml') text = configYaml(project);
    else if (format === 'json') text = configJson(project);
    else throw new ComposeError(`unsupported format ${JSON.stringify(format)}`);
    // The model is printed interpolated; `$` doubled keeps it a valid file for a later load.
    if (opts.interpolated !== false) text = text.replaceAll('$', '$$$$');
    if (opts.quiet) return '';
    if (opts.output && text.length > 0) {
      writeFileSync(opts.output, text, { mode: 0o666 });
      return '';
    }
    return text;
  }
  return opts.quiet ? '' : text;
}
