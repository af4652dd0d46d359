/**
 * Adapter for iproute2's `bridge`: the only module that runs it. Forwarding database (fdb) entries,
 * here those of VXLAN devices (which peer a MAC is behind). Several changes go through one
 * `bridge -batch -`; what `bridge` writes to stderr becomes the error.
 *
 * Lifecycle: stateless functions; callers decide what to add and remove.
 */
import { execFileText, ExecFileError } from '../lib/exec-file.js';

const BRIDGE = 'bridge';

export class BridgeToolError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'BridgeToolError';
  }
}

async function run(args: string[], input?: string): Promise<string> {
  try {
    return await execFileText(BRIDGE, args, { input, timeoutMs: 30_000 });
  } catch (err) {
    if (err instanceof ExecFileError) {
      const detail = err.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^Command failed -:\d+$/.test(l)).join('; ');
      throw new BridgeToolError(`bridge ${args.filter((a) => a !== '-batch' && a !== '-').join(' ')}: ${detail || err.detail}`, err.stderr);
    }
    throw err;
  }
}

export interface FdbInfo {
  mac: string;
  dst?: string;
  master?: string;
  state?: string;
  flags?: string[];
}

/** The device's forwarding entries. */
export async function fdbShow(dev: string): Promise<FdbInfo[]> {
  const out = await run(['-j', 'fdb', 'show', 'dev', dev]);
  return out.trim() ? (JSON.parse(out) as FdbInfo[]) : [];
}

/** Runs several `bridge` commands (each without the leading "bridge") in one process; `force` goes on after a failing line. */
export async function batch(commands: string[], opts: { force?: boolean } = {}): Promise<void> {
  if (!commands.length) return;
  await run([...(opts.force ? ['-force'] : []), '-batch', '-'], commands.join('\n') + '\n');
}
