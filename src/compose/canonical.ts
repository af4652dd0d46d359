/**
 * One file's services put in canonical form before files are merged, so the merge can work by key:
 * lists of KEY=VALUE become mappings, short ports and volumes their long form, depends_on and networks
 * mappings, and relative paths absolute against the file's base directory.
 */
import path from 'node:path';
import { isMapping, Tagged } from './interpolate.js';
import { parsePorts } from './ports.js';
import { expandHome, parseVolume, resolveMountPaths } from './volumes.js';

type Dict = Record<string, unknown>;

/** `["A=1", "B"]` -> `{A: "1", B: null}`; a mapping keeps its keys, values as strings (null stays null). */
export function toKeyValueMap(value: unknown, separator = '='): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(value)) {
    for (const item of value) {
      const text = String(item);
      const at = text.indexOf(separator);
      if (at < 0) out[text] = null;
      else out[text.slice(0, at)] = text.slice(at + 1);
    }
  } else if (isMapping(value)) {
    for (const [key, v] of Object.entries(value)) out[key] = v === null || v === undefined ? null : String(v);
  }
  return out;
}

export function isRemoteContext(context: string): boolean {
  return /^(https?:\/\/|git:\/\/|git@|github\.com\/|ssh:\/\/)/.test(context) || context.includes('://');
}

/** `--no-path-resolution` (compose config): relative paths are left as written. */
export interface CanonicalOptions {
  resolvePaths?: boolean;
}

function pathResolver(baseDir: string, options: CanonicalOptions): (p: string) => string {
  return options.resolvePaths === false ? (p) => p : (p) => path.resolve(baseDir, expandHome(p));
}

function mapKeys(value: unknown, f: (v: unknown) => unknown): unknown {
  if (value instanceof Tagged) return new Tagged(value.tag, f(value.value));
  return value === undefined ? undefined : f(value);
}

export function canonicalService(raw: Dict, baseDir: string, options: CanonicalOptions = {}): Dict {
  const s: Dict = { ...raw };
  const resolvePath = pathResolver(baseDir, options);
  const apply = (key: string, f: (v: unknown) => unknown) => {
    if (key in s) s[key] = mapKeys(s[key], f);
  };
  for (const key of ['environment', 'labels', 'sysctls', 'annotations']) apply(key, (v) => toKeyValueMap(v));
  apply('ports', (v) => (Array.isArray(v) ? parsePorts(v) : v));
  apply('expose', (v) => (Array.isArray(v) ? v.map(String) : v));
  const mount = (item: unknown) => (options.resolvePaths === false ? parseVolume(item) : resolveMountPaths(parseVolume(item), baseDir));
  apply('volumes', (v) => (Array.isArray(v) ? v.map(mount) : v));
  apply('networks', (v) => (Array.isArray(v) ? Object.fromEntries(v.map((n) => [String(n), null])) : v));
  apply('depends_on', (v) => {
    const entries: [string, unknown][] = Array.isArray(v) ? v.map((n) => [String(n), {}]) : Object.entries(v as Dict);
    return Object.fromEntries(
      entries.map(([name, d]) => {
        const dep = (d ?? {}) as Dict;
        const out: Dict = { condition: dep.condition ?? 'service_started' };
        if (dep.restart !== undefined) out.restart = dep.restart;
        out.required = dep.required ?? true;
        return [name, out];
      }),
    );
  });
  apply('build', (v) => {
    const build: Dict = typeof v === 'string' ? { context: v } : { ...(v as Dict) };
    const context = typeof build.context === 'string' ? build.context : '.';
    build.context = isRemoteContext(context) ? context : resolvePath(context);
    for (const key of ['args', 'labels']) if (key in build) build[key] = toKeyValueMap(build[key]);
    return build;
  });
  apply('env_file', (v) =>
    (Array.isArray(v) ? v : [v]).map((item) => {
      const entry: Dict = typeof item === 'string' ? { path: item } : { ...(item as Dict) };
      return { ...entry, path: resolvePath(String(entry.path)), required: entry.required ?? true };
    }),
  );
  apply('extra_hosts', (v) => {
    if (Array.isArray(v)) return v.map((h) => String(h).replace(/^([^=:]+)[:=]/, '$1='));
    return Object.entries(v as Dict).flatMap(([host, ip]) => (Array.isArray(ip) ? ip : [ip]).map((one) => `${host}=${String(one)}`));
  });
  for (const key of ['secrets', 'configs']) {
    apply(key, (v) => (Array.isArray(v) ? v.map((item) => (typeof item === 'string' ? { source: item } : item)) : v));
  }
  if (isMapping(s.deploy) && s.deploy.labels !== undefined) s.deploy = { ...s.deploy, labels: toKeyValueMap(s.deploy.labels) };
  return s;
}

/** Canonical form of a whole file: every service, and file-backed secrets and configs resolved. */
export function canonicalFile(data: Dict, baseDir: string, options: CanonicalOptions = {}): Dict {
  const out: Dict = { ...data };
  const resolvePath = pathResolver(baseDir, options);
  if (isMapping(data.services)) {
    out.services = Object.fromEntries(
      Object.entries(data.services).map(([name, svc]) => [name, isMapping(svc) ? canonicalService(svc, baseDir, options) : svc ?? {}]),
    );
  }
  for (const key of ['secrets', 'configs']) {
    const section = data[key];
    if (!isMapping(section)) continue;
    out[key] = Object.fromEntries(
      Object.entries(section).map(([name, def]) => {
        const d = { ...((def ?? {}) as Dict) };
        if (typeof d.file === 'string') d.file = resolvePath(d.file);
        return [name, d];
      }),
    );
  }
  return out;
}
