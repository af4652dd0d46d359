import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readDockerignore, IgnoreMatcher, dockerignorePathFor, cleanPath, keepBuildFiles } from '../../src/build/dockerignore.js';
import { BerthError } from '../../src/lib/errors.js';

const excluded = (patterns: string[], file: string) => new IgnoreMatcher(patterns).matches(file);

describe('readDockerignore', () => {
  test('comments, blank lines and whitespace go; patterns are cleaned and lose a leading slash', () => {
    const text = '\uFEFF# comment\n\n  node_modules  \n/dist/\n./a/../b\n! keep.txt\n!/x//y/\r\n  # not a comment\n/\n';
    assert.deepEqual(readDockerignore(text), ['node_modules', 'dist', 'b', '!keep.txt', '!x/y', '# not a comment', '/']);
  });
  test('a lone ! is kept so the matcher can refuse it, as docker does', () => {
    assert.deepEqual(readDockerignore('!\n'), ['!']);
    assert.throws(() => new IgnoreMatcher(readDockerignore('!\n')), (e: unknown) => e instanceof BerthError && e.message === 'illegal exclusion pattern: "!"');
  });
  test('dockerignorePathFor puts <Dockerfile>.dockerignore beside the Dockerfile', () => {
    assert.equal(dockerignorePathFor('/ctx/build/app.Dockerfile'), '/ctx/build/app.Dockerfile.dockerignore');
    assert.equal(dockerignorePathFor('Dockerfile'), 'Dockerfile.dockerignore');
  });
  test('cleanPath is Go path.Clean', () => {
    assert.equal(cleanPath(''), '.');
    assert.equal(cleanPath('a//b/./c/..'), 'a/b');
    assert.equal(cleanPath('/../a'), '/a');
    assert.equal(cleanPath('../a/..'), '..');
  });
});

describe('IgnoreMatcher (patternmatcher cases)', () => {
  const cases: Array<[string | string[], string, boolean]> = [
    ['*', 'fileutils.go', true],
    ['*.go', 'fileutils.go', true],
    [['!fileutils.go', '*.go'], 'fileutils.go', true],
    [['*.go', '!fileutils.go'], 'fileutils.go', false],
    [['docs', '!docs/README.md'], 'docs/README.md', false],
    [['docs/', '!docs/README.md'], 'docs/README.md', false],
    [['docs/*', '!docs/README.md'], 'docs/README.md', false],
    ['**', 'file', true],
    ['**', 'dir/file', true],
    ['**/', 'dir/file', true],
    ['**/**', 'dir/file', true],
    ['dir/**', 'dir/file', true],
    ['dir/**', 'dir/dir2/file', true],
    ['**/dir', 'dir', true],
    ['**/dir', 'dir/file', true],
    ['**/dir2/*', 'dir/dir2/file', true],
    ['**/dir2/**', 'dir/dir2/dir3/file', true],
    ['**file', 'file', true],
    ['**file', 'dir/dir/file', true],
    ['**/file', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file.txt', true],
    ['**/file*.txt*', 'dir/dir/file.txt', true],
    ['**/**/*.txt', 'dir/dir/file.txt', true],
    ['**/**/*.txt2', 'dir/dir/file.txt', false],
    ['**/*.txt', 'file.txt', true],
    ['a**/*.txt', 'a/dir/dir/file.txt', true],
    ['a/*.txt', 'a/dir/file.txt', false],
    ['a/*.txt', 'a/file.txt', true],
    ['a[b-d]e', 'ae', false],
    ['a[b-d]e', 'ace', true],
    ['a[^b-d]e', 'aze', true],
    ['.*', '.foo', true],
    ['.*', 'foo', false],
    ['abc.def', 'abcdef', false],
    ['abc.def', 'abc.def', true],
    ['abc?def', 'abcZdef', true],
    ['abc?def', 'abcdef', false],
    ['abc?def', 'abc/def', false],
    ['a\\\\', 'a\\', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['**/foo/bar', 'foo/bar', true],
    ['**/foo/bar', 'dir/dir2/foo/bar', true],
    ['abc/**', 'abc', false],
    ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true],
    ['**/.foo', 'bar.foo', false],
    ['a(b)c/def', 'a(b)c/def', true],
    ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
    ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    [['**', '!util/docker/web'], 'util/docker/web/foo', false],
    [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
    [['**', '!dist/*.whl'], 'dist/x+y.whl', false],
    // A pattern on a parent directory excludes what is under it; `*` is one level only.
    ['node_modules', 'node_modules/a/b/c.js', true],
    ['*/tmp', 'a/tmp/x', true],
    ['*/tmp', 'a/b/tmp', false],
    ['*.go', 'dir/x.go', false],
    [readDockerignore('/abs'), 'abs/x', true],
    [['**/dir2/*', '!dir/dir2/keep'], 'dir/dir2/keep', false],
    [['a', '!a/b'], 'a/b/c', false],
  ];
  for (const [patterns, file, want] of cases) {
    test(`${JSON.stringify(patterns)} ${want ? 'excludes' : 'keeps'} ${file}`, () => {
      assert.equal(excluded(Array.isArray(patterns) ? patterns : [patterns], file), want);
    });
  }
  test('the context root and no patterns exclude nothing', () => {
    assert.equal(excluded(['*'], '.'), false);
    assert.equal(excluded([], 'any/path'), false);
  });
  test('a malformed pattern is refused with Go\'s wording', () => {
    assert.throws(() => new IgnoreMatcher(['[']), /syntax error in pattern/);
    assert.throws(() => new IgnoreMatcher(['a[b']), /syntax error in pattern/);
  });
  test('mayReinclude: only exceptions that reach into the directory', () => {
    const m = new IgnoreMatcher(['docs', '!docs/README.md', 'vendor', '!*/keep']);
    assert.equal(m.mayReinclude('docs'), true);
    assert.equal(m.mayReinclude('vendor'), true); // `!*/keep` may bring vendor/keep back
    assert.equal(m.mayReinclude('vendor/sub'), false);
    assert.equal(new IgnoreMatcher(['build']).mayReinclude('build'), false);
    assert.equal(new IgnoreMatcher(['build', '!other/x']).mayReinclude('build'), false);
    assert.equal(new IgnoreMatcher(['**', '!**/*.go']).mayReinclude('a/b'), true);
    assert.equal(new IgnoreMatcher(['a', '!a/b/c']).mayReinclude('a/b'), true);
    assert.equal(new IgnoreMatcher(['a', '!a/b/c']).mayReinclude('a/x'), false);
  });
});

describe('keepBuildFiles (the CLI keeps the build files in the context)', () => {
  test('exceptions are added only for what the patterns exclude', () => {
    assert.deepEqual(keepBuildFiles(['*'], 'Dockerfile'), ['*', '!.dockerignore', '!Dockerfile']);
    assert.deepEqual(keepBuildFiles(['build/'], './build/app.Dockerfile'), ['build/', '!build/app.Dockerfile']);
    assert.deepEqual(keepBuildFiles(['node_modules'], 'Dockerfile'), ['node_modules']);
    assert.deepEqual(keepBuildFiles(['*'], 'Dockerfile', true), ['*', '!.dockerignore']);
    assert.equal(new IgnoreMatcher(keepBuildFiles(['*'], 'Dockerfile')).matches('Dockerfile'), false);
  });
});
