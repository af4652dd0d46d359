/**
 * Adapter for the few filesystem operations Node cannot do itself and that overlayfs layers need:
 * creating whiteouts (character device 0/0), FIFOs, and reading/writing the
 * `trusted.overlay.opaque` extended attribute.
 *
 * Everything runs an external program through execFile (no shell), so arguments are never
 * interpreted; stderr is captured into the thrown error. Programs used:
 *   - mknod, mkfifo   — Debian package `coreutils`
 *   - setfattr, getfattr — Debian package `attr`
 * Writing `trusted.*` xattrs and creating device nodes require root (CAP_SYS_ADMIN / CAP_MKNOD).
 *
 * All paths handed to these helpers must be absolute; symlinks are never followed
 * (`-h` / `-P` for the attr tools; mknod/mkfifo create with O_EXCL semantics and fail on an
 * existing name, including a symlink).
 */
import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import path from 'node:path';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** Debian packages providing the programs this module runs (for setup/diagnostics). */
export const REQUIRED_PACKAGES: Record<string, string> = {
  mknod: 'coreutils',
  mkfifo: 'coreutils',
  setfattr: 'attr',
  getfattr: 'attr',
};

interface RunResult {
  stdout: Buffer;
  stderr: string;
}

class ToolError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OverlayToolError';
  }
}

function run(cmd: string, args: string[], opts: { okCodes?: number[] } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout, stderrBuf) => {
        const stderr = stderrBuf.toString('utf8').trim();
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          if (code !== null && opts.okCodes?.includes(code)) {
            resolve({ stdout, stderr });
            return;
          }
          if (err.code === 'ENOENT') {
            const pkg = REQUIRED_PACKAGES[cmd];
            reject(
              new ToolError(
                `${cmd}: program not found${pkg ? ` (install the Debian package '${pkg}')` : ''}`,
                null,
                '',
                { cause: err },
              ),
            );
            return;
          }
          const detail = stderr || err.message;
          reject(new ToolError(`${cmd} ${args.join(' ')} failed: ${detail}`, code, stderr, { cause: err }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

function requireAbsolute(p: string): void {
  if (!path.isAbsolute(p)) throw new Error(`overlay-tools: path must be absolute: ${p}`);
}

/** Creates an overlayfs whiteout (character device 0/0, mode 0000) at p, which must not exist. */
export async function mknodWhiteout(p: string): Promise<void> {
  requireAbsolute(p);
  await run('mknod', ['-m', '0000', '--', p, 'c', '0', '0']);
}

/** Creates a FIFO at p (which must not exist) with the given permission bits (umask not applied). */
export async function mkfifo(p: string, mode: number): Promise<void> {
  requireAbsolute(p);
  await run('mkfifo', ['-m', (mode & 0o7777).toString(8).padStart(4, '0'), '--', p]);
}

/** Marks directory p opaque for overlayfs (xattr trusted.overlay.opaque=y); does not follow symlinks. */
export async function setOpaque(p: string): Promise<void> {
  requireAbsolute(p);
  await run('setfattr', ['-h', '-n', OPAQUE_XATTR, '-v', 'y', '--', p]);
}

/** Whether p carries trusted.overlay.opaque=y (p itself, symlinks not followed). */
export async function isOpaque(p: string): Promise<boolean> {
  requireAbsolute(p);
  // getfattr exits 1 when the attribute is absent ("No such attribute"); other failures are real.
  const { stdout, stderr } = await run(
    'getfattr',
    ['-h', '--absolute-names', '--only-values', '-n', OPAQUE_XATTR, '--', p],
    { okCodes: [1] },
  );
  if (stdout.length === 0) {
    if (stderr && !/No such attribute/i.test(stderr)) {
      throw new ToolError(`getfattr ${p} failed: ${stderr}`, 1, stderr);
    }
    return false;
  }
  return stdout.toString('latin1') === 'y';
}

/** Undoes getfattr's quoting of file names: backslash followed by three octal digits is one byte. */
function unquoteGetfattr(raw: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x5c && i + 3 < raw.length && isOct(raw[i + 1]) && isOct(raw[i + 2]) && isOct(raw[i + 3])) {
      out.push(((raw[i + 1]! - 48) << 6) | ((raw[i + 2]! - 48) << 3) | (raw[i + 3]! - 48));
      i += 3;
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

function isOct(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 55;
}

/**
 * All opaque directories under root (root included), as paths relative to root ('' for root
 * itself), in one recursive getfattr run (symlinks are not followed), so that an upper dir with
 * many directories costs one process, not one per directory (diff and commit use it).
 */
export async function listOpaqueDirs(root: string): Promise<Set<string>> {
  requireAbsolute(root);
  const base = path.resolve(root);
  const { stdout } = await run('getfattr', [
    '-R',
    '-P',
    '-h',
    '--absolute-names',
    '-d',
    '-m',
    `^${OPAQUE_XATTR.replace(/\./g, '\\.')}$`,
    '-e',
    'text',
    '--',
    base,
  ]);
  const result = new Set<string>();
  // Output: blocks of "# file: <quoted path>\n<name>=\"<value>\"\n" separated by blank lines.
  let current: string | null = null;
  let start = 0;
  while (start < stdout.length) {
    let end = stdout.indexOf(0x0a, start);
    if (end === -1) end = stdout.length;
    const line = stdout.subarray(start, end);
    start = end + 1;
    const header = Buffer.from('# file: ');
    if (line.subarray(0, header.length).equals(header)) {
      current = unquoteGetfattr(line.subarray(header.length)).toString('utf8');
      continue;
    }
    if (current === null) continue;
    const text = line.toString('utf8');
    if (text === `${OPAQUE_XATTR}="y"`) {
      let rel: string | null = null;
      if (current === base) rel = '';
      else if (current.startsWith(base + '/')) rel = current.slice(base.length + 1);
      if (rel !== null) result.add(rel);
    }
  }
  return result;
}

/** Whether an lstat result is an overlayfs whiteout (character device 0/0). */
export function isWhiteoutStat(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Splits a Linux dev_t (as reported in Stats.rdev) into major/minor numbers. */
export function splitDev(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}
