/**
 * docker compose's terminal display: a `[+] Running 2/3` header and a line per resource
 * (` ✔ Container p-web-1  Started   0.3s`), redrawn in place every 100 ms while work goes on,
 * a spinner for what is still working, ✘ for failures, the elapsed time right-aligned.
 */
import type { Progress, ProgressEvent } from './types.js';
import type { ProgressSink } from './progress.js';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

interface Task {
  id: string;
  status: string;
  text?: string;
  state: 'working' | 'done' | 'error';
  start: number;
  end?: number;
}

const ansi = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;

/** One rendered line of the display, without colours when `color` is false (exported for tests). */
export function ttyLine(t: Task, opts: { now: number; width: number; idWidth: number; timerWidth: number; frame: number; color: boolean }): string {
  const green = opts.color ? ansi('32') : (s: string) => s;
  const red = opts.color ? ansi('1;31') : (s: string) => s;
  const blue = opts.color ? ansi('34') : (s: string) => s;
  const yellow = opts.color ? ansi('33') : (s: string) => s;
  const mark = t.state === 'done' ? green('✔') : t.state === 'error' ? red('✘') : yellow(SPINNER[opts.frame % SPINNER.length]!);
  const status = t.state === 'done' ? green(t.status) : t.state === 'error' ? red(t.status) : t.status;
  const timer = elapsed(t, opts.now).padStart(opts.timerWidth);
  const before = ` ${mark} ${t.id}${' '.repeat(Math.max(opts.idWidth - [...t.id].length, 0))} `;
  const body = `${status}${t.text ? ' ' + t.text : ''}`;
  const visible = 3 + opts.idWidth + 1 + [...t.status].length + (t.text ? 1 + [...t.text].length : 0);
  const pad = Math.max(opts.width - visible - opts.timerWidth, 1);
  return `${before}${body}${' '.repeat(pad)}${blue(timer)}`;
}

function elapsed(t: Task, now: number): string {
  return `${(((t.end ?? now) - t.start) / 1000).toFixed(1)}s`;
}

export function ttyProgress(out: ProgressSink, opts: { color: boolean; title?: string }): Progress {
  let tasks: Task[] = [];
  let drawn = 0;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  const title = opts.title ?? 'Running';

  const draw = () => {
    if (!tasks.length) return;
    const width = Math.max(out.columns ?? 80, 40);
    const now = Date.now();
    const idWidth = Math.max(...tasks.map((t) => [...t.id].length));
    const timerWidth = Math.max(...tasks.map((t) => elapsed(t, now).length));
    const done = tasks.filter((t) => t.state !== 'working').length;
    let s = '\x1b[?25l';
    if (drawn) s += `\x1b[${drawn}A`;
    s += '\r' + `[+] ${title} ${done}/${tasks.length}\x1b[K\n`;
    // Lines beyond the terminal's height could not be redrawn: the rest is counted instead.
    const maxLines = Math.max((out.rows ?? 1000) - 2, 1);
    const shown = tasks.length > maxLines ? tasks.slice(0, maxLines - 1) : tasks;
    for (const t of shown) s += ttyLine(t, { now, width, idWidth, timerWidth, frame, color: opts.color }) + '\x1b[K\n';
    if (shown.length < tasks.length) s += ` ... ${tasks.length - shown.length} more\x1b[K\n`;
    s += '\x1b[?25h';
    out.write(s);
    drawn = (shown.length < tasks.length ? shown.length + 1 : shown.length) + 1;
    frame++;
  };

  const ensureTicker = () => {
    if (timer) return;
    timer = setInterval(draw, 100);
    timer.unref?.();
  };

  return {
    event(e: ProgressEvent) {
      const state = e.error ? 'error' : e.done ? 'done' : 'working';
      const t = tasks.find((x) => x.id === e.id);
      const now = Date.now();
      if (!t) tasks.push({ id: e.id, status: e.status, text: e.text, state, start: now, end: state === 'working' ? undefined : now });
      else {
        if (t.state !== 'working' && state === 'working') {
          t.start = now;
          t.end = undefined;
        }
        if (state !== 'working' && t.end === undefined) t.end = now;
        Object.assign(t, { status: e.status, text: e.text, state });
      }
      ensureTicker();
      draw();
    },
    log(line: string) {
      // A line outside the display: printed above it, then the display is drawn again below.
      if (drawn) {
        out.write(`\x1b[${drawn}A\r\x1b[J`);
        drawn = 0;
      }
      out.write(line + '\n');
      draw();
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      draw();
      // A later operation starts a display of its own below this one.
      tasks = [];
      drawn = 0;
    },
  };
}
