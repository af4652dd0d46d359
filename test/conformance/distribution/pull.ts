/** Pull: the category every registry MUST support (spec.md "Pull", "Determining Support"). */
import {
  type Check, Failure, Skip, expect, expectEqual, expectErrorCode, expectHeader, expectStatus, digestOf, header, mediaTypeOf,
  OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST,
} from './context.js';

const UNKNOWN_DIGEST = 'sha256:' + 'f'.repeat(64);

export const pullChecks: Check[] = [
  {
    id: 'pull/api-version',
    category: 'Pull',
    level: 'MUST',
    requirement: 'GET /v2/ answers 200 OK: the registry implements the specification (end-1)',
    async run(ctx) {
      expectStatus(await ctx.req('GET', '/v2/'), 200);
    },
  },
  {
    id: 'pull/manifest-by-tag',
    category: 'Pull',
    level: 'MUST',
    requirement: 'GET /v2/<name>/manifests/<tag> returns 200, the manifest bytes as pushed and Docker-Content-Digest of them',
    async run(ctx) {
      const s = await ctx.seed();
      const a = await ctx.getManifest(s.repo, s.tag);
      expectStatus(a, 200);
      expect(a.body.equals(s.image.manifest.bytes), 'body differs from the manifest bytes pushed ("MUST store the manifest in the exact byte representation")');
      expectEqual(expectHeader(a, 'Docker-Content-Digest'), s.image.manifest.digest, 'Docker-Content-Digest');
    },
  },
  {
    id: 'pull/manifest-by-digest',
    category: 'Pull',
    level: 'MUST',
    requirement: 'GET /v2/<name>/manifests/<digest> returns 200 and the manifest whose digest it is',
    async run(ctx) {
      const s = await ctx.seed();
      const a = await ctx.getManifest(s.repo, s.image.manifest.digest);
      expectStatus(a, 200);
      expectEqual(digestOf(a.body), s.image.manifest.digest, 'digest of the body');
      expectEqual(expectHeader(a, 'Docker-Content-Digest'), s.image.manifest.digest, 'Docker-Content-Digest');
    },
  },
  {
    id: 'pull/manifest-content-type',
    category: 'Pull',
    level: 'SHOULD',
    requirement: 'The Content-Type of a manifest GET matches what the client pushed as the manifest\'s Content-Type (OCI manifest, OCI index, Docker schema 2)',
    async run(ctx) {
      const s = await ctx.seed();
      for (const [ref, want] of [[s.tag, OCI_MANIFEST], [s.indexTag, OCI_INDEX], [s.dockerTag, DOCKER_MANIFEST]] as const) {
        const a = await ctx.getManifest(s.repo, ref);
        expectStatus(a, 200);
        expectEqual(mediaTypeOf(a), want, `Content-Type of ${ref}`);
      }
    },
  },
  {
    id: 'pull/manifest-head',
    category: 'Pull',
    level: 'MUST',
    requirement: 'HEAD of an existing manifest returns 200 with Docker-Content-Digest and Content-Length (the manifest\'s size), and no body',
    async run(ctx) {
      const s = await ctx.seed();
      for (const ref of [s.tag, s.image.manifest.digest]) {
        const a = await ctx.getManifest(s.repo, ref, 'HEAD');
        expectStatus(a, 200);
        expectEqual(expectHeader(a, 'Docker-Content-Digest'), s.image.manifest.digest, `Docker-Content-Digest of HEAD ${ref}`);
        expectEqual(Number(expectHeader(a, 'Content-Length')), s.image.manifest.bytes.length, `Content-Length of HEAD ${ref}`);
        expectEqual(a.body.length, 0, 'HEAD body length');
      }
    },
  },
  {
    id: 'pull/manifest-unknown',
    category: 'Pull',
    level: 'MUST',
    requirement: 'A manifest not in the repository (by tag and by digest) answers 404 Not Found, code MANIFEST_UNKNOWN; HEAD answers 404 too',
    async run(ctx) {
      const s = await ctx.seed();
      for (const ref of ['no-such-tag', UNKNOWN_DIGEST]) {
        const a = await ctx.getManifest(s.repo, ref);
        expectStatus(a, 404);
        expectErrorCode(a, 'MANIFEST_UNKNOWN');
        expectStatus(await ctx.getManifest(s.repo, ref, 'HEAD'), 404);
      }
    },
  },
  {
    id: 'pull/repository-unknown',
    category: 'Pull',
    level: 'MUST',
    requirement: 'An attempt to pull a nonexistent repository returns 404 Not Found',
    async run(ctx) {
      const a = await ctx.getManifest(ctx.repo('never-pushed'), 'latest');
      expectStatus(a, 404);
      expectErrorCode(a, 'NAME_UNKNOWN', 'MANIFEST_UNKNOWN');
    },
  },
  {
    id: 'pull/blob-get',
    category: 'Pull',
    level: 'MUST',
    requirement: 'GET /v2/<name>/blobs/<digest> returns 200, the blob, and Docker-Content-Digest matching the body',
    async run(ctx) {
      const s = await ctx.seed();
      for (const b of [s.image.config, ...s.image.layers]) {
        const a = await ctx.req('GET', `/v2/${s.repo}/blobs/${b.digest}`);
        expectStatus(a, 200);
        expect(a.body.equals(b.bytes), `body of ${b.digest} differs from what was pushed`);
        expectEqual(expectHeader(a, 'Docker-Content-Digest'), b.digest, 'Docker-Content-Digest');
      }
    },
  },
  {
    id: 'pull/blob-head',
    category: 'Pull',
    level: 'MUST',
    requirement: 'HEAD of an existing blob returns 200 with Docker-Content-Digest and Content-Length (the blob\'s size)',
    async run(ctx) {
      const s = await ctx.seed();
      const b = s.image.layers[0]!;
      const a = await ctx.req('HEAD', `/v2/${s.repo}/blobs/${b.digest}`);
      expectStatus(a, 200);
      expectEqual(expectHeader(a, 'Docker-Content-Digest'), b.digest, 'Docker-Content-Digest');
      expectEqual(Number(expectHeader(a, 'Content-Length')), b.bytes.length, 'Content-Length');
      expectEqual(a.body.length, 0, 'HEAD body length');
    },
  },
  {
    id: 'pull/blob-unknown',
    category: 'Pull',
    level: 'MUST',
    requirement: 'A blob not in the repository answers 404 Not Found, code BLOB_UNKNOWN; HEAD answers 404',
    async run(ctx) {
      const s = await ctx.seed();
      const a = await ctx.req('GET', `/v2/${s.repo}/blobs/${UNKNOWN_DIGEST}`);
      expectStatus(a, 404);
      expectErrorCode(a, 'BLOB_UNKNOWN');
      expectStatus(await ctx.req('HEAD', `/v2/${s.repo}/blobs/${UNKNOWN_DIGEST}`), 404);
    },
  },
  {
    id: 'pull/repository-scoped',
    category: 'Pull',
    level: 'MUST',
    requirement: 'If the blob or manifest is not found in the repository, 404: content pushed to one repository is not served under another it was never pushed or mounted to',
    async run(ctx) {
      const s = await ctx.seed();
      const other = ctx.repo('scoped-other');
      await ctx.pushBlob(other, ctx.randomBlob(16)); // the other repository exists
      const blob = await ctx.req('GET', `/v2/${other}/blobs/${s.image.layers[0]!.digest}`);
      expectStatus(blob, 404);
      expectErrorCode(blob, 'BLOB_UNKNOWN');
      const m = await ctx.getManifest(other, s.image.manifest.digest);
      expectStatus(m, 404);
      expectErrorCode(m, 'MANIFEST_UNKNOWN');
    },
  },
  {
    id: 'pull/blob-range',
    category: 'Pull',
    level: 'SHOULD',
    requirement: 'A registry SHOULD support the Range request header (RFC 9110 section 14): GET with Range: bytes=a-b answers 206 with exactly those bytes and Content-Range',
    async run(ctx) {
      const s = await ctx.seed();
      const b = s.image.layers[0]!;
      const a = await ctx.req('GET', `/v2/${s.repo}/blobs/${b.digest}`, { headers: { Range: 'bytes=10-99' } });
      if (a.status === 200) throw new Skip('Range ignored (200 with the whole blob)');
      expectStatus(a, 206);
      expect(a.body.equals(b.bytes.subarray(10, 100)), `206 body is not bytes 10-99 (got ${a.body.length} bytes)`);
      expectEqual(expectHeader(a, 'Content-Range'), `bytes 10-99/${b.bytes.length}`, 'Content-Range');
      const suffix = await ctx.req('GET', `/v2/${s.repo}/blobs/${b.digest}`, { headers: { Range: `bytes=${b.bytes.length - 5}-` } });
      expectStatus(suffix, 206);
      expect(suffix.body.equals(b.bytes.subarray(b.bytes.length - 5)), 'open-ended range body differs');
    },
  },
  {
    id: 'pull/blob-range-unsatisfiable',
    category: 'Pull',
    level: 'SHOULD',
    requirement: 'A Range wholly past the end of the blob answers 416 Range Not Satisfiable (RFC 9110 section 15.5.17)',
    async run(ctx) {
      const s = await ctx.seed();
      const b = s.image.layers[0]!;
      const a = await ctx.req('GET', `/v2/${s.repo}/blobs/${b.digest}`, { headers: { Range: `bytes=${b.bytes.length + 10}-${b.bytes.length + 20}` } });
      if (a.status === 200) throw new Skip('Range ignored (200 with the whole blob)');
      expectStatus(a, 416);
    },
  },
  {
    id: 'pull/index-children',
    category: 'Pull',
    level: 'MUST',
    requirement: 'The manifests an index lists are pullable by digest from the same repository (GET by digest returns 200 and those bytes)',
    async run(ctx) {
      const s = await ctx.seed();
      const a = await ctx.getManifest(s.repo, s.indexTag);
      expectStatus(a, 200);
      expect(a.body.equals(s.index.bytes), 'index body differs from what was pushed');
      for (const m of [s.image.manifest, s.docker.manifest]) {
        const c = await ctx.getManifest(s.repo, m.digest);
        expectStatus(c, 200);
        expect(c.body.equals(m.bytes), `child ${m.digest} differs`);
      }
    },
  },
  {
    id: 'pull/error-body',
    category: 'Pull',
    level: 'MUST',
    requirement: 'A 4XX JSON body has the form {"errors":[{"code","message"}]} with code only uppercase letters and underscores, one of the spec\'s codes',
    async run(ctx) {
      const s = await ctx.seed();
      const known = ['BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS'];
      for (const path of [`/v2/${s.repo}/manifests/nope`, `/v2/${s.repo}/blobs/${UNKNOWN_DIGEST}`]) {
        const a = await ctx.req('GET', path);
        expectStatus(a, 404);
        if (!header(a, 'Content-Type').includes('json')) throw new Failure(`${path}: 404 body is not JSON (${header(a, 'Content-Type')})`);
        expectErrorCode(a, ...known);
        const errors = (JSON.parse(a.body.toString()) as { errors: Array<{ code: string; message?: unknown }> }).errors;
        for (const e of errors) {
          expect(/^[A-Z_]+$/.test(e.code), `code ${JSON.stringify(e.code)} is not uppercase letters and underscores`);
          expect(e.message === undefined || typeof e.message === 'string', 'message is not a string');
        }
      }
    },
  },
];
