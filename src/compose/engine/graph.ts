/**
 * The services' dependency graph (depends_on) and the walks docker compose makes over it: in
 * dependency order for up/create/start (a service starts once everything it depends on is done),
 * in reverse for stop/down. Independent services run in parallel, up to a limit (--parallel).
 */
import type { ComposeProject } from '../types.js';

export interface ServiceGraph {
  /** Service -> the services it depends on (within the graph). */
  deps: Map<string, Set<string>>;
  /** Service -> the services that depend on it (within the graph). */
  dependents: Map<string, Set<string>>;
}

/**
 * The graph over `selected` (all services when empty) plus, unless `noDeps`, everything they
 * depend on. Dependencies the project does not have (disabled optional ones) are left out.
 */
export function buildGraph(project: ComposeProject, selected: string[] = [], noDeps = false): ServiceGraph {
  const names = new Set<string>();
  const add = (name: string) => {
    if (names.has(name) || !project.services[name]) return;
    names.add(name);
    if (!noDeps) for (const dep of Object.keys(project.services[name]!.depends_on ?? {})) add(dep);
  };
  for (const name of selected.length ? selected : Object.keys(project.services)) add(name);
  const deps = new Map<string, Set<string>>();
  const dependents = new Map<string, Set<string>>();
  for (const name of names) {
    deps.set(name, new Set());
    dependents.set(name, new Set());
  }
  for (const name of names) {
    for (const dep of Object.keys(project.services[name]!.depends_on ?? {})) {
      if (!names.has(dep)) continue;
      deps.get(name)!.add(dep);
      dependents.get(dep)!.add(name);
    }
  }
  return { deps, dependents };
}

export function graphServices(graph: ServiceGraph): string[] {
  return [...graph.deps.keys()];
}

/** Services in an order where each comes after what it depends on (ties by name). */
export function dependencyOrder(graph: ServiceGraph): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const pending = [...graph.deps.keys()].sort();
  while (pending.length) {
    const i = pending.findIndex((s) => [...graph.deps.get(s)!].every((d) => done.has(d)));
    if (i < 0) throw new Error(`dependency cycle detected: ${pending.join(', ')}`);
    const [s] = pending.splice(i, 1);
    done.add(s!);
    order.push(s!);
  }
  return order;
}

/** Everything that depends on `service`, directly or not. */
export function dependentsOf(graph: ServiceGraph, service: string): Set<string> {
  const out = new Set<string>();
  const visit = (s: string) => {
    for (const d of graph.dependents.get(s) ?? []) {
      if (!out.has(d)) {
        out.add(d);
        visit(d);
      }
    }
  };
  visit(service);
  return out;
}

export interface WalkOptions {
  /** At most this many at once; -1 or 0: no limit. */
  parallel?: number;
  /** Walk from dependents to dependencies (stop, down). */
  reverse?: boolean;
}

/**
 * Calls `fn` for every service once what it waits for is done (its dependencies, or with
 * `reverse` its dependents), running independent ones at once. The first failure stops new
 * work from starting; the walk waits for what is running and then throws that failure.
 */
export async function walkGraph(graph: ServiceGraph, fn: (service: string) => Promise<void>, opts: WalkOptions = {}): Promise<void> {
  const waitsFor = opts.reverse ? graph.dependents : graph.deps;
  const limit = opts.parallel && opts.parallel > 0 ? opts.parallel : Infinity;
  const done = new Set<string>();
  const started = new Set<string>();
  let running = 0;
  let failure: unknown;
  let failed = false;
  dependencyOrder(graph); // throws on a cycle before anything runs
  await new Promise<void>((resolve) => {
    const schedule = () => {
      if (!failed) {
        for (const s of [...waitsFor.keys()].sort()) {
          if (running >= limit) break;
          if (started.has(s)) continue;
          if (![...waitsFor.get(s)!].every((d) => done.has(d))) continue;
          started.add(s);
          running++;
          fn(s).then(
            () => {
              done.add(s);
              running--;
              schedule();
            },
            (err: unknown) => {
              if (!failed) {
                failed = true;
                failure = err;
              }
              running--;
              schedule();
            },
          );
        }
      }
      if (running === 0) resolve();
    };
    schedule();
  });
  if (failed) throw failure;
}

/** Runs `fn` over `items` with at most `parallel` at once (-1/0: all at once); first failure wins after all settle. */
export async function forEachLimited<T>(items: T[], parallel: number | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  const limit = parallel && parallel > 0 ? parallel : items.length || 1;
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}
