/** Waiting a while. */

export interface SleepOptions {
  /** Ends the wait early (resolving, not rejecting) when this aborts. */
  signal?: AbortSignal;
  /** The timer does not keep the process alive (a wait that only bounds another one). */
  unref?: boolean;
}

/** Resolves after ms milliseconds, or as soon as opts.signal aborts. Never rejects. */
export function sleep(ms: number, opts: SleepOptions = {}): Promise<void> {
  const { signal } = opts;
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    if (opts.unref) timer.unref();
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
