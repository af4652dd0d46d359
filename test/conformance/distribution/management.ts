/** Content management: deleting tags, manifests and blobs, and the answer when deletion is disabled. */
import { type Answer } from './client.js';
import { type Check, type Context, Failure, Skip, expectErrorCode, expectStatus, header, jsonOf, ociImage, randomBlob, OCI_MANIFEST } from './context.js';

function isDisabled(a: Answer): boolean {
  if (a.status === 405) return true;
  if (a.status !== 400) return false;
  try {
    return (JSON.parse(a.body.toString()) as { errors?: Array<{ code?: string }> }).errors?.some((e) => e.code === 'UNSUPPORTED') ?? false;
  } catch {
    return false;
  }
}

/** DELETE, skipping the check when the registry has deletion disabled (the spec lets it). */
async function del(ctx: Context, path: string): Promise<Answer> {
  const a = await ctx.req('DELETE', path);
  if (isDisabled(a)) throw new Skip(`deletion disabled (${a.status})`);
  return a;
}

export const managementChecks: Check[] = [
  {
    id: 'management/delete-tag',
    category: 'Content Management',
    level: 'MAY',
    requirement: 'DELETE /v2/<name>/manifests/<tag> answers 202 Accepted; the tag is gone (404) while the manifest stays pullable by digest',
    async run(ctx) {
      const repo = ctx.repo('delete-tag');
      const img = ociImage({ layers: 1 });
      await ctx.pushImage(repo, img, 'gone');
      expectStatus(await ctx.putManifest(repo, 'kept', img.manifest), 201);
      const a = await ctx.req('DELETE', `/v2/${repo}/manifests/gone`);
      // The spec lets a registry allow deletion only by manifest: 400 or 405 then.
      if (a.status === 400 || a.status === 405) throw new Skip(`tag deletion not supported (${a.status})`);
      expectStatus(a, 202);
      expectStatus(await ctx.getManifest(repo, 'gone'), 404);
      expectStatus(await ctx.getManifest(repo, 'kept'), 200);
      expectStatus(await ctx.getManifest(repo, img.manifest.digest), 200);
      const tags = jsonOf<{ tags: string[] | null }>(await ctx.req('GET', `/v2/${repo}/tags/list`)).tags ?? [];
      if (tags.includes('gone')) throw new Failure(`the deleted tag is still listed: ${tags.join(',')}`);
    },
  },
  {
    id: 'management/delete-manifest',
    category: 'Content Management',
    level: 'MUST',
    requirement: 'DELETE /v2/<name>/manifests/<digest> answers 202 Accepted; afterwards the manifest answers 404 by digest and by the tag that pointed at it',
    async run(ctx) {
      const repo = ctx.repo('delete-manifest');
      const img = ociImage({ layers: 1 });
      await ctx.pushImage(repo, img, 'doomed');
      const a = await del(ctx, `/v2/${repo}/manifests/${img.manifest.digest}`);
      expectStatus(a, 202);
      expectStatus(await ctx.getManifest(repo, img.manifest.digest), 404);
      expectStatus(await ctx.getManifest(repo, img.manifest.digest, 'HEAD'), 404);
      expectStatus(await ctx.getManifest(repo, 'doomed'), 404);
    },
  },
  {
    id: 'management/delete-manifest-unknown',
    category: 'Content Management',
    level: 'MUST',
    requirement: 'DELETE of a manifest the repository does not hold answers 404 Not Found (MANIFEST_UNKNOWN)',
    async run(ctx) {
      const repo = ctx.repo('delete-manifest');
      await ctx.pushImage(repo, ociImage({ layers: 1 }), 'present');
      const a = await del(ctx, `/v2/${repo}/manifests/sha256:${'d'.repeat(64)}`);
      expectStatus(a, 404);
      expectErrorCode(a, 'MANIFEST_UNKNOWN');
    },
  },
  {
    id: 'management/delete-blob',
    category: 'Content Management',
    level: 'MUST',
    requirement: 'DELETE /v2/<name>/blobs/<digest> answers 202 Accepted; the blob then answers 404 (GET and HEAD)',
    async run(ctx) {
      const repo = ctx.repo('delete-blob');
      const b = randomBlob(700);
      await ctx.pushBlob(repo, b);
      const a = await del(ctx, `/v2/${repo}/blobs/${b.digest}`);
      expectStatus(a, 202);
      expectStatus(await ctx.req('GET', `/v2/${repo}/blobs/${b.digest}`), 404);
      expectStatus(await ctx.req('HEAD', `/v2/${repo}/blobs/${b.digest}`), 404);
    },
  },
  {
    id: 'management/delete-blob-unknown',
    category: 'Content Management',
    level: 'MUST',
    requirement: 'If the blob to delete is not found, 404 Not Found MUST be returned (BLOB_UNKNOWN)',
    async run(ctx) {
      const repo = ctx.repo('delete-blob');
      await ctx.pushBlob(repo, randomBlob(10));
      const a = await del(ctx, `/v2/${repo}/blobs/sha256:${'c'.repeat(64)}`);
      expectStatus(a, 404);
      expectErrorCode(a, 'BLOB_UNKNOWN');
    },
  },
  {
    id: 'management/delete-referrer',
    category: 'Content Management',
    level: 'MUST',
    requirement: 'The referrers list holds only manifests in the repository: after DELETE of a referrer by digest it is no longer listed',
    async run(ctx) {
      const repo = ctx.repo('delete-referrer');
      const subject = ociImage({ layers: 1 });
      await ctx.pushImage(repo, subject, 'subject');
      const art = ociImage({ layers: 1, artifactType: 'application/vnd.example.gone.v1', subject: { mediaType: OCI_MANIFEST, digest: subject.manifest.digest, size: subject.manifest.bytes.length } });
      await ctx.pushImage(repo, art, art.manifest.digest);
      const list = async () => {
        const a = await ctx.req('GET', `/v2/${repo}/referrers/${subject.manifest.digest}`);
        expectStatus(a, 200);
        return jsonOf<{ manifests: Array<{ digest: string }> }>(a).manifests.map((d) => d.digest);
      };
      const before = await list();
      if (!before.includes(art.manifest.digest)) throw new Failure(`the referrer is not listed before the delete: ${before.join(',')}`);
      expectStatus(await del(ctx, `/v2/${repo}/manifests/${art.manifest.digest}`), 202);
      const after = await list();
      if (after.includes(art.manifest.digest)) throw new Failure('the deleted referrer is still listed');
    },
  },
  {
    id: 'management/deletes-disabled',
    category: 'Content Management',
    level: 'MUST',
    requirement: 'If manifest, tag or blob deletion is disabled, the registry MUST respond with 400 Bad Request or 405 Method Not Allowed (with UNSUPPORTED when the body is an error body), and nothing is deleted',
    async run(ctx) {
      const repo = ctx.repo('deletes-disabled');
      const img = ociImage({ layers: 1 });
      await ctx.pushImage(repo, img, 'keep');
      const m = await ctx.req('DELETE', `/v2/${repo}/manifests/${img.manifest.digest}`);
      if (m.status === 202) throw new Skip('deletion is enabled on this registry');
      for (const a of [m, await ctx.req('DELETE', `/v2/${repo}/manifests/keep`), await ctx.req('DELETE', `/v2/${repo}/blobs/${img.layers[0]!.digest}`)]) {
        expectStatus(a, 400, 405);
        if (header(a, 'Content-Type').includes('json')) expectErrorCode(a, 'UNSUPPORTED');
      }
      expectStatus(await ctx.getManifest(repo, 'keep'), 200);
      expectStatus(await ctx.req('HEAD', `/v2/${repo}/blobs/${img.layers[0]!.digest}`), 200);
    },
  },
];
