/**
 * Image command output from fixture API answers. Expected texts were captured from docker 28.2
 * run against a stub daemon serving the same JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

process.env.TZ = 'UTC';
const images = await import('../../src/cli/commands/images.js');
const { formatHistory } = await import('../../src/cli/commands/history.js');
const { formatImageList, formatPruneReport, formatRemoved, imageListFormat } = images;

const NOW_S = 1795870800; // 2026-11-28T13:00:00Z
const NOW = NOW_S * 1000;
const ID1 = 'sha256:aaaa1234567890abcdef1234567890abcdef1234567890abcdefbbbbbbbbbbbb';
const ID2 = 'sha256:' + 'c0ffee'.repeat(10) + 'abcd';
const ID3 = 'sha256:' + 'deadbeef'.repeat(8);
const DIGEST1 = 'sha256:' + '1'.repeat(64);
const DIGEST2 = 'sha256:' + '2'.repeat(64);

const IMAGES = [
  { Id: ID1, ParentId: '', RepoTags: ['busybox:latest', 'localhost:5000/busybox:v1'], RepoDigests: [`busybox@${DIGEST1}`], Created: NOW_S - 7200, Size: 4261550, SharedSize: -1, Labels: {}, Containers: -1 },
  { Id: ID2, ParentId: '', RepoTags: [], RepoDigests: [], Created: NOW_S - 90, Size: 123, SharedSize: -1, Labels: null, Containers: -1 },
  { Id: ID3, ParentId: '', RepoTags: ['alpine:3.20'], RepoDigests: [], Created: NOW_S - 86400 * 40, Size: 7_800_000_000, SharedSize: -1, Labels: null, Containers: 2 },
  { Id: ID3, ParentId: '', RepoTags: null, RepoDigests: [`alpine@${DIGEST2}`], Created: NOW_S - 86400 * 400, Size: 999, SharedSize: -1, Labels: null, Containers: 2 },
];

const list = (opts: Partial<Parameters<typeof formatImageList>[1]> = {}) =>
  formatImageList(IMAGES, { format: '', quiet: false, digests: false, noTrunc: false, now: NOW, ...opts });

test('image ls: default table, one row per tag, dangling as <none>', () => {
  assert.equal(
    list(),
    `REPOSITORY               TAG       IMAGE ID       CREATED              SIZE
busybox                  latest    aaaa12345678   2 hours ago          4.26MB
localhost:5000/busybox   v1        aaaa12345678   2 hours ago          4.26MB
<none>                   <none>    c0ffeec0ffee   About a minute ago   123B
alpine                   3.20      deadbeefdead   5 weeks ago          7.8GB
alpine                   <none>    deadbeefdead   13 months ago        999B
`,
  );
});

test('image ls --digests adds the DIGEST column and digest-only rows', () => {
  assert.equal(
    list({ digests: true }),
    `REPOSITORY               TAG       DIGEST                                                                    IMAGE ID       CREATED              SIZE
busybox                  latest    ${DIGEST1}   aaaa12345678   2 hours ago          4.26MB
localhost:5000/busybox   v1        <none>                                                                    aaaa12345678   2 hours ago          4.26MB
<none>                   <none>    <none>                                                                    c0ffeec0ffee   About a minute ago   123B
alpine                   3.20      <none>                                                                    deadbeefdead   5 weeks ago          7.8GB
alpine                   <none>    ${DIGEST2}   deadbeefdead   13 months ago        999B
`,
  );
});

test('image ls -q, --no-trunc, custom formats', () => {
  assert.equal(list({ quiet: true }), 'aaaa12345678\naaaa12345678\nc0ffeec0ffee\ndeadbeefdead\ndeadbeefdead\n');
  assert.equal(list({ quiet: true, noTrunc: true }).split('\n')[0], ID1);
  // a template naming .Digest gets digests without --digests; digest-only rows stay empty
  assert.equal(
    list({ format: '{{.Digest}}|{{.Repository}}' }),
    `${DIGEST1}|busybox\n<none>|localhost:5000/busybox\n<none>|<none>\n<none>|alpine\n|alpine\n`,
  );
  assert.equal(
    list({ format: 'table {{.ID}}\t{{.Repository}}' }).split('\n').slice(0, 2).join('\n'),
    'IMAGE ID       REPOSITORY\naaaa12345678   busybox',
  );
  assert.equal(imageListFormat('table {{.ID}}', false, true), 'table {{.ID}}\t{{.Digest}}');
  assert.equal(imageListFormat('table', true, true), '{{.ID}}');
});

test('image ls --format json: every field, sorted keys, HTML-escaped like Go', () => {
  const first = list({ format: 'json' }).split('\n')[0];
  assert.equal(
    first,
    '{"Containers":"N/A","CreatedAt":"2026-11-28 11:00:00 +0000 UTC","CreatedSince":"2 hours ago","Digest":"\\u003cnone\\u003e","ID":"aaaa12345678","Repository":"busybox","SharedSize":"N/A","Size":"4.26MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"4.262MB"}',
  );
});

test('image rm and prune output', () => {
  assert.equal(
    formatRemoved([{ Untagged: 'busybox:latest' }, { Deleted: ID1 }]),
    `Untagged: busybox:latest\nDeleted: ${ID1}\n`,
  );
  assert.equal(
    formatPruneReport({ ImagesDeleted: [{ Untagged: 'foo:latest' }, { Deleted: ID2 }], SpaceReclaimed: 1234567 }),
    `Deleted Images:\nuntagged: foo:latest\ndeleted: ${ID2}\n\nTotal reclaimed space: 1.235MB\n`,
  );
  assert.equal(formatPruneReport({ ImagesDeleted: null, SpaceReclaimed: 0 }), 'Total reclaimed space: 0B\n');
});

const HISTORY = [
  { Id: ID1, Created: NOW_S - 7200, CreatedBy: 'CMD ["sh"]', Tags: ['busybox:latest'], Size: 0, Comment: 'buildkit.dockerfile.v0' },
  {
    Id: '<missing>',
    Created: NOW_S - 7300,
    CreatedBy: '/bin/sh -c #(nop) ADD file:1234567890abcdef1234567890abcdef in / ' + 'x'.repeat(40),
    Tags: null,
    Size: 4261550,
    Comment: '',
  },
];

const history = (opts: Partial<Parameters<typeof formatHistory>[1]> = {}) =>
  formatHistory(HISTORY, { format: '', quiet: false, human: true, noTrunc: false, now: NOW, ...opts });

test('image history: default, -H=false, -q', () => {
  assert.equal(
    history(),
    `IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT
aaaa12345678   2 hours ago   CMD ["sh"]                                      0B        buildkit.dockerfile.v0
<missing>      2 hours ago   /bin/sh -c #(nop) ADD file:1234567890abcdef1…   4.26MB    
`,
  );
  assert.equal(
    history({ human: false }),
    `IMAGE          CREATED AT             CREATED BY                                      SIZE      COMMENT
aaaa12345678   2026-11-28T11:00:00Z   CMD ["sh"]                                      0         buildkit.dockerfile.v0
<missing>      2026-11-28T10:58:20Z   /bin/sh -c #(nop) ADD file:1234567890abcdef1…   4261550   
`,
  );
  assert.equal(history({ quiet: true }), 'aaaa12345678\n<missing>\n');
  assert.equal(history({ quiet: true, noTrunc: true }), `${ID1}\n<missing>\n`);
  assert.equal(
    history({ format: '{{.ID}}|{{.CreatedSince}}|{{.CreatedAt}}|{{.Size}}' }),
    'aaaa12345678|2 hours ago|2026-11-28T11:00:00Z|0B\n<missing>|2 hours ago|2026-11-28T10:58:20Z|4.26MB\n',
  );
});

test('image history: layers dated before 2000 show no age', () => {
  const out = formatHistory([{ ...HISTORY[0]!, Created: 0 }], { format: '{{.CreatedSince}}|', quiet: false, human: true, noTrunc: false, now: NOW });
  assert.equal(out, '|\n');
});
