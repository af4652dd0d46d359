import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  familiarName,
  familiarString,
  fullString,
  isFullImageIdLike,
  parseDockerRef,
  parseReference,
  repositoryName,
  validateTag,
  withDefaultTag,
  type ImageReference,
} from '../../src/images/reference.js';
import { BerthError } from '../../src/lib/errors.js';

const HEX = 'a'.repeat(32) + '0123456789abcdef'.repeat(2); // 64 lower-case hex
const D = `sha256:${HEX}`;
const ID = '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a';

/** Asserts fn throws an InvalidArgument BerthError with exactly `message`. */
function assertInvalid(fn: () => unknown, message: string, label?: string): void {
  assert.throws(
    fn,
    (err: unknown) => {
      assert.ok(err instanceof BerthError, `${label ?? ''}: expected BerthError, got ${String(err)}`);
      assert.equal(err.kind, 'InvalidArgument', label);
      assert.equal(err.message, message, label);
      return true;
    },
    label,
  );
}

interface ValidCase {
  input: string;
  ref: ImageReference;
  full: string;
  familiar: string;
  familiarName: string;
  /** False when the familiar string does not parse back (Docker behaves the same). */
  roundTrip?: boolean;
}

const valid: ValidCase[] = [
  {
    input: 'busybox',
    ref: { domain: 'docker.io', path: 'library/busybox' },
    full: 'docker.io/library/busybox',
    familiar: 'busybox',
    familiarName: 'busybox',
  },
  {
    input: 'busybox:latest',
    ref: { domain: 'docker.io', path: 'library/busybox', tag: 'latest' },
    full: 'docker.io/library/busybox:latest',
    familiar: 'busybox:latest',
    familiarName: 'busybox',
  },
  {
    input: 'library/busybox',
    ref: { domain: 'docker.io', path: 'library/busybox' },
    full: 'docker.io/library/busybox',
    familiar: 'busybox',
    familiarName: 'busybox',
  },
  {
    input: 'docker.io/busybox',
    ref: { domain: 'docker.io', path: 'library/busybox' },
    full: 'docker.io/library/busybox',
    familiar: 'busybox',
    familiarName: 'busybox',
  },
  {
    input: 'docker.io/library/busybox:1.36',
    ref: { domain: 'docker.io', path: 'library/busybox', tag: '1.36' },
    full: 'docker.io/library/busybox:1.36',
    familiar: 'busybox:1.36',
    familiarName: 'busybox',
  },
  {
    input: 'index.docker.io/library/busybox:1',
    ref: { domain: 'docker.io', path: 'library/busybox', tag: '1' },
    full: 'docker.io/library/busybox:1',
    familiar: 'busybox:1',
    familiarName: 'busybox',
  },
  {
    input: 'index.docker.io/busybox',
    ref: { domain: 'docker.io', path: 'library/busybox' },
    full: 'docker.io/library/busybox',
    familiar: 'busybox',
    familiarName: 'busybox',
  },
  {
    input: 'team/app',
    ref: { domain: 'docker.io', path: 'team/app' },
    full: 'docker.io/team/app',
    familiar: 'team/app',
    familiarName: 'team/app',
  },
  {
    input: 'docker.io/library/a/b',
    ref: { domain: 'docker.io', path: 'library/a/b' },
    full: 'docker.io/library/a/b',
    familiar: 'library/a/b',
    familiarName: 'library/a/b',
  },
  {
    input: 'localhost:5000/team/app:1.0',
    ref: { domain: 'localhost:5000', path: 'team/app', tag: '1.0' },
    full: 'localhost:5000/team/app:1.0',
    familiar: 'localhost:5000/team/app:1.0',
    familiarName: 'localhost:5000/team/app',
  },
  {
    input: 'localhost/app',
    ref: { domain: 'localhost', path: 'app' },
    full: 'localhost/app',
    familiar: 'localhost/app',
    familiarName: 'localhost/app',
  },
  {
    // A bare "localhost" is a Docker Hub official image name, not a domain.
    input: 'localhost',
    ref: { domain: 'docker.io', path: 'library/localhost' },
    full: 'docker.io/library/localhost',
    familiar: 'localhost',
    familiarName: 'localhost',
  },
  {
    // Likewise "host:port" without a slash is name:tag.
    input: 'localhost:5000',
    ref: { domain: 'docker.io', path: 'library/localhost', tag: '5000' },
    full: 'docker.io/library/localhost:5000',
    familiar: 'localhost:5000',
    familiarName: 'localhost',
  },
  {
    input: 'example.com:8080/a/b/c:v1',
    ref: { domain: 'example.com:8080', path: 'a/b/c', tag: 'v1' },
    full: 'example.com:8080/a/b/c:v1',
    familiar: 'example.com:8080/a/b/c:v1',
    familiarName: 'example.com:8080/a/b/c',
  },
  {
    input: 'ghcr.io/owner/image',
    ref: { domain: 'ghcr.io', path: 'owner/image' },
    full: 'ghcr.io/owner/image',
    familiar: 'ghcr.io/owner/image',
    familiarName: 'ghcr.io/owner/image',
  },
  {
    // Other registries do not get "library/".
    input: 'ghcr.io/app',
    ref: { domain: 'ghcr.io', path: 'app' },
    full: 'ghcr.io/app',
    familiar: 'ghcr.io/app',
    familiarName: 'ghcr.io/app',
  },
  {
    input: '127.0.0.1:5000/docker/docker',
    ref: { domain: '127.0.0.1:5000', path: 'docker/docker' },
    full: '127.0.0.1:5000/docker/docker',
    familiar: '127.0.0.1:5000/docker/docker',
    familiarName: '127.0.0.1:5000/docker/docker',
  },
  {
    input: '192.168.0.1',
    ref: { domain: 'docker.io', path: 'library/192.168.0.1' },
    full: 'docker.io/library/192.168.0.1',
    familiar: '192.168.0.1',
    familiarName: '192.168.0.1',
  },
  {
    input: '[::1]:5000/a',
    ref: { domain: '[::1]:5000', path: 'a' },
    full: '[::1]:5000/a',
    familiar: '[::1]:5000/a',
    familiarName: '[::1]:5000/a',
  },
  {
    input: '[fc00:1:2:3:4:5:6:7]:5000/library/debian:12',
    ref: { domain: '[fc00:1:2:3:4:5:6:7]:5000', path: 'library/debian', tag: '12' },
    full: '[fc00:1:2:3:4:5:6:7]:5000/library/debian:12',
    familiar: '[fc00:1:2:3:4:5:6:7]:5000/library/debian:12',
    familiarName: '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
  },
  {
    input: '[::1]/a',
    ref: { domain: '[::1]', path: 'a' },
    full: '[::1]/a',
    familiar: '[::1]/a',
    familiarName: '[::1]/a',
  },
  {
    // An upper-case first component is taken to be a host name.
    input: 'LOCALDOMAIN/debian',
    ref: { domain: 'LOCALDOMAIN', path: 'debian' },
    full: 'LOCALDOMAIN/debian',
    familiar: 'LOCALDOMAIN/debian',
    familiarName: 'LOCALDOMAIN/debian',
  },
  {
    // Docker quirk: a first component with '.' that is not a valid host but is a valid
    // path component leaves the domain empty.
    input: 'a_b.c/foo',
    ref: { domain: '', path: 'a_b.c/foo' },
    full: 'a_b.c/foo',
    familiar: 'a_b.c/foo',
    familiarName: 'a_b.c/foo',
  },
  {
    input: `busybox@${D}`,
    ref: { domain: 'docker.io', path: 'library/busybox', digest: D },
    full: `docker.io/library/busybox@${D}`,
    familiar: `busybox@${D}`,
    familiarName: 'busybox',
  },
  {
    input: `busybox:1.36@${D}`,
    ref: { domain: 'docker.io', path: 'library/busybox', tag: '1.36', digest: D },
    full: `docker.io/library/busybox:1.36@${D}`,
    familiar: `busybox:1.36@${D}`,
    familiarName: 'busybox',
  },
  {
    input: `localhost:5000/team/app:1.0@${D}`,
    ref: { domain: 'localhost:5000', path: 'team/app', tag: '1.0', digest: D },
    full: `localhost:5000/team/app:1.0@${D}`,
    familiar: `localhost:5000/team/app:1.0@${D}`,
    familiarName: 'localhost:5000/team/app',
  },
  {
    input: `app@sha512:${'f'.repeat(128)}`,
    ref: { domain: 'docker.io', path: 'library/app', digest: `sha512:${'f'.repeat(128)}` },
    full: `docker.io/library/app@sha512:${'f'.repeat(128)}`,
    familiar: `app@sha512:${'f'.repeat(128)}`,
    familiarName: 'app',
  },
  {
    input: `app@sha384:${'0'.repeat(96)}`,
    ref: { domain: 'docker.io', path: 'library/app', digest: `sha384:${'0'.repeat(96)}` },
    full: `docker.io/library/app@sha384:${'0'.repeat(96)}`,
    familiar: `app@sha384:${'0'.repeat(96)}`,
    familiarName: 'app',
  },
  {
    input: 'dock__er/do-c_k.er---x:Tag_1.-',
    ref: { domain: 'docker.io', path: 'dock__er/do-c_k.er---x', tag: 'Tag_1.-' },
    full: 'docker.io/dock__er/do-c_k.er---x:Tag_1.-',
    familiar: 'dock__er/do-c_k.er---x:Tag_1.-',
    familiarName: 'dock__er/do-c_k.er---x',
  },
  {
    input: 'a:_',
    ref: { domain: 'docker.io', path: 'library/a', tag: '_' },
    full: 'docker.io/library/a:_',
    familiar: 'a:_',
    familiarName: 'a',
  },
  {
    input: `a:${'t'.repeat(128)}`,
    ref: { domain: 'docker.io', path: 'library/a', tag: 't'.repeat(128) },
    full: `docker.io/library/a:${'t'.repeat(128)}`,
    familiar: `a:${'t'.repeat(128)}`,
    familiarName: 'a',
  },
  {
    // 64 hex is fine once it is not the whole input.
    input: `docker.io/${ID}`,
    ref: { domain: 'docker.io', path: `library/${ID}` },
    full: `docker.io/library/${ID}`,
    familiar: ID,
    familiarName: ID,
    roundTrip: false,
  },
  {
    // 64 non-hex characters are a normal name.
    input: 'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    ref: { domain: 'docker.io', path: 'library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev' },
    full: 'docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    familiar: 'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    familiarName: 'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
  },
  {
    // "sha256:<hex>" alone is the name "sha256" with a 64-character tag, as in Docker.
    input: `sha256:${HEX}`,
    ref: { domain: 'docker.io', path: 'library/sha256', tag: HEX },
    full: `docker.io/library/sha256:${HEX}`,
    familiar: `sha256:${HEX}`,
    familiarName: 'sha256',
  },
  {
    // Path of exactly 255 characters ("library/" + 247).
    input: 'a'.repeat(247),
    ref: { domain: 'docker.io', path: `library/${'a'.repeat(247)}` },
    full: `docker.io/library/${'a'.repeat(247)}`,
    familiar: 'a'.repeat(247),
    familiarName: 'a'.repeat(247),
  },
  {
    // The domain does not count toward the 255-character limit.
    input: `${'h'.repeat(60)}.example.com/${'p'.repeat(255)}`,
    ref: { domain: `${'h'.repeat(60)}.example.com`, path: 'p'.repeat(255) },
    full: `${'h'.repeat(60)}.example.com/${'p'.repeat(255)}`,
    familiar: `${'h'.repeat(60)}.example.com/${'p'.repeat(255)}`,
    familiarName: `${'h'.repeat(60)}.example.com/${'p'.repeat(255)}`,
  },
];

const INVALID = 'invalid reference format';
const invalid: Array<[input: string, message: string]> = [
  ['', INVALID],
  ['UPPER', 'invalid reference format: repository name (library/UPPER) must be lowercase'],
  ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
  ['Busybox:latest', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
  ['docker/Docker', 'invalid reference format: repository name (docker/Docker) must be lowercase'],
  ['docker.io/docker/Docker', 'invalid reference format: repository name (docker/Docker) must be lowercase'],
  ['localhost:5000/Team/app:1.0', 'invalid reference format: repository name (Team/app) must be lowercase'],
  ['a//b', INVALID],
  ['docker///docker', INVALID],
  ['docker.io/docker///docker', INVALID],
  ['a:', INVALID],
  [':tag', INVALID],
  ['a/', INVALID],
  ['/a', INVALID],
  ['-a', INVALID],
  ['a-', INVALID],
  ['-docker/docker', INVALID],
  ['docker-/docker', INVALID],
  ['-docker.io/docker/docker', INVALID],
  ['____/____', INVALID],
  ['_docker/_docker', INVALID],
  ['dock..er/docker', INVALID],
  ['dock_.er/docker', INVALID],
  ['dock___er/docker', INVALID],
  ['a b', INVALID],
  ['a@@b', INVALID],
  ['a@b', INVALID],
  ['a:tag:tag', INVALID],
  ['a:.tag', INVALID],
  ['a:-tag', INVALID],
  [`a:${'t'.repeat(129)}`, INVALID],
  ['https://github.com/docker/docker', INVALID],
  ['[fc00::1]', INVALID],
  ['[fc00::1]:5000', INVALID],
  ['fc00::1:5000/debian', INVALID],
  ['[fe80::1%eth0]:5000/debian', INVALID],
  ['[2001:db8:3:4::192.0.2.33]:5000/debian', INVALID],
  ['localhost:port/a', INVALID],
  ['example.com:/a', INVALID],
  ['-example.com/a', INVALID],
  ['example-.com/a', INVALID],
  ['busybox\n', INVALID],
  [' busybox', INVALID],
  [ID, `invalid repository name (${ID}), cannot specify 64-byte hexadecimal strings`],
  ['a'.repeat(248), 'repository name must not be more than 255 characters'],
  [`example.com/${'p'.repeat(256)}`, 'repository name must not be more than 255 characters'],
  [`${'a/'.repeat(127)}ab`, 'repository name must not be more than 255 characters'],
  // Digests.
  ['busybox@sha256:abc', INVALID], // fewer than 32 hex digits
  ['busybox@sha256:', INVALID],
  ['busybox@', INVALID],
  ['busybox@:' + HEX, INVALID],
  [`busybox@sha256:${HEX}0`, 'invalid checksum digest length'],
  [`busybox@sha256:${'a'.repeat(32)}`, 'invalid checksum digest length'],
  [`busybox@sha256:${HEX.toUpperCase()}`, 'invalid checksum digest format'],
  [`busybox@sha512:${HEX}`, 'invalid checksum digest length'],
  [`busybox@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
  // Docker checks for upper case up to the first ':', which here is inside the digest.
  [`busybox@Sha256:${HEX}`, 'invalid reference format: repository name (library/busybox@Sha256) must be lowercase'],
  [`busybox:1@Sha256:${HEX}`, 'invalid checksum digest format'],
  [`busybox@sha256+b64:${HEX}`, 'unsupported digest algorithm'],
  [`busybox@sha256:${'g'.repeat(64)}`, INVALID],
  [`busybox:tag@sha256:${HEX}x`, INVALID],
  [`busybox@${D}:tag`, INVALID],
];

describe('parseReference', () => {
  for (const c of valid) {
    it(`parses ${JSON.stringify(c.input.length > 80 ? c.input.slice(0, 80) + '…' : c.input)}`, () => {
      const ref = parseReference(c.input);
      assert.deepEqual(ref, c.ref);
      assert.equal(fullString(ref), c.full);
      assert.equal(repositoryName(ref), c.ref.domain === '' ? c.ref.path : `${c.ref.domain}/${c.ref.path}`);
      assert.equal(familiarString(ref), c.familiar);
      assert.equal(familiarName(ref), c.familiarName);
      // The canonical and familiar strings parse back to the same reference.
      assert.deepEqual(parseReference(fullString(ref)), ref);
      if (c.roundTrip !== false) assert.deepEqual(parseReference(familiarString(ref)), ref);
      else assert.throws(() => parseReference(familiarString(ref)));
    });
  }

  for (const [input, message] of invalid) {
    const label = JSON.stringify(input.length > 80 ? input.slice(0, 80) + '…' : input);
    it(`rejects ${label}`, () => {
      assertInvalid(() => parseReference(input), message, label);
    });
  }

  it('never adds a default tag', () => {
    assert.equal(parseReference('busybox').tag, undefined);
    assert.equal(parseReference(`busybox@${D}`).tag, undefined);
  });

  it('handles pathological inputs quickly', () => {
    const inputs = [
      'a'.repeat(100_000) + '!',
      'a-'.repeat(50_000) + '!',
      'a.'.repeat(50_000),
      'a'.repeat(50_000) + '.com/' + 'b'.repeat(10) + '!',
      'a1-'.repeat(30_000) + '/x!',
      '[' + ':'.repeat(50_000),
      'x@' + 'a'.repeat(50_000),
    ];
    const start = Date.now();
    for (const s of inputs) assert.throws(() => parseReference(s));
    assert.ok(Date.now() - start < 2000, `took ${Date.now() - start}ms`);
  });
});

describe('parseDockerRef', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
    ['localhost:5000/team/app', 'localhost:5000/team/app:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:latest@${D}`, `docker.io/library/busybox@${D}`],
    [`ghcr.io/o/i:v1@${D}`, `ghcr.io/o/i@${D}`],
  ];
  for (const [input, expected] of cases) {
    it(`${input.slice(0, 60)} -> ${expected.slice(0, 60)}`, () => {
      assert.equal(fullString(parseDockerRef(input)), expected);
    });
  }

  it('keeps only the digest when both are given', () => {
    const ref = parseDockerRef(`busybox:1@${D}`);
    assert.deepEqual(ref, { domain: 'docker.io', path: 'library/busybox', digest: D });
    assert.equal(familiarString(ref), `busybox@${D}`);
  });

  it('throws the same errors as parseReference', () => {
    assertInvalid(() => parseDockerRef('UPPER'), 'invalid reference format: repository name (library/UPPER) must be lowercase');
    assertInvalid(() => parseDockerRef('a@@b'), INVALID);
    assertInvalid(() => parseDockerRef(ID), `invalid repository name (${ID}), cannot specify 64-byte hexadecimal strings`);
  });
});

describe('formatting helpers', () => {
  it('repositoryName', () => {
    assert.equal(repositoryName(parseReference('busybox:1')), 'docker.io/library/busybox');
    assert.equal(repositoryName(parseReference(`localhost:5000/team/app:1.0@${D}`)), 'localhost:5000/team/app');
    assert.equal(repositoryName({ domain: '', path: 'a/b' }), 'a/b');
  });

  it('fullString orders tag before digest', () => {
    assert.equal(
      fullString({ domain: 'docker.io', path: 'library/busybox', tag: 'x', digest: D }),
      `docker.io/library/busybox:x@${D}`,
    );
  });

  it('familiarName keeps library/ when the name is nested', () => {
    assert.equal(familiarName({ domain: 'docker.io', path: 'library/a/b' }), 'library/a/b');
    assert.equal(familiarName({ domain: 'docker.io', path: 'library/a' }), 'a');
    assert.equal(familiarName({ domain: 'docker.io', path: 'team/app' }), 'team/app');
    assert.equal(familiarName({ domain: 'ghcr.io', path: 'library/a' }), 'ghcr.io/library/a');
  });

  it('familiarString', () => {
    assert.equal(familiarString(parseDockerRef('busybox')), 'busybox:latest');
    assert.equal(familiarString(parseDockerRef('localhost:5000/team/app:1.0')), 'localhost:5000/team/app:1.0');
    assert.equal(familiarString(parseDockerRef(`busybox@${D}`)), `busybox@${D}`);
  });

  it('withDefaultTag', () => {
    const bare = parseReference('busybox');
    const tagged = withDefaultTag(bare);
    assert.deepEqual(tagged, { domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
    assert.equal(bare.tag, undefined, 'input is not mutated');
    assert.deepEqual(withDefaultTag(parseReference('busybox:1')), { domain: 'docker.io', path: 'library/busybox', tag: '1' });
    assert.deepEqual(withDefaultTag(parseReference(`busybox@${D}`)), {
      domain: 'docker.io',
      path: 'library/busybox',
      digest: D,
    });
  });
});

describe('isFullImageIdLike', () => {
  it('accepts 64 lower-case hex with optional sha256: prefix', () => {
    assert.equal(isFullImageIdLike(ID), true);
    assert.equal(isFullImageIdLike(`sha256:${ID}`), true);
  });
  it('rejects everything else', () => {
    for (const s of [
      '',
      ID.slice(0, 63),
      ID + '0',
      ID.toUpperCase(),
      `sha512:${ID}`,
      `sha256:${ID.slice(0, 12)}`,
      ID.slice(0, 12),
      'busybox',
      `${'g'.repeat(64)}`,
      `sha256:`,
    ]) {
      assert.equal(isFullImageIdLike(s), false, s);
    }
  });
});

describe('validateTag', () => {
  for (const tag of ['latest', '1', '1.0', 'v1.2.3-rc.1', '_', 'A', 'UPPER_case', '9-.', 't'.repeat(128)]) {
    it(`accepts ${JSON.stringify(tag.slice(0, 40))}`, () => {
      validateTag(tag);
    });
  }
  for (const tag of ['', '.a', '-a', 'a:b', 'a/b', 'a@b', 'a b', 'é', 't'.repeat(129), 'a\n']) {
    it(`rejects ${JSON.stringify(tag.slice(0, 40))}`, () => {
      assertInvalid(() => validateTag(tag), 'invalid tag format', tag);
    });
  }
});
