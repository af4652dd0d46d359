import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { invalidArgument } from '../lib/errors.js';

const run = promisify(execFile);

/** The adapter for ps(1), which `docker top` runs on the host with the user's options. */
export async function hostPs(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ps', args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw invalidArgument(`Error running ps: ${(e.stderr || e.message).trim()}`);
  }
}
