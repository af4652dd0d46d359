/**
 * Dockerfile text to nodes, with the rules of buildkit's frontend/dockerfile/parser (which Docker's classic
 * builder uses): parser directives at the top, comments (also inside continuations), line continuations
 * with the escape token, heredocs on RUN/COPY/ADD, and per-instruction argument shapes (JSON or shell
 * form, key=value pairs, whitespace-separated words). Words are kept as written; expansion comes later.
 */
import { ShellLex } from './expand.js';

/** A heredoc as the parser finds it; `chomp` (`<<-`) is applied when instructions are built. */
export interface NodeHeredoc {
  name: string;
  content: string;
  expand: boolean;
  chomp: boolean;
  fileDescriptor: number;
}

/** One instruction. `args` is buildkit's nodeArgs: ENV/LABEL give key, value, separator triples. */
export interface Node {
  /** The instruction keyword as written (`run`, `RUN`). */
  value: string;
  args: string[];
  /** ONBUILD: the trigger. */
  sub?: Node;
  /** The arguments were a JSON array (exec form). */
  json: boolean;
  /** `--flag[=value]` words before the arguments, without quotes. */
  flags: string[];
  /** The instruction text with continuations joined (escape and newline removed), comments dropped. */
  original: string;
  heredocs: NodeHeredoc[];
  startLine: number;
  endLine: number;
  /** `#` comment lines just above the instruction. */
  comments: string[];
}

export interface ParserDirectives {
  escape: '\\' | '`';
  syntax?: string;
  check?: string;
}

export interface ParseWarning {
  line: number;
  message: string;
}

export interface ParseResult {
  nodes: Node[];
  directives: ParserDirectives;
  warnings: ParseWarning[];
}

/** A syntax error with the lines it concerns (1-based); the message is buildkit's. */
export class DockerfileSyntaxError extends Error {
  constructor(
    message: string,
    readonly startLine: number,
    readonly endLine: number = startLine,
  ) {
    super(message);
  }
}

class ArgsError extends Error {}

const WHITESPACE = /[\t\v\f\r ]+/;
const HEREDOC = /^(\d*)<<(-?)\s*([^<]*)$/s;
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/s;
const VALID_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
/** Go's bufio.Scanner limit, which buildkit's parser reports. */
const MAX_LINE = 64 * 1024;

const isUnicodeSpace = (ch: string) => /^\s$/u.test(ch);
const trimLeft = (s: string) => s.replace(/^\s+/u, '');
const trimNewline = (s: string) => s.replace(/[\r\n]+$/, '');
const isComment = (s: string) => trimLeft(s).startsWith('#');
/** Go's strings.TrimSpace. */
const trimSpace = (s: string) => s.trim();

function goSplitN(s: string, re: RegExp, n: number): string[] {
  if (n < 0) return s.split(new RegExp(re.source, 'g'));
  const m = re.exec(s);
  if (!m || n === 1) return [s];
  return [s.slice(0, m.index), s.slice(m.index + m[0].length)];
}

/** Per-file state: the escape token and the directive scanner (directives only before anything else). */
class Directives {
  escape: '\\' | '`' = '\\';
  continuation = Directives.continuationFor('\\');
  readonly values: ParserDirectives = { escape: '\\' };
  private done = false;
  private readonly seen = new Set<string>();

  private static continuationFor(escape: string): RegExp {
    const e = '\\' + escape;
    return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
  }

  /** True when the line was a directive. */
  possibleDirective(line: string): boolean {
    if (this.done) return false;
    if (!line.startsWith('#')) {
      this.done = true;
      return false;
    }
    const m = DIRECTIVE.exec(trimLeft(line.slice(1)));
    const key = m?.[1]?.toLowerCase();
    if (!m || !key || !VALID_DIRECTIVES.has(key)) {
      this.done = true;
      return false;
    }
    if (this.seen.has(key)) throw new ArgsError(`only one ${key} parser directive can be used`);
    this.seen.add(key);
    const value = m[2]!;
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') throw new ArgsError(`invalid escape token '${value}' does not match \` or \\`);
      this.escape = value;
      this.values.escape = value;
      this.continuation = Directives.continuationFor(value);
    } else if (key === 'syntax') this.values.syntax = value;
    else this.values.check = value;
    return true;
  }

  /** The line without its continuation escape, and whether the instruction ends here. */
  trimContinuation(line: string): { text: string; end: boolean } {
    if (this.continuation.test(line)) return { text: line.replace(this.continuation, '$1'), end: false };
    return { text: line, end: true };
  }
}

/** Splits `--flag=x --other rest` into flags and the rest, as buildkit's extractBuilderFlags. */
function extractBuilderFlags(line: string, escape: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOk = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = pos < line.length ? line[pos]! : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isUnicodeSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags };
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOk || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isUnicodeSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags };
        if (blankOk || word.length > 0) flags.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      word += ch;
      continue;
    }
    // In a quote.
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === escape) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos]!;
    }
    word += ch;
  }
  return { rest: '', flags };
}

/** buildkit's parseWords: whitespace-separated words, quotes and escapes kept. */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOk = false;
  let word = '';
  const chars = [...rest];
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos < chars.length ? chars[pos]! : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isUnicodeSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOk || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isUnicodeSpace(ch)) {
        phase = 'spaces';
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        ch = chars[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      ch = chars[++pos]!;
    }
    word += ch;
  }
  return words;
}

interface Parsed {
  args: string[];
  json: boolean;
  sub?: Node;
}

/** A JSON array of strings (exec form); null when the text is not a JSON array. */
function parseJson(rest: string): string[] | null {
  const text = trimLeft(rest);
  if (!text.startsWith('[')) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(value)) return null;
  if (!value.every((v) => typeof v === 'string')) {
    throw new ArgsError('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value as string[];
}

function maybeJson(rest: string): Parsed {
  if (rest === '') return { args: [], json: false };
  const json = parseJson(rest);
  if (json) return { args: json, json: true };
  return { args: [rest], json: false };
}

function maybeJsonToList(rest: string): Parsed {
  const json = parseJson(rest);
  if (json) return { args: json, json: true };
  return whitespaceDelimited(rest);
}

function whitespaceDelimited(rest: string): Parsed {
  if (rest === '') return { args: [], json: false };
  return { args: goSplitN(rest, WHITESPACE, -1), json: false };
}

function nameVal(rest: string, key: string, escape: string): Parsed {
  const words = parseWords(rest, escape);
  if (words.length === 0) return { args: [], json: false };
  if (!words[0]!.includes('=')) {
    // The legacy `ENV key value` form: the rest of the line is the value.
    const parts = goSplitN(rest, WHITESPACE, 2);
    if (parts.length < 2) throw new ArgsError(`${key} must have two arguments`);
    return { args: [parts[0]!, parts[1]!, ''], json: false };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new ArgsError(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args, json: false };
}

function healthConfig(rest: string): Parsed {
  let sep = 0;
  while (sep < rest.length && !isUnicodeSpace(rest[sep]!)) sep++;
  let next = sep;
  while (next < rest.length && isUnicodeSpace(rest[next]!)) next++;
  if (sep === 0) return { args: [], json: false };
  const cmd = maybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}

function parseArgs(cmd: string, rest: string, d: Directives): Parsed {
  switch (cmd.toLowerCase()) {
    case 'add':
    case 'copy':
    case 'volume':
      return maybeJsonToList(rest);
    case 'cmd':
    case 'entrypoint':
    case 'run':
    case 'shell':
      return maybeJson(rest);
    case 'arg':
      return { args: parseWords(rest, d.escape), json: false };
    case 'env':
      return nameVal(rest, 'ENV', d.escape);
    case 'label':
      return nameVal(rest, 'LABEL', d.escape);
    case 'expose':
    case 'from':
      return whitespaceDelimited(rest);
    case 'healthcheck':
      return healthConfig(rest);
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      return { args: rest === '' ? [] : [rest], json: false };
    case 'onbuild': {
      if (rest === '') return { args: [], json: false };
      const sub = nodeFromLine(rest, d, []);
      return { args: [sub.value, ...sub.args], json: false, sub };
    }
    default:
      // Unknown instructions are refused later, with the line, by instructions.ts (as buildkit).
      return { args: [''], json: false };
  }
}

function nodeFromLine(line: string, d: Directives, comments: string[]): Node {
  const parts = goSplitN(trimSpace(line), WHITESPACE, 2);
  const cmd = parts[0]!;
  let flags: string[] = [];
  let rest = '';
  if (parts.length === 2) {
    const extracted = extractBuilderFlags(parts[1]!, d.escape);
    flags = extracted.flags;
    rest = trimSpace(extracted.rest);
  }
  const parsed = parseArgs(cmd, rest, d);
  return {
    value: cmd,
    args: parsed.args,
    ...(parsed.sub ? { sub: parsed.sub } : {}),
    json: parsed.json,
    flags,
    original: line,
    heredocs: [],
    startLine: 0,
    endLine: 0,
    comments,
  };
}

function canContainHeredoc(node: Node): boolean {
  const target = node.value.toLowerCase() === 'onbuild' && node.sub ? node.sub : node;
  return ['add', 'copy', 'run'].includes(target.value.toLowerCase()) && !target.json;
}

const heredocNameLex = new ShellLex('\\', { skipUnsetEnv: true });
const heredocNameRawLex = new ShellLex('\\', { skipUnsetEnv: true, rawQuotes: true });
const heredocLineLex = new ShellLex('\\', { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
const noEnv = () => undefined;

/** A word like `<<EOF`, `<<-"EOF"` or `3<<EOF` as a heredoc; null when it is not one. */
export function parseHeredocWord(word: string): Omit<NodeHeredoc, 'content'> | null {
  const m = HEREDOC.exec(word);
  if (!m) return null;
  const rest = m[3]!;
  if (rest.length === 0) return null;
  const words = heredocNameLex.processWords(rest, noEnv);
  if (words.length !== 1) return null;
  const raw = heredocNameRawLex.processWords(rest, noEnv);
  if (raw.length !== words.length) throw new ArgsError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name: words[0]!,
    expand: quotes(words[0]!) === quotes(raw[0]!),
    chomp: m[2] === '-',
    fileDescriptor: m[1] ? Number(m[1]) : 0,
  };
}

function heredocsFromLine(line: string): Array<Omit<NodeHeredoc, 'content'>> {
  let words: string[];
  try {
    words = heredocLineLex.processWords(line, noEnv);
  } catch {
    words = [];
  }
  const docs: Array<Omit<NodeHeredoc, 'content'>> = [];
  for (const word of words) {
    const doc = parseHeredocWord(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** Physical lines, each with its newline (as Go's scanner with buildkit's scanLines). */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push(text.slice(start, end));
    start = end;
  }
  return lines;
}

/** Parses a Dockerfile's text. Throws DockerfileSyntaxError. */
export function parse(text: string): ParseResult {
  const d = new Directives();
  const lines = splitLines(text.replace(/^\uFEFF/, ''));
  const nodes: Node[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];
  let current = 0; // lines consumed
  let index = 0;
  const nextLine = (): string | undefined => {
    const line = lines[index++];
    if (line !== undefined && Buffer.byteLength(line) > MAX_LINE) {
      throw new DockerfileSyntaxError(`dockerfile line greater than max allowed size of ${MAX_LINE - 1}`, current + 1);
    }
    return line;
  };

  /** Trims the newline (and leading whitespace), feeds the directive scanner, drops a comment. */
  const processLine = (raw: string, stripLeft: boolean): { text: string; directive: boolean } => {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeft(token);
    let directive: boolean;
    try {
      directive = d.possibleDirective(token);
    } catch (err) {
      if (err instanceof ArgsError) throw new DockerfileSyntaxError(err.message, current + 1);
      throw err;
    }
    return { text: isComment(token) ? '' : token, directive };
  };

  for (let raw = nextLine(); raw !== undefined; raw = nextLine()) {
    if (isComment(raw)) {
      const comment = trimSpace(trimLeft(raw).slice(1));
      comments = comment === '' ? [] : [...comments, comment];
    }
    const first = processLine(raw, true);
    if (first.directive) comments = comments.slice(0, -1);
    current++;
    const startLine = current;
    let { text: buf, end } = d.trimContinuation(first.text);
    if (end && buf.length === 0) continue;

    let emptyContinuation = false;
    while (!end) {
      const rawNext = nextLine();
      if (rawNext === undefined) break;
      const next = processLine(rawNext, false);
      current++;
      if (isComment(rawNext)) continue;
      if (trimLeft(trimNewline(next.text)).length === 0) {
        emptyContinuation = true;
        continue;
      }
      const trimmed = d.trimContinuation(next.text);
      buf += trimmed.text;
      end = trimmed.end;
    }

    if (emptyContinuation) warnings.push({ line: current, message: `Empty continuation line found in: ${buf}` });

    let node: Node;
    try {
      node = nodeFromLine(buf, d, comments);
    } catch (err) {
      if (err instanceof ArgsError) throw new DockerfileSyntaxError(err.message, startLine, current);
      throw err;
    }

    if (canContainHeredoc(node) && buf.includes('<<')) {
      let docs: Array<Omit<NodeHeredoc, 'content'>>;
      try {
        docs = heredocsFromLine(buf);
      } catch (err) {
        if (err instanceof ArgsError) throw new DockerfileSyntaxError(err.message, startLine, current);
        throw err;
      }
      for (const doc of docs) {
        let content = '';
        let terminated = false;
        for (let body = nextLine(); body !== undefined; body = nextLine()) {
          current++;
          let candidate = trimNewline(body);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) throw new DockerfileSyntaxError('unterminated heredoc', startLine, current);
        node.heredocs.push({ ...doc, content });
      }
    }

    node.startLine = startLine;
    node.endLine = current;
    if (node.sub) {
      node.sub.startLine = startLine;
      node.sub.endLine = current;
    }
    nodes.push(node);
    comments = [];
  }

  if (nodes.length === 0) throw new DockerfileSyntaxError('file with no instructions', current);
  return { nodes, directives: { ...d.values }, warnings };
}

/** buildkit's ChompHeredocContent: leading tabs off every line (`<<-`). */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}
