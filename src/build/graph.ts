/**
 * The stage graph: which stages a stage needs (its FROM, COPY --from, RUN --mount from=), which stages
 * the target needs (the others are skipped), and a clear error for a cycle. A reference that names no
 * stage is an image.
 */
import type { Dockerfile, Stage } from './dockerfile/types.js';
import { invalidArgument } from '../lib/errors.js';

/** A stage name (lower-cased, as AS names are) or index, to the stage's index; undefined for images. */
export function stageIndexOf(df: Dockerfile, ref: string, allowIndex: boolean): number | undefined {
  const lower = ref.toLowerCase();
  const byName = df.stages.find((s) => s.from.stageName === lower);
  if (byName) return byName.index;
  if (allowIndex && /^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i >= df.stages.length) throw invalidArgument(`invalid from flag value ${ref}: refers to a stage that does not exist`);
    return i;
  }
  return undefined;
}

/** The stages a stage depends on. `expandFrom` expands a FROM image word with the meta args. */
export function stageDeps(df: Dockerfile, stage: Stage, expandFrom: (w: string) => string): number[] {
  const deps = new Set<number>();
  const fromStage = stageIndexOf(df, expandFrom(stage.from.image), false);
  if (fromStage !== undefined) {
    // FROM may only name an earlier stage, as in Docker; a later name would be an image of that name.
    if (fromStage < stage.index) deps.add(fromStage);
  }
  for (const ins of stage.instructions) {
    if ((ins.kind === 'COPY' || ins.kind === 'ADD') && ins.from) {
      const i = stageIndexOf(df, ins.from, true);
      if (i !== undefined) deps.add(i);
    }
    if (ins.kind === 'RUN') {
      for (const m of ins.mounts) {
        if (!m.from) continue;
        const i = stageIndexOf(df, m.from, true);
        if (i !== undefined) deps.add(i);
      }
    }
  }
  return [...deps];
}

/** The stages to build for `target`, in file order; throws on a cycle or a self-reference. */
export function neededStages(df: Dockerfile, target: number, deps: (i: number) => number[]): number[] {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number, path: number[]): void => {
    const s = state.get(i);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(i)), i].map((j) => df.stages[j]!.from.stageName ?? String(j));
      throw invalidArgument(`circular dependency detected on stage: ${cycle.join(' -> ')}`);
    }
    state.set(i, 'visiting');
    for (const d of deps(i)) visit(d, [...path, i]);
    state.set(i, 'done');
  };
  visit(target, []);
  return [...state.keys()].sort((a, b) => a - b);
}
