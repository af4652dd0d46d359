/**
 * Column alignment in the manner of Go's text/tabwriter (elastic tabstops), as used by
 * docker's table output: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
 *
 * The rules that matter for matching docker byte for byte:
 * - Cells are tab-TERMINATED, not tab-separated: the text after the last tab of a line is
 *   a cell that belongs to no column and is never padded (so lines have no trailing blanks).
 * - A column is a run of consecutive lines that all have a terminated cell at that index;
 *   a line with fewer cells ends the run, and the next run is sized independently.
 * - Column width = max(minWidth, widest cell + padding), measured in display columns.
 *   docker vendors a tabwriter fork that measures with go-runewidth, so East Asian wide
 *   characters and most emoji count as two columns and combining marks as zero.
 * - A form feed ends every column (and prints as a newline).
 */

export interface TabwriteOptions {
  /** Minimal cell width, padding included. docker: 10. */
  minWidth?: number;
  /** Width of a tab character; only used when padChar is '\t'. docker: 1. */
  tabWidth?: number;
  /** Added to the widest cell of a column. docker: 3. */
  padding?: number;
  /** Fill character. docker: ' '. */
  padChar?: string;
}

interface Config {
  minWidth: number;
  tabWidth: number;
  padding: number;
  padChar: string;
}

interface Cell {
  text: string;
  width: number;
}

/** Aligns tab-terminated cells of `text` into columns; see the module comment for the rules. */
export function tabwrite(text: string, opts: TabwriteOptions = {}): string {
  const cfg: Config = {
    minWidth: opts.minWidth ?? 10,
    tabWidth: opts.tabWidth ?? 1,
    padding: opts.padding ?? 3,
    padChar: opts.padChar ?? ' ',
  };
  if (cfg.minWidth < 0 || cfg.tabWidth < 0 || cfg.padding < 0) {
    throw new RangeError('tabwrite: negative minWidth, tabWidth, or padding');
  }
  const sections = text.split('\f');
  return sections.map((s, i) => formatSection(s, cfg, i === sections.length - 1)).join('\n');
}

/** Formats text between form feeds; `atEnd` marks the section that ends the whole input. */
function formatSection(section: string, cfg: Config, atEnd: boolean): string {
  const lines = section.split('\n').map(splitCells);
  if (atEnd) dropUnterminatedEmptyCell(lines[lines.length - 1]!);
  const out: string[] = new Array<string>(lines.length);
  layout(lines, 0, lines.length, [], cfg, (i, widths) => {
    out[i] = renderLine(lines[i]!, widths, cfg);
  });
  return out.join('\n');
}

function splitCells(line: string): Cell[] {
  // A vertical tab is a "soft" tab; it only differs from '\t' with DiscardEmptyColumns.
  return line.split(/[\t\v]/).map((text) => ({ text, width: displayWidth(text) }));
}

/**
 * Go's Flush only keeps the trailing cell of the final, newline-less line when it has
 * text, so "a\t" at the very end is the cell "a" alone (the last cell: not padded).
 */
function dropUnterminatedEmptyCell(cells: Cell[]): void {
  if (cells.length > 0 && cells[cells.length - 1]!.text === '') cells.pop();
}

/**
 * Sizes column `widths.length` for every run of lines in [start, end) that has a cell in
 * it, recursing to the columns on the right, and hands each line to `emit` together with
 * the widths of the columns it takes part in.
 */
function layout(
  lines: Cell[][],
  start: number,
  end: number,
  widths: number[],
  cfg: Config,
  emit: (line: number, widths: number[]) => void,
): void {
  const column = widths.length;
  let i = start;
  while (i < end) {
    // The last cell of a line is not tab-terminated, so it is not part of any column.
    if (lines[i]!.length - 1 <= column) {
      emit(i, widths);
      i++;
      continue;
    }
    let width = cfg.minWidth;
    let j = i;
    for (; j < end && lines[j]!.length - 1 > column; j++) {
      width = Math.max(width, lines[j]![column]!.width + cfg.padding);
    }
    layout(lines, i, j, [...widths, width], cfg, emit);
    i = j;
  }
}

function renderLine(cells: Cell[], widths: number[], cfg: Config): string {
  let s = '';
  cells.forEach((cell, j) => {
    s += cell.text;
    if (j < widths.length) s += fill(cell.width, widths[j]!, cfg);
  });
  return s;
}

/** Padding that takes a cell of text width `textWidth` to `cellWidth`. */
function fill(textWidth: number, cellWidth: number, cfg: Config): string {
  if (cfg.padChar === '\t') {
    // With tab padding the viewer's tab stops do the aligning: round up to a stop.
    if (cfg.tabWidth === 0) return '';
    const stop = Math.ceil(cellWidth / cfg.tabWidth) * cfg.tabWidth;
    return '\t'.repeat(Math.ceil((stop - textWidth) / cfg.tabWidth));
  }
  return cfg.padChar.repeat(Math.max(0, cellWidth - textWidth));
}

// East Asian Wide/Fullwidth ranges and emoji, an approximation of go-runewidth's tables.
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff],
  [0x1b000, 0x1b2ff],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f2ff],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u;

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE_RANGES.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = WIDE_RANGES[mid]!;
    if (cp < a) hi = mid - 1;
    else if (cp > b) lo = mid + 1;
    else return true;
  }
  return false;
}

function runeWidth(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (cp < 0x300) return 1;
  if (cp !== 0xad && ZERO_WIDTH.test(ch)) return 0;
  return isWide(cp) ? 2 : 1;
}

/** Terminal columns taken by `s` (what docker's tabwriter fork measures cells with). */
export function displayWidth(s: string): number {
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let w = 0;
  for (const ch of s) w += runeWidth(ch);
  return w;
}
