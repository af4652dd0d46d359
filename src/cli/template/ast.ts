/**
 * The parse tree, and its printing back to text (for Go's error messages).
 */

export interface FieldNode {
  kind: 'field';
  pos: number;
  idents: string[];
}
export interface VariableNode {
  kind: 'variable';
  pos: number;
  idents: string[]; // "$x" then field names
}
export interface ChainNode {
  kind: 'chain';
  pos: number;
  node: ArgNode;
  fields: string[];
}
export interface IdentifierNode {
  kind: 'identifier';
  pos: number;
  name: string;
}
interface DotNode {
  kind: 'dot';
  pos: number;
}
interface NilNode {
  kind: 'nil';
  pos: number;
}
export interface BoolNode {
  kind: 'bool';
  pos: number;
  value: boolean;
}
export interface NumberNode {
  kind: 'number';
  pos: number;
  text: string;
  value: number;
}
export interface StringNode {
  kind: 'string';
  pos: number;
  quoted: string;
  text: string;
}
export interface PipeNode {
  kind: 'pipe';
  pos: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
export interface CommandNode {
  kind: 'command';
  pos: number;
  args: ArgNode[];
}
export type ArgNode =
  | FieldNode
  | VariableNode
  | ChainNode
  | IdentifierNode
  | DotNode
  | NilNode
  | BoolNode
  | NumberNode
  | StringNode
  | PipeNode;

export interface ListNode {
  kind: 'list';
  pos: number;
  nodes: Node[];
}
interface TextNode {
  kind: 'text';
  pos: number;
  text: string;
}
interface ActionNode {
  kind: 'action';
  pos: number;
  pipe: PipeNode;
}
export interface BranchNode {
  kind: 'if' | 'with' | 'range';
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | null;
}
export interface LoopControlNode {
  kind: 'break' | 'continue';
  pos: number;
}
/** {{else}} and {{end}} only exist while parsing. */
export interface DelimiterNode {
  kind: 'else' | 'end';
  pos: number;
}
export type Node = ListNode | TextNode | ActionNode | BranchNode | LoopControlNode;
export type AnyNode = Node | ArgNode | CommandNode | DelimiterNode;

/** Node.String() of Go's parse package, used in error messages. */
export function nodeString(n: AnyNode): string {
  switch (n.kind) {
    case 'field':
      return n.idents.map((f) => '.' + f).join('');
    case 'variable':
      return n.idents.join('.');
    case 'chain':
      return argString(n.node) + n.fields.map((f) => '.' + f).join('');
    case 'identifier':
      return n.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
    case 'pipe':
      return pipeString(n);
    case 'command':
      return n.args.map(argString).join(' ');
    case 'action':
      return `{{${pipeString(n.pipe)}}}`;
    case 'if':
    case 'with':
    case 'range':
      return `{{${n.kind} ${pipeString(n.pipe)}}}${listString(n.list)}${n.elseList ? '{{else}}' + listString(n.elseList) : ''}{{end}}`;
    case 'list':
      return listString(n);
    case 'text':
      return n.text;
    default:
      return `{{${n.kind}}}`;
  }
}

function argString(n: ArgNode): string {
  return n.kind === 'pipe' ? `(${pipeString(n)})` : nodeString(n);
}

function pipeString(p: PipeNode): string {
  const decl = p.decl.length ? p.decl.map(nodeString).join(', ') + (p.isAssign ? ' = ' : ' := ') : '';
  return decl + p.cmds.map(nodeString).join(' | ');
}

function listString(l: ListNode): string {
  return l.nodes.map(nodeString).join('');
}
