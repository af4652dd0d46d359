/**
 * An OCI distribution-spec conformance suite, written from spec.md: a client of any registry.
 * runConformance() runs every check against one registry and says, for each, pass / fail (with what
 * the registry answered) / skip (an optional feature absent, or a setting such as deletion off).
 */
import { RegistryClient } from './client.js';
import { Context, Failure, Skip, type Category, type Check, type Level } from './context.js';
import { pullChecks } from './pull.js';
import { pushChecks } from './push.js';
import { discoveryChecks } from './discovery.js';
import { managementChecks } from './management.js';

export type { Category, Level, Check };

export interface ConformanceTarget {
  name: string;
  /** http(s)://host:port of the registry. */
  url: string;
  /** PEM of the CA to trust for https. */
  ca?: string;
  auth?: { username: string; password: string };
}

export type Status = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  category: Category;
  level: Level;
  requirement: string;
  status: Status;
  /** For fail and skip: what was seen. */
  detail: string;
  ms: number;
}

export const CATEGORIES: Category[] = ['Pull', 'Push', 'Content Discovery', 'Content Management'];

export const allChecks: Check[] = [...pullChecks, ...pushChecks, ...discoveryChecks, ...managementChecks];

export interface RunOptions {
  /** Only these categories (default all). */
  categories?: Category[];
  /** Only checks whose id is listed. */
  ids?: string[];
}

export async function runConformance(target: ConformanceTarget, o: RunOptions = {}): Promise<CheckResult[]> {
  const client = new RegistryClient(target);
  const ctx = new Context(client, target);
  const results: CheckResult[] = [];
  try {
    for (const check of allChecks) {
      if (o.categories && !o.categories.includes(check.category)) continue;
      if (o.ids && !o.ids.includes(check.id)) continue;
      const t0 = performance.now();
      let status: Status = 'pass';
      let detail = '';
      try {
        await check.run(ctx);
      } catch (e) {
        if (e instanceof Skip) {
          status = 'skip';
          detail = e.message;
        } else {
          status = 'fail';
          detail = e instanceof Failure ? e.message : `error: ${(e as Error).message ?? String(e)}`;
        }
      }
      results.push({ id: check.id, category: check.category, level: check.level, requirement: check.requirement, status, detail, ms: Math.round(performance.now() - t0) });
    }
  } finally {
    client.close();
  }
  return results;
}

/** A side-by-side table: check id | level | one column per registry (PASS / FAIL / skip). */
export function formatTable(columns: Array<{ name: string; results: CheckResult[] | undefined }>): string {
  const ids = allChecks.map((c) => c.id).filter((id) => columns.some((col) => col.results?.some((r) => r.id === id)));
  const cell = (col: { results: CheckResult[] | undefined }, id: string) => {
    if (!col.results) return 'n/a';
    const r = col.results.find((x) => x.id === id);
    return r ? (r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'skip') : '-';
  };
  const rows = [['check', 'level', ...columns.map((c) => c.name)], ...ids.map((id) => [id, allChecks.find((c) => c.id === id)!.level, ...columns.map((c) => cell(c, id))])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((v, i) => v.padEnd(widths[i]!)).join(' | ') + ' |';
  const out = [line(rows[0]!), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.slice(1).map(line)];
  return out.join('\n');
}

/** The fail and skip details of one column, for the log under the table. */
export function formatDetails(name: string, results: CheckResult[]): string {
  return results
    .filter((r) => r.status !== 'pass')
    .map((r) => `${name} ${r.status.toUpperCase()} ${r.id}: ${r.detail}`)
    .join('\n');
}

export function summary(results: CheckResult[]): Record<Status, number> {
  const s: Record<Status, number> = { pass: 0, fail: 0, skip: 0 };
  for (const r of results) s[r.status]++;
  return s;
}
