/**
 * Per-layer timings of a pull, for the registry bench (bench/registry.ts). Off unless the daemon runs
 * with BERTH_TRACE_PULL=1; then each pull logs one info line `msg="pull trace" layers=[...]` with, for
 * each layer, the milliseconds since the pull began at which each phase ended. Off, it costs nothing.
 */
import { log } from '../lib/log.js';

export interface PullTrace {
  /** Notes that layer `i` reached `phase` now. */
  mark(i: number, phase: string): void;
  /** Logs the marks (once). */
  done(): void;
}

const NOOP: PullTrace = { mark() {}, done() {} };

export function pullTrace(): PullTrace {
  if (process.env.BERTH_TRACE_PULL !== '1') return NOOP;
  const t0 = performance.now();
  const layers: Array<Record<string, number>> = [];
  let logged = false;
  return {
    mark(i, phase) {
      (layers[i] ??= {})[phase] = Math.round(performance.now() - t0);
    },
    done() {
      if (logged) return;
      logged = true;
      log.info('pull trace', { total: Math.round(performance.now() - t0), layers });
    },
  };
}
