/**
 * The healthcheck flags of `run`/`create`, as the docker CLI reads them (its container/opts.go):
 * --health-cmd becomes a CMD-SHELL test, durations are Go durations, --no-healthcheck sends
 * `["NONE"]` and conflicts with every --health-* flag.
 */
import type { FlagDef, FlagValues } from '../args.js';
import { CliError } from '../errors.js';
import { parseGoDuration } from '../gotime.js';

/** pflag's DurationVar: the value as time.ParseDuration reads it, its error as Go words it. */
export function checkDuration(v: string): string | undefined {
  if (parseGoDuration(v) !== undefined) return undefined;
  if (/^[-+]?(\d+\.?\d*|\.\d+)$/.test(v)) return `time: missing unit in duration ${JSON.stringify(v)}`;
  return `time: invalid duration ${JSON.stringify(v)}`;
}

const DURATIONS = [
  ['health-interval', 'Interval', 'Time between running the check (ms|s|m|h) (default 0s)'],
  ['health-timeout', 'Timeout', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)'],
  ['health-start-period', 'StartPeriod', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)'],
  ['health-start-interval', 'StartInterval', 'Time between running the check during the start period (ms|s|m|h) (default 0s)'],
] as const;

export function healthFlags(): FlagDef[] {
  return [
    { name: 'health-cmd', type: 'string', usage: 'Command to run to check health' },
    ...DURATIONS.map(([name, , usage]): FlagDef => ({ name, type: 'string', valueName: 'duration', usage, check: checkDuration })),
    { name: 'health-retries', type: 'int', usage: 'Consecutive failures needed to report unhealthy' },
    { name: 'no-healthcheck', type: 'bool', usage: 'Disable any container-specified HEALTHCHECK' },
  ];
}

/** The create body's Healthcheck, or undefined when no flag asks for one; docker's errors as CliErrors. */
export function healthcheckFromFlags(fl: FlagValues): Record<string, unknown> | undefined {
  const ns = (name: string) => (fl.string(name) === '' ? 0 : Math.round(parseGoDuration(fl.string(name)) ?? 0));
  const cmd = fl.string('health-cmd');
  const durations = DURATIONS.map(([name, field]) => [name, field, ns(name)] as const);
  const retries = fl.int('health-retries');
  const haveSettings = cmd !== '' || durations.some(([, , v]) => v !== 0) || retries !== 0;
  if (fl.bool('no-healthcheck')) {
    if (haveSettings) throw new CliError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!haveSettings) return undefined;
  // docker checks them in this order: interval, timeout, retries, start period, start interval.
  const byName = Object.fromEntries(durations.map(([name, , v]) => [name, v]));
  if (byName['health-interval']! < 0) throw new CliError('--health-interval cannot be negative');
  if (byName['health-timeout']! < 0) throw new CliError('--health-timeout cannot be negative');
  if (retries < 0) throw new CliError('--health-retries cannot be negative');
  if (byName['health-start-period']! < 0) throw new CliError('--health-start-period cannot be negative');
  if (byName['health-start-interval']! < 0) throw new CliError('--health-start-interval cannot be negative');
  return {
    Test: cmd !== '' ? ['CMD-SHELL', cmd] : null,
    Interval: byName['health-interval'],
    Timeout: byName['health-timeout'],
    StartPeriod: byName['health-start-period'],
    StartInterval: byName['health-start-interval'],
    Retries: retries,
  };
}
