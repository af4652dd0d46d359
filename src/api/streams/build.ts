import type { BuildEvent, BuildResult } from '../../build/types.js';
import { messageOf } from '../../lib/errors.js';
import { RunStepFailed } from '../../build/run-step.js';

/**
 * The /build answer: BuildEvents rendered as dockerd's classic builder writes them (one JSON message per
 * write, each ending in "\r\n", Go's JSON escaping), or, for the berth CLI (`berthprogress=1`), the events
 * themselves as aux messages.
 */
export interface BuildStreamOptions {
  /** `q=1`: everything is held back; success prints only the image id, failure prints what was held back. */
  quiet: boolean;
  /** API >= 1.30: the `{"aux":{"ID":...}}` message after each stage. */
  aux: boolean;
  /** `berthprogress=1`: the structured event stream instead of the classic text. */
  structured: boolean;
}

/** The aux id of the structured mode's event messages. */
export const BERTH_EVENT_ID = 'berth.build.event';

export class BuildStream {
  private held: string[] = [];
  private wrote = false;
  /** Steps whose image line was printed by step-image (FROM), so step-done does not print it twice. */
  private readonly imagePrinted = new Set<string>();

  constructor(
    private readonly write: (data: string) => void,
    private readonly opts: BuildStreamOptions,
  ) {}

  /** True once something reached the client: errors after that go into the stream, not an HTTP status. */
  get started(): boolean {
    return this.wrote;
  }

  event(e: BuildEvent): void {
    if (this.opts.structured) {
      this.message({ id: BERTH_EVENT_ID, aux: structuredEvent(e) });
      if (e.type === 'step-done' && e.imageId && e.step.index === e.step.count) this.message({ aux: { ID: e.imageId } });
      return;
    }
    switch (e.type) {
      case 'step-start':
        // dockerd prints the step and its newline in two writes.
        this.stream(`Step ${e.step.globalIndex}/${e.step.globalCount} : ${e.step.text}`);
        this.stream('\n');
        return;
      case 'step-image':
        this.imagePrinted.add(e.step.id);
        this.stream(` ---> ${shortId(e.imageId)}\n`);
        return;
      case 'step-container':
        this.stream(` ---> Running in ${shortId(e.containerId)}\n`);
        return;
      case 'step-output': {
        const text = e.data.toString('utf8');
        this.stream(e.stream === 'stderr' ? `\u001b[91m${text}\u001b[0m` : text);
        return;
      }
      case 'step-cached':
        this.stream(' ---> Using cache\n');
        return;
      case 'step-container-removed':
        this.stream(` ---> Removed intermediate container ${shortId(e.containerId)}\n`);
        return;
      case 'step-done':
        if (!e.imageId) return;
        if (!this.imagePrinted.has(e.step.id)) this.stream(` ---> ${shortId(e.imageId)}\n`);
        // The classic builder reports each stage's image when the stage ends.
        if (this.opts.aux && e.step.index === e.step.count) this.message({ aux: { ID: e.imageId } });
        return;
      case 'pull-progress':
        this.message(e.message);
        return;
      case 'message':
        this.stream(e.text.endsWith('\n') ? e.text : e.text + '\n');
        return;
    }
  }

  /** After a successful build: dockerd's closing lines (or, with q=1, the id alone). */
  success(result: BuildResult): void {
    if (this.opts.quiet) {
      this.held = [];
      this.emit(encode({ stream: `${result.imageId}\n` }));
      return;
    }
    if (this.opts.structured) return;
    this.stream(`Successfully built ${shortId(result.imageId)}\n`);
    for (const tag of result.tags) this.stream(`Successfully tagged ${tag}\n`);
  }

  /**
   * A failed build: with q=1 the held-back output first (as dockerd), then the error message. Returns
   * false when nothing was written at all, so the caller can answer with an HTTP error instead.
   */
  failure(err: unknown): boolean {
    if (this.opts.quiet && this.held.length) {
      for (const m of this.held) this.emit(m);
      this.held = [];
    }
    if (!this.wrote) return false;
    const message = messageOf(err);
    // A failed RUN carries its exit code, which dockerd puts in errorDetail (docker-py reads it).
    const detail = err instanceof RunStepFailed ? { code: err.exitCode, message } : { message };
    this.emit(encode({ errorDetail: detail, error: message }));
    return true;
  }

  private stream(text: string): void {
    this.message({ stream: text });
  }

  private message(m: Record<string, unknown>): void {
    const data = encode(m);
    if (this.opts.quiet) this.held.push(data);
    else this.emit(data);
  }

  private emit(data: string): void {
    this.wrote = true;
    this.write(data);
  }
}

/** One message as Go's encoding/json writes it, with streamformatter's "\r\n". */
export function encode(m: Record<string, unknown>): string {
  return goJson(m) + '\r\n';
}

/** JSON.stringify with Go's HTML-safe escaping of <, >, & and the JavaScript line separators. */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** An event for the structured mode: Buffers as base64 text. */
export function structuredEvent(e: BuildEvent): Record<string, unknown> {
  if (e.type === 'step-output') return { ...e, data: e.data.toString('base64') };
  return { ...e };
}

/** `sha256:0123456789ab...` -> `0123456789ab` (Docker's stringid.TruncateID). */
export function shortId(id: string): string {
  const i = id.indexOf(':');
  return (i >= 0 ? id.slice(i + 1) : id).slice(0, 12);
}
