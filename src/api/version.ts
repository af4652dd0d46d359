/** The API versions Berth serves, as dockerd advertises them. */
export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';
export const BERTH_VERSION = '0.1.0';

/** Compares "1.41" style versions numerically. */
export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

export function versionAtLeast(version: string, min: string): boolean {
  return compareVersions(version, min) >= 0;
}
