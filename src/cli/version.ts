/**
 * The client's own build information for `berth version`, `berth info` and `--version`.
 * There is no link step to stamp it in, so it is read from the package and the checkout.
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// dist/src/cli/version.js -> the package root is three levels up.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0'; // no package.json: version unknown
  }
}

/** The short commit of the checkout, if it is one (BERTH_GIT_COMMIT overrides). */
function readCommit(): string {
  if (process.env.BERTH_GIT_COMMIT) return process.env.BERTH_GIT_COMMIT;
  try {
    const gitDir = path.join(ROOT, '.git');
    const head = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 7);
    const ref = head.slice(5);
    try {
      return readFileSync(path.join(gitDir, ref), 'utf8').trim().slice(0, 7);
    } catch {
      const packed = readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
      return line ? line.slice(0, 7) : 'unknown';
    }
  } catch {
    return 'unknown'; // not a git checkout: commit unknown
  }
}

/** When this build was made: the compiled module's modification time. */
function readBuildTime(): Date {
  try {
    return statSync(fileURLToPath(import.meta.url)).mtime;
  } catch {
    return new Date(0); // unknown build time
  }
}

export const CLIENT_VERSION = readVersion();
export const CLIENT_COMMIT = readCommit();
export const CLIENT_BUILD_TIME = readBuildTime();
/** Docker prints the Go toolchain here; Berth's runtime is Node. */
export const CLIENT_RUNTIME = `node${process.versions.node}`;
