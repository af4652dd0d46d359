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

/** Reports progress at most every 1% or 512 KiB, as dockerd's progress reader does. */
export function throttled(total: number, report: (current: number) => void): (current: number) => void {
  const step = Math.max(Math.floor(total / 100), 1);
  let last = -1;
  return (current) => {
    if (last < 0 || current - last >= Math.min(step, 512 * 1024) || current >= total) {
      last = current;
      report(current);
    }
  };
}
