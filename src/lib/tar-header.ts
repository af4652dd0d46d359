/**
 * What a tar entry's header says, read the same way wherever tars come in (layers, cp into a
 * container): PAX records override the header's fields, which cannot hold large ids or fractions.
 */
import { invalidArgument } from './errors.js';

export interface TarHeaderFields {
  name: string;
  uid?: number;
  gid?: number;
  /** tar-stream's PAX records of the entry. */
  pax?: unknown;
}

function paxRecord(h: TarHeaderFields, key: string): string | undefined {
  const pax = h.pax as Record<string, string> | null | undefined;
  return pax?.[key];
}

/** The entry's owner: PAX uid/gid over the header's, 0 when absent. Throws unless each is a 32-bit id. */
export function tarEntryOwner(h: TarHeaderFields): { uid: number; gid: number } {
  return { uid: tarEntryId(h, 'uid'), gid: tarEntryId(h, 'gid') };
}

function tarEntryId(h: TarHeaderFields, key: 'uid' | 'gid'): number {
  const raw = paxRecord(h, key);
  const v = raw !== undefined ? Number(raw) : (h[key] ?? 0);
  if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) {
    throw invalidArgument(`invalid tar header for ${JSON.stringify(h.name)}: bad ${key} ${JSON.stringify(String(raw ?? h[key]))}`);
  }
  return v;
}

/** A PAX time of the entry in seconds (with its fraction), or undefined when absent or not a number. */
export function paxTime(h: TarHeaderFields, key: 'mtime' | 'atime'): number | undefined {
  const raw = paxRecord(h, key);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  return Number.isFinite(v) ? v : undefined;
}
