/**
 * Interop with skopeo (Debian's, a real client of the distribution API): an OCI image layout made here
 * is copied into docker-registry and into Berth's registry server, between the two, and back out to an
 * OCI layout; manifest and blob digests must survive every hop byte for byte. While this build has no
 * `berth registry serve`, a second docker-registry stands in as the other end so the hops still run.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { SKOPEO, hasDockerRegistry, hasSkopeo, makeTestCerts, startDistribution } from './registry-peers.js';
import { spawnSync } from 'node:child_process';
import { hasBerthRegistry, startBerthRegistry } from '../conformance/distribution/berth-server.js';

const execFileP = promisify(execFile);
const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

const work = mkdtempSync(path.join(os.tmpdir(), 'berth-skopeo-'));
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

async function skopeo(...args: string[]): Promise<string> {
  // Its own (empty) auth file and no signature policy lookups: nothing from the host's setup leaks in.
  const env = { ...process.env, REGISTRY_AUTH_FILE: path.join(work, 'auth.json') };
  try {
    const { stdout } = await execFileP(SKOPEO, ['--insecure-policy', ...args], { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')}: ${err.stderr || err.message}`);
  }
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [name, content] of Object.entries(files)) {
    if (name.endsWith('/')) pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) });
    else pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

interface Layout {
  dir: string;
  manifestDigest: string;
  manifest: Buffer;
  blobs: string[];
}

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

/** An OCI image layout holding one image (one gzip layer with a couple of files, a config, a manifest), or an index of one image per architecture. */
async function makeLayout(dir: string, tag: string, architectures?: string[]): Promise<Layout> {
  const blobsDir = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobsDir, { recursive: true });
  const put = (b: Buffer) => {
    const d = sha256(b);
    writeFileSync(path.join(blobsDir, d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const blobs: string[] = [];
  const image = async (architecture: string) => {
    const layerTar = await tarOf({ 'etc/': '', 'etc/greeting': `hello from berth on ${architecture}\n`, 'hello.txt': `made ${process.pid}\n` });
    const layer = put(gzipSync(layerTar));
    const config = put(Buffer.from(JSON.stringify({
      architecture,
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
      history: [{ created_by: 'registry-skopeo.test' }],
    })));
    blobs.push(config.digest, layer.digest);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }));
    return { manifest, ...put(manifest), architecture };
  };
  let top: { digest: string; size: number; manifest: Buffer; mediaType: string };
  if (!architectures) top = { ...(await image('amd64')), mediaType: MANIFEST };
  else {
    const children = [];
    for (const a of architectures) children.push(await image(a));
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: children.map((c) => ({ mediaType: MANIFEST, digest: c.digest, size: c.size, platform: { architecture: c.architecture, os: 'linux' } })),
    }));
    top = { ...put(index), manifest: index, mediaType: INDEX };
  }
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { dir, manifestDigest: top.digest, manifest: top.manifest, blobs };
}

/** The manifest digest an OCI layout's index.json names for a tag, and that it matches its blob. */
function layoutDigest(dir: string, tag: string): string {
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)?.digest;
  assert.ok(d, `no ${tag} in ${dir}/index.json`);
  assert.equal(sha256(readFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)))), d, 'the manifest blob matches its name');
  return d;
}

const skip = (!hasSkopeo && 'skopeo not installed') || (!hasDockerRegistry && 'docker-registry not installed');

test('skopeo copies an OCI layout into, between and out of registries with digests intact', { skip }, async (t) => {
  const src = await makeLayout(path.join(work, 'src'), 'v1');
  const dr = await startDistribution();
  cleanups.push(() => dr.stop());
  let other: { name: string; host: string };
  if (hasBerthRegistry()) {
    const berth = await startBerthRegistry();
    cleanups.push(() => berth.stop());
    other = { name: 'berth', host: berth.host };
  } else {
    t.diagnostic("Berth's registry server is not in this build: a second docker-registry is the other end");
    const dr2 = await startDistribution();
    cleanups.push(() => dr2.stop());
    other = { name: 'docker-registry #2', host: dr2.host };
  }
  const tls = ['--src-tls-verify=false', '--dest-tls-verify=false'];
  const ref = (host: string, repo: string) => `docker://${host}/${repo}:v1`;

  /** What the registry serves as the manifest: the bytes skopeo pushed, and their digest. */
  const check = async (host: string, repo: string, where: string) => {
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', ref(host, repo));
    assert.equal(sha256(raw), src.manifestDigest, `manifest digest at ${where}`);
    const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', ref(host, repo))) as { Digest: string; Layers: string[] };
    assert.equal(inspected.Digest, src.manifestDigest, `skopeo inspect Digest at ${where}`);
    assert.deepEqual(inspected.Layers, [src.blobs[1]], `layers at ${where}`);
  };

  await skopeo('copy', ...tls, `oci:${src.dir}:v1`, ref(dr.host, 'skopeo/in'));
  await check(dr.host, 'skopeo/in', 'docker-registry');
  await skopeo('copy', ...tls, `oci:${src.dir}:v1`, ref(other.host, 'skopeo/in'));
  await check(other.host, 'skopeo/in', other.name);

  // Registry to registry, both ways.
  await skopeo('copy', ...tls, ref(dr.host, 'skopeo/in'), ref(other.host, 'skopeo/from-dr'));
  await check(other.host, 'skopeo/from-dr', `${other.name} (from docker-registry)`);
  await skopeo('copy', ...tls, ref(other.host, 'skopeo/in'), ref(dr.host, 'skopeo/from-other'));
  await check(dr.host, 'skopeo/from-other', `docker-registry (from ${other.name})`);

  // Out to OCI layouts again: the same manifest, and skopeo's own digest of it agrees.
  for (const [host, repo, name] of [[dr.host, 'skopeo/from-other', 'docker-registry'], [other.host, 'skopeo/from-dr', other.name]] as const) {
    const out = path.join(work, `out-${repo.replace(/\W/g, '-')}`);
    await skopeo('copy', ...tls, ref(host, repo), `oci:${out}:v1`);
    const d = layoutDigest(out, 'v1');
    assert.equal(d, src.manifestDigest, `manifest digest out of ${name}`);
    const mdigest = (await skopeo('manifest-digest', path.join(out, 'blobs', 'sha256', d.slice(7)))).trim();
    assert.equal(mdigest, src.manifestDigest, 'skopeo manifest-digest');
    for (const b of src.blobs) {
      const bytes = readFileSync(path.join(out, 'blobs', 'sha256', b.slice(7)));
      assert.equal(sha256(bytes), b, `blob ${b} out of ${name}`);
    }
  }
});

interface End {
  name: string;
  host: string;
  /** skopeo flags to read from (src) and write to (dest) it. */
  src: string[];
  dest: string[];
  inspect: string[];
}

/** docker-registry and Berth's server (or a second docker-registry while Berth's is absent), optionally with TLS and htpasswd. */
async function ends(t: { diagnostic(m: string): void }, secured: boolean, token = false): Promise<[End, End]> {
  const plainFlags = (): Pick<End, 'src' | 'dest' | 'inspect'> => ({ src: ['--src-tls-verify=false'], dest: ['--dest-tls-verify=false'], inspect: ['--tls-verify=false'] });
  let securedFlags = plainFlags;
  let berthArgs: string[] = [];
  if (secured) {
    const dir = mkdtempSync(path.join(work, 'secrets-'));
    const certs = await makeTestCerts(path.join(dir, 'certs'));
    // skopeo's --cert-dir wants the CA as ca.crt.
    const certDir = path.join(dir, 'certdir');
    mkdirSync(certDir);
    writeFileSync(path.join(certDir, 'ca.crt'), readFileSync(certs.ca));
    const htpasswd = path.join(dir, 'htpasswd');
    writeFileSync(htpasswd, '');
    const r = spawnSync('htpasswd', ['-Bb', htpasswd, 'alice', 's3cret'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    securedFlags = () => ({
      src: ['--src-cert-dir', certDir, '--src-creds', 'alice:s3cret'],
      dest: ['--dest-cert-dir', certDir, '--dest-creds', 'alice:s3cret'],
      inspect: ['--cert-dir', certDir, '--creds', 'alice:s3cret'],
    });
    berthArgs = ['--htpasswd', htpasswd, '--tls-cert', certs.cert, '--tls-key', certs.key, ...(token ? ['--token-issue'] : [])];
    // docker-registry makes its own CA; skopeo then gets a cert dir for it below.
  }
  const startDr = async (name: string): Promise<End> => {
    const dr = await startDistribution(secured ? { tls: true, users: { alice: 's3cret' } } : {});
    cleanups.push(() => dr.stop());
    if (!secured) return { name, host: dr.host, ...plainFlags() };
    const certDir = mkdtempSync(path.join(work, 'drcerts-'));
    writeFileSync(path.join(certDir, 'ca.crt'), dr.ca!);
    return {
      name,
      host: dr.host,
      src: ['--src-cert-dir', certDir, '--src-creds', 'alice:s3cret'],
      dest: ['--dest-cert-dir', certDir, '--dest-creds', 'alice:s3cret'],
      inspect: ['--cert-dir', certDir, '--creds', 'alice:s3cret'],
    };
  };
  const first = await startDr('docker-registry');
  if (hasBerthRegistry()) {
    const berth = await startBerthRegistry(berthArgs);
    cleanups.push(() => berth.stop());
    return [first, { name: 'berth', host: berth.host, ...securedFlags() }];
  }
  t.diagnostic("Berth's registry server is not in this build: a second docker-registry is the other end");
  return [first, await startDr('docker-registry #2')];
}

const modes = [
  { secured: false, token: false, label: '' },
  { secured: true, token: false, label: ', over TLS with htpasswd' },
  // Docker's bearer-token flow, served by Berth's own token endpoint (docker-registry has none of its own).
  { secured: true, token: true, label: ", over TLS with Berth's bearer tokens" },
];
for (const { secured, token, label } of modes) {
  const noBerth = token && !hasBerthRegistry() && "Berth's registry server is not in this build";
  test(`skopeo copies a multi-arch OCI index with --all, digests intact${label}`, { skip: skip || noBerth }, async (t) => {
    const src = await makeLayout(path.join(work, `src-index-${secured}-${token}`), 'multi', ['amd64', 'arm64']);
    const index = JSON.parse(src.manifest.toString()) as { manifests: Array<{ digest: string }> };
    const [a, b] = await ends(t, secured, token);
    const ref = (e: End, repo: string, at = ':multi') => `docker://${e.host}/${repo}${at}`;
    const check = async (e: End, repo: string) => {
      const raw = await skopeo('inspect', '--raw', ...e.inspect, ref(e, repo));
      assert.equal(sha256(raw), src.manifestDigest, `index digest at ${e.name}/${repo}`);
      for (const child of index.manifests) {
        const c = await skopeo('inspect', '--raw', ...e.inspect, ref(e, repo, '@' + child.digest));
        assert.equal(sha256(c), child.digest, `child ${child.digest} at ${e.name}/${repo}`);
      }
    };
    for (const e of [a, b]) {
      await skopeo('copy', '--all', '--preserve-digests', ...e.dest, `oci:${src.dir}:multi`, ref(e, 'skopeo/multi'));
      await check(e, 'skopeo/multi');
    }
    await skopeo('copy', '--all', '--preserve-digests', ...a.src, ...b.dest, ref(a, 'skopeo/multi'), ref(b, 'skopeo/multi-from-a'));
    await check(b, 'skopeo/multi-from-a');
    await skopeo('copy', '--all', '--preserve-digests', ...b.src, ...a.dest, ref(b, 'skopeo/multi'), ref(a, 'skopeo/multi-from-b'));
    await check(a, 'skopeo/multi-from-b');
    const out = path.join(work, `out-index-${secured}-${token}`);
    await skopeo('copy', '--all', '--preserve-digests', ...b.src, ref(b, 'skopeo/multi-from-a'), `oci:${out}:multi`);
    assert.equal(layoutDigest(out, 'multi'), src.manifestDigest);
    for (const d of [...index.manifests.map((m) => m.digest), ...src.blobs]) {
      assert.equal(sha256(readFileSync(path.join(out, 'blobs', 'sha256', d.slice(7)))), d, `${d} in the layout copied out`);
    }
    if (secured) {
      // The same copy without credentials is refused: the secured ends really asked for them.
      await assert.rejects(skopeo('inspect', '--raw', ...b.inspect.filter((f, i, all) => f !== '--creds' && all[i - 1] !== '--creds'), ref(b, 'skopeo/multi')), /unauthorized|authentication required|401/i);
    }
  });
}
