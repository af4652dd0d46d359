/**
 * Moving service images through registries as docker compose does: a pull (POST /images/create) or
 * push (POST /images/{name}/push) with progress events `Image <ref> Pulling` ... `Pulled`, layers as
 * sub-events whose status changed, and the stream's error as the failure.
 */
import type { Readable } from 'node:stream';
import type { ComposeContext } from './types.js';
import { CliError } from '../../cli/errors.js';
import { jsonMessages } from '../../cli/jsonstream.js';
import { InvalidReferenceError, fullName, parseNormalizedNamed, type NamedRef } from '../../cli/reference.js';

/** Go's errors.Unwrap to the innermost message: the daemon's words without the client's prefix. */
function innerMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/^Error response from daemon: /, '');
}

function parseImage(image: string): NamedRef {
  try {
    return parseNormalizedNamed(image);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new CliError(err.message);
    throw err;
  }
}

/** The tag or digest of a reference, `latest` when it names neither. */
function tagOrDigest(ref: NamedRef): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Reads a pull/push stream, reporting layers whose status changed; throws the stream's error. */
async function followStream(ctx: ComposeContext, parent: string, res: Readable, quiet: boolean): Promise<void> {
  const last = new Map<string, string>();
  for await (const m of jsonMessages(res)) {
    if (m.error !== undefined || m.errorDetail) throw new CliError(m.errorDetail?.message ?? m.error ?? 'unknown error');
    if (quiet || !m.id || !m.status || last.get(m.id) === m.status) continue;
    last.set(m.id, m.status);
    const done = /^(Download complete|Already exists|Pull complete|Pushed|Layer already exists)$/.test(m.status);
    ctx.progress.event({ id: m.id, parentId: parent, status: m.status, done });
  }
}

export interface PullOptions {
  /** No layer events (`--quiet-pull`, `pull -q`). */
  quiet?: boolean;
  /** The service can be built instead: a failure is a warning event, not an error one. */
  buildable?: boolean;
  platform?: string;
}

/** Pulls `image`; throws the daemon's message (without "Error response from daemon: ") on failure. */
export async function pullServiceImage(ctx: ComposeContext, image: string, opts: PullOptions = {}): Promise<void> {
  const id = `Image ${image}`;
  ctx.progress.event({ id, status: 'Pulling' });
  try {
    const ref = parseImage(image);
    const res = await ctx.client.request('POST', '/images/create', {
      query: { fromImage: fullName(ref), tag: tagOrDigest(ref), platform: opts.platform?.toLowerCase() || undefined },
      headers: { 'X-Registry-Auth': (await ctx.registryAuth?.(image)) ?? 'e30=' },
    });
    const abort = () => res.destroy();
    ctx.signal?.addEventListener('abort', abort, { once: true });
    try {
      await followStream(ctx, id, res, !!opts.quiet);
    } finally {
      ctx.signal?.removeEventListener('abort', abort);
    }
  } catch (err) {
    if (ctx.signal?.aborted) {
      // Ctrl-C: docker compose reports the pull as interrupted, not failed.
      ctx.progress.event({ id, status: 'Interrupted', warning: true });
      return;
    }
    const message = innerMessage(err);
    if (opts.buildable) ctx.progress.event({ id, status: 'Warning', text: message, warning: true });
    else ctx.progress.event({ id, status: 'Error', text: message, error: true });
    throw new CliError(message);
  }
  ctx.progress.event({ id, status: 'Pulled', done: true });
}

/** Pushes `image` (a tag); events `<image> Pushing` ... `Pushed` as docker compose's push. */
export async function pushServiceImage(ctx: ComposeContext, image: string, opts: { quiet?: boolean; ignoreFailure?: boolean } = {}): Promise<void> {
  ctx.progress.event({ id: image, status: 'Pushing' });
  try {
    const ref = parseImage(image);
    const res = await ctx.client.request('POST', `/images/${fullName(ref)}/push`, {
      query: { tag: ref.tag ?? 'latest' },
      headers: { 'X-Registry-Auth': (await ctx.registryAuth?.(image)) ?? 'e30=' },
    });
    await followStream(ctx, image, res, !!opts.quiet);
  } catch (err) {
    const message = innerMessage(err);
    if (opts.ignoreFailure) ctx.progress.event({ id: image, status: 'Warning', text: message, warning: true });
    else ctx.progress.event({ id: image, status: 'Error', text: message, error: true });
    throw new CliError(message);
  }
  ctx.progress.event({ id: image, status: 'Pushed', done: true });
}

/** Runs `tasks` with at most `limit` at once (-1 or 0: all at once); settles every one. */
export async function runLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<PromiseSettledResult<void>[]> {
  const results: PromiseSettledResult<void>[] = new Array(items.length);
  const width = limit > 0 ? Math.min(limit, items.length) : items.length;
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        try {
          await task(items[i]!);
          results[i] = { status: 'fulfilled', value: undefined };
        } catch (reason) {
          results[i] = { status: 'rejected', reason };
        }
      }
    }),
  );
  return results;
}
