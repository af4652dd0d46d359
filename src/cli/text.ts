/** Small text helpers shared by formatters. */
import { displayWidth } from './tabwriter.js';

/**
 * docker's formatter.Ellipsis: cut to `max` display columns, the last one being "…".
 * Used for CREATED BY in history and COMMAND in container lists.
 */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const runes = [...s];
  if (max === 1) return runes[0] ?? '';
  let width = 0;
  const widths = runes.map((r) => (width += displayWidth(r)));
  if (width <= max) return s;
  let cut = 0;
  while (cut < runes.length && widths[cut]! <= max - 1) cut++;
  return runes.slice(0, cut).join('') + '…';
}

/** stringid.TruncateID: drops an "algo:" prefix and keeps 12 characters. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  return (colon >= 0 ? id.slice(colon + 1) : id).slice(0, 12);
}

/** Go's strconv.Quote for the printable ASCII and UTF-8 text commands carry. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}
