import { invalidArgument } from '../lib/errors.js';
import { execFileText } from '../lib/exec-file.js';

/** The adapter for ps(1), which `docker top` runs on the host with the user's options. */
export async function hostPs(args: string[]): Promise<string> {
  try {
    return await execFileText('ps', args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw invalidArgument(`Error running ps: ${(e.stderr || e.message).trim()}`);
  }
}
