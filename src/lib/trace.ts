/**
 * Step timings of a container's start and teardown, for the bench (bench/containers.ts). Off unless
 * the daemon runs with BERTH_TRACE_START=1; then each traced operation logs one info line
 * `msg="step trace" kind=start id=... steps={"mount":12.3,...}` (milliseconds per step). Off, the
 * tracer is a shared no-op, so normal runs pay nothing.
 */
import { log } from './log.js';

export interface StepTrace {
  /** Ends the step running since the last mark (or creation) under this name. */
  mark(step: string): void;
  /** Runs fn as a step of its own (for steps that run in parallel with others). */
  time<T>(step: string, fn: () => Promise<T>): Promise<T>;
  /** Logs the steps (once). */
  done(): void;
}

const NOOP: StepTrace = { mark() {}, time: (_s, fn) => fn(), done() {} };

export const traceEnabled = process.env.BERTH_TRACE_START === '1';

export function stepTrace(kind: string, id: string): StepTrace {
  if (!traceEnabled) return NOOP;
  const t0 = performance.now();
  let last = t0;
  const steps: Record<string, number> = {};
  const add = (step: string, ms: number) => (steps[step] = Math.round(((steps[step] ?? 0) + ms) * 10) / 10);
  let logged = false;
  return {
    mark(step) {
      const now = performance.now();
      add(step, now - last);
      last = now;
    },
    async time(step, fn) {
      const t = performance.now();
      try {
        return await fn();
      } finally {
        add(step, performance.now() - t);
      }
    },
    done() {
      if (logged) return;
      logged = true;
      steps.total = Math.round((performance.now() - t0) * 10) / 10;
      log.info('step trace', { kind, id: id.slice(0, 12), steps });
    },
  };
}
