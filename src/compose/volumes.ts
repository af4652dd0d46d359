/**
 * Service `volumes` in both forms. Short form `[SOURCE:]TARGET[:MODE]`: a source starting with `.`, `/`
 * or `~` is a bind mount, any other a named volume, none an anonymous volume. Relative sources are
 * resolved against the project directory, `~` against the home directory.
 */
import os from 'node:os';
import path from 'node:path';
import { ComposeError } from './errors.js';
import type { VolumeMount } from './types.js';

const PROPAGATION = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

function isPathSource(source: string): boolean {
  return source.startsWith('.') || source.startsWith('/') || source.startsWith('~') || /^[A-Za-z]:[\\/]/.test(source);
}

export function parseVolumeShort(spec: string): VolumeMount {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && i < parts.length)) throw new ComposeError(`invalid spec: ${spec}: empty section between colons`);
  let source: string | undefined;
  let target: string;
  let mode: string | undefined;
  if (parts.length === 1) target = parts[0];
  else if (parts.length === 2) {
    // `/data:ro` is a target with a mode; `src:/data` a source and a target.
    if (parts[1].startsWith('/')) [source, target] = parts;
    else if (/^(ro|rw|z|Z|nocopy|[a-z,]+)$/.test(parts[1]) && parts[0].startsWith('/')) [target, mode] = parts;
    else [source, target] = parts;
  } else [source, target, mode] = parts;
  const mount: VolumeMount = { type: source === undefined ? 'volume' : isPathSource(source) ? 'bind' : 'volume', target };
  if (source !== undefined) mount.source = source;
  for (const option of mode ? mode.split(',') : []) {
    if (option === 'ro') mount.read_only = true;
    else if (option === 'rw') mount.read_only = false;
    else if (option === 'z' || option === 'Z') mount.bind = { ...mount.bind, selinux: option };
    else if (option === 'nocopy') mount.volume = { ...mount.volume, nocopy: true };
    else if (PROPAGATION.has(option)) mount.bind = { ...mount.bind, propagation: option };
    else if (option === 'cached' || option === 'delegated' || option === 'consistent') mount.consistency = option;
    else throw new ComposeError(`invalid spec: ${spec}: unknown option: ${option}`);
  }
  if (mount.type === 'bind') mount.bind = { ...mount.bind, create_host_path: true };
  if (mount.type === 'volume') mount.volume = { ...mount.volume };
  if (mount.read_only === false) delete mount.read_only;
  return mount;
}

const KEY_ORDER = ['type', 'source', 'target', 'read_only', 'consistency', 'bind', 'volume', 'tmpfs'];

/** Keys in the order docker compose prints a mount. */
function ordered(mount: VolumeMount): VolumeMount {
  const raw = mount as unknown as Record<string, unknown>;
  const keys = [...KEY_ORDER.filter((k) => k in raw), ...Object.keys(raw).filter((k) => !KEY_ORDER.includes(k))];
  return Object.fromEntries(keys.map((k) => [k, raw[k]])) as unknown as VolumeMount;
}

export function parseVolume(item: unknown): VolumeMount {
  if (typeof item === 'string') return ordered(parseVolumeShort(item));
  const mount = { ...(item as Record<string, unknown>) } as unknown as VolumeMount;
  if (mount.type === 'bind' && mount.bind?.create_host_path === undefined) mount.bind = { ...mount.bind, create_host_path: true };
  return ordered(mount);
}

export function expandHome(source: string, home = os.homedir()): string {
  if (source === '~') return home;
  if (source.startsWith('~/')) return path.join(home, source.slice(2));
  return source;
}

/** Absolute bind sources; `~` and relative ones resolved. */
export function resolveMountPaths(mount: VolumeMount, baseDir: string): VolumeMount {
  if (mount.type !== 'bind' || mount.source === undefined) return mount;
  return { ...mount, source: path.resolve(baseDir, expandHome(mount.source)) };
}
