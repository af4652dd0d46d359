/**
 * The template lexer. Produces every token up front; a lexing error becomes an 'error' token so the
 * parser reports whichever problem comes first in the text, as Go's lazy lexer does.
 */
import { goQuote, isPrint } from './fmt.js';

export type TokenType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'field'
  | 'identifier'
  | 'variable'
  | 'dot'
  | 'nil'
  | 'keyword'
  | 'bool'
  | 'number'
  | 'charConst'
  | 'string'
  | 'rawString'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare'
  | 'assign'
  | 'char'
  | 'eof'
  | 'error';

export interface Token {
  type: TokenType;
  val: string;
  pos: number;
  line: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);

// Go 1.16+: newlines count as spaces inside actions.
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

const ALNUM = /^[\p{L}\p{Nd}_]$/u;

/** Go's %#U: "U+0001", or "U+00E9 'é'" when printable. */
function runeRepr(ch: string): string {
  const s = 'U+' + ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return isPrint(ch) ? `${s} '${ch}'` : s;
}

interface LexFn {
  (this: Lexer): LexFn | null;
}

export class Lexer {
  private readonly tokens: Token[] = [];
  private pos = 0;
  private parenDepth = 0;
  private lineAtPos = { pos: 0, line: 1 };

  constructor(private readonly src: string) {}

  run(): Token[] {
    let state: LexFn | null = this.lexText;
    while (state) state = state.call(this);
    return this.tokens;
  }

  private lineOf(pos: number): number {
    // Tokens are emitted in order, so count newlines incrementally.
    let { pos: p, line } = this.lineAtPos;
    for (; p < pos; p++) if (this.src[p] === '\n') line++;
    this.lineAtPos = { pos, line };
    return line;
  }

  private emit(type: TokenType, start: number, end: number): void {
    this.tokens.push({ type, val: this.src.slice(start, end), pos: start, line: this.lineOf(start) });
    this.pos = end;
  }

  private errorf(msg: string, at = this.pos): null {
    this.tokens.push({ type: 'error', val: msg, pos: at, line: this.lineOf(at) });
    return null;
  }

  private charAt(p: number): string {
    const cp = this.src.codePointAt(p);
    return cp === undefined ? '' : String.fromCodePoint(cp);
  }

  private isAlnumAt(p: number): boolean {
    return ALNUM.test(this.charAt(p));
  }

  /** A left trim marker is "- " right after "{{". */
  private hasLeftTrimMarker(p: number): boolean {
    return this.src[p] === '-' && isSpace(this.src[p + 1]);
  }

  /** At "}}" or " -}}"; the second value says whether a trim marker precedes it. */
  private atRightDelim(p = this.pos): [boolean, boolean] {
    if (isSpace(this.src[p]) && this.src[p + 1] === '-' && this.src.startsWith('}}', p + 2)) return [true, true];
    return [this.src.startsWith('}}', p), false];
  }

  private skipSpaces(p: number): number {
    while (isSpace(this.src[p])) p++;
    return p;
  }

  private lexText(): LexFn | null {
    const x = this.src.indexOf('{{', this.pos);
    if (x < 0) {
      if (this.pos < this.src.length) this.emit('text', this.pos, this.src.length);
      this.emit('eof', this.src.length, this.src.length);
      return null;
    }
    let end = x;
    if (this.hasLeftTrimMarker(x + 2)) {
      while (end > this.pos && isSpace(this.src[end - 1])) end--;
    }
    if (end > this.pos) this.emit('text', this.pos, end);
    this.pos = x;
    return this.lexLeftDelim;
  }

  private lexLeftDelim(): LexFn | null {
    const start = this.pos;
    const afterMarker = this.hasLeftTrimMarker(start + 2) ? 2 : 0;
    if (this.src.startsWith('/*', start + 2 + afterMarker)) {
      this.pos = start + 2 + afterMarker;
      return this.lexComment;
    }
    this.emit('leftDelim', start, start + 2);
    this.pos += afterMarker;
    this.parenDepth = 0;
    return this.lexInsideAction;
  }

  private lexComment(): LexFn | null {
    const start = this.pos;
    const x = this.src.indexOf('*/', start + 2);
    if (x < 0) return this.errorf('unclosed comment', start);
    this.pos = x + 2;
    const [delim, trim] = this.atRightDelim();
    if (!delim) return this.errorf('comment ends before closing delimiter', start);
    this.pos += trim ? 4 : 2;
    if (trim) this.pos = this.skipSpaces(this.pos);
    return this.lexText;
  }

  private lexInsideAction(): LexFn | null {
    const [delim, trim] = this.atRightDelim();
    if (delim) {
      if (this.parenDepth !== 0) return this.errorf('unclosed left paren');
      if (trim) this.pos += 2;
      this.emit('rightDelim', this.pos, this.pos + 2);
      if (trim) this.pos = this.skipSpaces(this.pos);
      return this.lexText;
    }
    if (this.pos >= this.src.length) return this.errorf('unclosed action');
    const c = this.src[this.pos]!;
    if (isSpace(c)) return this.lexSpace;
    return this.lexPunctuation(c) ?? this.lexWord(c);
  }

  /** Single-character tokens; undefined when `c` starts something longer. */
  private lexPunctuation(c: string): LexFn | null | undefined {
    const p = this.pos;
    switch (c) {
      case '=':
        this.emit('assign', p, p + 1);
        return this.lexInsideAction;
      case ':':
        if (this.src[p + 1] !== '=') return this.errorf('expected :=');
        this.emit('declare', p, p + 2);
        return this.lexInsideAction;
      case '|':
        this.emit('pipe', p, p + 1);
        return this.lexInsideAction;
      case '(':
        this.emit('leftParen', p, p + 1);
        this.parenDepth++;
        return this.lexInsideAction;
      case ')':
        this.emit('rightParen', p, p + 1);
        if (--this.parenDepth < 0) return this.errorf('unexpected right paren', p);
        return this.lexInsideAction;
    }
    return undefined;
  }

  private lexWord(c: string): LexFn | null {
    switch (c) {
      case '"':
        return this.lexQuote('"', 'string', 'unterminated quoted string');
      case "'":
        return this.lexQuote("'", 'charConst', 'unterminated character constant');
      case '`':
        return this.lexRawQuote();
      case '$':
        return this.lexFieldOrVariable('variable');
      case '.': {
        // ".5" is a number, ".Field" a field.
        const next = this.src[this.pos + 1];
        if (next === undefined || next < '0' || next > '9') return this.lexFieldOrVariable('field');
        return this.lexNumber();
      }
    }
    if (c === '+' || c === '-' || (c >= '0' && c <= '9')) return this.lexNumber();
    if (this.isAlnumAt(this.pos)) return this.lexIdentifier();
    const ch = this.charAt(this.pos);
    if (ch.length === 1 && ch >= ' ' && ch <= '~') {
      this.emit('char', this.pos, this.pos + 1);
      return this.lexInsideAction;
    }
    return this.errorf(`unrecognized character in action: ${runeRepr(ch)}`);
  }

  private lexSpace(): LexFn | null {
    const start = this.pos;
    let p = start;
    while (isSpace(this.src[p])) p++;
    // In " -}}" the last space belongs to the trim marker of the closing delimiter.
    if (this.src[p] === '-' && this.src.startsWith('}}', p + 1)) {
      p--;
      if (p === start) {
        this.pos = p;
        return this.lexInsideAction;
      }
    }
    this.emit('space', start, p);
    return this.lexInsideAction;
  }

  private atTerminator(p: number): boolean {
    const c = this.src[p];
    // Go accepts the first character of the right delimiter, so "{{.X}" lexes ".X" then "}".
    return c === undefined || isSpace(c) || '.,|:()}'.includes(c);
  }

  private scanAlnum(p: number): number {
    while (p < this.src.length && this.isAlnumAt(p)) p += this.charAt(p).length;
    return p;
  }

  private lexIdentifier(): LexFn | null {
    const start = this.pos;
    const end = this.scanAlnum(start);
    if (!this.atTerminator(end)) return this.errorf(`bad character ${runeRepr(this.charAt(end))}`, start);
    const word = this.src.slice(start, end);
    let type: TokenType = 'identifier';
    if (KEYWORDS.has(word)) type = 'keyword';
    else if (word === 'nil') type = 'nil';
    else if (word === 'true' || word === 'false') type = 'bool';
    this.emit(type, start, end);
    return this.lexInsideAction;
  }

  /** ".Name" / "$name"; a lone "." is dot and a lone "$" the root variable. */
  private lexFieldOrVariable(type: 'field' | 'variable'): LexFn | null {
    const start = this.pos;
    if (this.atTerminator(start + 1)) {
      this.emit(type === 'field' ? 'dot' : 'variable', start, start + 1);
      return this.lexInsideAction;
    }
    const end = this.scanAlnum(start + 1);
    if (!this.atTerminator(end)) return this.errorf(`bad character ${runeRepr(this.charAt(end))}`, start);
    this.emit(type, start, end);
    return this.lexInsideAction;
  }

  private lexQuote(quote: string, type: TokenType, unterminated: string): LexFn | null {
    const start = this.pos;
    let p = start + 1;
    for (;;) {
      const c = this.src[p];
      if (c === undefined || c === '\n') return this.errorf(unterminated, start);
      if (c === '\\') {
        const e = this.src[p + 1];
        if (e === undefined || e === '\n') return this.errorf(unterminated, start);
        p += 2;
        continue;
      }
      p++;
      if (c === quote) break;
    }
    this.emit(type, start, p);
    return this.lexInsideAction;
  }

  private lexRawQuote(): LexFn | null {
    const start = this.pos;
    const end = this.src.indexOf('`', start + 1);
    if (end < 0) return this.errorf('unterminated raw quoted string', start);
    this.emit('rawString', start, end + 1);
    return this.lexInsideAction;
  }

  private lexNumber(): LexFn | null {
    const start = this.pos;
    let [ok, end] = this.scanNumber(start);
    if (ok && (this.src[end] === '+' || this.src[end] === '-')) {
      // Go reads "1+2i" as one complex constant; anything else glued on is bad syntax.
      [ok, end] = this.scanNumber(end);
      if (ok && this.src[end - 1] === 'i') return this.errorf(`complex numbers are not supported: ${goQuote(this.src.slice(start, end))}`, start);
      ok = false;
    }
    if (!ok) return this.errorf(`bad number syntax: ${goQuote(this.src.slice(start, end))}`, start);
    this.emit('number', start, end);
    return this.lexInsideAction;
  }

  private scanNumber(p: number): [boolean, number] {
    const s = this.src;
    const run = (chars: string) => {
      while (p < s.length && chars.includes(s[p]!)) p++;
    };
    if (s[p] === '+' || s[p] === '-') p++;
    let digits = '0123456789_';
    if (s[p] === '0') {
      p++;
      const base = s[p]?.toLowerCase();
      if (base === 'x') digits = '0123456789abcdefABCDEF_';
      else if (base === 'o') digits = '01234567_';
      else if (base === 'b') digits = '01_';
      if (digits.length !== 11) p++;
    }
    run(digits);
    if (s[p] === '.') {
      p++;
      run(digits);
    }
    if (digits.length === 11 && (s[p] === 'e' || s[p] === 'E')) {
      p++;
      if (s[p] === '+' || s[p] === '-') p++;
      run('0123456789_');
    }
    if (digits.length === 23 && (s[p] === 'p' || s[p] === 'P')) {
      p++;
      if (s[p] === '+' || s[p] === '-') p++;
      run('0123456789_');
    }
    if (s[p] === 'i') p++;
    if (this.isAlnumAt(p)) return [false, p + this.charAt(p).length];
    return [true, p];
  }
}
