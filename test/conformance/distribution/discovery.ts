/** Content discovery: tags list with pagination, the catalog (Docker's API, apdx-1), referrers. */
import {
  type Check, type Context, Skip, expect, expectEqual, expectHeader, expectStatus, header, jsonOf, mediaTypeOf, ociImage, ociIndex,
  digestOf, type Descriptor, type Image, OCI_MANIFEST, OCI_INDEX, OCI_EMPTY,
} from './context.js';

interface TagList {
  name: string;
  tags: string[] | null;
}

/** A repository with tags pushed in scrambled order, once per run. */
const TAGS = ['b2', 'a1', 'h8', 'c3', 'e5', 'd4', 'A0', 'Z9', 'g7', 'f6'];
const tagRepos = new WeakMap<Context, Promise<string>>();
function tagRepo(ctx: Context): Promise<string> {
  let p = tagRepos.get(ctx);
  if (!p) {
    p = (async () => {
      const repo = ctx.repo('tags');
      const img = ociImage({ layers: 1 });
      for (const b of [img.config, ...img.layers]) await ctx.pushBlob(repo, b);
      for (const t of TAGS) expectStatus(await ctx.putManifest(repo, t, img.manifest), 201);
      return repo;
    })();
    tagRepos.set(ctx, p);
  }
  return p;
}

function sorted(tags: string[]): string[] {
  return [...tags].sort(); // ASCIIbetical, as Go's sort.Strings
}

function inOrder(tags: string[]): boolean {
  const ascii = sorted(tags).join('\n') === tags.join('\n');
  const lexical = [...tags].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())).join('\n') === tags.join('\n');
  return ascii || lexical;
}

/** The target of a Link: <url>; rel="next" header, or undefined. */
function nextLink(a: { headers: Record<string, unknown> } & Parameters<typeof header>[0]): string | undefined {
  const link = header(a, 'Link');
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return m?.[1];
}

/** Subject + referrers, once per run: an image, two artifacts (one with artifactType, one falling back to the config type) and an index referrer. */
interface ReferrerSet {
  repo: string;
  subject: Image;
  sbom: Image;
  sig: Image;
  index: ReturnType<typeof ociIndex>;
  lonely: Image;
  sbomPush: Awaited<ReturnType<Context['putManifest']>>;
}
const referrerSets = new WeakMap<Context, Promise<ReferrerSet>>();
function referrers(ctx: Context): Promise<ReferrerSet> {
  let p = referrerSets.get(ctx);
  if (!p) {
    p = (async () => {
      const repo = ctx.repo('referrers');
      const subject = ociImage({ layers: 1 });
      await ctx.pushImage(repo, subject, 'subject');
      const lonely = ociImage({ layers: 1 });
      await ctx.pushImage(repo, lonely, 'lonely');
      const subj: Descriptor = { mediaType: OCI_MANIFEST, digest: subject.manifest.digest, size: subject.manifest.bytes.length };
      const sbom = ociImage({ layers: 1, subject: subj, artifactType: 'application/vnd.example.sbom.v1', annotations: { 'org.example.sbom.format': 'json' } });
      const sig = ociImage({ layers: 1, subject: subj, configType: 'application/vnd.example.signature.config.v1+json', annotations: { 'org.example.signature.fingerprint': 'abcd' } });
      for (const b of [sbom.config, ...sbom.layers, sig.config, ...sig.layers]) await ctx.pushBlob(repo, b);
      const sbomPush = await ctx.putManifest(repo, sbom.manifest.digest, sbom.manifest);
      expectStatus(sbomPush, 201);
      expectStatus(await ctx.putManifest(repo, sig.manifest.digest, sig.manifest), 201);
      const index = ociIndex([{ m: lonely.manifest }], { subject: subj, annotations: { 'org.example.index': 'yes' } });
      expectStatus(await ctx.putManifest(repo, index.digest, index), 201);
      return { repo, subject, sbom, sig, index, lonely, sbomPush };
    })();
    referrerSets.set(ctx, p);
  }
  return p;
}

interface Index {
  schemaVersion: number;
  mediaType?: string;
  manifests: Array<Descriptor>;
}

async function getReferrers(ctx: Context, repo: string, digest: string, query = ''): Promise<{ a: Awaited<ReturnType<Context['req']>>; index: Index }> {
  const a = await ctx.req('GET', `/v2/${repo}/referrers/${digest}${query}`);
  expectStatus(a, 200);
  expectEqual(mediaTypeOf(a), OCI_INDEX, 'Content-Type');
  const index = jsonOf<Index>(a);
  expect(index.schemaVersion === 2 && Array.isArray(index.manifests), `not an image index: ${a.body.subarray(0, 200).toString()}`);
  // Follow the Link pages, so a registry that pages small is judged on the whole list.
  let next = nextLink(a);
  while (next) {
    const more = await ctx.req('GET', next);
    expectStatus(more, 200);
    index.manifests.push(...jsonOf<Index>(more).manifests);
    next = nextLink(more);
  }
  return { a, index };
}

export const discoveryChecks: Check[] = [
  {
    id: 'discovery/tags-list',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'GET /v2/<name>/tags/list returns 200 and {"name": "<name>", "tags": [...]} with every tag, in lexical or ASCIIbetical order',
    async run(ctx) {
      const repo = await tagRepo(ctx);
      const a = await ctx.req('GET', `/v2/${repo}/tags/list`);
      expectStatus(a, 200);
      const list = jsonOf<TagList>(a);
      expectEqual(list.name, repo, 'name');
      expect(Array.isArray(list.tags), `tags is not a list: ${JSON.stringify(list.tags)}`);
      expectEqual(sorted(list.tags!).join(','), sorted(TAGS).join(','), 'the set of tags');
      expect(inOrder(list.tags!), `tags not in lexical or ASCIIbetical order: ${list.tags!.join(',')}`);
    },
  },
  {
    id: 'discovery/tags-unknown-repo',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'The tags list of a repository that does not exist answers 404 (end-8a failure)',
    async run(ctx) {
      expectStatus(await ctx.req('GET', `/v2/${ctx.repo('no-such-repo')}/tags/list`), 404);
    },
  },
  {
    id: 'discovery/tags-n',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'GET /v2/<name>/tags/list?n=<int> returns the first <int> tags in order, fewer only when there are no more or a Link header is provided',
    async run(ctx) {
      const repo = await tagRepo(ctx);
      const all = jsonOf<TagList>(await ctx.req('GET', `/v2/${repo}/tags/list`)).tags ?? [];
      const a = await ctx.req('GET', `/v2/${repo}/tags/list?n=3`);
      expectStatus(a, 200);
      const got = jsonOf<TagList>(a).tags ?? [];
      if (got.length < 3) expect(nextLink(a), `n=3 gave ${got.length} tags and no Link header`);
      else expectEqual(got.join(','), all.slice(0, 3).join(','), 'the first 3 tags');
    },
  },
  {
    id: 'discovery/tags-n-zero',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'When n is zero, the tags list MUST be empty and MUST NOT include a Link header',
    async run(ctx) {
      const repo = await tagRepo(ctx);
      const a = await ctx.req('GET', `/v2/${repo}/tags/list?n=0`);
      expectStatus(a, 200);
      const tags = jsonOf<TagList>(a).tags ?? [];
      expectEqual(tags.length, 0, 'number of tags for n=0');
      expectEqual(header(a, 'Link'), '', 'Link header for n=0');
    },
  },
  {
    id: 'discovery/tags-last',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'GET /v2/<name>/tags/list?n=<int>&last=<tagname> returns up to <int> tags after <tagname>, not including it, in order (n is optional with last)',
    async run(ctx) {
      const repo = await tagRepo(ctx);
      const all = jsonOf<TagList>(await ctx.req('GET', `/v2/${repo}/tags/list`)).tags ?? [];
      const a = await ctx.req('GET', `/v2/${repo}/tags/list?n=2&last=${all[1]}`);
      expectStatus(a, 200);
      expectEqual((jsonOf<TagList>(a).tags ?? []).join(','), all.slice(2, 4).join(','), `n=2&last=${all[1]}`);
      const b = await ctx.req('GET', `/v2/${repo}/tags/list?last=${all[4]}`);
      expectStatus(b, 200);
      expectEqual((jsonOf<TagList>(b).tags ?? []).join(','), all.slice(5).join(','), `last=${all[4]} without n`);
    },
  },
  {
    id: 'discovery/tags-link',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'If a Link header is included it is RFC 5988 with rel="next", and following it pages through every tag exactly once',
    async run(ctx) {
      const repo = await tagRepo(ctx);
      const first = await ctx.req('GET', `/v2/${repo}/tags/list?n=2`);
      expectStatus(first, 200);
      if (!header(first, 'Link')) throw new Skip('no Link header on a partial page (Link is MAY)');
      const seen = [...(jsonOf<TagList>(first).tags ?? [])];
      let next = nextLink(first);
      expect(next, `Link header is not <url>; rel="next": ${header(first, 'Link')}`);
      for (let i = 0; next && i < 20; i++) {
        const a = await ctx.req('GET', next);
        expectStatus(a, 200);
        seen.push(...(jsonOf<TagList>(a).tags ?? []));
        next = nextLink(a);
      }
      expectEqual(seen.join(','), sorted(TAGS).join(','), 'tags seen over all pages');
    },
  },
  {
    id: 'discovery/catalog',
    category: 'Content Discovery',
    level: 'MAY',
    requirement: 'GET /v2/_catalog (Docker Registry HTTP API V2, apdx-1; not part of OCI) returns 200 {"repositories": [...]}, in order, with the pushed repositories; n, last and a Link rel="next" page through it',
    async run(ctx) {
      await tagRepo(ctx);
      await ctx.seed();
      const wanted = [ctx.repo('pull'), ctx.repo('tags')];
      const first = await ctx.req('GET', '/v2/_catalog?n=2');
      if (first.status === 404) throw new Skip('no catalog (404)');
      expectStatus(first, 200);
      const firstRepos = jsonOf<{ repositories: string[] }>(first).repositories;
      expect(Array.isArray(firstRepos) && firstRepos.length <= 2, `n=2 gave ${JSON.stringify(firstRepos)}`);
      expect(nextLink(first), 'n=2 with more than 2 repositories gave no Link rel="next"');
      // Then only this run's repositories: from last=<prefix> (they sort right after it), page by page.
      const seen: string[] = [];
      let next: string | undefined = `/v2/_catalog?n=3&last=${encodeURIComponent(ctx.prefix)}`;
      for (let pages = 0; next && pages < 100; pages++) {
        const a: Awaited<ReturnType<Context['req']>> = await ctx.req('GET', next);
        expectStatus(a, 200);
        const repos = jsonOf<{ repositories: string[] }>(a).repositories;
        expect(Array.isArray(repos) && repos.length <= 3, `n=3 gave ${JSON.stringify(repos)}`);
        seen.push(...repos);
        next = repos.every((r) => r.startsWith(ctx.prefix + '/')) ? nextLink(a) : undefined;
      }
      for (const r of wanted) expect(seen.includes(r), `${r} not in the catalog after last=${ctx.prefix}: ${seen.join(',')}`);
      expect(inOrder(seen), `catalog not in order: ${seen.join(',')}`);
      expectEqual(new Set(seen).size, seen.length, 'repositories listed once each');
    },
  },
  {
    id: 'discovery/referrers',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'GET /v2/<name>/referrers/<digest> returns 200, Content-Type application/vnd.oci.image.index.v1+json and an index listing every manifest and index whose subject is <digest>',
    async run(ctx) {
      const r = await referrers(ctx);
      const { index } = await getReferrers(ctx, r.repo, r.subject.manifest.digest);
      const digests = index.manifests.map((d) => d.digest).sort();
      expectEqual(digests.join(','), [r.sbom.manifest.digest, r.sig.manifest.digest, r.index.digest].sort().join(','), 'referrer digests');
      for (const d of index.manifests) {
        const want = d.digest === r.index.digest ? { mt: OCI_INDEX, size: r.index.bytes.length } : { mt: OCI_MANIFEST, size: (d.digest === r.sbom.manifest.digest ? r.sbom : r.sig).manifest.bytes.length };
        expectEqual(d.mediaType, want.mt, `mediaType of ${d.digest}`);
        expectEqual(d.size, want.size, `size of ${d.digest}`);
      }
    },
  },
  {
    id: 'discovery/referrers-artifact-type',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'Referrer descriptors carry artifactType from the manifest, else the config descriptor\'s mediaType; omitted for an index without one; and the manifest\'s annotations',
    async run(ctx) {
      const r = await referrers(ctx);
      const { index } = await getReferrers(ctx, r.repo, r.subject.manifest.digest);
      const by = new Map(index.manifests.map((d) => [d.digest, d]));
      const sbom = by.get(r.sbom.manifest.digest);
      const sig = by.get(r.sig.manifest.digest);
      const idx = by.get(r.index.digest);
      expect(sbom && sig && idx, 'a referrer is missing from the list');
      expectEqual(sbom!.artifactType, 'application/vnd.example.sbom.v1', 'artifactType from the manifest');
      expectEqual(sig!.artifactType, 'application/vnd.example.signature.config.v1+json', 'artifactType from the config mediaType');
      expectEqual(idx!.artifactType, undefined, 'artifactType of an index without one');
      expectEqual(sbom!.annotations?.['org.example.sbom.format'], 'json', 'annotations of the sbom');
      expectEqual(sig!.annotations?.['org.example.signature.fingerprint'], 'abcd', 'annotations of the signature');
      expectEqual(idx!.annotations?.['org.example.index'], 'yes', 'annotations of the index');
    },
  },
  {
    id: 'discovery/referrers-empty',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'If a query results in no matching referrers, an empty manifest list MUST be returned (200, also for a digest the repository does not hold: the registry MUST NOT return 404)',
    async run(ctx) {
      const r = await referrers(ctx);
      for (const digest of [r.lonely.manifest.digest, 'sha256:' + '0'.repeat(64)]) {
        const { index } = await getReferrers(ctx, r.repo, digest);
        expectEqual(index.manifests.length, 0, `referrers of ${digest.slice(0, 19)}`);
      }
    },
  },
  {
    id: 'discovery/referrers-bad-digest',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'If the referrers request is invalid, such as a <digest> with an invalid syntax, 400 Bad Request MUST be returned',
    async run(ctx) {
      const r = await referrers(ctx);
      expectStatus(await ctx.req('GET', `/v2/${r.repo}/referrers/sha256:not-hex`), 400);
    },
  },
  {
    id: 'discovery/referrers-filter',
    category: 'Content Discovery',
    level: 'SHOULD',
    requirement: 'GET /v2/<name>/referrers/<digest>?artifactType=<type> lists only that type, and the response includes OCI-Filters-Applied: artifactType',
    async run(ctx) {
      const r = await referrers(ctx);
      const { a, index } = await getReferrers(ctx, r.repo, r.subject.manifest.digest, '?artifactType=' + encodeURIComponent('application/vnd.example.sbom.v1'));
      expectEqual(header(a, 'OCI-Filters-Applied'), 'artifactType', 'OCI-Filters-Applied');
      expectEqual(index.manifests.map((d) => d.digest).join(','), r.sbom.manifest.digest, 'filtered referrers');
    },
  },
  {
    id: 'discovery/referrers-oci-subject',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'A registry that supports the referrers API answers the push of a manifest with a subject with OCI-Subject: <subject digest>',
    async run(ctx) {
      const r = await referrers(ctx);
      expectEqual(expectHeader(r.sbomPush, 'OCI-Subject'), r.subject.manifest.digest, 'OCI-Subject');
    },
  },
  {
    id: 'discovery/referrers-empty-config',
    category: 'Content Discovery',
    level: 'MUST',
    requirement: 'An artifact manifest using the empty descriptor (application/vnd.oci.empty.v1+json, {}) as config is accepted and listed with its artifactType',
    async run(ctx) {
      const r = await referrers(ctx);
      const target = ociImage({ layers: 1 });
      await ctx.pushImage(r.repo, target, 'note-subject');
      const empty = { digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', bytes: Buffer.from('{}') };
      await ctx.pushBlob(r.repo, empty);
      const m = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.example.note.v1',
        config: { mediaType: OCI_EMPTY, digest: empty.digest, size: 2 },
        layers: [{ mediaType: OCI_EMPTY, digest: empty.digest, size: 2 }],
        subject: { mediaType: OCI_MANIFEST, digest: target.manifest.digest, size: target.manifest.bytes.length },
      }));
      const note = { mediaType: OCI_MANIFEST, bytes: m, digest: digestOf(m) };
      expectStatus(await ctx.putManifest(r.repo, note.digest, note), 201);
      const { index } = await getReferrers(ctx, r.repo, target.manifest.digest);
      expectEqual(index.manifests.map((d) => `${d.digest} ${d.artifactType}`).join(','), `${note.digest} application/vnd.example.note.v1`, 'referrers of the note\'s subject');
    },
  },
];
