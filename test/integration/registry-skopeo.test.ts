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
import { SKOPEO, hasDockerRegistry, hasSkopeo, startDistribution } from './registry-peers.js';
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

/** An OCI image layout holding one image: one gzip layer with a couple of files, a config, a manifest, index.json. */
async function makeLayout(dir: string, tag: string): Promise<Layout> {
  const blobsDir = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobsDir, { recursive: true });
  const put = (b: Buffer) => {
    const d = sha256(b);
    writeFileSync(path.join(blobsDir, d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const layerTar = await tarOf({ 'etc/': '', 'etc/greeting': 'hello from berth\n', 'hello.txt': `made ${process.pid}\n` });
  const layer = put(gzipSync(layerTar));
  const config = put(Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
    history: [{ created_by: 'registry-skopeo.test' }],
  })));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  }));
  const m = put(manifest);
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { dir, manifestDigest: m.digest, manifest, blobs: [config.digest, layer.digest] };
}

/** The manifest digest an OCI layout's index.json names for a tag, and that it matches its blob. */
function layoutDigest(dir: string, tag: string): string {
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)?.digest;
  assert.ok(d, `no ${tag} in ${dir}/index.json`);
  assert.equal(sha256(readFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)))), d, 'the manifest blob matches its name');
  return d;
}

test('skopeo copies an OCI layout into, between and out of registries with digests intact', { skip: (!hasSkopeo && 'skopeo not installed') || (!hasDockerRegistry && 'docker-registry not installed') }, async (t) => {
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
