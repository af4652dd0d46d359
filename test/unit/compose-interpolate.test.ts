import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolateString } from '../../src/compose/interpolate.js';
import { parseEnvFile } from '../../src/compose/env-file.js';

const env: Record<string, string> = { SET: 'value', EMPTY: '', NUM: '8080' };
function sub(text: string, warnings: string[] = []) {
  return interpolateString(text, (n) => env[n], 'services.web.image', (m) => warnings.push(m));
}

test('plain and braced variables', () => {
  assert.equal(sub('$SET'), 'value');
  assert.equal(sub('${SET}'), 'value');
  assert.equal(sub('a-${SET}-b'), 'a-value-b');
  assert.equal(sub('$SET.x'), 'value.x');
  assert.equal(sub('port ${NUM}/tcp'), 'port 8080/tcp');
});

test('unset variables become blank with docker compose warning', () => {
  const warnings: string[] = [];
  assert.equal(sub('x${MISSING}y$OTHER', warnings), 'xy');
  assert.deepEqual(warnings, [
    'The "MISSING" variable is not set. Defaulting to a blank string.',
    'The "OTHER" variable is not set. Defaulting to a blank string.',
  ]);
});

test('defaults: :- for unset or empty, - for unset only', () => {
  assert.equal(sub('${MISSING:-d}'), 'd');
  assert.equal(sub('${EMPTY:-d}'), 'd');
  assert.equal(sub('${EMPTY-d}'), '');
  assert.equal(sub('${MISSING-d}'), 'd');
  assert.equal(sub('${SET:-d}'), 'value');
  assert.equal(sub('${MISSING:-}'), '');
});

test('nested defaults are interpolated, and only when used', () => {
  const warnings: string[] = [];
  assert.equal(sub('${MISSING:-${SET}}'), 'value');
  assert.equal(sub('${MISSING:-${ALSO:-deep}}'), 'deep');
  assert.equal(sub('${SET:-${NOPE}}', warnings), 'value');
  assert.deepEqual(warnings, []);
  assert.equal(sub('${MISSING:-a ${SET} b}'), 'a value b');
});

test('required variables: :? for unset or empty, ? for unset only', () => {
  assert.throws(() => sub('${MISSING:?please set it}'), { message: 'required variable MISSING is missing a value: please set it' });
  assert.throws(() => sub('${EMPTY:?err}'), { message: 'required variable EMPTY is missing a value: err' });
  assert.equal(sub('${EMPTY?err}'), '');
  assert.throws(() => sub('${MISSING?}'), { message: 'required variable MISSING is missing a value' });
  assert.equal(sub('${SET:?err}'), 'value');
});

test('alternatives: :+ when set and non-empty, + when set', () => {
  assert.equal(sub('${SET:+alt}'), 'alt');
  assert.equal(sub('${EMPTY:+alt}'), '');
  assert.equal(sub('${EMPTY+alt}'), 'alt');
  assert.equal(sub('${MISSING+alt}'), '');
});

test('$$ is a literal dollar and is not interpolated further', () => {
  assert.equal(sub('$$SET'), '$SET');
  assert.equal(sub('$${SET}'), '${SET}');
  assert.equal(sub('cost: $$5'), 'cost: $5');
});

test('invalid formats are refused with docker compose wording', () => {
  const msg = (v: string) => `invalid interpolation format for services.web.image.\nYou may need to escape any $ with another $.\n${v}`;
  for (const bad of ['${', '${SET', '${}', '${1A}', '$1', 'a $ b', '${SET:x}', '${A B}']) {
    assert.throws(() => sub(bad), { message: msg(bad) }, bad);
  }
});

test('.env files: quoting, export, comments, interpolation from earlier lines and the environment', () => {
  const text = [
    '# comment',
    'export A=1',
    'B = two words # trailing comment',
    "C='literal $A # kept'",
    'D="line\\nnext $A"',
    'E=${A}x',
    'F=${FROM_ENV:-fallback}',
    'G',
    'H=',
    'I="multi',
    'line"',
    'J=a#b',
  ].join('\n');
  const out = parseEnvFile(text, '.env', (n) => ({ FROM_ENV: 'env', G: 'from-env' })[n]);
  assert.deepEqual(out, {
    A: '1',
    B: 'two words',
    C: 'literal $A # kept',
    D: 'line\nnext 1',
    E: '1x',
    F: 'env',
    G: 'from-env',
    H: '',
    I: 'multi\nline',
    J: 'a#b',
  });
  assert.throws(() => parseEnvFile('BAD KEY=1', '/p/.env', () => undefined), /failed to read \/p\/.env: line 1: unexpected character/);
  assert.throws(() => parseEnvFile('A="open', '/p/.env', () => undefined), /unterminated quoted value/);
});
