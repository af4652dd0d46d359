import { test } from 'node:test';
import assert from 'node:assert/strict';

// Times print in the local zone, as docker's do; pin it before anything reads it.
process.env.TZ = 'UTC';
const { formatANSIC, formatGoString, formatRFC3339, formatRFC3339NanoFixed, getTimestamp, parseGoDuration, parseRFC3339, unixLocal, unixUTC } =
  await import('../../src/cli/gotime.js');

const NOW = Date.UTC(2026, 10, 28, 13, 0, 0); // 2026-11-28T13:00:00Z = 1795870800

test('Go time layouts', () => {
  assert.equal(formatGoString(unixLocal(1795863600)), '2026-11-28 11:00:00 +0000 UTC');
  assert.equal(formatGoString({ ...unixUTC(1795863600), nsec: 500_000_000 }), '2026-11-28 11:00:00.5 +0000 UTC');
  assert.equal(formatRFC3339(unixLocal(1795863600)), '2026-11-28T11:00:00Z');
  assert.equal(formatRFC3339NanoFixed({ ...unixUTC(1795870800), nsec: 123456800 }), '2026-11-28T13:00:00.123456800Z');
  assert.equal(formatANSIC(unixUTC(Date.UTC(2026, 0, 1) / 1000)), 'Thu Jan  1 00:00:00 2026');
  const t = parseRFC3339('2026-11-27T13:31:03.002625487+01:00')!;
  assert.equal(formatGoString(t), '2026-11-27 13:31:03.002625487 +0100 +0100');
  assert.equal(formatANSIC(parseRFC3339('2026-01-01T00:00:00.000000000+00:00')!), 'Thu Jan  1 00:00:00 2026');
  assert.equal(formatGoString(parseRFC3339('2026-11-27T13:31:03.002625487Z')!), '2026-11-27 13:31:03.002625487 +0000 UTC');
});

test('Go durations', () => {
  assert.equal(parseGoDuration('1h30m'), 5400e9);
  assert.equal(parseGoDuration('1.5h'), 5400e9);
  assert.equal(parseGoDuration('-5m'), -300e9);
  assert.equal(parseGoDuration('300ms'), 300e6);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('10'), undefined);
  assert.equal(parseGoDuration('foo'), undefined);
  assert.equal(parseGoDuration('1d'), undefined);
});

test('--since/--until values become what docker sends', () => {
  assert.equal(getTimestamp('1h', NOW), String(1795870800 - 3600));
  assert.equal(getTimestamp('0s', NOW), '1795870800');
  assert.equal(getTimestamp('-5m', NOW), String(1795870800 + 300));
  assert.equal(getTimestamp('10', NOW), '10');
  assert.equal(getTimestamp('0', NOW), '0');
  assert.equal(getTimestamp('1795870800.5', NOW), '1795870800.5');
  assert.equal(getTimestamp('2026-11-28T13:00:00', NOW), '1795870800.000000000');
  assert.equal(getTimestamp('2026-11-28', NOW), '1795824000.000000000');
  assert.equal(getTimestamp('2026-11-28T13:00', NOW), '1795870800.000000000');
  assert.equal(getTimestamp('2026-11-28T13', NOW), '1795870800.000000000');
  assert.equal(getTimestamp('2026-11-28T13:00:00.5', NOW), '1795870800.500000000');
  assert.equal(getTimestamp('2026-11-28T13:00:00+01:00', NOW), '1795867200.000000000');
  assert.equal(getTimestamp('2026-11-28T13:00:00.123456789-05:00', NOW), '1795888800.123456789');
  assert.equal(getTimestamp('2026-11-28Z', NOW), '1795824000.000000000');
  assert.throws(() => getTimestamp('foo', NOW), { message: 'failed to parse value as time or duration: "foo"' });
  assert.throws(() => getTimestamp('2026-13-01', NOW), { message: 'parsing time "2026-13-01": month out of range' });
});
