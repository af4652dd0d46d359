import type { Container } from './model.js';
import { ZERO_TIME } from './model.js';

/** Docker's restart back-off: 100 ms doubling to at most a minute, reset after 10 s of running. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const RESET_AFTER_MS = 10_000;

/**
 * Restart policies (no, always, unless-stopped, on-failure[:N]) with Docker's rules, and the timers
 * of restarts that are waiting out their delay. Decides; the container service acts.
 */
export class RestartManager {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly delays = new Map<string, number>();
  /** Containers whose next exit must not restart them (dockerd's ExitOnNext): a stop, a kill with the stop signal. */
  private readonly exitOnNext = new Set<string>();

  /**
   * Whether a container that just exited with `code` restarts by itself. As dockerd's restart
   * manager: never after ExitOnNext; `always` even after a kill by the user; `unless-stopped` unless
   * the user stopped or killed it.
   */
  shouldRestartAfterExit(c: Container, code: number): boolean {
    if (this.exitOnNext.has(c.id) || c.hostConfig.AutoRemove) return false;
    const policy = c.hostConfig.RestartPolicy?.Name ?? 'no';
    if (policy === 'always') return true;
    if (policy === 'unless-stopped') return !c.stoppedByUser;
    if (policy === 'on-failure') return code !== 0 && this.triesLeft(c);
    return false;
  }

  /** Whether a stopped container starts when the daemon starts. */
  shouldStartAtDaemonStart(c: Container): boolean {
    if (c.state.StartedAt === ZERO_TIME || c.hostConfig.AutoRemove) return false;
    const policy = c.hostConfig.RestartPolicy?.Name ?? 'no';
    if (policy === 'always') return true; // even after a manual stop, as Docker documents
    if (policy === 'unless-stopped') return !c.stoppedByUser;
    if (policy === 'on-failure') return !c.stoppedByUser && c.state.ExitCode !== 0 && this.triesLeft(c);
    return false;
  }

  /** The next exit of this container is final (dockerd's ExitOnNext). */
  cancelNextRestart(id: string): void {
    this.exitOnNext.add(id);
  }

  /** A start by the user (or the container's exit) clears ExitOnNext. */
  clearExitOnNext(id: string): void {
    this.exitOnNext.delete(id);
  }

  private triesLeft(c: Container): boolean {
    const max = c.hostConfig.RestartPolicy?.MaximumRetryCount ?? 0;
    return max <= 0 || c.restartCount < max;
  }

  /** The delay before the next restart, given how long the container ran this time. */
  nextDelay(id: string, ranMs: number): number {
    const previous = this.delays.get(id);
    const delay = previous === undefined || ranMs >= RESET_AFTER_MS ? FIRST_DELAY_MS : Math.min(previous * 2, MAX_DELAY_MS);
    this.delays.set(id, delay);
    return delay;
  }

  schedule(id: string, delayMs: number, run: () => void): void {
    this.cancel(id);
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        run();
      }, delayMs),
    );
  }

  /** Cancels a pending restart; true if there was one. */
  cancel(id: string): boolean {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    return this.timers.delete(id);
  }

  forget(id: string): void {
    this.cancel(id);
    this.exitOnNext.delete(id);
    this.delays.delete(id);
  }

  cancelAll(): string[] {
    const ids = [...this.timers.keys()];
    for (const id of ids) this.cancel(id);
    return ids;
  }
}
