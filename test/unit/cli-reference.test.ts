import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiarName, fullName, parseNormalizedNamed, splitRepoTag } from '../../src/cli/reference.js';
import { tagParams } from '../../src/cli/commands/images.js';
import { CliError } from '../../src/cli/errors.js';

test('splitRepoTag splits at the last colon after the last slash', () => {
  assert.deepEqual(splitRepoTag('busybox:latest'), { repo: 'busybox', tag: 'latest' });
  assert.deepEqual(splitRepoTag('busybox'), { repo: 'busybox', tag: '' });
  assert.deepEqual(splitRepoTag('localhost:5000/app'), { repo: 'localhost:5000/app', tag: '' });
  assert.deepEqual(splitRepoTag('localhost:5000/team/app:v1.2'), { repo: 'localhost:5000/team/app', tag: 'v1.2' });
  assert.deepEqual(splitRepoTag('app@sha256:abc'), { repo: 'app@sha256:abc', tag: '' });
});

test('normalization and familiar names', () => {
  const r = parseNormalizedNamed('busybox');
  assert.deepEqual(r, { domain: 'docker.io', path: 'library/busybox' });
  assert.equal(fullName(r), 'docker.io/library/busybox');
  assert.equal(familiarName(r), 'busybox');
  assert.equal(familiarName(parseNormalizedNamed('me/app:1')), 'me/app');
  assert.equal(familiarName(parseNormalizedNamed('index.docker.io/library/alpine')), 'alpine');
  assert.equal(familiarName(parseNormalizedNamed('docker.io/library/team/app')), 'library/team/app');
  assert.equal(familiarName(parseNormalizedNamed('localhost:5000/busybox:v1')), 'localhost:5000/busybox');
  assert.deepEqual(parseNormalizedNamed('localhost/app:v1'), { domain: 'localhost', path: 'app', tag: 'v1' });
  // a first component with capitals is a registry host
  assert.deepEqual(parseNormalizedNamed('Foo/bar'), { domain: 'Foo', path: 'bar' });
  const digest = 'sha256:' + '1'.repeat(64);
  assert.equal(parseNormalizedNamed(`busybox@${digest}`).digest, digest);
});

test('reference errors carry distribution/reference wording', () => {
  const msg = (s: string) => {
    try {
      parseNormalizedNamed(s);
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.equal(msg('foo:bar:baz'), 'invalid reference format');
  assert.equal(msg('UPPER'), 'invalid reference format: repository name (library/UPPER) must be lowercase');
  assert.equal(msg('1'.repeat(64)), `invalid repository name (${'1'.repeat(64)}), cannot specify 64-byte hexadecimal strings`);
  assert.equal(msg('busybox@sha256:abc'), 'invalid reference format');
  assert.equal(msg('busybox@sha256:' + '1'.repeat(63)), 'invalid checksum digest length');
  assert.equal(msg('busybox@sha256:' + 'A'.repeat(64)), 'invalid checksum digest format');
  assert.equal(msg('busybox@sha256:' + '1'.repeat(66)), 'invalid checksum digest length');
  assert.equal(msg('a'.repeat(256)), 'repository name must not be more than 255 characters');
});

test('tag target is sent normalized, with latest as default tag', () => {
  assert.deepEqual(tagParams('busybox', 'myrepo/x:v2'), { repo: 'docker.io/myrepo/x', tag: 'v2' });
  assert.deepEqual(tagParams('busybox', 'localhost:5000/foo'), { repo: 'localhost:5000/foo', tag: 'latest' });
  assert.deepEqual(tagParams('busybox', 'docker.io/library/foo:1'), { repo: 'docker.io/library/foo', tag: '1' });
  assert.deepEqual(tagParams('1'.repeat(64), 'x'), { repo: 'docker.io/library/x', tag: 'latest' });
  assert.deepEqual(tagParams('sha256:abc', 'x:y'), { repo: 'docker.io/library/x', tag: 'y' });
});

test('tag errors match docker', () => {
  const msg = (s: string, t: string) => {
    try {
      tagParams(s, t);
    } catch (e) {
      assert.ok(e instanceof CliError);
      return e.message;
    }
    return 'no error';
  };
  assert.equal(msg('busybox', 'foo:bar:baz'), 'Error parsing reference: "foo:bar:baz" is not a valid repository/tag: invalid reference format');
  assert.equal(
    msg('busybox', 'UPPER'),
    'Error parsing reference: "UPPER" is not a valid repository/tag: invalid reference format: repository name (library/UPPER) must be lowercase',
  );
  assert.equal(msg('busybox', 'foo@sha256:' + '1'.repeat(64)), 'refusing to create a tag with a digest reference');
  assert.equal(msg('a:b:c', 'x'), 'Error parsing reference: "a:b:c" is not a valid repository/tag: invalid reference format');
});
