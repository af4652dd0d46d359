/**
 * The parser: recursive descent mirroring text/template/parse, so errors match Go's.
 */
import { type ArgNode, type BranchNode, type CommandNode, type DelimiterNode, type ListNode, type LoopControlNode, type Node, nodeString, type PipeNode, type VariableNode } from './ast.js';
import { TemplateError } from './errors.js';
import { goQuote } from './fmt.js';
import type { Token, TokenType } from './lexer.js';
import { parseNumber, unquoteChar, unquoteString } from './literals.js';

const OPERAND_START = new Set<TokenType>([
  'bool',
  'charConst',
  'dot',
  'field',
  'identifier',
  'number',
  'nil',
  'rawString',
  'string',
  'variable',
  'leftParen',
]);

export class Parser {
  private i = 0;
  private furthest = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private actionLine = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly funcs: ReadonlySet<string>,
  ) {}

  parse(): ListNode {
    const root: ListNode = { kind: 'list', pos: 0, nodes: [] };
    while (this.peek().type !== 'eof') {
      const n = this.textOrAction();
      if (isDelimiter(n)) this.errorf(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    return root;
  }

  // Token cursor. Go reports the line of the furthest token read, peeked ones included.
  private next(): Token {
    // The last token (EOF or a lexing error) repeats forever.
    const t = this.tokens[Math.min(this.i, this.tokens.length - 1)]!;
    this.furthest = Math.max(this.furthest, this.i);
    this.i++;
    return t;
  }
  private backup(n = 1): void {
    this.i -= n;
  }
  private peek(): Token {
    const t = this.next();
    this.backup();
    return t;
  }
  private nextNonSpace(): Token {
    let t: Token;
    do t = this.next();
    while (t.type === 'space');
    return t;
  }
  private peekNonSpace(): Token {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private errorf(msg: string): never {
    const t = this.tokens[Math.min(this.furthest, this.tokens.length - 1)]!;
    throw new TemplateError(`template: :${t.line}: ${msg}`);
  }

  private unexpected(token: Token, context: string): never {
    if (token.type === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at :${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(token.val + extra);
    }
    this.errorf(`unexpected ${tokenString(token)} in ${context}`);
  }

  private expect(type: TokenType, context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.unexpected(t, context);
    return t;
  }

  private textOrAction(): Node | DelimiterNode {
    const t = this.nextNonSpace();
    if (t.type === 'text') return { kind: 'text', pos: t.pos, text: t.val };
    if (t.type !== 'leftDelim') this.unexpected(t, 'input');
    this.actionLine = t.line;
    try {
      return this.action();
    } finally {
      this.actionLine = 0;
    }
  }

  private action(): Node | DelimiterNode {
    const t = this.nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'if':
        case 'with':
        case 'range':
          return { kind: t.val, ...this.parseControl(t.val) };
        case 'else':
          return this.elseControl();
        case 'end':
          this.expect('rightDelim', 'end');
          return { kind: 'end', pos: t.pos };
        case 'break':
        case 'continue':
          return this.loopControl(t);
        default:
          this.errorf(`{{${t.val}}} is not supported`);
      }
    }
    this.backup();
    const pos = this.peek().pos;
    // Variables declared here are not popped: they live until the enclosing {{end}}.
    return { kind: 'action', pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(t: Token): LoopControlNode {
    const kind = t.val as 'break' | 'continue';
    const next = this.nextNonSpace();
    if (next.type !== 'rightDelim') this.unexpected(next, `{{${kind}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kind}}} outside {{range}}`);
    return { kind, pos: t.pos };
  }

  /** "{{else if x}}" and "{{else with x}}" leave the keyword for parseControl to chain. */
  private elseControl(): DelimiterNode {
    const p = this.peekNonSpace();
    if (p.type === 'keyword' && (p.val === 'if' || p.val === 'with')) return { kind: 'else', pos: p.pos };
    const t = this.expect('rightDelim', 'else');
    return { kind: 'else', pos: t.pos };
  }

  private parseControl(context: 'if' | 'with' | 'range'): Omit<BranchNode, 'kind'> {
    const varsMark = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'rightDelim');
      if (context === 'range') this.rangeDepth++;
      const [list, next] = this.itemList();
      if (context === 'range') this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (next.kind === 'else') elseList = this.elseBranch(context, next);
      return { pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = varsMark;
    }
  }

  /** {{if a}}x{{else if b}}y{{end}} parses as {{if a}}x{{else}}{{if b}}y{{end}}{{end}}. */
  private elseBranch(context: string, elseNode: DelimiterNode): ListNode {
    const p = this.peek();
    if (p.type === 'keyword' && (context === 'if' || context === 'with') && p.val === context) {
      this.next();
      const nested: BranchNode = { kind: context, ...this.parseControl(context) };
      return { kind: 'list', pos: elseNode.pos, nodes: [nested] };
    }
    const [list, next] = this.itemList();
    if (next.kind !== 'end') this.errorf(`expected end; found ${nodeString(next)}`);
    return list;
  }

  private itemList(): [ListNode, DelimiterNode] {
    const list: ListNode = { kind: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (isDelimiter(n)) return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  private pipeline(context: string, end: TokenType): PipeNode {
    const start = this.peekNonSpace();
    const pipe: PipeNode = { kind: 'pipe', pos: start.pos, isAssign: false, decl: [], cmds: [] };
    this.declarations(pipe, context);
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      if (!OPERAND_START.has(t.type)) this.unexpected(t, context);
      this.backup();
      pipe.cmds.push(this.command());
    }
  }

  /** "$x :=", "$x =", and in range "$i, $v :="; a variable used as an operand is left alone. */
  private declarations(pipe: PipeNode, context: string): void {
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') return;
      const save = this.i;
      this.next();
      const next = this.peekNonSpace();
      const node: VariableNode = { kind: 'variable', pos: v.pos, idents: [v.val] };
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push(node);
        this.vars.push(v.val);
        return;
      }
      if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push(node);
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = this.peekNonSpace().type;
          if (t === 'variable' || t === 'rightDelim' || t === 'rightParen') continue;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      }
      this.i = save;
      return;
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    // Only the first command of a pipeline may be a plain value.
    pipe.cmds.slice(1).forEach((c, i) => {
      if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0]!.kind)) {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { kind: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'rightDelim' || t.type === 'rightParen') this.backup();
      else if (t.type !== 'pipe') this.unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  /** A term followed by ".Field"s; Go positions the whole chain at its second token. */
  private operand(): ArgNode | null {
    const node = this.term();
    if (!node || this.peek().type !== 'field') return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    switch (node.kind) {
      case 'field':
      case 'variable':
        return { kind: node.kind, pos, idents: [...node.idents, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.errorf(`unexpected . after term ${goQuote(nodeString(node))}`);
      default:
        return { kind: 'chain', pos, node, fields };
    }
  }

  private term(): ArgNode | null {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!this.funcs.has(t.val)) this.errorf(`function ${goQuote(t.val)} not defined`);
        return { kind: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { kind: 'dot', pos: t.pos };
      case 'nil':
        return { kind: 'nil', pos: t.pos };
      case 'variable':
        if (!this.vars.includes(t.val)) this.errorf(`undefined variable ${goQuote(t.val)}`);
        return { kind: 'variable', pos: t.pos, idents: [t.val] };
      case 'field':
        return { kind: 'field', pos: t.pos, idents: [t.val.slice(1)] };
      case 'bool':
        return { kind: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'number':
      case 'charConst':
        return { kind: 'number', pos: t.pos, text: t.val, value: this.literal(() => (t.type === 'number' ? parseNumber(t.val) : unquoteChar(t.val))) };
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { kind: 'string', pos: t.pos, quoted: t.val, text: this.literal(() => unquoteString(t.val)) };
    }
    this.backup();
    return null;
  }

  private literal<T>(decode: () => T): T {
    try {
      return decode();
    } catch (e) {
      this.errorf((e as Error).message);
    }
  }
}

function isDelimiter(n: Node | DelimiterNode): n is DelimiterNode {
  return n.kind === 'else' || n.kind === 'end';
}

/** item.String() of Go's lexer, as parse errors quote tokens. */
function tokenString(t: Token): string {
  switch (t.type) {
    case 'eof':
      return 'EOF';
    case 'error':
      return t.val;
    case 'keyword':
    case 'dot':
    case 'nil':
      return `<${t.val}>`;
  }
  const runes = Array.from(t.val);
  return runes.length > 10 ? goQuote(runes.slice(0, 10).join('')) + '...' : goQuote(t.val);
}
