/**
 * Variable expansion in Dockerfile words, with the rules of buildkit's shell lexer (which the classic
 * builder shares): quotes, the escape token, `$VAR`, `${VAR}` and the `${VAR<op>word}` forms.
 *
 * Which names a word looked up is reported (`processWordWithMatches`) because the builder keys its cache
 * on the build args a step actually used.
 */

/** Looks a name up in the stage's ENV and ARGs; undefined when it is not set (set-but-empty is ''). */
export type EnvLookup = (name: string) => string | undefined;

export interface LexOptions {
  /** Keep quote characters in the result (buildkit's RawQuotes). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result (RawEscapes: heredoc bodies). */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (SkipProcessQuotes: heredoc bodies). */
  skipProcessQuotes?: boolean;
  /** Leave `$NAME` as written when NAME is unset (SkipUnsetEnv). */
  skipUnsetEnv?: boolean;
}

/** The result of one word: its expansion, and the names it looked up, found or not. */
export interface WordResult {
  result: string;
  words: string[];
  matched: Set<string>;
  unmatched: Set<string>;
}

/** A failure in a word, worded as buildkit's (`failed to process "${a": syntax error: missing '}'`). */
export class ExpandError extends Error {}

class Failure extends Error {}

const EOF = undefined;

const isSpace = (ch: string) => /^\s$/u.test(ch);
const isLetter = (ch: string) => /^\p{L}$/u.test(ch);
const isDigit = (ch: string) => /^\p{Nd}$/u.test(ch);
const isSpecialParam = (ch: string) => '@*#?-$!0'.includes(ch);
const isBlank = (ch: string | undefined) => ch === '\t' || ch === '\r' || ch === ' ';

/** Accumulates the words of ProcessWords: unquoted whitespace from variables splits, quoted does not. */
class Words {
  private buf = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else this.addRaw(ch);
  }
  addRaw(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

/** Go's %q for the common cases: a double-quoted string with `"` and `\` escaped. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** A shell pattern (`*`, `?`, `\` escapes) as a regexp, as buildkit converts it for `#`, `%` and `/`. */
function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = [...pattern];
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') out += greedy ? '.*' : '.*?';
    else if (ch === '?') out += '.';
    else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === '}' || next === '/') continue;
      i++;
      if (next !== '*' && next !== '?' && next !== '\\') {
        throw new Failure(`invalid pattern (${pattern}) in substitution: invalid escape '\\${next ?? ''}'`);
      }
      out += '\\' + next;
    } else if ('[]{}.+()|^$'.includes(ch)) out += '\\' + ch;
    else out += ch;
  }
  return new RegExp(out, 'su');
}

/** Reverses a pattern keeping `\x` pairs in order, so a suffix trim can run as a prefix trim. */
function reversePattern(pattern: string): string {
  const chars = [...pattern];
  const out: string[] = new Array<string>(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const at = last - i;
    if (chars[i] === '\\' && i !== last) {
      out[at - 1] = '\\';
      out[at] = chars[i + 1]!;
      i += 2;
    } else {
      out[at] = chars[i]!;
      i++;
    }
  }
  return out.join('');
}

const reverseString = (s: string) => [...s].reverse().join('');

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** One pass over one word. */
class WordScanner {
  private pos = 0;
  private readonly chars: string[];
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    word: string,
    private readonly escape: string,
    private readonly env: EnvLookup,
    private readonly options: LexOptions,
    private rawEscapes: boolean,
  ) {
    this.chars = [...word];
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  private lookup(name: string): string | undefined {
    const value = this.env(name);
    if (value === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return value;
  }

  /** Reads up to `stop` (consumed) or the end; returns the text and the words. */
  processStopOn(stop: string | undefined, rawEscapes: boolean): { text: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let text = '';
      const words = new Words();
      while (this.peek() !== EOF) {
        const ch = this.peek()!;
        if (stop !== EOF && ch === stop) {
          this.next();
          return { text, words: words.finish() };
        }
        if (ch === '$') {
          const value = this.processDollar();
          text += value;
          words.addString(value);
        } else if (ch === '<') {
          const value = this.processPossibleHeredoc();
          text += value;
          words.addRaw(value);
        } else if (!this.options.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const value = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          text += value;
          words.addRaw(value);
        } else {
          let c = this.next()!;
          if (c === this.escape) {
            if (this.rawEscapes) {
              words.addRaw(c);
              text += c;
            }
            const escaped = this.next();
            if (escaped === EOF) break;
            c = escaped;
            words.addRaw(c);
          } else words.addChar(c);
          text += c;
        }
      }
      if (stop !== EOF) throw new Failure(`unexpected end of statement while looking for matching ${stop}`);
      return { text, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    let out = '';
    const open = this.next()!;
    if (this.options.rawQuotes) out += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new Failure('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.options.rawQuotes) out += ch;
        return out;
      }
      out += ch;
    }
  }

  private processDoubleQuote(): string {
    let out = '';
    const open = this.next()!;
    if (this.options.rawQuotes) out += open;
    for (;;) {
      const peek = this.peek();
      if (peek === EOF) throw new Failure('unexpected end of statement while looking for matching double-quote');
      if (peek === '"') {
        this.next();
        if (this.options.rawQuotes) out += '"';
        return out;
      }
      if (peek === '$') {
        out += this.processDollar();
        continue;
      }
      let ch = this.next()!;
      if (ch === this.escape) {
        if (this.rawEscapes) out += ch;
        const after = this.peek();
        if (after === EOF) continue;
        // Inside double quotes the escape only escapes `"`, `$` and itself.
        if (after === '"' || after === '$' || after === this.escape) ch = this.next()!;
      }
      out += ch;
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek()!;
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && isSpecialParam(ch)) return this.next()!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let space = '';
    while (isBlank(this.peek())) space += this.next();
    return '<<' + space;
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.options.skipUnsetEnv) return '$' + name;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new Failure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new Failure('syntax error: bad substitution');
    const name = this.processName();
    let op = this.next();
    // Go prints the scanner's EOF rune as U+FFFD: `${X` fails with "unsupported modifier (\uFFFD)".
    let ops = op ?? '\uFFFD';
    if (op === '}') {
      const value = this.lookup(name);
      if (value === undefined && this.options.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    if (op === '/') return this.processReplace(name);
    let nullIsUnset = false;
    if (op === ':') {
      nullIsUnset = true;
      op = this.next();
      ops += op ?? '\uFFFD';
    }
    if (op !== '+' && op !== '-' && op !== '?' && op !== '#' && op !== '%') {
      throw new Failure(`unsupported modifier (${ops}) in substitution`);
    }
    const trims = op === '#' || op === '%';
    if (nullIsUnset && trims) throw new Failure(`unsupported modifier (${ops}) in substitution`);
    let word: string;
    try {
      word = this.processStopOn('}', trims).text;
    } catch (err) {
      if (this.peek() === EOF) throw new Failure("syntax error: missing '}'");
      throw err;
    }
    const value = this.lookup(name);
    if (value === undefined && this.options.skipUnsetEnv) return `\${${name}${ops}${word}}`;
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (op) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      case '?':
        if (value === undefined) throw new Failure(`${name}: ${word || 'is not allowed to be unset'}`);
        if (unset) throw new Failure(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      default: {
        const greedy = word.startsWith(op);
        const pattern = greedy ? word.slice(1) : word;
        return op === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
      }
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}`. */
  private processReplace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).text;
    } catch (err) {
      if (this.peek() === EOF) throw new Failure("syntax error: missing '/' in ${}");
      throw err;
    }
    let replacement: string;
    try {
      replacement = this.processStopOn('}', true).text;
    } catch (err) {
      if (this.peek() === EOF) throw new Failure("syntax error: missing '}'");
      throw err;
    }
    const value = this.lookup(name);
    if (value === undefined && this.options.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
    const re = shellPatternToRegExp(pattern, true, false);
    const text = value ?? '';
    if (all) {
      const global = new RegExp(re.source, 'gsu');
      // An empty match would loop in place; Go's ReplaceAllString inserts between characters then.
      return text.replace(global, () => replacement);
    }
    const m = re.exec(text);
    return m ? text.slice(0, m.index) + replacement + text.slice(m.index + m[0].length) : text;
  }
}

/** buildkit's shell.Lex: expands words with a given escape token. */
export class ShellLex {
  constructor(
    readonly escape: '\\' | '`' = '\\',
    readonly options: LexOptions = {},
  ) {}

  /** The word expanded, quotes and escapes removed. Throws ExpandError. */
  processWord(word: string, env: EnvLookup): string {
    return this.processWordWithMatches(word, env).result;
  }

  /** The word expanded and split into words where unquoted whitespace (also from variables) is. */
  processWords(word: string, env: EnvLookup): string[] {
    return this.processWordWithMatches(word, env).words;
  }

  /** The expansion with both forms, and which names were looked up (found: matched; not: unmatched). */
  processWordWithMatches(word: string, env: EnvLookup): WordResult {
    const scanner = new WordScanner(word, this.escape, env, this.options, this.options.rawEscapes ?? false);
    try {
      const { text, words } = scanner.processStopOn(EOF, this.options.rawEscapes ?? false);
      return { result: text, words, matched: scanner.matched, unmatched: scanner.unmatched };
    } catch (err) {
      if (err instanceof Failure) throw new ExpandError(`failed to process ${goQuote(word)}: ${err.message}`);
      throw err;
    }
  }
}

/** An EnvLookup over `KEY=value` strings (the image config's Env), the last one winning. */
export function envLookupFromList(env: readonly string[]): EnvLookup {
  const map = new Map<string, string>();
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq < 0) map.set(entry, '');
    else map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return (name) => map.get(name);
}

/**
 * The body of a COPY/ADD heredoc whose delimiter was not quoted (`Heredoc.expand`), expanded as buildkit
 * does: variables replaced, quotes left alone, always with the `\` escape whatever the file's escape is.
 * (RUN heredoc bodies are not expanded by the builder: the shell running them does that.)
 */
export function expandHeredocBody(content: string, env: EnvLookup): WordResult {
  return new ShellLex('\\', { skipProcessQuotes: true }).processWordWithMatches(content, env);
}
