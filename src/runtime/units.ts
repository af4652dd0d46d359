/** Small value parsers shared by the spec builder and resource validation. */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Docker's default for HostConfig.ShmSize (64 MiB). */
export const DEFAULT_SHM_SIZE = 64 * MiB;

/** The most CPUs (or memory nodes) a cpuset list may name, unless the host has more (CVE-2018-20699). */
export const DEFAULT_MAX_CPUS = 8192;

/**
 * Parses a cgroup cpuset list ("7", "1-6", "0,3-4,7,8-10"; duplicates allowed) into its members, as
 * Docker's sysinfo does. Throws Error `invalid format: VAL` or `value of out range, maximum is N`
 * (Docker's wording, typo included) so callers can wrap the message.
 */
export function parseCpusetList(val: string, maximum = DEFAULT_MAX_CPUS): Set<number> {
  const out = new Set<number>();
  if (val === '') return out;
  const bad = () => new Error(`invalid format: ${val}`);
  const num = (s: string): number => {
    // Go's strconv.Atoi: optional sign, decimal digits only.
    if (!/^[+-]?\d+$/.test(s)) throw bad();
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw bad();
    return n;
  };
  for (const r of val.split(',')) {
    const dash = r.indexOf('-');
    if (dash < 0) {
      const v = num(r);
      if (v < 0) throw bad();
      if (maximum !== 0 && v > maximum) throw new Error(`value of out range, maximum is ${maximum}`);
      out.add(v);
    } else {
      const lo = num(r.slice(0, dash));
      const hi = num(r.slice(dash + 1));
      if (hi < lo || lo < 0) throw bad();
      if (maximum !== 0 && hi > maximum) throw new Error(`value of out range, maximum is ${maximum}`);
      for (let i = lo; i <= hi; i++) out.add(i);
    }
  }
  return out;
}
