/**
 * `extends`: a service starts from another one, in the same file or in another (whose relative paths
 * stay relative to that file), then its own keys merge over by the usual merge rules. A base that
 * depends on other services by links, volumes_from or a service:/container: mode cannot be extended.
 */
import path from 'node:path';
import { ComposeError } from './errors.js';
import { isMapping } from './interpolate.js';
import { mergeValues } from './merge.js';

type Dict = Record<string, unknown>;

/** Gives the canonical services of another file (read, interpolated, validated). */
export type ServicesOfFile = (file: string) => Dict;

function restriction(base: Dict): string | undefined {
  if (base.links !== undefined) return 'links';
  if (base.volumes_from !== undefined) return 'volumes_from';
  for (const key of ['network_mode', 'ipc', 'pid']) {
    const value = base[key];
    if (typeof value === 'string' && (value.startsWith('service:') || value.startsWith('container:'))) return key;
  }
  return undefined;
}

export function resolveExtends(services: Dict, file: string, servicesOf: ServicesOfFile, trail: string[] = []): Dict {
  const done: Dict = {};
  const resolve = (name: string, stack: string[]): Dict => {
    if (done[name]) return done[name] as Dict;
    const svc = (services[name] ?? {}) as Dict;
    const spec = svc.extends;
    if (spec === undefined) return (done[name] = svc);
    const ref = typeof spec === 'string' ? { service: spec } : (spec as Dict);
    const baseName = String(ref.service);
    const key = `${file}#${name}`;
    if (stack.includes(key)) throw new ComposeError(`circular reference with extends: ${[...stack, key].map((k) => k.split('#')[1]).join(' -> ')}`);
    let base: Dict;
    let baseFile = file;
    if (typeof ref.file === 'string') {
      baseFile = path.resolve(path.dirname(file), ref.file);
      const other = servicesOf(baseFile);
      if (!isMapping(other[baseName])) throw new ComposeError(`cannot extend service "${name}" in ${file}: service "${baseName}" not found in ${baseFile}`);
      base = resolveExtends({ [baseName]: other[baseName], ...other }, baseFile, servicesOf, [...stack, key])[baseName] as Dict;
    } else {
      if (!isMapping(services[baseName])) throw new ComposeError(`cannot extend service "${name}" in ${file}: service "${baseName}" not found`);
      base = resolve(baseName, [...trail, ...stack, key]);
    }
    const refused = restriction(base);
    if (refused) throw new ComposeError(`cannot extend service "${baseName}" in ${baseFile}: services with "${refused}" cannot be extended`);
    const { extends: _omit, ...own } = svc;
    const merged = mergeValues(baseWithout(base), own, ['services', name]) as Dict;
    return (done[name] = merged);
  };
  const out: Dict = {};
  for (const name of Object.keys(services)) out[name] = resolve(name, trail);
  return out;
}

function baseWithout(base: Dict): Dict {
  const { extends: _omit, ...rest } = base;
  return rest;
}
