import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseWords, DockerfileSyntaxError, type Node } from '../../src/build/dockerfile/parser.js';

/** buildkit's Node.Dump shape, to compare with its parser testfiles' results. */
function dump(n: Node): string {
  let s = n.value.toLowerCase();
  if (n.flags.length > 0) s += ' [' + n.flags.map((f) => JSON.stringify(f)).join(' ') + ']';
  if (n.sub) return `(${s} (${dump(n.sub).slice(1, -1)}))`;
  for (const a of n.args) s += ' ' + JSON.stringify(a);
  return `(${s})`;
}
const dumpAll = (text: string) => parse(text).nodes.map(dump);

function syntaxError(text: string): DockerfileSyntaxError {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof DockerfileSyntaxError, String(err));
    return err;
  }
  assert.fail('expected a syntax error');
}

describe('instructions and argument shapes', () => {
  test('instruction names are case-insensitive and kept as written', () => {
    assert.deepEqual(dumpAll('from busybox\nRuN echo hi\n'), ['(from "busybox")', '(run "echo hi")']);
    assert.equal(parse('from busybox').nodes[0]!.value, 'from');
  });
  test('JSON (exec) form vs shell form as buildkit decides', () => {
    const nodes = parse('CMD ["a", "b c"]\nCMD [ "a" ] trailing\nCMD [\'a\']\nENTRYPOINT ["x"\nRUN  [ ] \n').nodes;
    assert.deepEqual(nodes.map((n) => [n.json, n.args]), [
      [true, ['a', 'b c']],
      [false, ['[ "a" ] trailing']],
      [false, ["['a']"]],
      [false, ['["x"']],
      [true, []],
    ]);
    assert.throws(() => parse('CMD ["echo", ["nested"]]'), { message: 'when using JSON array syntax, arrays must be comprised of strings only' });
  });
  test('COPY/ADD/VOLUME split on whitespace unless JSON', () => {
    assert.deepEqual(dumpAll('COPY a  b\t/c\nADD ["a b", "/c d"]\nVOLUME /a /b\nVOLUME ["/x"]'), [
      '(copy "a" "b" "/c")',
      '(add "a b" "/c d")',
      '(volume "/a" "/b")',
      '(volume "/x")',
    ]);
  });
  test('ENV and LABEL: key=value words (quotes kept) and the legacy `ENV key value`', () => {
    assert.deepEqual(dumpAll('ENV a=1 b="x y" c=\'z\'\nENV PATH /usr/bin:$PATH  more\nLABEL "com.x"="y z"'), [
      '(env "a" "1" "=" "b" "\\"x y\\"" "=" "c" "\'z\'" "=")',
      '(env "PATH" "/usr/bin:$PATH  more" "")',
      '(label "\\"com.x\\"" "\\"y z\\"" "=")',
    ]);
    assert.throws(() => parse('ENV a=1 b'), { message: 'Syntax error - can\'t find = in "b". Must be of the form: name=value' });
    assert.throws(() => parse('ENV a'), { message: 'ENV must have two arguments' });
    assert.throws(() => parse('LABEL x'), { message: 'LABEL must have two arguments' });
  });
  test('ARG words, HEALTHCHECK type and command, ONBUILD trigger', () => {
    assert.deepEqual(dumpAll('ARG a b="c d"\nHEALTHCHECK --interval=5s CMD ["curl", "x"]\nHEALTHCHECK NONE\nONBUILD RUN echo hi'), [
      '(arg "a" "b=\\"c d\\"")',
      '(healthcheck ["--interval=5s"] "CMD" "curl" "x")',
      '(healthcheck "NONE")',
      '(onbuild (run "echo hi"))',
    ]);
    const onbuild = parse('ONBUILD ADD --chown=1 . /app').nodes[0]!;
    assert.equal(onbuild.sub?.value, 'ADD');
    assert.deepEqual(onbuild.sub?.flags, ['--chown=1']);
    assert.deepEqual(onbuild.args, ['ADD', '.', '/app']);
  });
  test('flags: quotes removed, escapes honoured, `--` ends them, single dash is an argument', () => {
    assert.deepEqual(parse('COPY --from=a --chown="1:1" --exclude=a\\ b src /dst').nodes[0]!.flags, ['--from=a', '--chown=1:1', '--exclude=a b']);
    assert.deepEqual(dumpAll('RUN -- --not-a-flag\nRUN -x'), ['(run "--not-a-flag")', '(run "-x")']);
    assert.deepEqual(parse('RUN --network=none').nodes[0]!.args, []);
  });
  test('an unknown instruction parses (instructions.ts refuses it with the line)', () => {
    assert.deepEqual(dumpAll('FROM a\nFOO bar'), ['(from "a")', '(foo "")']);
  });
  test('parseWords keeps quotes and escapes', () => {
    assert.deepEqual(parseWords('a "b c" d\\ e \'f\\\'', '\\'), ['a', '"b c"', 'd\\ e', "'f\\'"]);
  });
});

describe('lines, continuations and comments', () => {
  test('continuations join with the escape removed; original keeps the inner spacing', () => {
    const { nodes } = parse('FROM a\nRUN echo a \\\n    b \\\n  c\nRUN x');
    assert.equal(nodes[1]!.original, 'RUN echo a     b   c');
    assert.deepEqual(nodes[1]!.args, ['echo a     b   c']);
    assert.deepEqual([nodes[1]!.startLine, nodes[1]!.endLine], [2, 4]);
    assert.deepEqual([nodes[2]!.startLine, nodes[2]!.endLine], [5, 5]);
  });
  test('comments are dropped, also inside continuations, and indented', () => {
    const { nodes } = parse('# top\nFROM a\n  # indented\nRUN a \\\n# inside\n  && b\n');
    assert.deepEqual(nodes.map(dump), ['(from "a")', '(run "a   && b")']);
    assert.deepEqual(nodes[1]!.comments, ['indented']);
  });
  test('a doubled escape at the end is not a continuation; a continuation at EOF ends the file', () => {
    assert.deepEqual(dumpAll('RUN a \\\\\nRUN b'), ['(run "a \\\\\\\\")', '(run "b")']);
    assert.deepEqual(dumpAll('FROM a\nRUN something \\'), ['(from "a")', '(run "something")']);
  });
  test('empty continuation lines are skipped with a warning', () => {
    const r = parse('FROM a\nRUN a \\\n\n   \n  b\n');
    assert.deepEqual(r.nodes[1]!.args, ['a   b']);
    assert.deepEqual(r.warnings, [{ line: 5, message: 'Empty continuation line found in: RUN a   b' }]);
  });
  test('CRLF line ends and a BOM', () => {
    assert.deepEqual(dumpAll('\uFEFFFROM a\r\nRUN b \\\r\n c\r\n'), ['(from "a")', '(run "b  c")']);
  });
  test('an empty file or only comments: file with no instructions', () => {
    assert.equal(syntaxError('').message, 'file with no instructions');
    assert.equal(syntaxError('# a\n\n  \n').message, 'file with no instructions');
  });
});

describe('parser directives', () => {
  test('syntax, escape and check at the top, case-insensitive, with spaces', () => {
    const r = parse('# SYNTAX = docker/dockerfile:1\n#escape=`\n# check=skip=all\nFROM a\nRUN dir c:\\ `\n  && x');
    assert.deepEqual(r.directives, { escape: '`', syntax: 'docker/dockerfile:1', check: 'skip=all' });
    assert.deepEqual(r.nodes[1]!.args, ['dir c:\\   && x']);
  });
  test('only before anything else: after a comment, a blank line or an instruction they are comments', () => {
    assert.equal(parse('# hello\n# escape=`\nFROM a').directives.escape, '\\');
    assert.equal(parse('\n# escape=`\nFROM a').directives.escape, '\\');
    assert.equal(parse('FROM a\n# escape=`\nRUN b').directives.escape, '\\');
    assert.equal(parse('# unknown=x\n# escape=`\nFROM a').directives.escape, '\\');
  });
  test('a repeated directive and a bad escape are errors on their line', () => {
    const e = syntaxError('# escape=`\n# escape=\\\nFROM a');
    assert.equal(e.message, 'only one escape parser directive can be used');
    assert.equal(e.startLine, 2);
    assert.equal(syntaxError('# escape=x\nFROM a').message, "invalid escape token 'x' does not match ` or \\");
  });
  test('with the backtick escape, a backslash is an ordinary character', () => {
    const r = parse('# escape=`\nFROM a\nCOPY --chown=a`b c\\d e');
    assert.deepEqual(r.nodes[1]!.flags, ['--chown=ab']);
    assert.deepEqual(r.nodes[1]!.args, ['c\\d', 'e']);
  });
});

describe('heredocs (buildkit parser_heredoc_test cases)', () => {
  const text = [
    'FROM alpine',
    'USER <<INVALID',
    'INVALID',
    'RUN <<EMPTY',
    'EMPTY',
    'RUN 3<<EMPTY2',
    'EMPTY2',
    'RUN "<<NOHEREDOC"',
    'RUN <<INDENT',
    '\tfoo',
    'INDENT',
    'RUN <<-UNINDENT',
    '\tbaz',
    '\tUNINDENT',
    "RUN <<-'NOEXPAND'",
    "\tdon't expand $NAME",
    'NOEXPAND',
    'RUN <<COMMENT',
    '# internal comment',
    'echo foo # trailing',
    'COMMENT',
    'COPY <<FILE1 <<FILE2 /dest',
    'content 1',
    'FILE1',
    'content 2',
    'FILE2',
    'COPY <<X <<Y /dest',
    'Y',
    'X',
    'X',
    'Y',
    "RUN <<eo'f'",
    'echo foo',
    'eof',
    "RUN <<eo\\'f",
    'echo foo',
    "eo'f",
    "RUN <<'one two'",
    'echo bar',
    'one two',
    'RUN <<$EOF',
    '$EOF',
    'RUN <<  EOF  > foo',
    'EOF',
    'RUN ["cat", "<<EOF"]',
    'ONBUILD RUN <<EOF',
    'hi',
    'EOF',
    'RUN done',
  ].join('\n');
  const nodes = parse(text).nodes;
  const docs = (i: number) => nodes[i]!.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp, h.fileDescriptor]);
  test('only RUN, COPY and ADD in shell form take heredocs', () => {
    assert.deepEqual(docs(1), []); // USER
    assert.equal(nodes[2]!.value, 'INVALID');
    assert.deepEqual(docs(5), []); // "<<NOHEREDOC"
    assert.deepEqual(docs(17), []); // JSON RUN
  });
  test('names, bodies, expansion and chomping', () => {
    assert.deepEqual(docs(3), [['EMPTY', '', true, false, 0]]);
    assert.deepEqual(docs(4), [['EMPTY2', '', true, false, 3]]);
    assert.deepEqual(docs(6), [['INDENT', '\tfoo\n', true, false, 0]]);
    assert.deepEqual(docs(7), [['UNINDENT', '\tbaz\n', true, true, 0]]);
    assert.deepEqual(docs(8), [['NOEXPAND', "\tdon't expand $NAME\n", false, true, 0]]);
    assert.deepEqual(docs(9), [['COMMENT', '# internal comment\necho foo # trailing\n', true, false, 0]]);
    assert.deepEqual(docs(10), [
      ['FILE1', 'content 1\n', true, false, 0],
      ['FILE2', 'content 2\n', true, false, 0],
    ]);
    assert.deepEqual(docs(11), [
      ['X', 'Y\n', true, false, 0],
      ['Y', 'X\n', true, false, 0],
    ]);
    assert.deepEqual(docs(12), [['eof', 'echo foo\n', false, false, 0]]);
    assert.deepEqual(docs(13), [["eo'f", 'echo foo\n', true, false, 0]]);
    assert.deepEqual(docs(14), [['one two', 'echo bar\n', false, false, 0]]);
    assert.deepEqual(docs(15), [['$EOF', '', true, false, 0]]);
    assert.deepEqual(docs(16), [['EOF', '', true, false, 0]]);
    assert.deepEqual(docs(18), [['EOF', 'hi\n', true, false, 0]]);
    assert.deepEqual(nodes[19]!.args, ['done']);
    assert.deepEqual([nodes[19]!.startLine, nodes[18]!.startLine, nodes[18]!.endLine], [49, 46, 48]);
  });
  test('an unterminated heredoc is an error', () => {
    const e = syntaxError('FROM a\nRUN <<EOF\nno end\n');
    assert.equal(e.message, 'unterminated heredoc');
    assert.equal(e.startLine, 2);
  });
});
