import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ShellLex, ExpandError, envLookupFromList, expandHeredocBody, type EnvLookup } from '../../src/build/dockerfile/expand.js';

const env: EnvLookup = envLookupFromList(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL=']);
const lex = new ShellLex('\\');
const ERROR = Symbol('error');

/** Cases from buildkit's shell/envVarTest (input, expected or ERROR). */
const wordCases: Array<[string, string | typeof ERROR]> = [
  ['hello', 'hello'],
  ["he'll'o", 'hello'],
  ["he'llo", ERROR],
  ["he\\'llo", "he'llo"],
  ["he\\\\'llo", ERROR],
  ['abc\\tdef', 'abctdef'],
  ['"abc\\tdef"', 'abc\\tdef'],
  ['"abc\\\\tdef"', 'abc\\tdef'],
  ["'abc\\tdef'", 'abc\\tdef'],
  ['hello\\', 'hello'],
  ['hello\\\\', 'hello\\'],
  ['"hello', ERROR],
  ['"hello\\"', ERROR],
  ['"hel\'lo"', "hel'lo"],
  ["'hello", ERROR],
  ["'hello\\'", 'hello\\'],
  ['"\'\'"', "''"],
  ['$.', '$.'],
  ['he$1x', 'hex'],
  ['he$.x', 'he$.x'],
  ['he$pwd.', 'he.'],
  ['he$PWD', 'he/home'],
  ['he\\$PWD', 'he$PWD'],
  ['he\\\\$PWD', 'he\\/home'],
  ['"he\\$PWD"', 'he$PWD'],
  ['"he\\\\$PWD"', 'he\\/home'],
  ['\\${}', '${}'],
  ['he\\${}xx', 'he${}xx'],
  ['${}', ERROR],
  ['he${}xx', ERROR],
  ['he${hi}xx', 'hexx'],
  ['he${PWD}', 'he/home'],
  ['he${.}', ERROR],
  ['he${XXX:-000}xx', 'he000xx'],
  ['he${PWD:-000}xx', 'he/homexx'],
  ['he${XXX:-$PWD}xx', 'he/homexx'],
  ['he${XXX:-${PWD:-yyy}}xx', 'he/homexx'],
  ['he${XXX:-${YYY:-yyy}}xx', 'heyyyxx'],
  ['he${XXX:YYY}', ERROR],
  ['he${XXX?}', ERROR],
  ['he${XXX:?}', ERROR],
  ['he${PWD?}', 'he/home'],
  ['he${NULL?}', 'he'],
  ['he${NULL:?}', ERROR],
  ['he${XXX:+${PWD}}xx', 'hexx'],
  ['he${PWD:+${SHELL}}xx', 'hebashxx'],
  ['he${PWD:+000}xx', 'he000xx'],
  ["'he${XX}'", 'he${XX}'],
  ['"he${PWD}"', 'he/home'],
  ['"he\'$PWD\'"', "he'/home'"],
  ["'\\$PWD'", '\\$PWD'],
  ['he${PWD', ERROR],
  ['he${PWD:=000}xx', ERROR],
  ['he${PWD:+${PWD}:}xx', 'he/home:xx'],
  ['he${XXX:-\\$PWD:}xx', 'he$PWD:xx'],
  ['he${XXX:-\\${PWD}z}xx', 'he${PWDz}xx'],
  ["안'녕'하세요", '안녕하세요'],
  ['안녕$KOREAN', '안녕한국어'],
  ['${{aaa}', ERROR],
  ['${aaa}}', '}'],
  ['${aaa:-bbb}}', 'bbb}'],
  ['${aaa:-bbb ${foo}', ERROR],
  ['${aaa:-bbb {foo}', 'bbb {foo'],
  ['${:}', ERROR],
  ['${:-bbb}', ERROR],
  ['${1:-bbb}', 'bbb'],
  ['$999aaa', 'aaa'],
  ['${001:-bbb}aaa', 'bbbaaa'],
  ['$@@@', '@@'],
  ['${#:-bbb}', 'bbb'],
  ['$$', ''],
  ['${0:+bbb}', ''],
];

describe('ShellLex.processWord (buildkit envVarTest)', () => {
  for (const [input, want] of wordCases) {
    test(`${input} => ${want === ERROR ? 'error' : JSON.stringify(want)}`, () => {
      if (want === ERROR) assert.throws(() => lex.processWord(input, env), ExpandError);
      else assert.equal(lex.processWord(input, env), want);
    });
  }
});

describe('ShellLex.processWords (buildkit wordsTest)', () => {
  const wenv = envLookupFromList(['hi=hi', 'space=abc  def', 'leading=  ab c', 'trailing=ab c   ']);
  const cases: Array<[string, string[] | typeof ERROR]> = [
    ['hello', ['hello']],
    ['hello${hi}bye', ['hellohibye']],
    ['hello${space}bye', ['helloabc', 'defbye']],
    ['hello"${space}"bye', ['helloabc  defbye']],
    ['hello "${space}"bye', ['hello', 'abc  defbye']],
    ['hello${leading}def', ['hello', 'ab', 'cdef']],
    ['hello"${leading}" def', ['hello  ab c', 'def']],
    ['hello${trailing}d', ['helloab', 'c', 'd']],
    ['hel"lo${trailing}"', ['helloab c   ']],
    ['hello" there  "', ['hello there  ']],
    ['hello there     ', ['hello', 'there']],
    ['hello\\ there', ['hello there']],
    ['hello" there', ERROR],
    ['hello\\" there', ['hello"', 'there']],
    ['hello"\\\\there"', ['hello\\there']],
    ["hello'\\\\there'", ['hello\\\\there']],
    ["hello'$there'", ['hello$there']],
  ];
  for (const [input, want] of cases) {
    test(`${input} => ${want === ERROR ? 'error' : JSON.stringify(want)}`, () => {
      if (want === ERROR) assert.throws(() => lex.processWords(input, wenv), ExpandError);
      else assert.deepEqual(lex.processWords(input, wenv), want);
    });
  }
});

describe('trims and replacements', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x'],
    ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx'],
    ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y'],
    ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy'],
    ['${FOO##*x}', { FOO: 'xxyy' }, 'yy'],
    ['${FOO#?\\?}', { FOO: '???y' }, '?y'],
    ['${FOO%y}', { FOO: 'xxyy' }, 'xxy'],
    ['${FOO%%y*}', { FOO: 'xxyy' }, 'xx'],
    ['${FOO%y*}', { FOO: 'xxyy' }, 'xxy'],
    ['${FOO/x/z}', { FOO: 'xxyy' }, 'zxyy'],
    ['${FOO//x/z}', { FOO: 'xxyy' }, 'zzyy'],
    ['${FOO//x*/z}', { FOO: 'axxyy' }, 'az'],
    ['${FOO/\\//-}', { FOO: 'a/b/c' }, 'a-b/c'],
    ['${FOO//\\//-}', { FOO: 'a/b/c' }, 'a-b-c'],
    ['${FOO/y/}', { FOO: 'xy' }, 'x'],
    ['${UNSET//x/y}', {}, ''],
  ];
  for (const [input, vars, want] of cases) {
    test(`${input} with ${JSON.stringify(vars)} => ${want}`, () => {
      assert.equal(lex.processWord(input, (n) => vars[n]), want);
    });
  }
  test('${a:#x} is an unsupported modifier; ${a/x without / or } fails as buildkit', () => {
    assert.throws(() => lex.processWord('${a:#x}', env), { message: 'failed to process "${a:#x}": unsupported modifier (:#) in substitution' });
    assert.throws(() => lex.processWord('${a/x', env), { message: 'failed to process "${a/x": syntax error: missing \'/\' in ${}' });
    assert.throws(() => lex.processWord('${a#\\x}', (n) => (n === 'a' ? 'x' : undefined)), /invalid pattern \(\\x\) in substitution: invalid escape '\\x'/);
  });
});

describe('errors and matches', () => {
  test('messages are buildkit\'s, prefixed with the word', () => {
    assert.throws(() => lex.processWord('${X?}', env), { message: 'failed to process "${X?}": X: is not allowed to be unset' });
    assert.throws(() => lex.processWord('${NULL:?}', env), { message: 'failed to process "${NULL:?}": NULL: is not allowed to be empty' });
    assert.throws(() => lex.processWord('${X:?set X}', env), { message: 'failed to process "${X:?set X}": X: set X' });
    assert.throws(() => lex.processWord('${X', env), { message: 'failed to process "${X": unsupported modifier (\uFFFD) in substitution' });
    assert.throws(() => lex.processWord('${}', env), { message: 'failed to process "${}": syntax error: bad substitution' });
    assert.throws(() => lex.processWord("'a", env), { message: 'failed to process "\'a": unexpected end of statement while looking for matching single-quote' });
    assert.throws(() => lex.processWord('"a', env), { message: 'failed to process "\\"a": unexpected end of statement while looking for matching double-quote' });
    assert.throws(() => lex.processWord('${X:-a', env), { message: 'failed to process "${X:-a": syntax error: missing \'}\'' });
  });
  test('matched and unmatched names are reported (the cache keys on the args used)', () => {
    const vars: Record<string, string> = { FOO: 'xxx', BAR: '' };
    const r = lex.processWordWithMatches('${FOO-aaa} ${BAR-bbb} ${BAZ-ccc} $QUX', (n) => vars[n]);
    assert.equal(r.result, 'xxx  ccc ');
    assert.deepEqual([...r.matched].sort(), ['BAR', 'FOO']);
    assert.deepEqual([...r.unmatched].sort(), ['BAZ', 'QUX']);
    assert.deepEqual(lex.processWordWithMatches("'$FOO' x", (n) => vars[n]).matched.size, 0);
  });
  test('the backtick escape token', () => {
    const win = new ShellLex('`');
    assert.equal(win.processWord('C:\\path\\to `$PWD', env), 'C:\\path\\to $PWD');
    assert.equal(win.processWord('"a`"b"', env), 'a"b');
    assert.deepEqual(win.processWords('a` b c', env), ['a b', 'c']);
  });
  test('heredoc markers and options for heredoc bodies', () => {
    assert.deepEqual(lex.processWords('cat <<  EOF', env), ['cat', '<<  EOF']);
    const body = new ShellLex('\\', { skipProcessQuotes: true, rawEscapes: true });
    assert.equal(body.processWord('echo "$SHELL" \'x\' \\$y', env), 'echo "bash" \'x\' \\$y');
    const keep = new ShellLex('\\', { skipUnsetEnv: true });
    assert.equal(keep.processWord('$SHELL $NOPE ${NOPE:-x} ${NOPE}', env), 'bash $NOPE ${NOPE:-x} ${NOPE}');
    const raw = new ShellLex('\\', { rawQuotes: true });
    assert.equal(raw.processWord('"a $SHELL" \'b\'', env), '"a bash" \'b\'');
  });
});

describe('heredoc bodies', () => {
  test('COPY heredoc bodies keep quotes and lines, expand variables, as buildkit', () => {
    const r = expandHeredocBody('name="$SHELL"\nit\'s ${PWD}\n\\$HOME\n', env);
    assert.equal(r.result, 'name="bash"\nit\'s /home\n$HOME\n');
    assert.deepEqual([...r.matched].sort(), ['PWD', 'SHELL']);
  });
});
