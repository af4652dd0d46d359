/**
 * Merging Compose files (compose-spec merge.md): mappings merge key by key, sequences append, except
 * `command`, `entrypoint` and `healthcheck.test` (replaced) and the unique resources ports (by ip, target,
 * published, protocol), volumes, secrets and configs (by target), whose matching entries merge.
 * `!reset` removes a value, `!override` replaces it. Inputs are canonical (canonical.ts).
 */
import { isMapping, Tagged } from './interpolate.js';
import { portKey } from './ports.js';
import type { PortConfig } from './types.js';

type Dict = Record<string, unknown>;

const REPLACED = new Set(['services.*.command', 'services.*.entrypoint', 'services.*.healthcheck.test']);

const UNIQUE_KEYS: Record<string, (item: unknown) => string> = {
  'services.*.ports': (item) => portKey(item as PortConfig),
  'services.*.volumes': (item) => String((item as Dict).target),
  'services.*.secrets': (item) => String((item as Dict).target ?? (item as Dict).source),
  'services.*.configs': (item) => String((item as Dict).target ?? (item as Dict).source),
  'services.*.env_file': (item) => String((item as Dict).path),
};

function pattern(pathParts: string[]): string {
  return pathParts.map((p, i) => (i === 1 && pathParts[0] === 'services' ? '*' : p)).join('.');
}

/** Drops `!reset` values and unwraps `!override` ones where nothing is underneath to merge with. */
export function stripTags(value: unknown): unknown {
  if (value instanceof Tagged) return value.tag === 'reset' ? undefined : stripTags(value.value);
  if (Array.isArray(value)) return value.map(stripTags).filter((v) => v !== undefined);
  if (isMapping(value)) {
    const out: Dict = {};
    for (const [k, v] of Object.entries(value)) {
      const s = stripTags(v);
      if (s !== undefined) out[k] = s;
    }
    return out;
  }
  return value;
}

export function mergeValues(base: unknown, over: unknown, pathParts: string[] = []): unknown {
  if (over instanceof Tagged) return over.tag === 'reset' ? undefined : stripTags(over.value);
  const where = pattern(pathParts);
  if (isMapping(base) && isMapping(over)) {
    const out: Dict = { ...base };
    for (const [key, value] of Object.entries(over)) {
      const merged = key in base ? mergeValues(base[key], value, [...pathParts, key]) : stripTags(value);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over) && !REPLACED.has(where)) {
    const keyOf = UNIQUE_KEYS[where];
    const incoming = stripTags(over) as unknown[];
    if (keyOf) {
      const out = [...base];
      for (const item of incoming) {
        const at = out.findIndex((existing) => keyOf(existing) === keyOf(item));
        if (at >= 0) out[at] = mergeValues(out[at], item, [...pathParts, '[]']);
        else out.push(item);
      }
      return out;
    }
    const seen = new Set(base.map((v) => JSON.stringify(v)));
    return [...base, ...incoming.filter((v) => !seen.has(JSON.stringify(v)))];
  }
  return stripTags(over);
}

/** Merges whole files in order, later files overriding earlier ones. */
export function mergeFiles(files: Dict[]): Dict {
  let out: Dict = {};
  for (const file of files) out = mergeValues(out, file) as Dict;
  return out;
}
