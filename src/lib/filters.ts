import { invalidArgument } from './errors.js';

/**
 * The Engine API's `filters` query parameter: JSON of either {"key": {"value": true}} (what the docker
 * CLI sends) or the older {"key": ["value"]}. Keys not in `allowed` are refused as dockerd refuses them.
 */
export class Filters {
  private constructor(private readonly map: Map<string, string[]>) {}

  static parse(raw: string | null | undefined, allowed: readonly string[]): Filters {
    const map = new Map<string, string[]>();
    if (raw && raw.trim() !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch (err) {
        throw invalidArgument(`invalid filter: ${(err as Error).message}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw invalidArgument('invalid filter: expected a JSON object');
      }
      for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
        const values = Array.isArray(value)
          ? value.map(String)
          : value && typeof value === 'object'
            ? Object.entries(value as Record<string, unknown>).filter(([, on]) => on).map(([v]) => v)
            : null;
        if (values === null) throw invalidArgument(`invalid filter: value of '${key}' must be a list or a map`);
        map.set(key, values);
      }
    }
    for (const key of map.keys()) {
      if (!allowed.includes(key)) throw invalidArgument(`invalid filter '${key}'`);
    }
    return new Filters(map);
  }

  static empty(): Filters {
    return new Filters(new Map());
  }

  has(key: string): boolean {
    return (this.map.get(key)?.length ?? 0) > 0;
  }

  get(key: string): string[] {
    return this.map.get(key) ?? [];
  }

  /** A boolean filter such as dangling=true; refuses values other than true/false/1/0 as Docker does. */
  bool(key: string): boolean | undefined {
    const values = this.get(key);
    if (values.length === 0) return undefined;
    const truthy = values.some((v) => v === 'true' || v === '1');
    const falsy = values.some((v) => v === 'false' || v === '0');
    const bad = values.find((v) => !['true', 'false', '1', '0'].includes(v));
    if (bad !== undefined) throw invalidArgument(`invalid filter '${key}=${bad}'`);
    if (truthy && falsy) throw invalidArgument(`invalid filter '${key}': conflicting values`);
    return truthy;
  }

  /** label=key or label=key=value, matched against a label map; all given must match. */
  matchLabels(labels: Record<string, string> | null | undefined, key = 'label'): boolean {
    return this.get(key).every((cond) => {
      const i = cond.indexOf('=');
      if (i < 0) return labels != null && cond in labels;
      return labels != null && labels[cond.slice(0, i)] === cond.slice(i + 1);
    });
  }
}
