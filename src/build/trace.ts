/**
 * BERTH_TRACE_BUILD=1: each /build request logs how long its phases took (receiving the context, parsing,
 * each step, registering the image), for finding where a build's time goes. Off, it costs nothing.
 */
import { log } from '../lib/log.js';

export class BuildTrace {
  private readonly t0 = performance.now();
  private last = this.t0;
  private readonly marks: string[] = [];

  /** A trace for one request, or undefined when tracing is off. */
  static start(): BuildTrace | undefined {
    return process.env.BERTH_TRACE_BUILD === '1' ? new BuildTrace() : undefined;
  }

  /** Notes that `phase` ended now (its time since the previous mark). */
  mark(phase: string): void {
    const now = performance.now();
    this.marks.push(`${phase}=${(now - this.last).toFixed(1)}`);
    this.last = now;
  }

  /** Notes a phase that overlaps others (a step of a stage built in parallel): its own duration. */
  span(phase: string, since: number): void {
    this.marks.push(`${phase}:${(performance.now() - since).toFixed(1)}`);
  }

  /** Logs the phases and the total. */
  end(): void {
    log.info('build trace', { total: Number((performance.now() - this.t0).toFixed(1)), phases: this.marks.join(' ') });
  }
}
