/** The healthcheck state machine and helpers (containers/health.ts) and the --health-* flags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

const h = await import('../../src/containers/health.js');
const { resolve } = await import('../../src/cli/args.js');
const { rootCommand } = await import('../../src/cli/commands/index.js');
const { healthcheckFromFlags } = await import('../../src/cli/commands/run-health.js');

const MS = 1_000_000;
const at = (ms: number) => new Date(ms).toISOString();
const result = (startMs: number, code: number) => ({ Start: at(startMs), End: at(startMs + 10), ExitCode: code, Output: '' });

test('defaults and merge with the image, as dockerd', () => {
  assert.deepEqual(h.probeTiming({}), { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3, timeoutNs: 30_000 * MS });
  const image = { Test: ['CMD', 'x'], Interval: 5 * MS, Timeout: 6 * MS, StartPeriod: 7 * MS, StartInterval: 8 * MS, Retries: 9 };
  assert.deepEqual(h.mergeHealthcheck({ Interval: 1 * MS }, image), { ...image, Interval: 1 * MS });
  assert.deepEqual(h.mergeHealthcheck({ Test: ['NONE'] }, image)!.Test, ['NONE']);
  assert.deepEqual(h.mergeHealthcheck(undefined, image), image);
  assert.equal(h.mergeHealthcheck(undefined, undefined), undefined);
});

test('probe commands: CMD, CMD-SHELL with the container Shell, none for NONE or unknown types', () => {
  assert.deepEqual(h.probeCommand({ Test: ['CMD', 'a', 'b'] }), ['a', 'b']);
  assert.deepEqual(h.probeCommand({ Test: ['CMD-SHELL', 'a b'] }), ['/bin/sh', '-c', 'a b']);
  assert.deepEqual(h.probeCommand({ Test: ['CMD-SHELL', 'a'] }, ['/bin/ash', '-e', '-c']), ['/bin/ash', '-e', '-c', 'a']);
  assert.equal(h.probeCommand({ Test: ['NONE'] }), undefined);
  assert.equal(h.probeCommand({ Test: ['FOO', 'x'] }), undefined);
  assert.equal(h.probeCommand({ Test: [] }), undefined);
  assert.equal(h.probeCommand({ Interval: 1 }), undefined);
});

test('results: failures counted to Retries, success resets, the start period forgives, five kept', () => {
  const t = h.probeTiming({ Retries: 2, StartPeriod: 1000 * MS });
  const health = { Status: 'starting' as const, FailingStreak: 0, Log: [] } as import('../../src/containers/health.js').Health;
  const started = 0;
  assert.equal(h.applyResult(health, result(500, 1), t, started), undefined); // within the start period
  assert.equal(health.FailingStreak, 0);
  assert.equal(h.applyResult(health, result(1500, 1), t, started), undefined);
  assert.equal(health.FailingStreak, 1);
  assert.equal(h.applyResult(health, result(1600, 2), t, started), 'unhealthy');
  assert.equal(h.applyResult(health, result(1700, 0), t, started), 'healthy');
  assert.equal(health.FailingStreak, 0);
  for (let i = 0; i < 4; i++) h.applyResult(health, result(2000 + i, 0), t, started);
  assert.equal(health.Log.length, 5);
  assert.equal(health.Log[4]!.Start, at(2003));
  // Healthy, then a failure within the start period: it counts (only `starting` is forgiven).
  const early = { Status: 'healthy' as const, FailingStreak: 0, Log: [] } as import('../../src/containers/health.js').Health;
  h.applyResult(early, result(100, 1), t, started);
  assert.equal(early.FailingStreak, 1);
});

test('the next delay: the start interval only while starting within the start period', () => {
  const t = h.probeTiming({ Interval: 1000 * MS, StartPeriod: 500 * MS, StartInterval: 100 * MS });
  assert.equal(h.nextDelayMs(t, 0, 'starting'), 100);
  assert.equal(h.nextDelayMs(t, 0, 'healthy'), 1000);
  assert.equal(h.nextDelayMs(t, 600, 'starting'), 1000);
  assert.equal(h.nextDelayMs(h.probeTiming({}), 0, 'starting'), 30_000);
});

test("Go's duration text, the output cap and ps's health text", () => {
  assert.equal(h.goDurationString(300 * MS), '300ms');
  assert.equal(h.goDurationString(1500 * MS), '1.5s');
  assert.equal(h.goDurationString(30_000 * MS), '30s');
  assert.equal(h.goDurationString(90_000 * MS), '1m30s');
  assert.equal(h.goDurationString(7200_000 * MS), '2h0m0s');
  assert.equal(h.goDurationString(1500), '1.5µs');
  const b = new h.LimitedBuffer();
  b.write(Buffer.alloc(4000, 'a'));
  b.write(Buffer.alloc(200, 'b'));
  assert.equal(b.toString(), 'a'.repeat(4000) + 'b'.repeat(96) + '...');
  assert.equal(h.healthText({ Status: 'starting', FailingStreak: 0, Log: [] }), 'health: starting');
  assert.equal(h.healthText({ Status: 'unhealthy', FailingStreak: 3, Log: [] }), 'unhealthy');
});

test('the monitor runs one probe at a time and reports status changes', async () => {
  let running = 0;
  let most = 0;
  let calls = 0;
  const events: string[] = [];
  const sessions = {
    create: () => ({ Id: String(++calls) }),
    start: async () => {
      running++;
      most = Math.max(most, running);
      const socket = Object.assign(new EventEmitter(), { isEnded: true, close() {} });
      const done = new Promise<number>((r) => setTimeout(() => (running--, r(0)), 50));
      return { socket: socket as never, done };
    },
    kill: () => {},
  };
  const monitors = new h.HealthMonitors({ sessions, emit: (_c, action) => events.push(action) });
  const c = { id: 'x', config: { Healthcheck: { Test: ['CMD', 'true'], Interval: 1 * MS } }, state: { Running: true, Paused: false, Restarting: false, StartedAt: new Date().toISOString() } } as never as import('../../src/containers/model.js').Container;
  monitors.init(c);
  assert.equal(c.state.Health!.Status, 'starting');
  await new Promise((r) => setTimeout(r, 400));
  monitors.stop(c);
  await monitors.closeAll();
  assert.equal(most, 1);
  assert.ok(calls >= 3, String(calls));
  assert.deepEqual(events, ['health_status: healthy']);
  assert.equal(c.state.Health!.Status, 'unhealthy');
});

test('--health-* flags: the body docker sends and its errors', () => {
  const flags = (...argv: string[]) => {
    const r = resolve(rootCommand, ['create', ...argv, 'busybox']);
    if (r.kind !== 'run') throw new Error(r.kind === 'error' ? r.message : r.kind);
    return r.flags;
  };
  assert.equal(healthcheckFromFlags(flags()), undefined);
  assert.deepEqual(healthcheckFromFlags(flags('--health-cmd', 'curl x', '--health-interval', '1m30s', '--health-retries', '4')), {
    Test: ['CMD-SHELL', 'curl x'], Interval: 90_000 * MS, Timeout: 0, StartPeriod: 0, StartInterval: 0, Retries: 4,
  });
  assert.deepEqual(healthcheckFromFlags(flags('--health-timeout', '2s')), { Test: null, Interval: 0, Timeout: 2000 * MS, StartPeriod: 0, StartInterval: 0, Retries: 0 });
  assert.deepEqual(healthcheckFromFlags(flags('--no-healthcheck')), { Test: ['NONE'] });
  assert.throws(() => healthcheckFromFlags(flags('--no-healthcheck', '--health-retries', '1')), /^CliError: --no-healthcheck conflicts with --health-\* options$/);
  assert.throws(() => healthcheckFromFlags(flags('--health-interval', '-1s')), /--health-interval cannot be negative/);
  assert.throws(() => healthcheckFromFlags(flags('--health-start-interval', '-1s')), /--health-start-interval cannot be negative/);
  const bad = resolve(rootCommand, ['create', '--health-timeout', '5', 'busybox']);
  assert.equal(bad.kind, 'error');
  assert.match((bad as { message: string }).message, /invalid argument "5" for "--health-timeout" flag: time: missing unit in duration "5"/);
});
