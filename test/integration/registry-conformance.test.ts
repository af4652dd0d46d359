/**
 * The OCI distribution-spec conformance suite (test/conformance/distribution) against Debian's
 * docker-registry (Distribution 2.8) and Berth's own registry server in the same run, side by side.
 * Distribution must fail exactly its known gaps (so a check that cannot fail shows: each check must
 * pass somewhere); Berth's server must pass everything but its allow-list. Berth's column is skipped
 * while this build has no `berth registry serve`.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasDockerRegistry, makeTestCerts, startDistribution } from './registry-peers.js';
import { runConformance, formatTable, formatDetails, summary, allChecks, type CheckResult, type Category } from '../conformance/distribution/index.js';
import { hasBerthRegistry, startBerthRegistry, BERTH_CLI } from '../conformance/distribution/berth-server.js';

/** What Distribution 2.8 gets wrong or lacks; each found by this suite, each a reason the check is worth having. */
const DISTRIBUTION_GAPS: Record<string, string> = {
  'pull/blob-range-unsatisfiable': 'answers 416 but keeps Content-Length of the whole blob over a 33-byte body: the connection breaks',
  'push/chunk-out-of-order': 'ignores Content-Range on PATCH and appends the chunk (202)',
  'push/final-chunk-out-of-order': 'ignores Content-Range on the closing PUT: 400 DIGEST_INVALID instead of 416',
  'push/manifest-too-large': 'has a limit but answers 400 MANIFEST_INVALID "http: request body too large", not 413',
  'push/name-invalid-code': 'an invalid name does not match its router: 404 "404 page not found" (text), not 400 NAME_INVALID',
  'push/name-too-long': 'a 300-character name gets 500 UNKNOWN (the file system refuses the path)',
  'push/blob-size-mismatch': 'accepts a manifest whose layer descriptor has the wrong size',
  'discovery/tags-list': 'tags come in directory order, not sorted',
  'discovery/tags-n': 'ignores n on the tags list',
  'discovery/tags-n-zero': 'ignores n=0 on the tags list',
  'discovery/tags-last': 'ignores last on the tags list',
  'discovery/referrers': 'no referrers API (distribution-spec 1.1): 404',
  'discovery/referrers-artifact-type': 'no referrers API',
  'discovery/referrers-empty': 'no referrers API',
  'discovery/referrers-bad-digest': 'no referrers API',
  'discovery/referrers-filter': 'no referrers API',
  'discovery/referrers-oci-subject': 'no OCI-Subject header on a push with a subject',
  'discovery/referrers-empty-config': 'no referrers API',
  'management/delete-referrer': 'no referrers API',
};

/**
 * Checks Berth's server may fail, each with why. Keep this empty unless a failure is understood and
 * owned by an issue: a new entry is a regression of conformance.
 */
const BERTH_ALLOWED_FAILURES: Record<string, string> = {};

interface Column {
  name: string;
  results: CheckResult[] | undefined;
}

const columns: Column[] = [];
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** htpasswd (bcrypt, as both registries need) and a CA/server certificate in a temp dir. */
async function secrets(): Promise<{ dir: string; htpasswd: string; certs: Awaited<ReturnType<typeof makeTestCerts>>; ca: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-conformance-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const htpasswd = path.join(dir, 'htpasswd');
  writeFileSync(htpasswd, '');
  const r = spawnSync('htpasswd', ['-Bb', htpasswd, 'alice', 's3cret'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr}`);
  const certs = await makeTestCerts(path.join(dir, 'certs'));
  const { readFileSync } = await import('node:fs');
  return { dir, htpasswd, certs, ca: readFileSync(certs.ca, 'utf8') };
}

const AUTH = { username: 'alice', password: 's3cret' };
const SECURED_CATEGORIES: Category[] = ['Pull', 'Push'];

test('distribution-spec conformance: docker-registry and Berth side by side', { skip: !hasDockerRegistry && 'docker-registry not installed' }, async (t) => {
  await t.test('docker-registry 2.8', async () => {
    const peer = await startDistribution();
    cleanups.push(() => peer.stop());
    const results = await runConformance({ name: 'docker-registry', url: peer.url });
    columns.push({ name: 'docker-registry', results });
    const failed = results.filter((r) => r.status === 'fail').map((r) => r.id).sort();
    assert.deepEqual(failed, Object.keys(DISTRIBUTION_GAPS).sort(), `Distribution's failures differ from its known gaps:\n${formatDetails('docker-registry', results)}`);
  });

  await t.test('docker-registry 2.8, deletes disabled', async () => {
    const peer = await startDistribution({ deletes: false });
    cleanups.push(() => peer.stop());
    const results = await runConformance({ name: 'docker-registry (no delete)', url: peer.url }, { categories: ['Content Management'] });
    columns.push({ name: 'd-r no delete', results });
    const byId = new Map(results.map((r) => [r.id, r]));
    assert.equal(byId.get('management/deletes-disabled')?.status, 'pass', formatDetails('no-delete', results));
    for (const id of ['management/delete-manifest', 'management/delete-blob']) assert.equal(byId.get(id)?.status, 'skip', `${id} should skip when deletes are off`);
  });

  await t.test('docker-registry 2.8, TLS and htpasswd', async () => {
    const peer = await startDistribution({ tls: true, users: { alice: 's3cret' } });
    cleanups.push(() => peer.stop());
    const results = await runConformance({ name: 'docker-registry tls+auth', url: peer.url, ca: peer.ca, auth: AUTH }, { categories: SECURED_CATEGORIES });
    columns.push({ name: 'd-r tls+auth', results });
    const failed = results.filter((r) => r.status === 'fail').map((r) => r.id).sort();
    assert.deepEqual(failed, Object.keys(DISTRIBUTION_GAPS).filter((id) => results.some((r) => r.id === id)).sort(), formatDetails('tls+auth', results));
    // Without credentials the same registry refuses: the suite really went through auth.
    const anon = await runConformance({ name: 'anonymous', url: peer.url, ca: peer.ca }, { ids: ['pull/api-version'] });
    assert.equal(anon[0]!.status, 'fail');
  });

  const berthPresent = hasBerthRegistry();
  const berthSkip = !berthPresent && `Berth's registry server is not in this build (${BERTH_CLI} registry serve --help failed): Berth column skipped`;

  await t.test('berth registry serve', { skip: berthSkip }, async () => {
    const server = await startBerthRegistry();
    cleanups.push(() => server.stop());
    const results = await runConformance({ name: 'berth', url: server.url });
    columns.push({ name: 'berth', results });
    const failed = results.filter((r) => r.status === 'fail' && !(r.id in BERTH_ALLOWED_FAILURES));
    assert.deepEqual(failed.map((r) => r.id), [], `Berth's server fails checks outside its allow-list:\n${formatDetails('berth', failed)}`);
  });

  for (const token of [false, true]) {
    const label = token ? 'berth tls+token' : 'berth tls+auth';
    await t.test(`berth registry serve, TLS and htpasswd${token ? ' behind its bearer-token endpoint' : ''}`, { skip: berthSkip }, async () => {
      const s = await secrets();
      const server = await startBerthRegistry(['--htpasswd', s.htpasswd, '--tls-cert', s.certs.cert, '--tls-key', s.certs.key, ...(token ? ['--token-issue'] : [])]);
      cleanups.push(() => server.stop());
      const results = await runConformance({ name: label, url: server.url, ca: s.ca, auth: AUTH }, { categories: SECURED_CATEGORIES });
      columns.push({ name: label, results });
      const failed = results.filter((r) => r.status === 'fail' && !(r.id in BERTH_ALLOWED_FAILURES));
      assert.deepEqual(failed.map((r) => r.id), [], formatDetails(label, failed));
      const anon = await runConformance({ name: 'anonymous', url: server.url, ca: s.ca }, { ids: ['pull/api-version'] });
      assert.equal(anon[0]!.status, 'fail', 'Berth answered /v2/ without credentials');
      const wrong = await runConformance({ name: 'wrong password', url: server.url, ca: s.ca, auth: { username: 'alice', password: 'nope' } }, { ids: ['pull/api-version'] });
      assert.equal(wrong[0]!.status, 'fail', 'Berth answered /v2/ with a wrong password');
    });
  }

  await t.test('every check passes against at least one real registry', { skip: berthSkip }, () => {
    // A check nobody passes is either wrong or untestable here. tags-query is a MAY; the others are in
    // both lists above, each with its reason.
    const optionalEverywhere = new Set(['push/tags-query', ...Object.keys(BERTH_ALLOWED_FAILURES).filter((id) => id in DISTRIBUTION_GAPS)]);
    const nowhere = allChecks
      .map((c) => c.id)
      .filter((id) => !optionalEverywhere.has(id) && !columns.some((col) => col.results?.some((r) => r.id === id && r.status === 'pass')));
    assert.deepEqual(nowhere, []);
  });

  const order = ['docker-registry', 'd-r no delete', 'd-r tls+auth', 'berth', 'berth tls+auth', 'berth tls+token'];
  const shown = order.map((name) => columns.find((c) => c.name === name) ?? { name, results: undefined });
  console.log('\n' + formatTable(shown));
  for (const c of columns) if (c.results) console.log(`${c.name}: ${JSON.stringify(summary(c.results))}`);
  for (const c of columns) if (c.results) console.log(formatDetails(c.name, c.results));
  if (!berthPresent) console.log(`\n${berthSkip}`);
});
