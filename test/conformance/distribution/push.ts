/** Push: blob uploads (monolithic, single POST, chunked, mount), manifest uploads, names and tags. */
import { randomBytes } from 'node:crypto';
import {
  type Check, type Context, Failure, Skip, blob, expect, expectEqual, expectErrorCode, expectHeader, expectStatus, header,
  manifest, ociImage, ociIndex, dockerImage, randomBlob, withQuery, type Blob, OCI_MANIFEST, OCI_LAYER, OCI_CONFIG, DOCKER_LIST,
} from './context.js';

/** Blob GET after an upload: the registry must serve what was uploaded. */
async function expectBlob(ctx: Context, repo: string, b: Blob): Promise<void> {
  const a = await ctx.req('GET', `/v2/${repo}/blobs/${b.digest}`);
  expectStatus(a, 200);
  expect(a.body.equals(b.bytes), `blob ${b.digest} served back differs (${a.body.length} bytes, want ${b.bytes.length})`);
}

async function startUpload(ctx: Context, repo: string): Promise<string> {
  const post = await ctx.req('POST', `/v2/${repo}/blobs/uploads/`);
  expectStatus(post, 202);
  return expectHeader(post, 'Location');
}

function patch(ctx: Context, location: string, bytes: Buffer, start: number): ReturnType<Context['req']> {
  return ctx.req('PATCH', location, {
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${start + bytes.length - 1}` },
    body: bytes,
  });
}

export const pushChecks: Check[] = [
  {
    id: 'push/post-put',
    category: 'Push',
    level: 'MUST',
    requirement: 'POST /v2/<name>/blobs/uploads/ answers 202 with a Location; PUT <location>?digest= with the bytes answers 201 with a Location that is a pullable blob URL',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(3000);
      const loc = await startUpload(ctx, repo);
      const put = await ctx.req('PUT', withQuery(loc, { digest: b.digest }), { headers: { 'Content-Type': 'application/octet-stream' }, body: b.bytes });
      expectStatus(put, 201);
      const blobUrl = expectHeader(put, 'Location');
      const got = await ctx.req('GET', blobUrl);
      expectStatus(got, 200);
      expect(got.body.equals(b.bytes), 'the blob at the PUT answer\'s Location differs');
      await expectBlob(ctx, repo, b);
    },
  },
  {
    id: 'push/empty-blob',
    category: 'Push',
    level: 'MUST',
    requirement: 'A zero-length blob (sha256 of nothing) uploads with POST then PUT (201) and is served back with Content-Length 0',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = blob(Buffer.alloc(0));
      await ctx.pushBlob(repo, b);
      const head = await ctx.req('HEAD', `/v2/${repo}/blobs/${b.digest}`);
      expectStatus(head, 200);
      expectEqual(Number(expectHeader(head, 'Content-Length')), 0, 'Content-Length');
      await expectBlob(ctx, repo, b);
    },
  },
  {
    id: 'push/docker-manifest-list',
    category: 'Push',
    level: 'MUST',
    requirement: 'A Docker manifest list (application/vnd.docker.distribution.manifest.list.v2+json) over Docker schema 2 manifests is accepted (201) and served back as pushed, with its Content-Type',
    async run(ctx) {
      const repo = ctx.repo('docker-list');
      const img = dockerImage();
      await ctx.pushImage(repo, img, img.manifest.digest);
      const list = manifest({
        schemaVersion: 2,
        mediaType: DOCKER_LIST,
        manifests: [{ mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.bytes.length, platform: { architecture: 'amd64', os: 'linux' } }],
      }, DOCKER_LIST);
      const put = await ctx.putManifest(repo, 'list', list);
      expectStatus(put, 201);
      expectEqual(expectHeader(put, 'Docker-Content-Digest'), list.digest, 'Docker-Content-Digest');
      const got = await ctx.getManifest(repo, 'list');
      expectStatus(got, 200);
      expect(got.body.equals(list.bytes), 'manifest list served back differs');
      expectEqual(header(got, 'Content-Type').split(';')[0]!.trim(), DOCKER_LIST, 'Content-Type');
    },
  },
  {
    id: 'push/upload-location-unique',
    category: 'Push',
    level: 'MUST',
    requirement: 'The <blob-push-location> contains a UUID representing a unique session ID: two POSTs get two different locations',
    async run(ctx) {
      const repo = ctx.repo('push');
      const a = await startUpload(ctx, repo);
      const b = await startUpload(ctx, repo);
      expect(a !== b, `both POSTs answered Location ${a}`);
      await ctx.req('DELETE', a);
      await ctx.req('DELETE', b);
    },
  },
  {
    id: 'push/single-post',
    category: 'Push',
    level: 'MAY',
    requirement: 'POST /v2/<name>/blobs/uploads/?digest= with the bytes: 201 Created with a Location, or (not supported) 202 Accepted with a Location the client finishes with PUT',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(2000);
      const post = await ctx.req('POST', `/v2/${repo}/blobs/uploads/?digest=${b.digest}`, { headers: { 'Content-Type': 'application/octet-stream' }, body: b.bytes });
      expectStatus(post, 201, 202);
      const loc = expectHeader(post, 'Location');
      if (post.status === 202) {
        const put = await ctx.req('PUT', withQuery(loc, { digest: b.digest }), { headers: { 'Content-Type': 'application/octet-stream' }, body: b.bytes });
        expectStatus(put, 201);
      }
      await expectBlob(ctx, repo, b);
    },
  },
  {
    id: 'push/chunked',
    category: 'Push',
    level: 'MUST',
    requirement: 'PATCH with Content-Range and Content-Length answers 202 with Location and Range: 0-<end-of-range>; the closing PUT ?digest= of the whole blob answers 201',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(10_000);
      let loc = await startUpload(ctx, repo);
      const cuts = [0, 4000, 8000, 10_000];
      for (let i = 0; i < cuts.length - 1; i++) {
        const a = await patch(ctx, loc, b.bytes.subarray(cuts[i], cuts[i + 1]), cuts[i]!);
        expectStatus(a, 202);
        loc = expectHeader(a, 'Location');
        expectEqual(expectHeader(a, 'Range'), `0-${cuts[i + 1]! - 1}`, `Range after chunk ${i + 1}`);
      }
      const put = await ctx.req('PUT', withQuery(loc, { digest: b.digest }));
      expectStatus(put, 201);
      expectHeader(put, 'Location');
      await expectBlob(ctx, repo, b);
    },
  },
  {
    id: 'push/chunked-final-in-put',
    category: 'Push',
    level: 'MUST',
    requirement: 'The final chunk MAY be uploaded in the closing PUT (with Content-Range and Content-Length); the session closes with 201',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(6000);
      const first = await patch(ctx, await startUpload(ctx, repo), b.bytes.subarray(0, 4000), 0);
      expectStatus(first, 202);
      const put = await ctx.req('PUT', withQuery(expectHeader(first, 'Location'), { digest: b.digest }), {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '4000-5999' },
        body: b.bytes.subarray(4000),
      });
      expectStatus(put, 201);
      await expectBlob(ctx, repo, b);
    },
  },
  {
    id: 'push/chunk-out-of-order',
    category: 'Push',
    level: 'MUST',
    requirement: 'If a chunk is uploaded out of order, the registry MUST respond with 416 Requested Range Not Satisfiable; the upload goes on from the right offset',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(6000);
      const first = await patch(ctx, await startUpload(ctx, repo), b.bytes.subarray(0, 2000), 0);
      expectStatus(first, 202);
      const loc = expectHeader(first, 'Location');
      const skipped = await patch(ctx, loc, b.bytes.subarray(3000, 4000), 3000);
      expectStatus(skipped, 416);
      const status = await ctx.req('GET', loc);
      expectStatus(status, 204);
      expectEqual(expectHeader(status, 'Range'), '0-1999', 'Range after the refused chunk');
      const next = await patch(ctx, expectHeader(status, 'Location'), b.bytes.subarray(2000), 2000);
      expectStatus(next, 202);
      expectStatus(await ctx.req('PUT', withQuery(expectHeader(next, 'Location'), { digest: b.digest })), 201);
      await expectBlob(ctx, repo, b);
    },
  },
  {
    id: 'push/final-chunk-out-of-order',
    category: 'Push',
    level: 'MUST',
    requirement: 'If the final chunk (in the closing PUT) is uploaded out of order, the registry MUST respond with 416',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(6000);
      const first = await patch(ctx, await startUpload(ctx, repo), b.bytes.subarray(0, 2000), 0);
      expectStatus(first, 202);
      const loc = expectHeader(first, 'Location');
      const put = await ctx.req('PUT', withQuery(loc, { digest: b.digest }), {
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '3000-5999' },
        body: b.bytes.subarray(3000),
      });
      expectStatus(put, 416);
      await ctx.req('DELETE', loc);
    },
  },
  {
    id: 'push/upload-status',
    category: 'Push',
    level: 'MUST',
    requirement: 'GET <blob-push-location> of an active upload answers 204 No Content with Location and Range: 0-<end-of-range>',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(3000);
      const first = await patch(ctx, await startUpload(ctx, repo), b.bytes.subarray(0, 1234), 0);
      expectStatus(first, 202);
      const status = await ctx.req('GET', expectHeader(first, 'Location'));
      expectStatus(status, 204);
      expectHeader(status, 'Location');
      expectEqual(expectHeader(status, 'Range'), '0-1233', 'Range');
      await ctx.req('DELETE', expectHeader(status, 'Location'));
    },
  },
  {
    id: 'push/upload-cancel',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'DELETE <blob-push-location> cancels the upload with 204 No Content; the session is then unknown (404 BLOB_UPLOAD_UNKNOWN)',
    async run(ctx) {
      const repo = ctx.repo('push');
      const first = await patch(ctx, await startUpload(ctx, repo), randomBytes(100), 0);
      expectStatus(first, 202);
      const loc = expectHeader(first, 'Location');
      expectStatus(await ctx.req('DELETE', loc), 204);
      const after = await ctx.req('GET', loc);
      expectStatus(after, 404);
      expectErrorCode(after, 'BLOB_UPLOAD_UNKNOWN');
    },
  },
  {
    id: 'push/digest-mismatch',
    category: 'Push',
    level: 'MUST',
    requirement: 'A closing PUT whose digest does not match the uploaded bytes answers 400 DIGEST_INVALID, and no blob appears under either digest',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(1000);
      const other = randomBlob(1000);
      const put = await ctx.req('PUT', withQuery(await startUpload(ctx, repo), { digest: other.digest }), { headers: { 'Content-Type': 'application/octet-stream' }, body: b.bytes });
      expectStatus(put, 400);
      expectErrorCode(put, 'DIGEST_INVALID');
      expectStatus(await ctx.req('HEAD', `/v2/${repo}/blobs/${other.digest}`), 404);
      expectStatus(await ctx.req('HEAD', `/v2/${repo}/blobs/${b.digest}`), 404);
    },
  },
  {
    id: 'push/digest-invalid-syntax',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'If the client provided digest is invalid or uses an unsupported algorithm, the registry SHOULD respond 400 Bad Request',
    async run(ctx) {
      const repo = ctx.repo('push');
      const b = randomBlob(100);
      for (const bad of ['sha256:xyz', 'nosuchalgo:' + 'a'.repeat(64)]) {
        const put = await ctx.req('PUT', withQuery(await startUpload(ctx, repo), { digest: bad }), { headers: { 'Content-Type': 'application/octet-stream' }, body: b.bytes });
        expectStatus(put, 400);
      }
    },
  },
  {
    id: 'push/mount',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other_name> of a blob the other repository holds answers 201 Created with a Location (202 when mounting is not supported)',
    async run(ctx) {
      const from = ctx.repo('mount-from');
      const to = ctx.repo('mount-to');
      const b = randomBlob(1500);
      await ctx.pushBlob(from, b);
      const a = await ctx.req('POST', `/v2/${to}/blobs/uploads/?mount=${b.digest}&from=${from}`);
      if (a.status === 202) {
        await ctx.req('DELETE', expectHeader(a, 'Location'));
        throw new Failure('mount answered 202: the registry did not mount a blob it holds in another repository');
      }
      expectStatus(a, 201);
      expectHeader(a, 'Location');
      await expectBlob(ctx, to, b);
    },
  },
  {
    id: 'push/mount-unknown',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'A mount the registry cannot make (the blob is not in <other_name>) SHOULD answer 202: an upload session has begun, with a Location',
    async run(ctx) {
      const to = ctx.repo('mount-to');
      const missing = randomBlob(10);
      const a = await ctx.req('POST', `/v2/${to}/blobs/uploads/?mount=${missing.digest}&from=${ctx.repo('mount-from')}`);
      expectStatus(a, 202);
      const loc = expectHeader(a, 'Location');
      const put = await ctx.req('PUT', withQuery(loc, { digest: missing.digest }), { headers: { 'Content-Type': 'application/octet-stream' }, body: missing.bytes });
      expectStatus(put, 201);
    },
  },
  {
    id: 'push/manifest-by-tag',
    category: 'Push',
    level: 'MUST',
    requirement: 'PUT /v2/<name>/manifests/<tag> answers 201 Created with a Location (a pullable manifest URL) and Docker-Content-Digest equal to the digest of the bytes',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const img = ociImage();
      const a = await ctx.pushImage(repo, img, 'tagged');
      expectEqual(expectHeader(a, 'Docker-Content-Digest'), img.manifest.digest, 'Docker-Content-Digest');
      const byLocation = await ctx.req('GET', expectHeader(a, 'Location'), { headers: { Accept: OCI_MANIFEST } });
      expectStatus(byLocation, 200);
      expect(byLocation.body.equals(img.manifest.bytes), 'manifest at Location differs');
    },
  },
  {
    id: 'push/manifest-by-digest',
    category: 'Push',
    level: 'MUST',
    requirement: 'PUT /v2/<name>/manifests/<digest> answers 201 with Location and Docker-Content-Digest equal to the client provided digest; the manifest is pullable by that digest',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const right = ociImage();
      for (const b of [right.config, ...right.layers]) await ctx.pushBlob(repo, b);
      const put = await ctx.putManifest(repo, right.manifest.digest, right.manifest);
      expectStatus(put, 201);
      expectHeader(put, 'Location');
      expectEqual(expectHeader(put, 'Docker-Content-Digest'), right.manifest.digest, 'Docker-Content-Digest');
      const got = await ctx.getManifest(repo, right.manifest.digest);
      expectStatus(got, 200);
      expect(got.body.equals(right.manifest.bytes), 'manifest pulled by digest differs');
    },
  },
  {
    id: 'push/manifest-digest-mismatch',
    category: 'Push',
    level: 'MUST',
    requirement: 'PUT /v2/<name>/manifests/<digest> with bytes of another digest is refused (400, DIGEST_INVALID): the digest MUST equal the client provided digest',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const img = ociImage();
      for (const b of [img.config, ...img.layers]) await ctx.pushBlob(repo, b);
      const wrong = 'sha256:' + 'e'.repeat(64);
      const put = await ctx.putManifest(repo, wrong, img.manifest);
      expectStatus(put, 400);
      expectErrorCode(put, 'DIGEST_INVALID');
      expectStatus(await ctx.getManifest(repo, wrong), 404);
    },
  },
  {
    id: 'push/manifest-blob-unknown',
    category: 'Push',
    level: 'MUST',
    requirement: 'A manifest rejected because it references a blob the registry does not hold results in 400 with MANIFEST_BLOB_UNKNOWN errors',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const img = ociImage({ layers: 2 });
      await ctx.pushBlob(repo, img.config);
      await ctx.pushBlob(repo, img.layers[0]!); // layers[1] never uploaded
      const put = await ctx.putManifest(repo, 'missing-blob', img.manifest);
      if (put.status === 201) throw new Skip('the registry accepts manifests whose blobs it does not hold (MAY)');
      expectStatus(put, 400);
      expectErrorCode(put, 'MANIFEST_BLOB_UNKNOWN');
      expectStatus(await ctx.getManifest(repo, 'missing-blob'), 404);
    },
  },
  {
    id: 'push/manifest-invalid',
    category: 'Push',
    level: 'MUST',
    requirement: 'A manifest body that is not a manifest of its Content-Type (garbage JSON) is refused with 400 MANIFEST_INVALID',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const put = await ctx.req('PUT', `/v2/${repo}/manifests/garbage`, { headers: { 'Content-Type': OCI_MANIFEST }, body: '{"schemaVersion": 2, "config": 7, ' });
      expectStatus(put, 400);
      expectErrorCode(put, 'MANIFEST_INVALID');
      expectStatus(await ctx.getManifest(repo, 'garbage'), 404);
    },
  },
  {
    id: 'push/manifest-subject-missing',
    category: 'Push',
    level: 'MUST',
    requirement: 'A registry MUST initially accept an otherwise valid manifest with a subject field that references a manifest that does not exist in the repository',
    async run(ctx) {
      const repo = ctx.repo('referrers-early');
      const absent = ociImage().manifest;
      const art = ociImage({ layers: 1, subject: { mediaType: OCI_MANIFEST, digest: absent.digest, size: absent.bytes.length }, artifactType: 'application/vnd.example.early+json' });
      for (const b of [art.config, ...art.layers]) await ctx.pushBlob(repo, b);
      expectStatus(await ctx.putManifest(repo, art.manifest.digest, art.manifest), 201);
    },
  },
  {
    id: 'push/index-children-required',
    category: 'Push',
    level: 'MAY',
    requirement: 'An index whose child manifests are absent MAY be rejected; if rejected, with MANIFEST_BLOB_UNKNOWN',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const idx = ociIndex([{ m: ociImage().manifest }]);
      const put = await ctx.putManifest(repo, 'orphan-index', idx);
      if (put.status === 201) throw new Skip('accepted (the registry does not require an index\'s children first)');
      expectStatus(put, 400);
      expectErrorCode(put, 'MANIFEST_BLOB_UNKNOWN');
    },
  },
  {
    id: 'push/manifest-4mib',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'Registries SHOULD expect to support manifest pushes of at least 4 megabytes (a manifest just under 4 MiB is accepted and served back byte for byte)',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const img = ociImage({ layers: 1 });
      for (const b of [img.config, ...img.layers]) await ctx.pushBlob(repo, b);
      const base = JSON.parse(img.manifest.bytes.toString()) as Record<string, unknown>;
      const overhead = Buffer.byteLength(JSON.stringify({ ...base, annotations: { 'org.example.pad': '' } }));
      const pad = 'x'.repeat(4 * 1024 * 1024 - overhead - 1024);
      const big = manifest({ ...base, annotations: { 'org.example.pad': pad } }, OCI_MANIFEST);
      const put = await ctx.putManifest(repo, 'big', big);
      expectStatus(put, 201);
      const got = await ctx.getManifest(repo, 'big');
      expectStatus(got, 200);
      expect(got.body.equals(big.bytes), 'the large manifest served back differs');
    },
  },
  {
    id: 'push/manifest-too-large',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'A registry SHOULD enforce a limit on manifest size and respond to a push over it with 413 Payload Too Large (tested with 32 MiB)',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const img = ociImage({ layers: 1 });
      for (const b of [img.config, ...img.layers]) await ctx.pushBlob(repo, b);
      const base = JSON.parse(img.manifest.bytes.toString()) as Record<string, unknown>;
      const huge = manifest({ ...base, annotations: { 'org.example.pad': 'y'.repeat(32 * 1024 * 1024) } }, OCI_MANIFEST);
      const put = await ctx.putManifest(repo, 'huge', huge).catch((e: Error) => {
        // A registry may close the connection once it has answered 413 before reading the whole body.
        if (/EPIPE|ECONNRESET/.test(e.message)) return undefined;
        throw e;
      });
      if (put) expectStatus(put, 413);
      expectStatus(await ctx.getManifest(repo, 'huge', 'HEAD'), 404);
    },
  },
  {
    id: 'push/manifest-content-type-params',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'The registry SHOULD ignore parameters on the Content-Type header of a manifest PUT (and SHOULD NOT include parameters on the Content-Type it serves)',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const img = ociImage({ layers: 1 });
      for (const b of [img.config, ...img.layers]) await ctx.pushBlob(repo, b);
      expectStatus(await ctx.putManifest(repo, 'params', img.manifest, `${OCI_MANIFEST}; charset=utf-8`), 201);
      const got = await ctx.getManifest(repo, 'params');
      expectStatus(got, 200);
      expectEqual(header(got, 'Content-Type'), OCI_MANIFEST, 'Content-Type served (no parameters)');
    },
  },
  {
    id: 'push/tags-query',
    category: 'Push',
    level: 'MAY',
    requirement: 'PUT /v2/<name>/manifests/<digest>?tag=a&tag=b: a registry that supports it MUST include an OCI-Tag response header for each accepted tag',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const img = ociImage({ layers: 1 });
      for (const b of [img.config, ...img.layers]) await ctx.pushBlob(repo, b);
      const put = await ctx.req('PUT', `/v2/${repo}/manifests/${img.manifest.digest}?tag=q1&tag=q2`, { headers: { 'Content-Type': OCI_MANIFEST }, body: img.manifest.bytes });
      expectStatus(put, 201);
      const ociTag = header(put, 'OCI-Tag');
      if (!ociTag) throw new Skip('no OCI-Tag header: tag query parameters not supported');
      const tags = ociTag.split(',').map((t) => t.trim());
      expect(tags.includes('q1') && tags.includes('q2'), `OCI-Tag: ${ociTag}`);
      for (const t of ['q1', 'q2']) expectStatus(await ctx.getManifest(repo, t, 'HEAD'), 200);
    },
  },
  {
    id: 'push/name-components',
    category: 'Push',
    level: 'MUST',
    requirement: '<name> matches [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*: names with several path components and separators are served',
    async run(ctx) {
      const repo = ctx.repo('a.b_c__d---e/f/g');
      const b = randomBlob(64);
      await ctx.pushBlob(repo, b);
      await expectBlob(ctx, repo, b);
    },
  },
  {
    id: 'push/name-invalid',
    category: 'Push',
    level: 'MUST',
    requirement: 'A name outside the <name> grammar (upper case, leading separator, doubled dot) is refused with a 4XX and nothing is stored under it',
    async run(ctx) {
      for (const bad of [ctx.prefix + '/UPPER', ctx.prefix + '/-lead', ctx.prefix + '/a..b']) {
        const post = await ctx.req('POST', `/v2/${bad}/blobs/uploads/`);
        expect(post.status >= 400 && post.status < 500, `POST to ${bad}: expected a 4XX, got ${post.status}`);
      }
    },
  },
  {
    id: 'push/name-invalid-code',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'A name outside the grammar answers 400 with the error code NAME_INVALID (code-8, "invalid repository name")',
    async run(ctx) {
      for (const bad of [ctx.prefix + '/UPPER', ctx.prefix + '/-lead']) {
        const post = await ctx.req('POST', `/v2/${bad}/blobs/uploads/`);
        expectStatus(post, 400);
        expectErrorCode(post, 'NAME_INVALID');
      }
    },
  },
  {
    id: 'push/name-too-long',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'Registries should avoid names that break clients\' 255-character limit: a 300-character name answers 400 NAME_INVALID',
    async run(ctx) {
      const long = ctx.prefix + '/' + 'n'.repeat(300);
      const post = await ctx.req('POST', `/v2/${long}/blobs/uploads/`);
      expectStatus(post, 400);
      expectErrorCode(post, 'NAME_INVALID');
    },
  },
  {
    id: 'push/tag-grammar',
    category: 'Push',
    level: 'MUST',
    requirement: 'A tag is at most 128 characters of [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}: a 128-character tag and _.- tags are accepted; a 129-character tag or one starting with . or - is refused with a 4XX',
    async run(ctx) {
      const repo = ctx.repo('tags-grammar');
      const img = ociImage({ layers: 1 });
      for (const b of [img.config, ...img.layers]) await ctx.pushBlob(repo, b);
      for (const good of ['T'.repeat(128), '_x.y-Z', '0']) {
        expectStatus(await ctx.putManifest(repo, good, img.manifest), 201);
      }
      for (const bad of ['t'.repeat(129), '.dot', '-dash']) {
        const a = await ctx.putManifest(repo, bad, img.manifest);
        expect(a.status >= 400 && a.status < 500, `PUT tag ${bad.slice(0, 20)}…: expected a 4XX, got ${a.status}`);
      }
    },
  },
  {
    id: 'push/blob-size-mismatch',
    category: 'Push',
    level: 'SHOULD',
    requirement: 'A manifest whose descriptor size differs from the blob\'s size is refused (400; MANIFEST_BLOB_UNKNOWN or MANIFEST_INVALID or SIZE_INVALID)',
    async run(ctx) {
      const repo = ctx.repo('manifests');
      const config = blob(Buffer.from('{"os":"linux","architecture":"amd64"}'));
      const layer = randomBlob(500);
      await ctx.pushBlob(repo, config);
      await ctx.pushBlob(repo, layer);
      const m = manifest({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.bytes.length }, layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: 499 }] }, OCI_MANIFEST);
      const put = await ctx.putManifest(repo, 'size-lie', m);
      expectStatus(put, 400);
      expectErrorCode(put, 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID', 'SIZE_INVALID', 'BLOB_UNKNOWN');
    },
  },
];
