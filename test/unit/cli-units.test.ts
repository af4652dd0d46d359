import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, formatG, humanDuration, humanSize, humanSizeWithPrecision, timeAgo } from '../../src/cli/units.js';

test('formatG matches Go %g', () => {
  assert.equal(formatG(4.26155, 3), '4.26');
  assert.equal(formatG(4, 3), '4');
  assert.equal(formatG(100, 3), '100');
  assert.equal(formatG(123, 3), '123');
  assert.equal(formatG(7.8, 3), '7.8');
  assert.equal(formatG(0, 3), '0');
  assert.equal(formatG(-1, 4), '-1');
  // rounding up into the next power of ten switches to exponent form, as docker shows "1e+03kB"
  assert.equal(formatG(999.5, 3), '1e+03');
  assert.equal(formatG(999.96, 4), '1000');
  assert.equal(formatG(9999.6, 4), '1e+04');
  // exact ties round to even, unlike Number.prototype.toPrecision
  assert.equal(formatG(4.125, 3), '4.12');
  assert.equal(formatG(4.375, 3), '4.38');
  assert.equal(formatG(0.5, 1), '0.5');
  assert.equal(formatG(0.00001234, 3), '1.23e-05');
  assert.equal(formatG(1234567, 3), '1.23e+06');
  // The double nearest 1e-7 lies below it: the decimal exponent comes from the exact value.
  assert.equal(formatG(1e-7, 17), '9.9999999999999995e-08');
  assert.equal(formatG(1e-7, 16), '1e-07');
});

test('humanSizeWithPrecision uses decimal units and 3 digits', () => {
  assert.equal(humanSizeWithPrecision(4261550, 3), '4.26MB');
  assert.equal(humanSizeWithPrecision(123, 3), '123B');
  assert.equal(humanSizeWithPrecision(0, 3), '0B');
  assert.equal(humanSizeWithPrecision(7_800_000_000, 3), '7.8GB');
  assert.equal(humanSizeWithPrecision(999_500, 3), '1e+03kB');
  assert.equal(humanSizeWithPrecision(4096, 3), '4.1kB');
  assert.equal(humanSizeWithPrecision(12345, 3), '12.3kB');
  assert.equal(humanSizeWithPrecision(1000, 3), '1kB');
  assert.equal(humanSizeWithPrecision(4125, 3), '4.12kB');
});

test('humanSize uses 4 digits', () => {
  assert.equal(humanSize(1234567), '1.235MB');
  assert.equal(humanSize(1092588), '1.093MB');
  assert.equal(humanSize(16441), '16.44kB');
  assert.equal(humanSize(739450), '739.5kB');
  assert.equal(humanSize(4261550), '4.262MB');
  assert.equal(humanSize(-1), '-1B');
  assert.equal(humanSize(0), '0B');
});

test('bytesSize uses binary units', () => {
  assert.equal(bytesSize(16_680_000_000), '15.53GiB');
  assert.equal(bytesSize(1024), '1KiB');
  assert.equal(bytesSize(1536), '1.5KiB');
  assert.equal(bytesSize(512), '512B');
});

test('humanDuration follows go-units thresholds', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  assert.equal(humanDuration(0), 'Less than a second');
  assert.equal(humanDuration(-5 * s), 'Less than a second');
  assert.equal(humanDuration(999), 'Less than a second');
  assert.equal(humanDuration(1 * s), '1 second');
  assert.equal(humanDuration(59 * s), '59 seconds');
  assert.equal(humanDuration(60 * s), 'About a minute');
  assert.equal(humanDuration(119 * s), 'About a minute');
  assert.equal(humanDuration(2 * m), '2 minutes');
  assert.equal(humanDuration(59 * m + 59 * s), '59 minutes');
  assert.equal(humanDuration(60 * m), 'About an hour');
  assert.equal(humanDuration(89 * m), 'About an hour');
  assert.equal(humanDuration(90 * m), '2 hours'); // hours are rounded
  assert.equal(humanDuration(47 * h), '47 hours');
  assert.equal(humanDuration(48 * h), '2 days');
  assert.equal(humanDuration(13 * d), '13 days');
  assert.equal(humanDuration(14 * d), '2 weeks');
  assert.equal(humanDuration(40 * d), '5 weeks');
  assert.equal(humanDuration(60 * d), '2 months');
  assert.equal(humanDuration(400 * d), '13 months');
  assert.equal(humanDuration(730 * d), '2 years');
});

test('timeAgo appends "ago"', () => {
  assert.equal(timeAgo(0, 7200 * 1000), '2 hours ago');
  assert.equal(timeAgo(1000, 91 * 1000), 'About a minute ago');
});
