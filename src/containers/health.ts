/**
 * Container healthchecks at run time, as dockerd runs them (its daemon/health.go): a probe command run
 * as an exec session in the container, one at a time, and State.Health kept from the results.
 *
 * Lifecycle: `init` when a container starts (or is adopted at daemon start) resets the status to
 * `starting` and starts the monitor; `update` after a pause or unpause stops or resumes it; `stop` at
 * the container's exit ends it and, as dockerd, leaves the status `unhealthy`. A monitor waits for its
 * probe before it schedules the next one, and a new monitor waits for the old one's probe to be gone,
 * so probes never pile up. Results change the record in memory only (as dockerd's CommitInMemory): the
 * next save of the container persists them.
 * Events: `health_status: <status>` when the status changes; the probe's exec_create, exec_start and
 * exec_die come from the exec sessions (exec.ts), as dockerd sends them for probes too.
 */
import type { Container } from './model.js';
import type { ExecCreateBody, ExecRun } from './exec.js';
import { rfc3339Nano } from '../lib/timestamps.js';
import { log } from '../lib/log.js';
import { messageOf } from '../lib/errors.js';

/** container.HealthConfig; durations in nanoseconds, 0 meaning "inherit" (then the default). */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthcheckResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** State.Health of container inspect. */
export interface Health {
  Status: HealthStatus;
  FailingStreak: number;
  /** The last results, oldest first. */
  Log: HealthcheckResult[];
}

const MS = 1_000_000; // nanoseconds in a millisecond
const DEFAULT_INTERVAL = 30_000 * MS;
const DEFAULT_TIMEOUT = 30_000 * MS;
const DEFAULT_START_PERIOD = 0;
const DEFAULT_START_INTERVAL = 5_000 * MS;
const DEFAULT_RETRIES = 3;
/** Results kept in State.Health.Log. */
export const MAX_LOG_ENTRIES = 5;
/** Bytes of a probe's output kept; more is cut and "..." appended. */
export const MAX_OUTPUT_LEN = 4096;
/** How long starting the probe's exec may take; it does not count towards the probe's timeout. */
const START_TIMEOUT_MS = 30_000;
/** How long a killed probe is waited for before the monitor goes on regardless. */
const KILL_WAIT_MS = 10_000;

// ---- configuration --------------------------------------------------------------------------

/** dockerd's merge of the image's Healthcheck under the container's: zero fields inherit. */
export function mergeHealthcheck(user: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!image) return user ?? undefined;
  if (!user) return { ...image };
  return {
    ...user,
    Test: user.Test?.length ? user.Test : image.Test,
    Interval: user.Interval || image.Interval || 0,
    Timeout: user.Timeout || image.Timeout || 0,
    StartPeriod: user.StartPeriod || image.StartPeriod || 0,
    StartInterval: user.StartInterval || image.StartInterval || 0,
    Retries: user.Retries || image.Retries || 0,
  };
}

/** The Healthcheck of inspect's Config: every field omitted when zero, as Go's omitempty. */
export function healthConfigView(h: HealthConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (h.Test?.length) out.Test = h.Test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) if (h[k]) out[k] = h[k];
  return out;
}

/**
 * The command a probe runs, or undefined when no healthcheck is configured: no Test, NONE, or a type
 * other than CMD / CMD-SHELL (dockerd's getProbe logs and ignores those).
 */
export function probeCommand(cfg: HealthConfig | null | undefined, shell?: string[] | null): string[] | undefined {
  const test = cfg?.Test;
  if (!test?.length) return undefined;
  switch (test[0]) {
    case 'CMD':
      return test.slice(1);
    case 'CMD-SHELL':
      return [...(shell?.length ? shell : ['/bin/sh', '-c']), ...test.slice(1)];
    default:
      return undefined;
  }
}

/** The settings in milliseconds, defaults filled in. */
export interface ProbeTiming {
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
  /** The timeout as configured, for dockerd's message. */
  timeoutNs: number;
}

export function probeTiming(cfg: HealthConfig): ProbeTiming {
  const timeoutNs = cfg.Timeout || DEFAULT_TIMEOUT;
  return {
    intervalMs: (cfg.Interval || DEFAULT_INTERVAL) / MS,
    timeoutMs: timeoutNs / MS,
    startPeriodMs: (cfg.StartPeriod || DEFAULT_START_PERIOD) / MS,
    startIntervalMs: (cfg.StartInterval || DEFAULT_START_INTERVAL) / MS,
    retries: cfg.Retries && cfg.Retries > 0 ? cfg.Retries : DEFAULT_RETRIES,
    timeoutNs,
  };
}

// ---- the state machine ----------------------------------------------------------------------

/** The wait before the next probe: the start interval while starting within the start period. */
export function nextDelayMs(t: ProbeTiming, sinceStartMs: number, status: HealthStatus): number {
  if (sinceStartMs >= t.startPeriodMs) return t.intervalMs;
  return status === 'starting' ? t.startIntervalMs : t.intervalMs;
}

/**
 * dockerd's handleProbeResult: logs the result (keeping the last five), resets the streak on success,
 * and counts a failure unless it started within the start period while still starting. Returns the
 * new status when it changed.
 */
export function applyResult(h: Health, r: HealthcheckResult, t: ProbeTiming, startedAtMs: number): HealthStatus | undefined {
  const old = h.Status;
  h.Log = [...h.Log, r].slice(-MAX_LOG_ENTRIES);
  if (r.ExitCode === 0) {
    h.FailingStreak = 0;
    h.Status = 'healthy';
  } else {
    const inStartPeriod = h.Status === 'starting' && Date.parse(r.Start) - startedAtMs < t.startPeriodMs;
    if (!inStartPeriod) {
      h.FailingStreak++;
      if (h.FailingStreak >= t.retries) h.Status = 'unhealthy';
    }
  }
  return h.Status !== old ? h.Status : undefined;
}

/** What ps's Status shows after "Up ...": "health: starting", "healthy", "unhealthy". */
export function healthText(h: Health): string {
  return h.Status === 'starting' ? 'health: starting' : h.Status;
}

/** time.Duration's String(), from nanoseconds: "200ms", "1.5s", "1m30s", "2h0m0s". */
export function goDurationString(ns: number): string {
  let u = Math.round(Math.abs(ns));
  const sign = ns < 0 ? '-' : '';
  if (u === 0) return '0s';
  const frac = (v: number, div: number): string => {
    const whole = Math.floor(v / div);
    const rest = v % div;
    if (!rest) return String(whole);
    return `${whole}.${String(rest).padStart(String(div).length - 1, '0').replace(/0+$/, '')}`;
  };
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${frac(u, 1e3)}µs`;
  if (u < 1e9) return `${sign}${frac(u, 1e6)}ms`;
  const h = Math.floor(u / 3600e9);
  u -= h * 3600e9;
  const m = Math.floor(u / 60e9);
  u -= m * 60e9;
  const s = `${frac(u, 1e9)}s`;
  return sign + (h ? `${h}h${m}m${s}` : m ? `${m}m${s}` : s);
}

/** A probe's output: the first 4096 bytes, then "..." if more came. */
export class LimitedBuffer {
  private readonly parts: Buffer[] = [];
  private length = 0;
  private truncated = false;

  write(chunk: Buffer): void {
    const keep = Math.min(MAX_OUTPUT_LEN - this.length, chunk.length);
    if (keep > 0) {
      this.parts.push(chunk.subarray(0, keep));
      this.length += keep;
    }
    if (keep < chunk.length) this.truncated = true;
  }

  toString(): string {
    return Buffer.concat(this.parts).toString('utf8') + (this.truncated ? '...' : '');
  }
}

// ---- probes ---------------------------------------------------------------------------------

/** The exec sessions a probe runs as (exec.ts). */
export interface ProbeSessions {
  create(ref: string, body: ExecCreateBody): { Id: string };
  start(id: string, opts: { attach: boolean }): Promise<ExecRun>;
  /** Sends a signal to a running session's process. */
  kill(id: string, signal: number): void;
}

const SIGKILL = 9;

function timer(ms: number): { promise: Promise<'timeout'>; clear(): void } {
  let handle: NodeJS.Timeout | undefined;
  const promise = new Promise<'timeout'>((resolve) => (handle = setTimeout(() => resolve('timeout'), ms)));
  return { promise, clear: () => clearTimeout(handle) };
}

/**
 * One run of the probe, as dockerd's cmdProbe: an exec session as the container's user in its working
 * directory, stdout and stderr into one capped buffer, killed when it overruns its timeout (exit code
 * -1 and dockerd's message). A probe that cannot run gives -1 with the error as its output. Resolves
 * with undefined when cancelled (the monitor stopped): its result is dropped, as dockerd drops it.
 */
export async function runProbe(sessions: ProbeSessions, c: Container, cmd: string[], t: ProbeTiming, cancelled: Promise<'cancel'>): Promise<HealthcheckResult | undefined> {
  const start = Date.now();
  const result = (ExitCode: number, Output: string): HealthcheckResult => ({ Start: rfc3339Nano(start), End: rfc3339Nano(Date.now()), ExitCode, Output });
  let run: ExecRun;
  let id: string;
  try {
    id = sessions.create(c.id, { Cmd: cmd, User: c.config.User ?? '', WorkingDir: c.config.WorkingDir ?? '', AttachStdout: true, AttachStderr: true }).Id;
    const startWait = timer(START_TIMEOUT_MS);
    const started = sessions.start(id, { attach: true });
    const first = await Promise.race([started, startWait.promise]);
    startWait.clear();
    if (first === 'timeout') {
      started.then((r) => (r.socket?.close(), sessions.kill(id, SIGKILL))).catch(() => {});
      return result(-1, `timed out starting health check for container ${c.id}`);
    }
    run = first;
  } catch (err) {
    return result(-1, messageOf(err));
  }
  const output = new LimitedBuffer();
  const socket = run.socket;
  socket?.on('data', (_stream: string, chunk: Buffer) => output.write(chunk));
  // The exit is whole once the exit code is recorded and conmon has sent the last output.
  const socketEnded = socket && !socket.isEnded ? new Promise<void>((resolve) => socket.once('end', resolve)) : Promise.resolve();
  // A failure to record the exit counts as an error running the probe (-1), as dockerd's missing exit code.
  const finished = Promise.all([run.done, socketEnded]).then(([code]) => code, () => -1);
  const overrun = timer(t.timeoutMs);
  const outcome = await Promise.race([finished, overrun.promise, cancelled]);
  overrun.clear();
  if (typeof outcome === 'number') return result(outcome, output.toString());
  // Overran or cancelled: killed and waited for, so that dying probes do not pile up.
  try {
    sessions.kill(id, SIGKILL);
  } catch (err) {
    log.debug('killing a health probe failed', { id: c.id, error: messageOf(err) });
  }
  const wait = timer(KILL_WAIT_MS);
  await Promise.race([finished, wait.promise]);
  wait.clear();
  socket?.close();
  if (outcome === 'cancel') return undefined;
  log.debug('health check taking too long', { id: c.id });
  const out = output.toString();
  const limit = goDurationString(t.timeoutNs);
  return result(-1, out ? `Health check exceeded timeout (${limit}): ${out}` : `Health check exceeded timeout (${limit})`);
}

// ---- the monitor ----------------------------------------------------------------------------

export interface HealthMonitorDeps {
  sessions: ProbeSessions;
  /** Publishes a container event (health_status: ...). */
  emit(c: Container, action: string): void;
}

interface Monitor {
  stopped: boolean;
  cancel: () => void;
  /** Settles once the monitor's loop (and its probe) is over. */
  done: Promise<void>;
}

/** The per-container monitors; never more than one running for a container. */
export class HealthMonitors {
  private readonly monitors = new Map<string, Monitor>();

  constructor(private readonly deps: HealthMonitorDeps) {}

  /**
   * dockerd's initHealthMonitor, for a container that has just started (or been adopted running):
   * status `starting`, streak 0 (the log is kept), and the monitor running.
   */
  init(c: Container): void {
    if (!this.commandOf(c)) return;
    this.stop(c);
    c.state.Health = { Status: 'starting', FailingStreak: 0, Log: c.state.Health?.Log ?? [] };
    this.update(c);
  }

  /** dockerd's updateHealthMonitor: the monitor runs while the container runs unpaused. */
  update(c: Container): void {
    const h = c.state.Health;
    if (!h) return;
    const cmd = this.commandOf(c);
    if (c.state.Running && !c.state.Paused && !c.state.Restarting && cmd) {
      if (!this.monitors.has(c.id)) this.open(c, cmd);
    } else this.stop(c);
  }

  /** Stops the monitor (its probe is killed); the status becomes `unhealthy`, as dockerd leaves it. */
  stop(c: Container): void {
    const m = this.monitors.get(c.id);
    if (!m) return;
    this.monitors.delete(c.id);
    m.stopped = true;
    m.cancel();
    if (c.state.Health) c.state.Health.Status = 'unhealthy';
  }

  /** A removed container: its monitor ends. */
  forget(id: string): void {
    const m = this.monitors.get(id);
    if (!m) return;
    this.monitors.delete(id);
    m.stopped = true;
    m.cancel();
  }

  /** Daemon shutdown: every monitor ends (the status is left as it is, for the next daemon to reset). */
  async closeAll(): Promise<void> {
    const all = [...this.monitors.values()];
    this.monitors.clear();
    for (const m of all) {
      m.stopped = true;
      m.cancel();
    }
    await Promise.all(all.map((m) => m.done));
  }

  /** Whether a monitor runs for the container (tests, diagnostics). */
  running(id: string): boolean {
    return this.monitors.has(id);
  }

  private commandOf(c: Container): string[] | undefined {
    return probeCommand(c.config.Healthcheck as HealthConfig | undefined, c.config.Shell as string[] | undefined);
  }

  private open(c: Container, cmd: string[]): void {
    // A previous monitor of this container may still be killing its probe: this one waits for it.
    const previous = this.previousDone.get(c.id) ?? Promise.resolve();
    let cancel!: () => void;
    const cancelled = new Promise<'cancel'>((resolve) => (cancel = () => resolve('cancel')));
    const m: Monitor = { stopped: false, cancel, done: Promise.resolve() };
    m.done = previous
      .then(() => this.loop(c, cmd, m, cancelled))
      .catch((err) => log.error('health monitor failed', { id: c.id, error: messageOf(err) }))
      .finally(() => {
        if (this.previousDone.get(c.id) === m.done) this.previousDone.delete(c.id);
      });
    this.previousDone.set(c.id, m.done);
    this.monitors.set(c.id, m);
  }

  /** The latest monitor's end per container, so that the next one starts after it. */
  private readonly previousDone = new Map<string, Promise<void>>();

  private async loop(c: Container, cmd: string[], m: Monitor, cancelled: Promise<'cancel'>): Promise<void> {
    const t = probeTiming(c.config.Healthcheck as HealthConfig);
    const startedAt = Date.parse(c.state.StartedAt);
    const delay = () => nextDelayMs(t, Date.now() - startedAt, c.state.Health?.Status ?? 'starting');
    for (;;) {
      const wait = timer(delay());
      const woke = await Promise.race([wait.promise, cancelled]);
      wait.clear();
      if (woke === 'cancel' || m.stopped) return;
      const r = await runProbe(this.deps.sessions, c, cmd, t, cancelled);
      if (!r || m.stopped || !c.state.Health) return;
      const changed = applyResult(c.state.Health, r, t, startedAt);
      if (changed) this.deps.emit(c, `health_status: ${changed}`);
    }
  }
}
