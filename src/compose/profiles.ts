/**
 * Profiles: a service without `profiles` is always on; one with profiles is on when one of them is
 * active (`--profile`, COMPOSE_PROFILES, `*` for all) or when it is named on the command line, which
 * also brings in what it depends on.
 */
type Dict = Record<string, unknown>;

export function activeProfiles(flags: string[] | undefined, env: Record<string, string>): Set<string> {
  const fromEnv = (env.COMPOSE_PROFILES ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  return new Set([...(flags ?? []), ...fromEnv]);
}

export function splitByProfiles(services: Record<string, Dict>, active: Set<string>, named: string[] = []): { enabled: string[]; disabled: string[] } {
  const on = new Set<string>();
  const isActive = (svc: Dict) => {
    const profiles = Array.isArray(svc.profiles) ? (svc.profiles as string[]) : [];
    return profiles.length === 0 || active.has('*') || profiles.some((p) => active.has(p));
  };
  for (const [name, svc] of Object.entries(services)) if (isActive(svc)) on.add(name);
  const pull = (name: string) => {
    if (!services[name] || (on.has(name) && !named.includes(name))) return;
    on.add(name);
    for (const dep of Object.keys((services[name].depends_on ?? {}) as Dict)) if (!on.has(dep)) pull(dep);
  };
  for (const name of named) pull(name);
  const names = Object.keys(services);
  return { enabled: names.filter((n) => on.has(n)), disabled: names.filter((n) => !on.has(n)) };
}
