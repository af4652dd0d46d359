/**
 * Signal names as Docker accepts them (StopSignal, `docker kill -s`, `docker stop -s`): a number, or a
 * name with or without the SIG prefix, in any case, including the real-time names RTMIN, RTMIN+n
 * (n = 1..15), RTMAX-n (n = 1..14) and RTMAX. Linux numbering (x86/arm; not mips).
 */
import { invalidArgument } from '../lib/errors.js';

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/** Canonical names first: signalName() returns the first name listed for a number. */
const BASE: ReadonlyArray<readonly [string, number]> = [
  ['HUP', 1],
  ['INT', 2],
  ['QUIT', 3],
  ['ILL', 4],
  ['TRAP', 5],
  ['ABRT', 6],
  ['IOT', 6],
  ['BUS', 7],
  ['FPE', 8],
  ['KILL', 9],
  ['USR1', 10],
  ['SEGV', 11],
  ['USR2', 12],
  ['PIPE', 13],
  ['ALRM', 14],
  ['TERM', 15],
  ['STKFLT', 16],
  ['CHLD', 17],
  ['CLD', 17],
  ['CONT', 18],
  ['STOP', 19],
  ['TSTP', 20],
  ['TTIN', 21],
  ['TTOU', 22],
  ['URG', 23],
  ['XCPU', 24],
  ['XFSZ', 25],
  ['VTALRM', 26],
  ['PROF', 27],
  ['WINCH', 28],
  ['IO', 29],
  ['POLL', 29],
  ['PWR', 30],
  ['SYS', 31],
];

const BY_NAME = new Map<string, number>();
const BY_NUMBER = new Map<number, string>();
for (const [name, n] of BASE) {
  BY_NAME.set(name, n);
  if (!BY_NUMBER.has(n)) BY_NUMBER.set(n, name);
}
BY_NAME.set('RTMIN', SIGRTMIN);
BY_NUMBER.set(SIGRTMIN, 'RTMIN');
for (let i = 1; i <= 15; i++) {
  BY_NAME.set(`RTMIN+${i}`, SIGRTMIN + i);
  BY_NUMBER.set(SIGRTMIN + i, `RTMIN+${i}`);
}
for (let i = 14; i >= 1; i--) {
  BY_NAME.set(`RTMAX-${i}`, SIGRTMAX - i);
  BY_NUMBER.set(SIGRTMAX - i, `RTMAX-${i}`);
}
BY_NAME.set('RTMAX', SIGRTMAX);
BY_NUMBER.set(SIGRTMAX, 'RTMAX');

/** Every name Docker knows (without SIG), mapped to its number. */
export const SIGNAL_MAP: ReadonlyMap<string, number> = BY_NAME;

function invalid(raw: string | number): Error {
  // Docker's (moby/sys/signal) wording.
  return invalidArgument(`invalid signal: ${raw}`);
}

/**
 * Parses a signal the way Docker does: a decimal number (1..64 here; Docker only refuses 0), or a name such
 * as 'SIGKILL', 'KILL', 'kill', 'SIGRTMIN+3'. Throws InvalidArgument `invalid signal: X`.
 */
export function parseSignal(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isInteger(s) || s < 1 || s > SIGRTMAX) throw invalid(s);
    return s;
  }
  if (/^[+-]?\d+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 1 || n > SIGRTMAX) throw invalid(s);
    return n;
  }
  const upper = s.toUpperCase();
  const name = upper.startsWith('SIG') ? upper.slice(3) : upper;
  const n = BY_NAME.get(name);
  if (n === undefined) throw invalid(s);
  return n;
}

/** 'SIGKILL' for 9, 'SIGRTMIN+3' for 37; the number as a string if it has no name. */
export function signalName(n: number): string {
  const name = BY_NUMBER.get(n);
  return name === undefined ? String(n) : `SIG${name}`;
}
