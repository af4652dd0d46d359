/**
 * Test images for the registry tests, made locally: an OCI image layout directory holding a small
 * busybox-like image (one gzip layer with a file or two, an OCI config), and helpers to run programs and
 * start Berth's registry (`berth registry serve`); Debian's docker-registry is registry-peers.ts's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BERTH_BIN = path.join(repoRoot, 'bin/berth');

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o755, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface LayoutImage {
  dir: string;
  manifestDigest: string;
  blobs: string[];
}

/** Writes an OCI layout at `dir` with one image tagged `tag`; `salt` makes its layer unique. */
export async function makeOciLayout(dir: string, tag = '1', salt = randomBytes(8).toString('hex'), layers = 1): Promise<LayoutImage> {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const d = sha(b);
    writeFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const layerDescs = [];
  const diffIds = [];
  for (let i = 0; i < layers; i++) {
    const raw = await tarOf({ [`etc/salt-${i}`]: `${salt}-${i}\n`, [`bin/hello-${i}`]: `#!/bin/sh\necho hello ${i}\n` + randomBytes(4096).toString('hex') });
    const gz = gzipSync(raw);
    layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(gz), size: gz.length });
    diffIds.push(sha(raw));
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const configDigest = put(config);
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: layerDescs }),
  );
  const manifestDigest = put(manifest);
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
  return { dir, manifestDigest, blobs: [configDigest, ...layerDescs.map((l) => l.digest)] };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runProgram(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function skopeo(args: string[]): Promise<RunResult> {
  return runProgram('skopeo', ['--insecure-policy', ...args]);
}

export interface Spawned {
  url: string;
  host: string;
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
}

function stopper(proc: ChildProcess): () => Promise<number | null> {
  return () =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
      proc.once('exit', (code) => resolve(code));
      proc.kill('SIGTERM');
    });
}

/** `berth registry serve --addr 127.0.0.1:0 --root ROOT ...extra`, once it printed its address. */
export function startBerthRegistry(root: string, extra: string[] = []): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const proc = spawn(BERTH_BIN, ['registry', 'serve', '--addr', '127.0.0.1:0', '--root', root, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /^listening on (https?):\/\/([^\s]+)\n/.exec(out);
      if (m) resolve({ url: `${m[1]}://${m[2]}`, host: m[2]!, proc, output: () => out + err, stop: stopper(proc) });
    });
    proc.on('exit', (code) => reject(new Error(`berth registry serve exited ${code}: ${out}${err}`)));
  });
}
