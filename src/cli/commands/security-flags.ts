/**
 * `run`/`create` flags that keep a container inside, parsed as the docker CLI does before they reach the
 * daemon: `--security-opt` (a seccomp profile is read from its file here, on the client, and sent as
 * compact JSON; `systempaths=unconfined` becomes empty MaskedPaths/ReadonlyPaths), `--device`
 * (`src[:dst][:perm]`) and `--userns`.
 */
import { readFileSync } from 'node:fs';
import { CliError } from '../errors.js';

export interface SecurityFlags {
  securityOpt: string[] | null;
  /** [] to unmask everything (systempaths=unconfined), else null (the daemon's defaults). */
  maskedPaths: string[] | null;
  readonlyPaths: string[] | null;
}

export function parseSecurityOptFlags(opts: readonly string[]): SecurityFlags {
  const out: SecurityFlags = { securityOpt: null, maskedPaths: null, readonlyPaths: null };
  const list: string[] = [];
  for (const opt of opts) {
    if (opt === 'systempaths=unconfined') {
      out.maskedPaths = [];
      out.readonlyPaths = [];
      continue;
    }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    const key = sep ? opt.slice(0, opt.indexOf(sep)) : opt;
    const value = sep ? opt.slice(opt.indexOf(sep) + 1) : '';
    if (key === 'seccomp' && value !== 'unconfined' && value !== 'builtin') {
      let text: string;
      try {
        text = readFileSync(value, 'utf8');
      } catch (e) {
        throw new CliError(`opening seccomp profile (${value}) failed: ${(e as Error).message}`);
      }
      try {
        list.push(`seccomp=${JSON.stringify(JSON.parse(text))}`);
      } catch (e) {
        throw new CliError(`compacting json for seccomp profile (${value}) failed: ${(e as Error).message}`);
      }
      continue;
    }
    list.push(opt);
  }
  if (list.length) out.securityOpt = list;
  return out;
}

const validDeviceMode = (m: string): boolean => m.length > 0 && m.length <= 3 && /^[rwm]+$/.test(m) && new Set(m).size === m.length;

/** `--device src[:dst][:perm]` into a DeviceMapping (docker's parseLinuxDevice + validation). */
export function parseDeviceFlag(device: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = device.split(':');
  if (parts.length > 3) throw new CliError(`invalid device specification: ${device}`);
  const src = parts[0] ?? '';
  let dst = '';
  let permissions = 'rwm';
  if (parts.length === 3) permissions = parts[2]!;
  if (parts.length >= 2) {
    if (validDeviceMode(parts[1]!)) permissions = parts[1]!;
    else dst = parts[1]!;
  }
  if (!validDeviceMode(permissions)) throw new CliError(`bad mode specified: ${permissions}`);
  if (!src.startsWith('/')) throw new CliError(`bad format for path: ${src}`);
  if (dst !== '' && !dst.startsWith('/')) throw new CliError(`bad format for path: ${dst}`);
  return { PathOnHost: src, PathInContainer: dst || src, CgroupPermissions: permissions };
}

/** `--userns`: '' or 'host'. */
export function checkUsernsFlag(mode: string): string {
  if (mode !== '' && mode.split(':')[0] !== 'host') throw new CliError('--userns: invalid USER mode');
  return mode;
}
