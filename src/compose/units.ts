/**
 * Sizes and CPU counts as compose files write them: docker/go-units' RAMInBytes (1024-based units,
 * `b`, `k`, `m`, `g`, `t`, `p`, optional `i`/`b` suffix, case-insensitive) and decimal CPU counts.
 */
import { ComposeError } from './errors.js';

const MULTIPLIER: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Bytes from a number or a string such as "512m", "1.5GB", "64k"; `where` names the key in errors. */
export function parseBytes(value: number | string, where: string): number {
  if (typeof value === 'number') return Math.trunc(value);
  if (/^-1$/.test(value.trim())) return -1;
  const m = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(value.trim());
  if (!m) throw new ComposeError(`${where}: invalid size: '${value}'`);
  return Math.trunc(Number(m[1]) * MULTIPLIER[(m[2] ?? '').toLowerCase()]);
}

/** Nano CPUs from "0.5" or 1.5. */
export function parseNanoCpus(value: number | string, where: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n < 0 || (typeof value === 'string' && value.trim() === '')) {
    throw new ComposeError(`${where}: invalid cpus value: '${String(value)}'`);
  }
  return Math.round(n * 1e9);
}

/** A string or a list of strings as a list (dns, dns_search, tmpfs accept both). */
export function stringList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}
