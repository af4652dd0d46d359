import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatE, formatF, formatG } from '../../src/cli/gofloat.js';
import { renderTemplate } from '../../src/cli/template/index.js';

test('Go float formatting takes the decimal exponent from the exact value (1e-7 is 9.99...e-08 as a double)', () => {
  assert.equal(formatE(1e-7, 16, 'e'), '9.9999999999999995e-08');
  assert.equal(formatG(1e-7, 17, 'e'), '9.9999999999999995e-08');
  assert.equal(formatG(1e-7, 16, 'e'), '1e-07');
  assert.equal(renderTemplate('{{printf "%.17g" .}}', 1e-7), '9.9999999999999995e-08');
});

test('Go float formatting: rounding carries into a new digit, ties go to even', () => {
  assert.equal(formatE(9.996, 2, 'e'), '1.00e+01');
  assert.equal(formatG(999.5, 3, 'e'), '1e+03');
  assert.equal(formatF(0.125, 2), '0.12');
  assert.equal(formatF(2.5, 0), '2');
  assert.equal(formatG(1e6, -1, 'e'), '1e+06');
});
