/**
 * `berth build` progress in the manner of BuildKit's printers: `plain` (one `#N` line per event, RUN
 * output with its time since the step started, `#N DONE 0.3s` / `#N CACHED`) and `tty` (a live list
 * redrawn in place, left as the summary at the end). Fed with the daemon's structured build events.
 */
import type { Output } from './streams.js';

/** A BuildEvent as it arrives in the structured stream (Buffers as base64). */
export interface WireEvent {
  type: string;
  step?: { id: string; stage: number; stageName: string; index: number; count: number; globalIndex: number; globalCount: number; text: string };
  stream?: 'stdout' | 'stderr';
  data?: string;
  error?: string;
  imageId?: string;
  text?: string;
  message?: Record<string, unknown>;
}

interface Vertex {
  num: number;
  name: string;
  started: number;
  ended?: number;
  cached: boolean;
  error?: string;
  /** Output lines, each with its time since the step started. */
  logs: Array<{ at: number; line: string }>;
  partial: string;
}

export type ProgressMode = 'plain' | 'tty' | 'quiet';

export class BuildProgress {
  private readonly vertices = new Map<string, Vertex>();
  private readonly order: Vertex[] = [];
  private readonly started: number;
  private drawnLines = 0;
  private timer?: NodeJS.Timeout;
  private lastPlain?: Vertex;

  constructor(
    private readonly out: Output,
    private readonly mode: ProgressMode,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.started = now();
    if (mode === 'tty') this.timer = setInterval(() => this.draw(), 150);
  }

  event(e: WireEvent): void {
    const step = e.step;
    if (e.type === 'message' && e.text !== undefined) {
      if (this.mode !== 'quiet') this.note(e.text.replace(/\n$/, ''));
      return;
    }
    if (!step) return;
    let v = this.vertices.get(step.id);
    if (e.type === 'step-start' || !v) {
      if (!v) {
        v = { num: this.order.length + 1, name: stepName(step), started: this.now(), cached: false, logs: [], partial: '' };
        this.vertices.set(step.id, v);
        this.order.push(v);
        this.plain(v, v.name, true);
      }
      if (e.type === 'step-start') return;
    }
    switch (e.type) {
      case 'step-cached':
        v.cached = true;
        return;
      case 'step-output': {
        const text = v.partial + Buffer.from(e.data ?? '', 'base64').toString('utf8');
        const lines = text.split(/\r?\n/);
        v.partial = lines.pop() ?? '';
        for (const line of lines) this.log(v, line);
        return;
      }
      case 'step-done':
        if (v.partial) this.log(v, v.partial);
        v.partial = '';
        v.ended = this.now();
        v.error = e.error;
        if (v.cached) this.plain(v, 'CACHED');
        else if (e.error) this.plain(v, `ERROR: ${e.error}`);
        else this.plain(v, `DONE ${seconds(v.ended - v.started)}`);
        return;
      case 'pull-progress': {
        const m = e.message ?? {};
        const status = typeof m.status === 'string' ? m.status : '';
        if (status && !m.progressDetail) this.log(v, [m.id, status].filter(Boolean).join(': '));
        return;
      }
      default:
        return;
    }
  }

  /** The build ended: the final tty frame, or nothing more in plain mode. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.mode === 'tty') this.draw(true);
  }

  private log(v: Vertex, line: string): void {
    const at = this.now() - v.started;
    v.logs.push({ at, line });
    if (this.mode === 'plain') this.plain(v, `${(at / 1000).toFixed(3)} ${line}`);
  }

  private note(text: string): void {
    if (this.mode === 'plain') this.out.write(`${text}\n`);
    else if (this.mode === 'tty') {
      this.clear();
      this.out.write(`${text}\n`);
      this.draw();
    }
  }

  /** One `#N ...` line; a blank line separates the lines of different steps, as BuildKit's plain printer. */
  private plain(v: Vertex, text: string, first = false): void {
    if (this.mode !== 'plain') return;
    if (first && this.lastPlain) this.out.write('\n');
    this.lastPlain = v;
    this.out.write(`#${v.num} ${text}\n`);
  }

  private clear(): void {
    if (this.drawnLines) this.out.write(`\u001b[${this.drawnLines}A\u001b[J`);
    this.drawnLines = 0;
  }

  /** Redraws the tty list: a header with the elapsed time, one line per step, the running steps' last lines of output. */
  private draw(final = false): void {
    if (this.mode !== 'tty') return;
    const width = Math.max(40, this.out.columns ?? 80);
    const now = this.now();
    const done = this.order.filter((v) => v.ended !== undefined).length;
    const lines = [`[+] Building ${seconds(now - this.started)} (${done}/${this.order.length})${final ? ' FINISHED' : ''}`];
    for (const v of this.order) {
      const time = v.cached ? '' : seconds((v.ended ?? now) - v.started);
      const label = ` => ${v.cached ? 'CACHED ' : ''}${v.error ? 'ERROR ' : ''}${v.name}`;
      lines.push(padRight(label, time, width));
      if (v.ended === undefined || v.error) for (const l of v.logs.slice(-6)) lines.push(clip(` => => # ${l.line}`, width));
    }
    this.clear();
    this.out.write(lines.join('\n') + '\n');
    this.drawnLines = lines.length;
  }
}

/** `[stage 2/4] RUN ...` as BuildKit names a step; `[2/4]` when the build has one stage. */
export function stepName(step: NonNullable<WireEvent['step']>): string {
  const single = step.globalCount === step.count && step.stage === 0;
  const stage = /^\d+$/.test(step.stageName) ? `stage-${step.stageName}` : step.stageName;
  return `[${single ? '' : stage + ' '}${step.index}/${step.count}] ${step.text}`;
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

function clip(s: string, width: number): string {
  return s.length > width ? s.slice(0, width - 1) : s;
}

function padRight(label: string, right: string, width: number): string {
  const room = width - right.length - 1;
  const left = label.length > room ? label.slice(0, Math.max(0, room - 3)) + '...' : label;
  return left + ' '.repeat(Math.max(1, width - left.length - right.length)) + right;
}
