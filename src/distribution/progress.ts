/**
 * The JSON progress messages of dockerd's pull and push streams, and the progress bar text its
 * jsonmessage package draws (the daemon renders it at width 200, so the bar is always there).
 */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: unknown;
  error?: string;
  errorDetail?: { message: string };
}

export type ProgressSink = (m: ProgressMessage) => void;

/** A line with an id and no progress: {"status":"Pull complete","progressDetail":{},"id":"..."}. */
export function idStatus(id: string, status: string): ProgressMessage {
  return { status, progressDetail: {}, id };
}

export function progressOf(id: string, status: string, current: number, total: number): ProgressMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

/** jsonmessage.JSONProgress.String() at width 200 (no start time, so no time left). */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  const percentage = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  const numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

/** go-units HumanSize: decimal units, 4 significant digits ("2.152MB", "527B"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(4))}${units[i]}`;
}

/**
 * Reports progress at most every 1% or 512 KiB and every 100 ms, as dockerd's progress reader and its
 * rate limiter do; the first and the last update (current == total) always go out.
 */
export function throttled(total: number, report: (current: number) => void, now: () => number = Date.now): (current: number) => void {
  const step = Math.max(Math.min(Math.floor(total / 100), 512 * 1024), 1);
  let lastBytes = -1;
  let lastTime = -Infinity;
  return (current) => {
    const final = current >= total;
    const first = lastBytes < 0;
    if (!final && !first && (current - lastBytes < step || now() - lastTime < 100)) return;
    lastBytes = current;
    lastTime = now();
    report(current);
  };
}
